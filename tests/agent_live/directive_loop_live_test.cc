// The agent's directive loop on real cgroups: a whole Agent (layout detection,
// mapping, the cgroup table, the directive loop) on this machine's
// /sys/fs/cgroup, a real HTTP server on 127.0.0.1 standing in for the
// aggregator, and the injected clock for leases. A directive's cap lands in
// the cpu controller's cpu.cfs_quota_us (v1; the v2 hierarchy here has no
// CPU controller, tests/agent covers cpu.max) split among the service's
// cgroups, and the original comes back when (a) the directive disappears,
// (b) the aggregator is gone for longer than the lease, (c) the agent is
// destroyed.
#include <gtest/gtest.h>
#include <unistd.h>

#include "prescale/agent/agent.h"
#include "prescale/agent/directive_loop.h"
#include "tests/agent/directive_test_server.h"
#include "tests/support/cgroup_sandbox.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using namespace std::chrono_literals;
using ::prescale::testing::CgroupSandbox;
using ::prescale::testing::FakeClock;
using ::prescale::testing::ReadFileOrEmpty;

class DirectiveLoopLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string reason = CgroupSandbox::SkipReason();
    if (!reason.empty()) GTEST_SKIP() << "needs real cgroups: " << reason;
    auto sandbox = CgroupSandbox::Create();
    ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
    sandbox_ = std::move(sandbox).value();
    for (const auto& h : sandbox_->hierarchies()) {
      if (!h.v2 && ::access((h.dir + "/cpu.cfs_quota_us").c_str(), F_OK) == 0) cpu_root_ = h.dir;
    }
    if (cpu_root_.empty()) GTEST_SKIP() << "no cgroup v1 CPU controller on this machine (cpu.max is in agent_test)";
    const std::string error = server_.Start();
    ASSERT_TRUE(error.empty()) << error;

    // Two cgroups of service acme/batch (batch-1, batch-2) and one of acme/web.
    for (const char* relative : {"acme/batch-1", "acme/batch-2", "acme/web-1"}) {
      auto path = sandbox_->MakeCgroup(relative);
      ASSERT_TRUE(path.ok()) << path.status().ToString();
      paths_.push_back(*path);
      ASSERT_EQ(Quota(*path), "-1\n") << "a new cgroup should have no CPU limit";
    }
    ASSERT_TRUE(sandbox_->SetCpuQuota(paths_[2], 300000, 100000).ok());  // web-1 has a limit of its own

    AgentConfig config = DefaultAgentConfig();
    config.node = "live-node";
    config.discovery_interval = 0ms;
    MappingRule rule;
    rule.kind = MappingRule::Kind::kRegex;
    rule.pattern = sandbox_->MappingPattern();  // ^ROOT/([^/]+)/([^/]+)$
    rule.pattern.insert(rule.pattern.size() - 1, "-[0-9]+");
    rule.regex = std::regex(rule.pattern);
    rule.labels = {{"tenant", "$1"}, {"service", "$2"}};
    config.mapping = {rule};
    config.directives = true;
    config.aggregator_api_url = server_.api_url();
    auto agent = Agent::Create(std::move(config), clock_);
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agent_ = std::move(agent).value();
    ASSERT_NE(agent_->directives(), nullptr);
    agent_->CollectOnce();  // tells the loop the node's cgroups
  }

  std::string Quota(const std::string& path) const { return ReadFileOrEmpty(cpu_root_ + path + "/cpu.cfs_quota_us"); }
  int64_t PeriodUs(const std::string& path) const {
    return std::stoll(ReadFileOrEmpty(cpu_root_ + path + "/cpu.cfs_period_us"));
  }
  void AnswerBatchCap(double cores) {
    server_.AnswerDirectives("live-node", 30,
                             {R"({"tenant":"acme","service":"batch","cpu_cores":)" + std::to_string(cores) + "}"});
  }
  // batch-1 and batch-2 get half of `cores` each.
  void ExpectBatchCapped(double cores) {
    for (int i = 0; i < 2; ++i) {
      const int64_t expected = std::llround(cores / 2 * static_cast<double>(PeriodUs(paths_[i])));
      EXPECT_EQ(Quota(paths_[i]), std::to_string(expected) + "\n") << paths_[i];
    }
  }
  void ExpectOriginals() {
    EXPECT_EQ(Quota(paths_[0]), "-1\n");
    EXPECT_EQ(Quota(paths_[1]), "-1\n");
    EXPECT_EQ(Quota(paths_[2]), "300000\n");
  }

  // Declared first, destroyed last: the agent restores the files before the cgroups go.
  std::unique_ptr<CgroupSandbox> sandbox_;
  std::string cpu_root_;
  std::vector<std::string> paths_;
  FakeClock clock_;
  testing::DirectiveTestServer server_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(DirectiveLoopLiveTest, OriginalComesBackWhenTheDirectiveDisappears) {
  AnswerBatchCap(0.4);
  ASSERT_TRUE(agent_->directives()->PollOnce().ok());
  ExpectBatchCapped(0.4);
  EXPECT_EQ(Quota(paths_[2]), "300000\n") << "web has no directive: its own limit stays";
  EXPECT_NE(agent_->Exposition().find(R"(prescale_agent_cpu_cap_cores{cgroup=")" + paths_[0] +
                                      R"(",service="batch",tenant="acme"} 0.2)"),
            std::string::npos)
      << agent_->Exposition();

  // A web cap capping web-1 below its own limit, then both gone.
  server_.AnswerDirectives("live-node", 30,
                           {R"({"tenant":"acme","service":"web","cpu_cores":0.5})",
                            R"({"tenant":"acme","service":"batch","cpu_cores":0.4})"});
  ASSERT_TRUE(agent_->directives()->PollOnce().ok());
  EXPECT_EQ(Quota(paths_[2]), std::to_string(PeriodUs(paths_[2]) / 2) + "\n");
  server_.AnswerDirectives("live-node", 30, {});
  ASSERT_TRUE(agent_->directives()->PollOnce().ok());
  ExpectOriginals();
  EXPECT_EQ(agent_->Exposition().find("prescale_agent_cpu_cap_cores{"), std::string::npos);
}

