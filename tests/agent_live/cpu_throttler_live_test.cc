// CpuThrottler on a real cgroup v1 CPU controller: a cap lands in
// cpu.cfs_quota_us with the cgroup's period, a burner in the cgroup gets
// throttled by the kernel, and releasing puts the unlimited quota back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "prescale/agent/cpu_throttler.h"
#include "tests/support/cgroup_sandbox.h"
#include "tests/support/fake_clock.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using namespace std::chrono_literals;

TEST(CpuThrottlerLive, CapsAV1CgroupTheKernelEnforcesAndReleaseRestoresIt) {
  const std::string reason = testing::CgroupSandbox::SkipReason();
  if (!reason.empty()) GTEST_SKIP() << "needs real cgroups: " << reason;
  const std::string burner_bin = testing::BinDir() + "/prescale-test-burner";
  ASSERT_EQ(::access(burner_bin.c_str(), X_OK), 0) << burner_bin << " is missing: build prescale-test-burner";
  auto sandbox = testing::CgroupSandbox::Create();
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  std::string cpu_root;
  for (const auto& h : (*sandbox)->hierarchies()) {
    if (!h.v2 && ::access((h.dir + "/cpu.cfs_quota_us").c_str(), F_OK) == 0) cpu_root = h.dir;
  }
  if (cpu_root.empty()) GTEST_SKIP() << "no cgroup v1 CPU controller on this machine (the v2 case is in agent_test)";
  auto cg = (*sandbox)->MakeCgroup("batch/etl");
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  const std::string dir = cpu_root + *cg;
  const std::string original = testing::ReadFileOrEmpty(dir + "/cpu.cfs_quota_us");
  ASSERT_EQ(original, "-1\n");

  testing::FakeClock clock;
  CpuThrottler throttler(clock);
  ASSERT_TRUE(throttler.Apply(dir, 0.2, 30s).ok());
  const std::string period = testing::ReadFileOrEmpty(dir + "/cpu.cfs_period_us");
  EXPECT_EQ(testing::ReadFileOrEmpty(dir + "/cpu.cfs_quota_us"),
            std::to_string(std::stoll(period) / 5) + "\n");  // 0.2 cores

  // A burner that wants a whole core is held back by the kernel.
  testing::Subprocess burner;
  ASSERT_TRUE(burner.Start({burner_bin, "cpu", "30", "1.0"}, (*sandbox)->ProcsFiles(*cg)));
  auto throttled = [&] {
    const std::string stat = testing::ReadFileOrEmpty(dir + "/cpu.stat");
    const size_t at = stat.find("nr_throttled ");
    return at != std::string::npos && std::stoll(stat.substr(at + 13)) > 0;
  };
  EXPECT_TRUE(testing::PollUntil(throttled, 20s)) << testing::ReadFileOrEmpty(dir + "/cpu.stat");

  ASSERT_TRUE(throttler.Release(dir).ok());
  EXPECT_EQ(testing::ReadFileOrEmpty(dir + "/cpu.cfs_quota_us"), original);
  burner.Signal(SIGKILL);
  (void)burner.Wait(10s);
}

// The kernel refuses a v1 parent's quota below a child's: the throttler lowers
// the children first and puts everything back, parent first, on release. A
// cap that cannot be written leaves nothing behind to expire.
TEST(CpuThrottlerLive, CapsAV1ParentAboveAChildsLimitAndRestoresBoth) {
  const std::string reason = testing::CgroupSandbox::SkipReason();
  if (!reason.empty()) GTEST_SKIP() << "needs real cgroups: " << reason;
  auto sandbox = testing::CgroupSandbox::Create();
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  std::string cpu_root;
  for (const auto& h : (*sandbox)->hierarchies()) {
    if (!h.v2 && ::access((h.dir + "/cpu.cfs_quota_us").c_str(), F_OK) == 0) cpu_root = h.dir;
  }
  if (cpu_root.empty()) GTEST_SKIP() << "no cgroup v1 CPU controller on this machine";
  auto pod = (*sandbox)->MakeCgroup("pod");
  auto container = (*sandbox)->MakeCgroup("pod/app");
  ASSERT_TRUE(pod.ok() && container.ok());
  const std::string parent = cpu_root + *pod;
  const std::string child = cpu_root + *container;
  const int64_t period = std::stoll(testing::ReadFileOrEmpty(child + "/cpu.cfs_period_us"));
  // The container's own limit: 1.5 cores.
  { std::ofstream(child + "/cpu.cfs_quota_us") << period * 3 / 2; }
  ASSERT_EQ(testing::ReadFileOrEmpty(child + "/cpu.cfs_quota_us"), std::to_string(period * 3 / 2) + "\n");

  testing::FakeClock clock;
  CpuThrottler throttler(clock);
  Status applied = throttler.Apply(parent, 0.5, 30s);
  ASSERT_TRUE(applied.ok()) << applied.ToString();
  EXPECT_EQ(testing::ReadFileOrEmpty(parent + "/cpu.cfs_quota_us"), std::to_string(period / 2) + "\n");
  EXPECT_EQ(testing::ReadFileOrEmpty(child + "/cpu.cfs_quota_us"), std::to_string(period / 2) + "\n");
  ASSERT_TRUE(throttler.Release(parent).ok());
  EXPECT_EQ(testing::ReadFileOrEmpty(parent + "/cpu.cfs_quota_us"), "-1\n");
  EXPECT_EQ(testing::ReadFileOrEmpty(child + "/cpu.cfs_quota_us"), std::to_string(period * 3 / 2) + "\n");

  // A directory without the controller's files: refused, and no cap is kept.
  EXPECT_FALSE(throttler.Apply(cpu_root + *pod + "/missing", 0.5, 30s).ok());
  EXPECT_TRUE(throttler.caps().empty());
  EXPECT_EQ(throttler.ExpireLeases(), 0u);
}

}  // namespace
}  // namespace prescale::agent
