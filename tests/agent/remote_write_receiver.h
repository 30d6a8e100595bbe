// RemoteWriteReceiver: a stand-in for the aggregator's remote-write endpoint,
// prescale's HttpServer on 127.0.0.1 (port 0 at first; Start(port) comes back
// on the same port) decoding with remote_write::Decode. It answers scripted
// statuses, or 503 while GoDown(), or is stopped to make an outage, and
// records what it accepted. Thread-safe.
#pragma once

#include <cctype>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "prescale/http/http_server.h"
#include "prescale/remote_write/remote_write.h"
#include "tests/support/test_env.h"

namespace prescale::agent::testing {

class RemoteWriteReceiver {
 public:
  struct Accepted {
    std::map<std::string, std::string> headers;  // lower-case names
    remote_write::WriteRequest request;
  };

  ~RemoteWriteReceiver() { Stop(); }

  // Port 0 picks a free one; a given port restarts the receiver where it was.
  bool Start(int port = 0) {
    http::HttpServerOptions o;
    o.listen = "127.0.0.1:" + std::to_string(port);
    o.max_body_bytes = 32 << 20;
    std::vector<http::Route> routes;
    routes.push_back({"POST", "/api/v1/write", [this](const http::HttpRequest& r) { return Handle(r); }});
    auto s = http::HttpServer::Start(o, std::move(routes));
    if (!s.ok()) {
      error_ = s.status().ToString();
      return false;
    }
    server_ = std::move(s).value();
    port_ = server_->port();
    std::lock_guard<std::mutex> lock(mu_);
    down_ = false;
    return true;
  }
  // Start() on the port it had. Rebinding can race the old socket's teardown
  // (seen under TSan, where the stop is slow): retried with a deadline.
  bool Restart() {
    const int port = port_;
    return prescale::testing::PollUntil([&] { return Start(port); }, std::chrono::seconds(10),
                                        std::chrono::milliseconds(50));
  }
  void Stop() {
    if (server_) server_->Stop();
    server_.reset();
  }
  // Answers 503 (and records nothing) until GoUp() or the next Start().
  void GoDown() {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = true;
  }
  void GoUp() {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = false;
  }
  size_t down_answers() {
    std::lock_guard<std::mutex> lock(mu_);
    return down_answers_;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/write"; }
  int port() const { return port_; }
  const std::string& error() const { return error_; }

  // Statuses to answer, in order, before accepting again.
  void Script(std::vector<int> statuses) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.assign(statuses.begin(), statuses.end());
  }
  size_t attempts() {
    std::lock_guard<std::mutex> lock(mu_);
    return attempts_;
  }
  std::vector<Accepted> accepted() {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }
  size_t accepted_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_.size();
  }

 private:
  http::HttpResponse Handle(const http::HttpRequest& r) {
    std::lock_guard<std::mutex> lock(mu_);
    ++attempts_;
    http::HttpResponse resp;
    if (down_) {
      ++down_answers_;
      resp.status = 503;
      return resp;
    }
    if (!script_.empty()) {
      resp.status = script_.front();
      resp.body = "scripted failure";
      script_.pop_front();
      return resp;
    }
    auto decoded = remote_write::Decode(r.body);
    if (!decoded.ok()) return http::HttpResponse::JsonError(400, "bad_request", decoded.status().message());
    Accepted a;
    for (const auto& [k, v] : r.headers) {
      std::string lower = k;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      a.headers[lower] = v;
    }
    a.request = std::move(decoded).value();
    accepted_.push_back(std::move(a));
    resp.status = 204;
    return resp;
  }

  std::unique_ptr<http::HttpServer> server_;
  int port_ = 0;
  std::string error_;
  std::mutex mu_;
  std::deque<int> script_;
  bool down_ = false;
  size_t down_answers_ = 0;
  size_t attempts_ = 0;
  std::vector<Accepted> accepted_;
};

}  // namespace prescale::agent::testing
