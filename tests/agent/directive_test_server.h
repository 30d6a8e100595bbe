// DirectiveTestServer: a stand-in for the aggregator's directive endpoint,
// a real HTTP server on 127.0.0.1 (port 0 at first; Restart() comes back on
// the same port). It answers GET /api/v1/directives with the status and body
// the test sets, and records what the agent sent. Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "prescale/http/http_server.h"
#include "tests/support/test_env.h"

namespace prescale::agent::testing {

class DirectiveTestServer {
 public:
  // Empty on success, else why the server could not start.
  std::string Start(int port = 0) {
    http::HttpServerOptions o;
    o.listen = "127.0.0.1:" + std::to_string(port);
    std::vector<http::Route> routes;
    routes.push_back({"GET", "/api/v1/directives", [this](const http::HttpRequest& r) { return Handle(r); }});
    auto s = http::HttpServer::Start(o, std::move(routes));
    if (!s.ok()) return s.status().ToString();
    server_ = std::move(s).value();
    port_ = server_->port();
    return "";
  }
  void Stop() {
    if (server_) server_->Stop();
    server_.reset();
  }
  // The same port again. Rebinding can race the old socket's teardown (seen
  // under TSan, where the stop is slow): retried with a deadline.
  std::string Restart() {
    std::string error;
    prescale::testing::PollUntil([&] { return (error = Start(port_)).empty(); }, std::chrono::seconds(10),
                                 std::chrono::milliseconds(50));
    return error;
  }
  ~DirectiveTestServer() { Stop(); }

  std::string api_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void Answer(int status, std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    body_ = std::move(body);
  }
  // A 200 answer for node `node` with `lease_seconds` and the directives'
  // JSON objects, joined.
  void AnswerDirectives(const std::string& node, int lease_seconds, const std::vector<std::string>& directives) {
    std::string list;
    for (const std::string& d : directives) list += (list.empty() ? "" : ",") + d;
    Answer(200, "{\"node\":\"" + node + "\",\"lease_seconds\":" + std::to_string(lease_seconds) + ",\"directives\":[" +
                    list + "]}");
  }

  int requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::string last_authorization() const {
    std::lock_guard<std::mutex> lock(mu_);
    return authorization_;
  }
  std::string last_query() const {
    std::lock_guard<std::mutex> lock(mu_);
    return query_;
  }

 private:
  http::HttpResponse Handle(const http::HttpRequest& r) {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_;
    authorization_ = std::string(r.Header("Authorization"));
    query_ = r.query;
    http::HttpResponse out;
    out.status = status_;
    out.content_type = "application/json";
    out.body = body_;
    return out;
  }

  std::unique_ptr<http::HttpServer> server_;
  int port_ = 0;
  mutable std::mutex mu_;
  int status_ = 503;
  std::string body_ = R"({"error":"unavailable","message":"no answer set","field":""})";
  int requests_ = 0;
  std::string authorization_;
  std::string query_;
};

}  // namespace prescale::agent::testing
