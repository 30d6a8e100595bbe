// CgroupTable: the cgroups the agent tracks, keyed by path relative to the
// hierarchy root ("/" for the root), with their mapped labels, the stats of the
// current cycle and the file descriptors kept open to re-read them with pread.
// Collectors Touch() every cgroup they walk; EndCycle() forgets the ones no
// collector saw. Owned and used by the collection thread only.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "prescale/agent/cgroup_mapper.h"
#include "prescale/agent/cgroup_stats.h"
#include "prescale/agent/pod_metadata.h"
#include "prescale/metrics/types.h"

namespace prescale::agent {

// Every file the agent reads per cgroup, across v1 and v2.
enum CgroupFile : uint8_t {
  kV1CpuacctUsage,
  kV1CpuacctStat,
  kV1CpuStat,
  kV1CfsQuota,
  kV1CfsPeriod,
  kV1CpuShares,
  kV1MemUsage,
  kV1MemStat,
  kV1MemLimit,
  kV1MemOomControl,
  kV1MemFailcnt,
  kV1BlkioBytes,
  kV1BlkioOps,
  kV1PidsCurrent,
  kV1PidsMax,
  kV2CpuStat,
  kV2CpuMax,
  kV2CpuWeight,
  kV2MemCurrent,
  kV2MemStat,
  kV2MemMax,
  kV2MemEvents,
  kV2IoStat,
  kV2PidsCurrent,
  kV2PidsMax,
  kV2CpuPressure,
  kV2MemPressure,
  kV2IoPressure,
  kProcs,
  kNetDev,
  kCgroupFileCount
};

struct TrackedCgroup {
  TrackedCgroup() { fds.fill(kUnopened); }
  ~TrackedCgroup();
  TrackedCgroup(const TrackedCgroup&) = delete;
  TrackedCgroup& operator=(const TrackedCgroup&) = delete;

  static constexpr int kUnopened = -2;
  static constexpr int kMissing = -1;   // the file does not exist for this cgroup
  static constexpr int kUncached = -3;  // over the fd budget: open, read, close each time

  std::string path;
  bool included = false;
  metrics::Labels labels;                     // from the mapper, sorted
  std::vector<metrics::LabelRef> label_refs;  // id, node, then labels
  std::string rendered_labels;                // label_refs in text format, escaped, without braces
  CgroupStats stats;
  std::array<int, kCgroupFileCount> fds{};
  int32_t net_pid = 0;     // the process whose network namespace kNetDev reads
  bool net_owner = false;  // this cgroup reports that namespace (the first to hold it)
  // The CPU usage when a discovery last found no process in the cgroup (unset: look again).
  std::optional<uint64_t> no_process_at_usage_ns;
  // Read this cgroup's files this cycle. Between discoveries a cgroup whose
  // CPU usage did not move since the last cycle is idle: only its CPU usage
  // is re-read and the rest keeps the values of its last full read. (A busy
  // cgroup reads its costly files on detail cycles only: see kDetailFields.)
  bool refresh = true;
  bool probed = false;           // the probe read the CPU usage this cycle
  uint64_t probed_usage_ns = 0;  // what it read, kept through StartReads()
  uint64_t generation = 0;
};

class CgroupTable {
 public:
  CgroupTable(const CgroupMapper& mapper, std::string node, uint64_t max_cgroups)
      : mapper_(mapper), node_(std::move(node)), max_cgroups_(max_cgroups) {}

