// DirectiveLoop against a real HTTP server on 127.0.0.1 standing in for the
// aggregator, on cgroup files faked as plain directories (cpu.max for v2,
// cpu.cfs_quota_us for v1; tests/agent_live has real cgroups): the token and
// node it sends, the cap split among a service's cgroups, release when a
// directive goes, caps kept through failed polls until their lease ends (on
// the injected clock), everything restored on destruction, and the metrics.
#include "prescale/agent/directive_loop.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "tests/agent/directive_test_server.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using namespace std::chrono_literals;
using ::prescale::testing::FakeClock;
using ::prescale::testing::ReadFileOrEmpty;
using ::prescale::testing::TempDir;

class DirectiveLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string error = server_.Start();
    ASSERT_TRUE(error.empty()) << error;
    dir_.Write("prescale/acme/web/cpu.max", "max 100000\n");
    dir_.Write("prescale/acme/web2/cpu.max", "300000 100000\n");
    dir_.Write("prescale/beta/batch/cpu.cfs_quota_us", "-1\n");
    dir_.Write("prescale/beta/batch/cpu.cfs_period_us", "50000\n");
    token_file_ = dir_.Write("token", "agent-token-123\n");
  }

  std::unique_ptr<DirectiveLoop> MakeLoop(const std::string& token_file) {
    DirectiveLoopOptions o;
    o.api_urls = {server_.api_url() + "/"};
    o.node = "node 1";
    o.token_file = token_file;
    o.cpu_root = dir_.path();
    o.timeout = 5s;
    auto loop = DirectiveLoop::Create(o, clock_, &registry_);
    EXPECT_TRUE(loop.ok()) << loop.status().ToString();
    if (!loop.ok()) return nullptr;
    (*loop)->SetCgroups({{{"acme", "web"}, {"/prescale/acme/web", "/prescale/acme/web2"}},
                         {{"beta", "batch"}, {"/prescale/beta/batch"}}});
    return std::move(loop).value();
  }

  std::string File(const std::string& relative) const { return ReadFileOrEmpty(dir_.path() + relative); }
  std::string Metrics() const {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry_.Collect());
    return out.str();
  }
  bool HasLine(const std::string& line) const { return Metrics().find("\n" + line + "\n") != std::string::npos; }

  TempDir dir_{"prescale-directives"};
  FakeClock clock_;
  prometheus::Registry registry_;
  testing::DirectiveTestServer server_;
  std::string token_file_;
};

TEST_F(DirectiveLoopTest, SendsTokenAndNodeAndSplitsTheCapAmongTheServiceCgroups) {
  auto loop = MakeLoop(token_file_);
  ASSERT_NE(loop, nullptr);
  EXPECT_EQ(loop->url(), server_.api_url() + "/api/v1/directives?node=node%201");
  server_.AnswerDirectives(
      "node 1", 30,
      {R"({"tenant":"acme","service":"web","cpu_cores":1.5})", R"({"tenant":"beta","service":"batch","cpu_cores":0.5})",
       R"({"tenant":"gone","service":"elsewhere","cpu_cores":1})"});
  ASSERT_TRUE(loop->PollOnce().ok());
  EXPECT_EQ(server_.last_authorization(), "Bearer agent-token-123");
  EXPECT_EQ(server_.last_query(), "node=node%201");
  // 1.5 cores over two cgroups; v2 keeps each cgroup's period, v1 writes the quota alone.
  EXPECT_EQ(File("/prescale/acme/web/cpu.max"), "75000 100000");
  EXPECT_EQ(File("/prescale/acme/web2/cpu.max"), "75000 100000");
  EXPECT_EQ(File("/prescale/beta/batch/cpu.cfs_quota_us"), "25000");
  EXPECT_EQ(loop->caps().size(), 3u);
  EXPECT_TRUE(HasLine(R"(prescale_agent_cpu_cap_cores{cgroup="/prescale/acme/web",service="web",tenant="acme"} 0.75)"))
      << Metrics();
  EXPECT_TRUE(
      HasLine(R"(prescale_agent_cpu_cap_cores{cgroup="/prescale/beta/batch",service="batch",tenant="beta"} 0.5)"));
  EXPECT_TRUE(HasLine("prescale_agent_directives_active 2"));
  EXPECT_TRUE(HasLine(R"(prescale_agent_directive_polls_total{result="ok"} 1)"));
}

