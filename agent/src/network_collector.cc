#include <sys/stat.h>

#include <algorithm>

#include "cgroup_collectors.h"
#include "prescale/agent/parsers.h"
#include "prescale/base/numbers.h"

namespace prescale::agent {

NetworkCollector::NetworkCollector(std::vector<std::string> procs_dirs, std::string proc_root, CgroupTable* table,
                                   CgroupFileReader* reader)
    : procs_dirs_(std::move(procs_dirs)), proc_root_(std::move(proc_root)), table_(table), reader_(reader) {}

// The first process listed for the cgroup: a cgroup may exist in some
// hierarchies only (Docker's cgroupfs driver creates v1 ones alone).
int32_t NetworkCollector::FirstPid(TrackedCgroup& cg) {
  for (const std::string& dir : procs_dirs_) {
    std::string_view text;
    const auto outcome = reader_->Read(cg, kProcs, dir, "cgroup.procs", &text);
    std::string_view line;
    uint64_t pid = 0;
    const bool ok = outcome == CgroupFileReader::Outcome::kOk && NextLine(&text, &line) && ParseU64(line, &pid) &&
                    pid > 0 && pid <= INT32_MAX;
    reader_->Close(cg, kProcs);  // read on discovery cycles only: not worth a descriptor
    if (ok) return static_cast<int32_t>(pid);
  }
  return 0;
}

bool NetworkCollector::NetnsInode(int32_t pid, ino_t* inode) {
  path_.assign(proc_root_);
  path_ += '/';
  if (pid == kSelf) {
    path_ += "self";
  } else {
    path_ += std::to_string(pid);  // fits the small-string buffer: no heap allocation
  }
  path_ += "/ns/net";
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return false;
  *inode = st.st_ino;
  return true;
}

// Which cgroup reports which namespace is decided on discovery cycles; in
// between, owners re-read /proc/<pid>/net/dev through the descriptor they keep.
void NetworkCollector::AssignNamespaces() {
  seen_.clear();
  ino_t host = 0;
  // Some inits (a Firecracker VM's, for one) deny even root a look at /proc/1/ns;
  // then the agent's own namespace stands for the node's: it is the one whose
  // counters the node metrics read through <proc_root>/net/dev.
  if (NetnsInode(1, &host) || NetnsInode(kSelf, &host)) seen_.push_back(host);
  for (TrackedCgroup* cg : table_->included()) {
    // A cgroup that held no process at the last look and whose CPU usage has not moved since has
    // run no process since: not worth its cgroup.procs reads (two for an empty cgroup, every
    // discovery; most cgroups of a node with many idle pods). A process moved in asleep is
    // found once it runs.
    const bool usage_known = cg->stats.Has(kFieldCpuUsage);
    if (usage_known && cg->no_process_at_usage_ns == cg->stats.cpu_usage_ns) continue;
    const int32_t pid = FirstPid(*cg);
    cg->no_process_at_usage_ns.reset();
    if (pid == 0 && usage_known) cg->no_process_at_usage_ns = cg->stats.cpu_usage_ns;
    ino_t inode = 0;
    cg->net_owner = pid != 0 && NetnsInode(pid, &inode) && std::find(seen_.begin(), seen_.end(), inode) == seen_.end();
    if (!cg->net_owner) {
      reader_->Close(*cg, kNetDev);
      continue;
    }
    seen_.push_back(inode);
    if (pid != cg->net_pid) {  // the descriptor follows the namespace of the process it was opened for
      reader_->Close(*cg, kNetDev);
      cg->net_pid = pid;
    }
  }
}

uint64_t NetworkCollector::Collect() {
  errors_ = 0;
  if (table_->discovering()) AssignNamespaces();
  for (TrackedCgroup* cg : table_->included()) {
    if (!cg->net_owner) continue;
    if (cg->fds[kNetDev] < 0) {
      path_.assign(proc_root_);
      path_ += '/';
      path_ += std::to_string(cg->net_pid);
      path_ += "/net/dev";
    }
    std::string_view text;
    const auto outcome = reader_->ReadAt(*cg, kNetDev, path_.c_str(), &text);
    if (outcome != CgroupFileReader::Outcome::kOk) {
      cg->net_owner = false;  // the process is gone: the next discovery finds another
      reader_->Close(*cg, kNetDev);
      continue;
    }
    if (ParseNetDev(text, &cg->stats.net)) {
      cg->stats.present |= kFieldNet;
    } else {
      ++errors_;
    }
  }
  return errors_;
}

CgroupCollectors NewCgroupCollectors(const CgroupLayout& layout, CgroupTable* table, CgroupFileReader* reader,
                                     const std::string& proc_root, CgroupTreeWatch* watch) {
  CgroupCollectors out;
  for (const CgroupHierarchy& h : layout.hierarchies) {
    if (h.v2) {
      out.hierarchies.push_back(std::make_unique<CgroupV2Collector>(h, table, reader, watch));
    } else {
      out.hierarchies.push_back(std::make_unique<CgroupV1Collector>(h, table, reader, watch));
    }
    // The activity probe reads cpuacct on v1 and hybrid hosts, cpu.stat on pure v2.
    if (!out.activity && ((h.controllers & kCtrlCpuacct) != 0 || layout.kind == CgroupLayoutKind::kV2)) {
      out.activity = std::make_unique<ActivityProbe>(h, table, reader);
    }
  }
  // cgroup.procs is read from the v2 hierarchy, then from one v1 hierarchy
  // (container runtimes create their cgroups in every v1 controller): an
  // empty cgroup costs two reads per discovery, not one per hierarchy.
  std::vector<std::string> procs_dirs;
  if (layout.hierarchies.back().v2) procs_dirs.push_back(layout.hierarchies.back().dir);
  if (!layout.hierarchies.front().v2) procs_dirs.push_back(layout.hierarchies.front().dir);
  out.network = std::make_unique<NetworkCollector>(std::move(procs_dirs), proc_root, table, reader);
  return out;
}

}  // namespace prescale::agent
