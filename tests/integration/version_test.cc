// Every program answers --version (issue 19) as Prometheus's do: the first
// line names it, its version, branch and revision, and it exits 0.
#include <gtest/gtest.h>

#include <string>

#include "prescale/base/build_info.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;

TEST(Version, EveryProgramPrintsItsVersionRevisionAndBranch) {
  const BuildInfo& b = GetBuildInfo();
  for (const char* program : {"prescale-agent", "prescale-aggregator", "prescale-sim"}) {
    SCOPED_TRACE(program);
    const testing::RunResult r = testing::RunCommand({testing::BinDir() + "/" + program, "--version"}, 30s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.out.starts_with(std::string(program) + ", version " + std::string(b.version) + " (branch: " +
                                  std::string(b.branch) + ", revision: " + std::string(b.revision) + ")\n"))
        << r.out;
    EXPECT_NE(r.out.find("\n  compiler:         "), std::string::npos) << r.out;
    EXPECT_TRUE(r.err.empty()) << r.err;
  }
  for (const char* program : {"prescale-agent", "prescale-aggregator"}) {
    const testing::RunResult help = testing::RunCommand({testing::BinDir() + "/" + program, "--help"}, 30s);
    EXPECT_NE(help.out.find("--version"), std::string::npos) << program << ": " << help.out;
  }
}

}  // namespace
}  // namespace prescale
