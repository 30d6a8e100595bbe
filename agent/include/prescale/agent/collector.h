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

// inotify watches on the cgroup directories walks visit, so that the trees are walked again
// when a cgroup is created or removed rather than on a timer: a node whose containers do not
// change costs no walk at all (cAdvisor watches cgroup directories the same way). A watch
// follows its directory's inode; the kernel drops it when the directory goes.
class CgroupTreeWatch {
 public:
  CgroupTreeWatch();  // opens a non-blocking inotify instance
  CgroupTreeWatch(const CgroupTreeWatch&) = delete;
  CgroupTreeWatch& operator=(const CgroupTreeWatch&) = delete;
  ~CgroupTreeWatch();

  // False when there is no inotify instance or the user's watch limit was reached
  // (fs.inotify.max_user_watches): changes may then go unseen, so every discovery walks.
  bool complete() const { return fd_ >= 0 && !full_; }
  // Watches `dir` for subdirectories created, removed or moved (already watched: no-op).
  void Add(const char* dir);
  // Drains the pending events: true when a directory came or went since the last call, or the
  // event queue overflowed.
  bool Changed();

 private:
  int fd_ = -1;
  bool full_ = false;
};

// Walks one hierarchy's directory tree and calls fn(relative_path) for each
// cgroup, the root as "/"; without allocating once warmed up. With a watch,
// every directory it visits is watched before it is listed, so a cgroup
// created after the listing is an event, never missed.
class CgroupWalker {
 public:
  explicit CgroupWalker(std::string root, CgroupTreeWatch* watch = nullptr) : root_(std::move(root)), watch_(watch) {}
  // Returns false when the root cannot be opened. Depth is bounded.
  template <typename Fn>
  bool Walk(Fn&& fn);

 private:
  bool WalkDir(int dir_fd, size_t depth, void* ctx, void (*cb)(void*, std::string_view));
  void WatchPath();  // watch_->Add(root_ + path_)
  std::string root_;
  CgroupTreeWatch* watch_;
  std::string path_;
  std::string full_path_;  // scratch for WatchPath
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
// `watch` (optional) is given every directory the hierarchies' walks visit.
CgroupCollectors NewCgroupCollectors(const CgroupLayout& layout, CgroupTable* table, CgroupFileReader* reader,
                                     const std::string& proc_root, CgroupTreeWatch* watch = nullptr);

}  // namespace prescale::agent
