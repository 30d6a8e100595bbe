// DirectiveLoop with several API URLs (issue 17: aggregator replicas, every
// one answering GET /api/v1/directives): two real HTTP servers on 127.0.0.1.
// A network error or a 5xx fails over to the next URL within the same poll,
// the URL that answered is tried first from then on, and it fails back when
// that one goes down; a 4xx is the aggregator's answer and is not retried
// elsewhere; with every URL down the poll fails naming each and the caps
// hold until their lease ends. The metrics and url() name the URL in use.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "prescale/agent/directive_loop.h"
#include "tests/agent/directive_test_server.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using namespace std::chrono_literals;
using ::prescale::testing::FakeClock;
using ::prescale::testing::ReadFileOrEmpty;
using ::prescale::testing::TempDir;

constexpr char kWebCap[] = R"({"tenant":"acme","service":"web","cpu_cores":0.5})";

class DirectiveFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (testing::DirectiveTestServer* s : {&first_, &second_}) {
      const std::string error = s->Start();
      ASSERT_TRUE(error.empty()) << error;
      s->AnswerDirectives("node-1", 30, {kWebCap});
    }
    dir_.Write("prescale/acme/web/cpu.max", "max 100000\n");
  }

  std::unique_ptr<DirectiveLoop> MakeLoop() {
    DirectiveLoopOptions o;
    o.api_urls = {first_.api_url(), second_.api_url()};
    o.node = "node-1";
    o.cpu_root = dir_.path();
    o.timeout = 5s;
    auto loop = DirectiveLoop::Create(o, clock_, &registry_);
    EXPECT_TRUE(loop.ok()) << loop.status().ToString();
    if (!loop.ok()) return nullptr;
    (*loop)->SetCgroups({{{"acme", "web"}, {"/prescale/acme/web"}}});
    return std::move(loop).value();
  }

  std::string Cap() const { return ReadFileOrEmpty(dir_.path() + "/prescale/acme/web/cpu.max"); }
  std::string Metrics() const {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry_.Collect());
    return out.str();
  }
  bool HasLine(const std::string& line) const { return Metrics().find("\n" + line + "\n") != std::string::npos; }
  // The in_use line of each server: 1 for `in_use`, 0 for the other.
  bool InUse(const testing::DirectiveTestServer& in_use) const {
    const auto* other = &in_use == &first_ ? &second_ : &first_;
    return HasLine("prescale_agent_directive_api_in_use{url=\"" + in_use.api_url() + "\"} 1") &&
           HasLine("prescale_agent_directive_api_in_use{url=\"" + other->api_url() + "\"} 0");
  }
  static std::string DirectivesUrl(const testing::DirectiveTestServer& s) {
    return s.api_url() + "/api/v1/directives?node=node-1";
  }

  TempDir dir_{"prescale-directive-failover"};
  FakeClock clock_;
  prometheus::Registry registry_;
  testing::DirectiveTestServer first_;
  testing::DirectiveTestServer second_;
};

TEST_F(DirectiveFailoverTest, UsesTheFirstUrlWhileItAnswers) {
  auto loop = MakeLoop();
  ASSERT_NE(loop, nullptr);
  EXPECT_EQ(loop->url(), DirectivesUrl(first_));
  EXPECT_TRUE(InUse(first_)) << Metrics();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(loop->PollOnce().ok());
  EXPECT_EQ(first_.requests(), 3);
  EXPECT_EQ(second_.requests(), 0);
  EXPECT_EQ(Cap(), "50000 100000");
  EXPECT_TRUE(HasLine("prescale_agent_directive_failovers_total 0"));
}

