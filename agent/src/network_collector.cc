#include <sys/stat.h>

#include <algorithm>

#include "cgroup_collectors.h"
#include "prescale/agent/parsers.h"
#include "prescale/base/numbers.h"

namespace prescale::agent {

NetworkCollector::NetworkCollector(std::string procs_dir, std::string proc_root, CgroupTable* table,
                                   CgroupFileReader* reader)
    : procs_dir_(std::move(procs_dir)), proc_root_(std::move(proc_root)), table_(table), reader_(reader) {}

int32_t NetworkCollector::FirstPid(TrackedCgroup& cg) {
  std::string_view text;
  if (reader_->Read(cg, kProcs, procs_dir_, "cgroup.procs", &text) != CgroupFileReader::Outcome::kOk) return 0;
  std::string_view line;
  uint64_t pid = 0;
  if (!NextLine(&text, &line) || !ParseU64(line, &pid) || pid > INT32_MAX) return 0;
  return static_cast<int32_t>(pid);
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

uint64_t NetworkCollector::Collect() {
  errors_ = 0;
  seen_.clear();
  ino_t host = 0;
  // Some inits (a Firecracker VM's, for one) deny even root a look at /proc/1/ns;
  // then the agent's own namespace stands for the node's: it is the one whose
  // counters the node metrics read through <proc_root>/net/dev.
  if (NetnsInode(1, &host) || NetnsInode(kSelf, &host)) seen_.push_back(host);
  for (TrackedCgroup* cg : table_->included()) {
    const int32_t pid = FirstPid(*cg);
    ino_t inode = 0;
    if (pid == 0 || !NetnsInode(pid, &inode)) continue;
    if (std::find(seen_.begin(), seen_.end(), inode) != seen_.end()) continue;
    seen_.push_back(inode);
    if (pid != cg->net_pid) {  // the descriptor follows the namespace of the process it was opened for
      reader_->Close(*cg, kNetDev);
      cg->net_pid = pid;
    }
    std::string_view text;
    if (cg->fds[kNetDev] < 0) {
      path_.assign(proc_root_);
      path_ += '/';
      path_ += std::to_string(pid);
      path_ += "/net/dev";
    }
    const auto outcome = reader_->ReadAt(*cg, kNetDev, path_.c_str(), &text);
    if (outcome != CgroupFileReader::Outcome::kOk) {
      if (outcome == CgroupFileReader::Outcome::kError) ++errors_;
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

std::vector<std::unique_ptr<Collector>> NewCgroupCollectors(const CgroupLayout& layout, CgroupTable* table,
                                                            CgroupFileReader* reader, const std::string& proc_root) {
  std::vector<std::unique_ptr<Collector>> out;
  for (const CgroupHierarchy& h : layout.hierarchies) {
    if (h.v2) {
      out.push_back(std::make_unique<CgroupV2Collector>(h, table, reader));
    } else {
      out.push_back(std::make_unique<CgroupV1Collector>(h, table, reader));
    }
  }
  out.push_back(std::make_unique<NetworkCollector>(layout.procs_hierarchy().dir, proc_root, table, reader));
  return out;
}

}  // namespace prescale::agent
