// The server's request log and request ids, over real HTTP on 127.0.0.1:0:
// one logfmt line per request (method, path without the query, status,
// duration, bytes, remote address, request id; never a header's value), 5xx
// at warn; X-Request-Id taken from the request when valid, else made, and
// sent back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "prescale/base/log.h"
#include "prescale/http/http_server.h"
#include "tests/support/curl.h"
#include "tests/support/logfmt.h"
#include "tests/support/test_env.h"

namespace prescale::http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class RequestLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
    std::vector<Route> routes;
    routes.push_back({"GET", "/hello", [this](const HttpRequest& r) {
                        std::lock_guard lock(mu_);
                        seen_id_ = std::string(r.Header("X-Request-Id"));
                        HttpResponse resp;
                        resp.body = "hello\n";
                        return resp;
                      }});
    routes.push_back(
        {"GET", "/busy", [](const HttpRequest&) { return HttpResponse::JsonError(503, "unavailable", "try later"); }});
    routes.push_back({"GET", "/stream", [](const HttpRequest&) {
                        HttpResponse resp;
                        resp.body_writer = [](const std::function<bool(std::string_view)>& write) {
                          write(std::string(70000, 'a'));
                          write("bc");
                        };
                        return resp;
                      }});
    routes.push_back({"POST", "/echo", [](const HttpRequest& r) {
                        HttpResponse resp;
                        resp.body = r.body;
                        return resp;
                      }});
    HttpServerOptions options;
    options.max_body_bytes = 1024;
    auto server = HttpServer::Start(options, std::move(routes));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
    SetLogLevel(LogLevel::kDebug);
    SetLogSink([this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line.substr(0, line.size() - 1));
    });
  }
  void TearDown() override {
    server_.reset();
    SetLogSink({});
    SetLogLevel(LogLevel::kInfo);
  }

  // The pairs of the request line logged with `request_id`, by key; empty when none came within 5 s (the
  // line may be written just after the response leaves).
  std::map<std::string, std::string> LineOf(const std::string& request_id) {
    std::map<std::string, std::string> found;
    testing::PollUntil(
        [&] {
          std::lock_guard lock(mu_);
          for (const std::string& line : lines_) {
            auto pairs = testing::ParseLogfmt(line);
            EXPECT_TRUE(pairs.has_value()) << line;
            if (!pairs.has_value()) continue;
            std::map<std::string, std::string> by_key(pairs->begin(), pairs->end());
            if (by_key["request_id"] == request_id && by_key["msg"] == "request") {
              found = std::move(by_key);
              return true;
            }
          }
          return false;
        },
        std::chrono::seconds(5), std::chrono::milliseconds(5));
    return found;
  }
  std::string AllLines() {
    std::lock_guard lock(mu_);
    std::string all;
    for (const std::string& line : lines_) all += line + "\n";
    return all;
  }

  std::unique_ptr<HttpServer> server_;
  std::string base_;
  std::mutex mu_;
  std::string seen_id_;
  std::vector<std::string> lines_;
};

TEST_F(RequestLogTest, AValidRequestIdIsKeptSeenByTheHandlerSentBackAndLogged) {
  const testing::CurlReply r = testing::Curl("GET", base_ + "/hello?token=s3cret&x=1", "",
                                             {"X-Request-Id: trace-42.A_b", "Authorization: Bearer hunter2"});
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.Header("X-Request-Id"), "trace-42.A_b");
  {
    std::lock_guard lock(mu_);
    EXPECT_EQ(seen_id_, "trace-42.A_b");
  }
  const auto line = LineOf("trace-42.A_b");
  ASSERT_FALSE(line.empty()) << AllLines();
  EXPECT_EQ(line.at("level"), "debug");
  EXPECT_EQ(line.at("component"), "http");
  EXPECT_EQ(line.at("method"), "GET");
  EXPECT_EQ(line.at("path"), "/hello");
  EXPECT_EQ(line.at("status"), "200");
  EXPECT_EQ(line.at("bytes"), "6");
  EXPECT_TRUE(std::regex_match(line.at("remote"), std::regex(R"(127\.0\.0\.1:\d+)"))) << line.at("remote");
  EXPECT_TRUE(std::regex_match(line.at("duration_ms"), std::regex(R"(\d+(\.\d+)?(e-?\d+)?)")))
      << line.at("duration_ms");
  // Neither the query's values nor any header's value reach the log.
  EXPECT_THAT(AllLines(), Not(HasSubstr("s3cret")));
  EXPECT_THAT(AllLines(), Not(HasSubstr("hunter2")));
}