TEST_F(DirectiveLoopTest, ReleasesACapWhenItsDirectiveDisappears) {
  auto loop = MakeLoop(token_file_);
  ASSERT_NE(loop, nullptr);
  server_.AnswerDirectives(
      "node 1", 30,
      {R"({"tenant":"acme","service":"web","cpu_cores":1})", R"({"tenant":"beta","service":"batch","cpu_cores":0.5})"});
  ASSERT_TRUE(loop->PollOnce().ok());
  EXPECT_EQ(File("/prescale/acme/web2/cpu.max"), "50000 100000");
  server_.AnswerDirectives("node 1", 30, {R"({"tenant":"beta","service":"batch","cpu_cores":0.2})"});
  ASSERT_TRUE(loop->PollOnce().ok());
  EXPECT_EQ(File("/prescale/acme/web/cpu.max"), "max 100000");
  EXPECT_EQ(File("/prescale/acme/web2/cpu.max"), "300000 100000");
  EXPECT_EQ(File("/prescale/beta/batch/cpu.cfs_quota_us"), "10000");
  EXPECT_FALSE(Metrics().find(R"(service="web")") != std::string::npos) << Metrics();
  EXPECT_TRUE(HasLine("prescale_agent_directives_active 1"));
  // A cgroup that leaves the service is released too.
  loop->SetCgroups({});
  ASSERT_TRUE(loop->PollOnce().ok());
  EXPECT_EQ(File("/prescale/beta/batch/cpu.cfs_quota_us"), "-1");
  EXPECT_TRUE(loop->caps().empty());
  EXPECT_TRUE(HasLine("prescale_agent_directives_active 0"));
}

TEST_F(DirectiveLoopTest, FailedPollsKeepCapsUntilTheLeaseEnds) {
  auto loop = MakeLoop(token_file_);
  ASSERT_NE(loop, nullptr);
  server_.AnswerDirectives("node 1", 30, {R"({"tenant":"acme","service":"web","cpu_cores":0.5})"});
  ASSERT_TRUE(loop->PollOnce().ok());
  EXPECT_EQ(File("/prescale/acme/web/cpu.max"), "25000 100000");

  // A 5xx, a bad body, an answer for another node: caps stay.
  server_.Answer(503, R"({"error":"unavailable","message":"store is down","field":""})");
  clock_.Advance(10s);
  Status s = loop->PollOnce();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("HTTP 503 unavailable: store is down"), std::string::npos) << s.ToString();
  server_.Answer(200, R"({"node":"node 1","lease_seconds":30,"directives":[{"tenant":"acme"}]})");
  clock_.Advance(10s);
  s = loop->PollOnce();
  EXPECT_EQ(s.code(), StatusCode::kParseError);
  EXPECT_NE(s.message().find("directives[0].service"), std::string::npos) << s.ToString();
  server_.AnswerDirectives("node 2", 30, {});
  s = loop->PollOnce();
  EXPECT_NE(s.message().find("node 2"), std::string::npos) << s.ToString();
  EXPECT_EQ(File("/prescale/acme/web/cpu.max"), "25000 100000");
  EXPECT_TRUE(HasLine(R"(prescale_agent_directive_polls_total{result="error"} 3)"));

  // The aggregator goes away: still capped until 30 s after the last good answer.
  server_.Stop();
  clock_.Advance(9s);
  EXPECT_EQ(loop->PollOnce().code(), StatusCode::kUnavailable);
  EXPECT_EQ(File("/prescale/acme/web/cpu.max"), "25000 100000");
  EXPECT_TRUE(HasLine("prescale_agent_directive_lease_expiries_total 0"));
  clock_.Advance(1s);
  EXPECT_EQ(loop->PollOnce().code(), StatusCode::kUnavailable);
  EXPECT_EQ(File("/prescale/acme/web/cpu.max"), "max 100000");
  EXPECT_EQ(File("/prescale/acme/web2/cpu.max"), "300000 100000");
  EXPECT_TRUE(loop->caps().empty());
  EXPECT_TRUE(HasLine("prescale_agent_directive_lease_expiries_total 2"));
  EXPECT_TRUE(HasLine("prescale_agent_directives_active 0"));

  // Back again: the directive applies again.
  const std::string error = server_.Restart();
  ASSERT_TRUE(error.empty()) << error;
  server_.AnswerDirectives("node 1", 30, {R"({"tenant":"acme","service":"web","cpu_cores":0.5})"});
  ASSERT_TRUE(loop->PollOnce().ok());
  EXPECT_EQ(File("/prescale/acme/web/cpu.max"), "25000 100000");
}

TEST_F(DirectiveLoopTest, RenewedLeasesHoldAndDestructionRestoresEveryOriginal) {
  {
    auto loop = MakeLoop(token_file_);
    ASSERT_NE(loop, nullptr);
    server_.AnswerDirectives(
        "node 1", 30,
        {R"({"tenant":"acme","service":"web","cpu_cores":4})", R"({"tenant":"beta","service":"batch","cpu_cores":1})"});
    for (int i = 0; i < 5; ++i) {  // 100 s of answers, each renewing the 30 s lease
      ASSERT_TRUE(loop->PollOnce().ok());
      clock_.Advance(20s);
    }
    EXPECT_EQ(File("/prescale/acme/web/cpu.max"), "200000 100000");
    EXPECT_EQ(File("/prescale/beta/batch/cpu.cfs_quota_us"), "50000");
    EXPECT_TRUE(HasLine("prescale_agent_directive_lease_expiries_total 0"));
  }  // the agent stops
  EXPECT_EQ(File("/prescale/acme/web/cpu.max"), "max 100000");
  EXPECT_EQ(File("/prescale/acme/web2/cpu.max"), "300000 100000");
  EXPECT_EQ(File("/prescale/beta/batch/cpu.cfs_quota_us"), "-1");
  EXPECT_EQ(Metrics().find("prescale_agent_cpu_cap_cores{"), std::string::npos) << Metrics();
}

