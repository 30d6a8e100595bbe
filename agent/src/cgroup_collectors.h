// The cgroup collectors (private to agent_lib; built by NewCgroupCollectors).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "prescale/agent/collector.h"

namespace prescale::agent {

class CgroupV1Collector final : public Collector {
 public:
  CgroupV1Collector(CgroupHierarchy hierarchy, CgroupTable* table, CgroupFileReader* reader);
  std::string_view name() const override { return "cgroup_v1"; }
  uint64_t Collect() override;

 private:
  bool ReadFile(TrackedCgroup& cg, CgroupFile file, const char* name, std::string_view* text);
  void ReadCgroup(TrackedCgroup& cg);
  void ReadCpu(TrackedCgroup& cg);
  void ReadMemory(TrackedCgroup& cg);

  CgroupHierarchy hierarchy_;
  CgroupTable* table_;
  CgroupFileReader* reader_;
  CgroupWalker walker_;
  uint64_t ns_per_tick_ = 10'000'000;
  uint64_t errors_ = 0;
};

class CgroupV2Collector final : public Collector {
 public:
  CgroupV2Collector(CgroupHierarchy hierarchy, CgroupTable* table, CgroupFileReader* reader);
  std::string_view name() const override { return "cgroup_v2"; }
  uint64_t Collect() override;

 private:
  bool ReadFile(TrackedCgroup& cg, CgroupFile file, const char* name, std::string_view* text);
  void ReadCgroup(TrackedCgroup& cg);
  void ReadCpu(TrackedCgroup& cg);
  void ReadMemory(TrackedCgroup& cg);

  CgroupHierarchy hierarchy_;
  CgroupTable* table_;
  CgroupFileReader* reader_;
  CgroupWalker walker_;
  uint64_t errors_ = 0;
};

// Network usage per network namespace, read from /proc/<pid>/net/dev of one
// process of each cgroup. Each namespace is counted once, for the first
// cgroup (in path order) with a process in it; the node's own namespace (that
// of <proc_root>/1, or the agent's own when pid 1's cannot be read) is left to
// the node metrics.
class NetworkCollector final : public Collector {
 public:
  NetworkCollector(std::string procs_dir, std::string proc_root, CgroupTable* table, CgroupFileReader* reader);
  std::string_view name() const override { return "network"; }
  uint64_t Collect() override;

 private:
  static constexpr int32_t kSelf = 0;  // NetnsInode of the agent itself

  int32_t FirstPid(TrackedCgroup& cg);
  bool NetnsInode(int32_t pid, ino_t* inode);

  std::string procs_dir_;
  std::string proc_root_;
  CgroupTable* table_;
  CgroupFileReader* reader_;
  std::vector<ino_t> seen_;
  std::string path_;
  uint64_t errors_ = 0;
};

}  // namespace prescale::agent
