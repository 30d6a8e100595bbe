// CpuThrottler on cgroup v2 files (a fixture directory: this machine's v2
// hierarchy has no CPU controller; tests/agent_live has the real v1 test):
// the cap's format, the original text put back on release, lease expiry and
// destruction, and errors naming the file.
#include "prescale/agent/cpu_throttler.h"

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using namespace std::chrono_literals;

TEST(CpuThrottler, CapsCpuMaxKeepingThePeriodAndPutsTheOriginalBack) {
  testing::TempDir dir("prescale-throttle");
  const std::string cg = dir.path() + "/svc";
  dir.Write("svc/cpu.max", "max 100000\n");
  testing::FakeClock clock;
  CpuThrottler throttler(clock);
  ASSERT_TRUE(throttler.Apply(cg, 1.5, 30s).ok());
  EXPECT_EQ(testing::ReadFileOrEmpty(cg + "/cpu.max"), "150000 100000");
  // A renewal changes the cap; the original stays the first one read.
  ASSERT_TRUE(throttler.Apply(cg, 0.25, 30s).ok());
  EXPECT_EQ(testing::ReadFileOrEmpty(cg + "/cpu.max"), "25000 100000");
  ASSERT_EQ(throttler.caps().size(), 1u);
  EXPECT_EQ(throttler.caps()[0].original, "max 100000");
  EXPECT_TRUE(throttler.caps()[0].v2);
  ASSERT_TRUE(throttler.Release(cg).ok());
  EXPECT_EQ(testing::ReadFileOrEmpty(cg + "/cpu.max"), "max 100000");
  EXPECT_EQ(throttler.Release(cg).code(), StatusCode::kNotFound);
  // Tiny caps meet the kernel's 1 ms floor.
  ASSERT_TRUE(throttler.Apply(cg, 0.001, 30s).ok());
  EXPECT_EQ(testing::ReadFileOrEmpty(cg + "/cpu.max"), "1000 100000");
}

TEST(CpuThrottler, LeasesRunOutAndDestructionReleasesEverything) {
  testing::TempDir dir("prescale-throttle");
  dir.Write("a/cpu.max", "200000 100000\n");
  dir.Write("b/cpu.max", "max 50000\n");
  testing::FakeClock clock;
  {
    CpuThrottler throttler(clock);
    ASSERT_TRUE(throttler.Apply(dir.path() + "/a", 1, 10s).ok());
    ASSERT_TRUE(throttler.Apply(dir.path() + "/b", 1, 60s).ok());
    EXPECT_EQ(testing::ReadFileOrEmpty(dir.path() + "/b/cpu.max"), "50000 50000");
    clock.Advance(11s);  // the aggregator was not heard from for longer than a's lease
    EXPECT_EQ(throttler.ExpireLeases(), 1u);
    EXPECT_EQ(testing::ReadFileOrEmpty(dir.path() + "/a/cpu.max"), "200000 100000");
    EXPECT_EQ(throttler.caps().size(), 1u);
  }  // the agent stops
  EXPECT_EQ(testing::ReadFileOrEmpty(dir.path() + "/b/cpu.max"), "max 50000");
}

TEST(CpuThrottler, ErrorsNameTheFile) {
  testing::TempDir dir("prescale-throttle");
  testing::FakeClock clock;
  CpuThrottler throttler(clock);
  Status s = throttler.Apply(dir.path() + "/missing", 1, 10s);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find(dir.path() + "/missing"), std::string::npos) << s.message();
  dir.Write("bad/cpu.max", "max\n");
  s = throttler.Apply(dir.path() + "/bad", 1, 10s);
  EXPECT_EQ(s.code(), StatusCode::kParseError);
  EXPECT_NE(s.message().find("bad/cpu.max"), std::string::npos) << s.message();
  EXPECT_EQ(throttler.Apply(dir.path() + "/bad", 0, 10s).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(throttler.caps().empty());
}

}  // namespace
}  // namespace prescale::agent