TEST_F(DirectiveLoopLiveTest, OriginalComesBackWhenTheAggregatorIsGoneLongerThanTheLease) {
  AnswerBatchCap(0.3);
  ASSERT_TRUE(agent_->directives()->PollOnce().ok());
  ExpectBatchCapped(0.3);
  server_.Stop();
  for (int i = 0; i < 3; ++i) {  // 28.5 s without an answer: the lease (30 s) holds
    clock_.Advance(9500ms);
    EXPECT_EQ(agent_->directives()->PollOnce().code(), StatusCode::kUnavailable);
    ExpectBatchCapped(0.3);
  }
  clock_.Advance(1500ms);  // 30 s
  EXPECT_EQ(agent_->directives()->PollOnce().code(), StatusCode::kUnavailable);
  ExpectOriginals();
  EXPECT_NE(agent_->Exposition().find("prescale_agent_directive_lease_expiries_total 2"), std::string::npos);
  EXPECT_NE(agent_->Exposition().find(R"(prescale_agent_directive_polls_total{result="error"} 4)"), std::string::npos);
}

TEST_F(DirectiveLoopLiveTest, OriginalComesBackWhenTheAgentStops) {
  server_.AnswerDirectives("live-node", 30,
                           {R"({"tenant":"acme","service":"batch","cpu_cores":1})",
                            R"({"tenant":"acme","service":"web","cpu_cores":0.25})"});
  ASSERT_TRUE(agent_->directives()->PollOnce().ok());
  ExpectBatchCapped(1);
  EXPECT_EQ(Quota(paths_[2]), std::to_string(PeriodUs(paths_[2]) / 4) + "\n");
  agent_.reset();
  ExpectOriginals();
}

TEST_F(DirectiveLoopLiveTest, RunAppliesCapsOnItsOwnThreadAndRestoresThemWhenStopped) {
  AnswerBatchCap(0.5);
  std::thread run([&] { agent_->Run(std::function<void()>()); });
  const bool capped = ::prescale::testing::PollUntil(
      [&] { return Quota(paths_[0]) == std::to_string(PeriodUs(paths_[0]) / 4) + "\n"; }, 20s);
  agent_->Stop();
  run.join();
  EXPECT_TRUE(capped) << Quota(paths_[0]);
  ExpectOriginals();  // Run returned: the agent stopped
}

}  // namespace
}  // namespace prescale::agent
