// Collector: one source of measurements, run once per collection cycle on the
// collection thread. Implementations: CgroupV1Collector, CgroupV2Collector,
// NetworkCollector (per network namespace), NodeCollector (/proc). Each writes
// into state it was given at construction and reports how many reads failed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/agent/cgroup_layout.h"
#include "prescale/agent/cgroup_table.h"

namespace prescale::agent {

class Collector {
 public:
  Collector() = default;
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;
  virtual ~Collector() = default;

  // The `collector` label of the read error metric.
  virtual std::string_view name() const = 0;
  // One pass; returns the number of read errors met (vanished cgroups,
  // unreadable or malformed files), which it skipped.
  virtual uint64_t Collect() = 0;
};

// Walks one hierarchy's directory tree and calls fn(relative_path) for each
// cgroup, the root as "/"; without allocating once warmed up.
class CgroupWalker {
 public:
  explicit CgroupWalker(std::string root) : root_(std::move(root)) {}
  // Returns false when the root cannot be opened. Depth is bounded.
  template <typename Fn>
  bool Walk(Fn&& fn);

 private:
  bool WalkDir(int dir_fd, size_t depth, void* ctx, void (*cb)(void*, std::string_view));
  std::string root_;
  std::string path_;
};

template <typename Fn>
bool CgroupWalker::Walk(Fn&& fn) {
  path_.clear();
  auto cb = [](void* ctx, std::string_view p) { (*static_cast<Fn*>(ctx))(p); };
  return WalkDir(-1, 0, &fn, cb);
}

// The cgroup collectors for a layout, in the order a cycle runs them.
struct CgroupCollectors {
  std::unique_ptr<Collector> activity;                  // the activity probe; null when no hierarchy has CPU accounting
  std::vector<std::unique_ptr<Collector>> hierarchies;  // one per v1 hierarchy, then the v2 one
  std::unique_ptr<Collector> network;                   // per network namespace
};
CgroupCollectors NewCgroupCollectors(const CgroupLayout& layout, CgroupTable* table, CgroupFileReader* reader,
                                     const std::string& proc_root);

}  // namespace prescale::agent