TEST_F(DirectiveFailoverTest, FailsOverWhenTheFirstIsDownSticksToTheSecondAndFailsBack) {
  auto loop = MakeLoop();
  ASSERT_NE(loop, nullptr);
  first_.Stop();  // connection refused
  ASSERT_TRUE(loop->PollOnce().ok()) << "the second URL should have answered within the same poll";
  EXPECT_EQ(second_.requests(), 1);
  EXPECT_EQ(Cap(), "50000 100000");
  EXPECT_EQ(loop->url(), DirectivesUrl(second_));
  EXPECT_TRUE(InUse(second_)) << Metrics();
  EXPECT_TRUE(HasLine("prescale_agent_directive_failovers_total 1"));
  EXPECT_TRUE(HasLine(R"(prescale_agent_directive_polls_total{result="ok"} 1)"));

  // The first comes back: the one that answered last is still tried first.
  const std::string error = first_.Restart();
  ASSERT_TRUE(error.empty()) << error;
  first_.AnswerDirectives("node-1", 30, {kWebCap});
  ASSERT_TRUE(loop->PollOnce().ok());
  EXPECT_EQ(first_.requests(), 0);
  EXPECT_EQ(second_.requests(), 2);

  // The second fails with a 5xx: back to the first, in the same poll.
  second_.Answer(503, R"({"error":"unavailable","message":"restarting","field":""})");
  first_.AnswerDirectives("node-1", 30, {R"({"tenant":"acme","service":"web","cpu_cores":0.25})"});
  ASSERT_TRUE(loop->PollOnce().ok());
  EXPECT_EQ(second_.requests(), 3);
  EXPECT_EQ(first_.requests(), 1);
  EXPECT_EQ(Cap(), "25000 100000");
  EXPECT_EQ(loop->url(), DirectivesUrl(first_));
  EXPECT_TRUE(InUse(first_)) << Metrics();
  EXPECT_TRUE(HasLine("prescale_agent_directive_failovers_total 2"));
  EXPECT_TRUE(HasLine(R"(prescale_agent_directive_polls_total{result="error"} 0)"));
}

TEST_F(DirectiveFailoverTest, AClientErrorIsTheAggregatorsAnswerAndIsNotRetriedElsewhere) {
  auto loop = MakeLoop();
  ASSERT_NE(loop, nullptr);
  first_.Answer(401, R"({"error":"unauthenticated","message":"bad token","field":""})");
  const Status s = loop->PollOnce();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("401"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(first_.api_url()), std::string::npos) << s.ToString();
  EXPECT_EQ(second_.requests(), 0);
  EXPECT_EQ(loop->url(), DirectivesUrl(first_));
  EXPECT_TRUE(HasLine("prescale_agent_directive_failovers_total 0"));
}

TEST_F(DirectiveFailoverTest, WithEveryUrlDownThePollFailsNamingEachAndCapsHoldUntilTheirLease) {
  auto loop = MakeLoop();
  ASSERT_NE(loop, nullptr);
  ASSERT_TRUE(loop->PollOnce().ok());
  EXPECT_EQ(Cap(), "50000 100000");

  first_.Answer(502, R"({"error":"bad_gateway","message":"no leader","field":""})");
  second_.Stop();
  clock_.Advance(20s);
  Status s = loop->PollOnce();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("no aggregator API answered"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(first_.api_url()), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(second_.api_url()), std::string::npos) << s.ToString();
  EXPECT_EQ(Cap(), "50000 100000") << "a failed poll changes no cap before its lease ends";
  EXPECT_TRUE(InUse(first_)) << "nothing answered: the URL in use stays";

  clock_.Advance(10s);  // 30 s after the last answer
  s = loop->PollOnce();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(Cap(), "max 100000");
  EXPECT_TRUE(HasLine("prescale_agent_directive_lease_expiries_total 1"));
  EXPECT_TRUE(HasLine(R"(prescale_agent_directive_polls_total{result="error"} 2)"));
  EXPECT_TRUE(HasLine("prescale_agent_directive_failovers_total 0"));
}

TEST_F(DirectiveFailoverTest, TheLoopThreadFailsOverToo) {
  DirectiveLoopOptions o;
  o.api_urls = {first_.api_url(), second_.api_url()};
  o.node = "node-1";
  o.cpu_root = dir_.path();
  o.interval = 100ms;
  auto loop = DirectiveLoop::Create(o, clock_, &registry_);
  ASSERT_TRUE(loop.ok()) << loop.status().ToString();
  first_.Stop();
  (*loop)->Start();
  EXPECT_TRUE(::prescale::testing::PollUntil([&] { return second_.requests() >= 2; }, 20s));
  (*loop)->Stop();
  EXPECT_EQ((*loop)->url(), DirectivesUrl(second_));
}

TEST_F(DirectiveFailoverTest, CreateRefusesNoUrlAndAnyNonHttpUrl) {
  DirectiveLoopOptions o;
  o.cpu_root = dir_.path();
  auto none = DirectiveLoop::Create(o, clock_, &registry_);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no URL"), std::string::npos) << none.status().ToString();
  o.api_urls = {first_.api_url(), "agg:9570"};
  auto bad = DirectiveLoop::Create(o, clock_, &registry_);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("aggregator_api_url 'agg:9570'"), std::string::npos) << bad.status().ToString();
}

}  // namespace
}  // namespace prescale::agent
