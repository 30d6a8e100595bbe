// The cgroup collectors (private to agent_lib; built by NewCgroupCollectors).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "prescale/agent/collector.h"

namespace prescale::agent {

// The shared part of the cgroup collectors: which cgroups to read this cycle
// (all it walks on a cycle that walks the trees, else the included ones) and
// file reads that count errors.
class CgroupHierarchyCollector : public Collector {
 public:
  CgroupHierarchyCollector(CgroupHierarchy hierarchy, CgroupTable* table, CgroupFileReader* reader,
                           CgroupTreeWatch* watch = nullptr)
      : hierarchy_(std::move(hierarchy)), table_(table), reader_(reader), walker_(hierarchy_.dir, watch) {}
  uint64_t Collect() final;

 protected:
  virtual void ReadCgroup(TrackedCgroup& cg) = 0;
  // True with the text; false when the file is missing (not an error) or the read failed (counted).
  bool ReadFile(TrackedCgroup& cg, CgroupFile file, const char* name, std::string_view* text);
  // Counts a parse failure; returns `ok`.
  bool Parsed(bool ok) {
    if (!ok) ++errors_;
    return ok;
  }
  // Spec files (limits, quotas, shares) are read on discovery cycles only,
  // and not kept open: an open cgroup file pins a kernel buffer (~4 KiB).
  bool read_spec() const { return table_->discovering(); }
  bool ReadSpecFile(TrackedCgroup& cg, CgroupFile file, const char* name, std::string_view* text) {
    const bool ok = ReadFile(cg, file, name, text);
    reader_->Close(cg, file);
    return ok;
  }
  // A file holding one number ("max" meaning 0 when `max_is_zero`) into *out,
  // marking `field` present; spec fields are read through ReadSpecFile.
  void ReadNumber(TrackedCgroup& cg, CgroupFile file, const char* name, uint64_t* out, uint32_t field,
                  bool max_is_zero = false);
  // The costly files (kDetailFields: memory.stat, pressure, blkio / io.stat)
  // are read on detail cycles only; in between their last values are kept.
  bool read_detail() const { return table_->detailing(); }
  // memory.stat's anonymous, page cache and inactive file bytes, under the
  // key names of the cgroup version. On detail cycles only.
  void ReadMemoryStat(TrackedCgroup& cg, CgroupFile file, std::string_view rss_key, std::string_view cache_key,
                      std::string_view inactive_file_key);
  // The working set (usage less inactive_file), when both are known. Every
  // cycle, from this cycle's usage and the inactive_file of the last detail
  // read: see the definition for why.
  static void DeriveWorkingSet(CgroupStats& s);

  CgroupHierarchy hierarchy_;
  CgroupTable* table_;
  CgroupFileReader* reader_;
  CgroupWalker walker_;
  uint64_t errors_ = 0;
};

class CgroupV1Collector final : public CgroupHierarchyCollector {
 public:
  CgroupV1Collector(CgroupHierarchy hierarchy, CgroupTable* table, CgroupFileReader* reader, CgroupTreeWatch* watch);
  std::string_view name() const override { return "cgroup_v1"; }

 private:
  void ReadCgroup(TrackedCgroup& cg) override;
  void ReadCpu(TrackedCgroup& cg);
  void ReadMemory(TrackedCgroup& cg);

  uint64_t ns_per_tick_ = 10'000'000;
};

class CgroupV2Collector final : public CgroupHierarchyCollector {
 public:
  using CgroupHierarchyCollector::CgroupHierarchyCollector;
  std::string_view name() const override { return "cgroup_v2"; }

 private:
  void ReadCgroup(TrackedCgroup& cg) override;
  void ReadCpu(TrackedCgroup& cg);
  void ReadMemory(TrackedCgroup& cg);
};

// Runs first in each cycle between discoveries: re-reads every included
// cgroup's CPU usage (cpuacct.usage on v1, cpu.stat on v2) and marks the
// cgroups that used CPU since the last cycle for a full read; idle ones keep
// the values of their last full read until the next discovery cycle. This is
// what keeps the agent cheap on nodes with many mostly idle cgroups.
class ActivityProbe final : public Collector {
 public:
  ActivityProbe(CgroupHierarchy hierarchy, CgroupTable* table, CgroupFileReader* reader)
      : hierarchy_(std::move(hierarchy)), table_(table), reader_(reader) {}
  std::string_view name() const override { return "activity"; }
  uint64_t Collect() override;

 private:
  CgroupHierarchy hierarchy_;  // cpuacct (v1) or the v2 hierarchy
  CgroupTable* table_;
  CgroupFileReader* reader_;
};

// Network usage per network namespace, read from /proc/<pid>/net/dev of one
// process of each cgroup. Each namespace is counted once, for the first
// cgroup (in path order) with a process in it; the node's own namespace (that
// of <proc_root>/1, or the agent's own when pid 1's cannot be read) is left to
// the node metrics.
class NetworkCollector final : public Collector {
 public:
  NetworkCollector(std::vector<std::string> procs_dirs, std::string proc_root, CgroupTable* table,
                   CgroupFileReader* reader);
  std::string_view name() const override { return "network"; }
  uint64_t Collect() override;

 private:
  static constexpr int32_t kSelf = 0;  // NetnsInode of the agent itself

  void AssignNamespaces();
  int32_t FirstPid(TrackedCgroup& cg);
  bool NetnsInode(int32_t pid, ino_t* inode);

  std::vector<std::string> procs_dirs_;  // where cgroup.procs is looked for, in order
  std::string proc_root_;
  CgroupTable* table_;
  CgroupFileReader* reader_;
  std::vector<ino_t> seen_;
  std::string path_;
  uint64_t errors_ = 0;
};

}  // namespace prescale::agent