  // Starts a cycle. A discovery cycle re-reads every included cgroup's files,
  // spec files too, and re-maps cgroups when the pod index changed; with
  // `walk` it also walks the hierarchies (collectors Touch() what they find,
  // EndCycle() forgets the rest), else the membership stays. Other cycles only
  // re-read the included cgroups' usage through their open descriptors, and
  // the costly files (kDetailFields) only when `detail`.
  void BeginCycle(bool discovery, bool detail = true, bool walk = true);
  // Between discoveries, after the activity probe: forgets the usage of the
  // cgroups about to be read (refresh), keeps the idle ones', and keeps
  // the spec fields and, unless this is a detail cycle, the detail fields.
  void StartReads();
  bool discovering() const { return discovering_; }
  // A discovery cycle that walks the hierarchies.
  bool walking() const { return walking_; }
  // The costly files (kDetailFields) are read this cycle.
  bool detailing() const { return detailing_; }
  // The entry for `path`, created and mapped on first sight; its stats are
  // reset on the first touch of a cycle. nullptr when max_cgroups is reached.
  TrackedCgroup* Touch(std::string_view path);
  // After a discovery cycle: forgets cgroups not touched and refreshes included().
  // When the pod index changed since the last discovery, every cgroup is mapped
  // again (its labels change when its pod became known or was relabelled).
  void EndCycle();
  // The pod metadata Kubernetes cgroups are joined to (nullptr: none). Takes
  // effect at the next discovery cycle.
  void SetPods(std::shared_ptr<const PodIndex> pods);
  // Whether a cgroup first seen since the last call belongs to a pod, or is a
  // container, that the pod index does not know; resets the flag.
  bool TakeUnknownPod() { return std::exchange(unknown_pod_, false); }

  // Included cgroups in path order, valid until the next EndCycle().
  const std::vector<TrackedCgroup*>& included() const { return included_; }
  size_t size() const { return entries_.size(); }
  const std::string& node() const { return node_; }
  uint64_t generation() const { return generation_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Maps cg->path into cg's labels and label lists and whether it is included; with
  // report_unknown, a pod or container the pod index lacks sets unknown_pod_.
  void MapInto(TrackedCgroup* cg, bool report_unknown);
  // Marks cg touched this cycle, to be read in full.
  void Reset(TrackedCgroup* cg) const;

  const CgroupMapper& mapper_;
  std::shared_ptr<const PodIndex> pods_;
  // The index the labels were mapped with, held so that a new index (even one that reuses its
  // address or version) is told apart by identity.
  std::shared_ptr<const PodIndex> mapped_pods_;
  bool unknown_pod_ = false;
  std::string node_;
  uint64_t max_cgroups_;
  uint64_t generation_ = 0;
  bool discovering_ = true;
  bool walking_ = true;
  bool detailing_ = true;
  bool membership_changed_ = false;
  std::unordered_map<std::string, std::unique_ptr<TrackedCgroup>, Hash, std::equal_to<>> entries_;
  std::vector<TrackedCgroup*> included_;
};

// Reads cgroup files through the descriptors a TrackedCgroup keeps open,
// within a budget of open descriptors. One per collection thread.
class CgroupFileReader {
 public:
  enum class Outcome { kOk, kMissing, kError };

  explicit CgroupFileReader(size_t fd_budget);

  // Reads `dir`+cg.path+"/"+name into an internal buffer; *out views it until
  // the next call. kMissing when the file does not exist (not an error: the
  // controller is absent); kError when the read fails (e.g. the cgroup vanished).
  Outcome Read(TrackedCgroup& cg, CgroupFile file, const std::string& dir, const char* name, std::string_view* out);
  // Like Read, for a file at an absolute path, cached in cg's slot `file`.
  Outcome ReadAt(TrackedCgroup& cg, CgroupFile file, const char* path, std::string_view* out);
  // Reads any file by absolute path, without caching its descriptor.
  Outcome ReadPath(const char* path, std::string_view* out);
  // Reads through an already open descriptor (from offset 0).
  Outcome ReadFd(int fd, std::string_view* out);
  // Closes a cached descriptor of cg, returning it to the budget.
  void Close(TrackedCgroup& cg, CgroupFile file);

  static size_t& GlobalOpenFds();  // descriptors held by all TrackedCgroups

 private:
  size_t fd_budget_;
  std::string path_;
  std::string buffer_;
};

// Raises the soft RLIMIT_NOFILE to the hard limit and returns a descriptor
// budget for cached cgroup files (the limit less a reserve).
size_t RaiseFdLimitAndBudget();

}  // namespace prescale::agent
