#include "prescale/agent/cgroup_layout.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/agent/agent_test_util.h"

namespace prescale::agent {
namespace {

using testing::Fixture;
using testing::TempDir;

TEST(DetectCgroupLayout, HybridFixtureHasV1ControllersThenUnified) {
  const std::string root = Fixture("cgroup_v1");
  auto layout = DetectCgroupLayout(root);
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  EXPECT_EQ(layout->kind, CgroupLayoutKind::kHybrid);
  EXPECT_EQ(CgroupLayoutKindName(layout->kind), "hybrid");
  ASSERT_EQ(layout->hierarchies.size(), 6u);
  const struct {
    const char* dir;
    uint32_t controllers;
  } want[] = {{"blkio", kCtrlBlkio},   {"cpu", kCtrlCpu},   {"cpuacct", kCtrlCpuacct},
              {"memory", kCtrlMemory}, {"pids", kCtrlPids}, {"unified", 0}};
  for (size_t i = 0; i < 6; ++i) {
    SCOPED_TRACE(want[i].dir);
    EXPECT_EQ(layout->hierarchies[i].dir, root + "/" + want[i].dir);
    EXPECT_EQ(layout->hierarchies[i].controllers, want[i].controllers);
    EXPECT_EQ(layout->hierarchies[i].v2, i == 5);
  }
  EXPECT_EQ(layout->hierarchies.back().dir, root + "/unified");
}

TEST(DetectCgroupLayout, PureV2FixtureIsOneHierarchyAtTheRoot) {
  const std::string root = Fixture("cgroup_v2");
  auto layout = DetectCgroupLayout(root);
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  EXPECT_EQ(layout->kind, CgroupLayoutKind::kV2);
  EXPECT_EQ(CgroupLayoutKindName(layout->kind), "v2");
  ASSERT_EQ(layout->hierarchies.size(), 1u);
  EXPECT_EQ(layout->hierarchies[0].dir, root);
  EXPECT_TRUE(layout->hierarchies[0].v2);
  EXPECT_EQ(layout->hierarchies.back().dir, root);
}

TEST(DetectCgroupLayout, EmptyDirectoryIsNotFound) {
  TempDir dir;
  auto layout = DetectCgroupLayout(dir.path());
  ASSERT_FALSE(layout.ok());
  EXPECT_EQ(layout.status().code(), StatusCode::kNotFound);
  EXPECT_NE(layout.status().message().find(dir.path()), std::string::npos) << layout.status().message();
}

TEST(DetectCgroupLayout, MissingDirectoryIsNotFound) {
  auto layout = DetectCgroupLayout("/nonexistent/prescale/cgroup");
  ASSERT_FALSE(layout.ok());
  EXPECT_EQ(layout.status().code(), StatusCode::kNotFound);
  EXPECT_NE(layout.status().message().find("/nonexistent/prescale/cgroup"), std::string::npos);
}

TEST(DetectCgroupLayout, UnrelatedDirectoriesAreNotControllers) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/cpuset");
  std::filesystem::create_directories(dir.path() + "/systemd");
  std::filesystem::create_directories(dir.path() + "/unified");  // no cgroup.controllers: not a v2 mount
  auto layout = DetectCgroupLayout(dir.path());
  ASSERT_FALSE(layout.ok());
  EXPECT_EQ(layout.status().code(), StatusCode::kNotFound);
}

TEST(DetectCgroupLayout, PureV1WithoutUnifiedReadsProcsFromTheLastController) {
  TempDir dir;
  testing::CopyTree(Fixture("cgroup_v1"), dir.path());
  std::filesystem::remove_all(dir.path() + "/unified");
  auto layout = DetectCgroupLayout(dir.path());
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  EXPECT_EQ(layout->kind, CgroupLayoutKind::kV1);
  ASSERT_EQ(layout->hierarchies.size(), 5u);
  for (const auto& h : layout->hierarchies) EXPECT_FALSE(h.v2) << h.dir;
  EXPECT_EQ(layout->hierarchies.back().dir, dir.path() + "/pids");
}

TEST(DetectCgroupLayout, CoMountedControllersAndTheirSymlinksAreOneHierarchy) {
  // systemd mounts cpu and cpuacct together and links the single names to it.
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/cpu,cpuacct");
  std::filesystem::create_directory_symlink("cpu,cpuacct", dir.path() + "/cpu");
  std::filesystem::create_directory_symlink("cpu,cpuacct", dir.path() + "/cpuacct");
  std::filesystem::create_directories(dir.path() + "/memory");
  auto layout = DetectCgroupLayout(dir.path());
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  EXPECT_EQ(layout->kind, CgroupLayoutKind::kV1);
  ASSERT_EQ(layout->hierarchies.size(), 2u);
  const auto& cpu = layout->hierarchies[0];
  EXPECT_EQ(cpu.controllers, kCtrlCpu | kCtrlCpuacct);
  EXPECT_EQ(cpu.dir, dir.path() + "/cpu,cpuacct") << "the directory's own name, not a symlink to it";
  EXPECT_EQ(layout->hierarchies[1].controllers, kCtrlMemory);
}

}  // namespace
}  // namespace prescale::agent