TEST_F(RequestLogTest, AMissingOrInvalidRequestIdIsReplacedByANewOne) {
  for (const std::string& sent : {std::string(), std::string(129, 'x'), std::string("two words"),
                                  std::string("quote\"d"), std::string("tab\there")}) {
    SCOPED_TRACE(sent);
    std::vector<std::string> headers;
    if (!sent.empty()) headers.push_back("X-Request-Id: " + sent);
    const testing::CurlReply r = testing::Curl("GET", base_ + "/hello", "", headers);
    ASSERT_EQ(r.status, 200) << r.error;
    const std::string id = r.Header("X-Request-Id");
    EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{16}"))) << id;
    {
      std::lock_guard lock(mu_);
      EXPECT_EQ(seen_id_, id) << "the handler sees the id the response carries";
    }
    EXPECT_FALSE(LineOf(id).empty()) << AllLines();
  }
  // 128 visible characters are kept.
  const std::string longest(128, 'y');
  EXPECT_EQ(testing::Curl("GET", base_ + "/hello", "", {"X-Request-Id: " + longest}).Header("X-Request-Id"), longest);
}

TEST_F(RequestLogTest, ServerErrorsAreWarningsAndTheRestFollowTheLevel) {
  SetLogLevel(LogLevel::kInfo);
  ASSERT_EQ(testing::Curl("GET", base_ + "/hello", "", {"X-Request-Id: quiet"}).status, 200);
  const testing::CurlReply busy = testing::Curl("GET", base_ + "/busy", "", {"X-Request-Id: loud"});
  ASSERT_EQ(busy.status, 503);
  EXPECT_EQ(busy.Header("X-Request-Id"), "loud");
  const auto line = LineOf("loud");
  ASSERT_FALSE(line.empty()) << AllLines();
  EXPECT_EQ(line.at("level"), "warn");
  EXPECT_EQ(line.at("status"), "503");
  EXPECT_THAT(AllLines(), Not(HasSubstr("request_id=quiet")));
}

TEST_F(RequestLogTest, UnknownPathsRefusalsAndStreamsAreLoggedWithTheirIds) {
  const testing::CurlReply missing = testing::Curl("GET", base_ + "/nowhere", "", {"X-Request-Id: lost"});
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.Header("X-Request-Id"), "lost");
  EXPECT_EQ(LineOf("lost").at("status"), "404");

  const testing::CurlReply large = testing::Curl("POST", base_ + "/echo", std::string(4096, 'z'), {});
  EXPECT_EQ(large.status, 413);
  const std::string id = large.Header("X-Request-Id");
  ASSERT_FALSE(id.empty()) << large.headers;
  const auto refused = LineOf(id);
  ASSERT_FALSE(refused.empty()) << AllLines();
  EXPECT_EQ(refused.at("status"), "413");
  EXPECT_EQ(refused.at("method"), "POST");
  EXPECT_EQ(refused.at("path"), "/echo");

  const testing::CurlReply streamed = testing::Curl("GET", base_ + "/stream", "", {"X-Request-Id: stream-1"});
  EXPECT_EQ(streamed.status, 200);
  EXPECT_EQ(streamed.body.size(), 70002u);
  EXPECT_EQ(streamed.Header("X-Request-Id"), "stream-1");
  const auto line = LineOf("stream-1");
  ASSERT_FALSE(line.empty()) << AllLines();
  EXPECT_EQ(line.at("bytes"), "70002");
}

}  // namespace
}  // namespace prescale::http