TEST_F(DirectiveLoopTest, ACgroupWithoutCpuControllerIsCountedAndTheOthersAreCapped) {
  dir_.Write("prescale/acme/nocpu/memory.max", "max\n");
  auto loop = MakeLoop(token_file_);
  ASSERT_NE(loop, nullptr);
  loop->SetCgroups({{{"acme", "web"}, {"/prescale/acme/web", "/prescale/acme/nocpu"}}});
  server_.AnswerDirectives("node 1", 30, {R"({"tenant":"acme","service":"web","cpu_cores":1})"});
  ASSERT_TRUE(loop->PollOnce().ok());
  EXPECT_EQ(File("/prescale/acme/web/cpu.max"), "50000 100000");
  EXPECT_TRUE(HasLine("prescale_agent_directive_apply_errors_total 1"));
}

TEST_F(DirectiveLoopTest, ThreadPollsUntilStopped) {
  DirectiveLoopOptions o;
  o.api_urls = {server_.api_url()};
  o.node = "node 1";
  o.cpu_root = dir_.path();
  o.interval = 100ms;
  auto loop = DirectiveLoop::Create(o, clock_, &registry_);
  ASSERT_TRUE(loop.ok());
  server_.AnswerDirectives("node 1", 30, {});
  (*loop)->Start();
  EXPECT_TRUE(::prescale::testing::PollUntil([&] { return server_.requests() >= 2; }, 20s));
  (*loop)->Stop();
  const int after_stop = server_.requests();
  EXPECT_EQ(server_.last_authorization(), "");  // no token file: no Authorization header
  (*loop)->Stop();                              // twice is fine
  EXPECT_EQ(server_.requests(), after_stop);
}

TEST_F(DirectiveLoopTest, CreateErrorsNameTheProblem) {
  DirectiveLoopOptions o;
  o.api_urls = {"ftp://x"};
  o.cpu_root = dir_.path();
  auto loop = DirectiveLoop::Create(o, clock_, &registry_);
  ASSERT_FALSE(loop.ok());
  EXPECT_NE(loop.status().message().find("aggregator_api_url 'ftp://x'"), std::string::npos);
  o.api_urls = {server_.api_url()};
  o.token_file = dir_.path() + "/missing";
  loop = DirectiveLoop::Create(o, clock_, &registry_);
  ASSERT_FALSE(loop.ok());
  EXPECT_NE(loop.status().message().find("token_file " + o.token_file), std::string::npos);
  o.token_file = dir_.Write("empty", "\n");
  loop = DirectiveLoop::Create(o, clock_, &registry_);
  ASSERT_FALSE(loop.ok());
  EXPECT_NE(loop.status().message().find("is empty"), std::string::npos);
}

TEST(DirectiveCgroups, ServicesKeepTheirOutermostCgroupsOnly) {
  MappingRule rule;
  rule.pattern = "^/svc/([a-z]+)";
  rule.regex = std::regex(rule.pattern);
  rule.labels = {{"tenant", "t"}, {"service", "$1"}};
  CgroupMapper mapper({rule}, /*keep_unmatched=*/true);
  CgroupTable table(mapper, "node", 100);
  table.BeginCycle(true);
  for (const char* path :
       {"/", "/svc/web", "/svc/web/c1", "/svc/web/c1/x", "/svc/web-b", "/svc/api/c1", "/svc/api/c2", "/other"}) {
    ASSERT_NE(table.Touch(path), nullptr);
  }
  table.EndCycle();
  const ServiceCgroups services = ServiceCgroupsFromTable(table);
  const ServiceCgroups expected = {{{"t", "api"}, {"/svc/api/c1", "/svc/api/c2"}},
                                   {{"t", "web"}, {"/svc/web", "/svc/web-b"}}};
  EXPECT_EQ(services, expected);  // "/" and "/other" map to no tenant and service
}

TEST(DirectiveCgroups, CapsGoToTheV1CpuControllerElseTheV2Hierarchy) {
  CgroupLayout hybrid;
  hybrid.kind = CgroupLayoutKind::kHybrid;
  hybrid.hierarchies = {{"/cg/memory", false, kCtrlMemory},
                        {"/cg/cpu,cpuacct", false, kCtrlCpu | kCtrlCpuacct},
                        {"/cg/unified", true, 0}};
  EXPECT_EQ(CpuCapRoot(hybrid).value(), "/cg/cpu,cpuacct");
  CgroupLayout v2;
  v2.hierarchies = {{"/cg", true, 0}};
  EXPECT_EQ(CpuCapRoot(v2).value(), "/cg");
  CgroupLayout memory_only;
  memory_only.hierarchies = {{"/cg/memory", false, kCtrlMemory}};
  EXPECT_EQ(CpuCapRoot(memory_only).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace prescale::agent
