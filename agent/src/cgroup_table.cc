#include "prescale/agent/cgroup_table.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "prescale/metrics/text_writer.h"

namespace prescale::agent {

size_t& CgroupFileReader::GlobalOpenFds() {
  static size_t count = 0;
  return count;
}

TrackedCgroup::~TrackedCgroup() {
  for (int fd : fds) {
    if (fd >= 0) {
      ::close(fd);
      --CgroupFileReader::GlobalOpenFds();
    }
  }
}

void CgroupTable::BeginCycle(bool discovery, bool detail, bool walk) {
  ++generation_;
  discovering_ = discovery;
  walking_ = discovery && walk;
  detailing_ = discovery || detail;  // Touch() forgets every value: all must be read again
  if (walking_) return;              // Touch() resets each cgroup it finds
  if (discovery) {                   // no walk: every known cgroup stays and is read in full, as if touched
    for (auto& [path, cg] : entries_) Reset(cg.get());
    return;
  }
  for (TrackedCgroup* cg : included_) {
    cg->generation = generation_;
    cg->refresh = true;  // unless the activity probe finds it idle
    cg->probed = false;
  }
}

void CgroupTable::StartReads() {
  if (discovering_) return;
  for (TrackedCgroup* cg : included_) {
    if (!cg->refresh) continue;
    cg->stats.Reset(detailing_ ? kSpecFields : kSpecFields | kDetailFields);
    if (cg->probed) {  // no need to read the usage twice
      cg->stats.cpu_usage_ns = cg->probed_usage_ns;
      cg->stats.present |= kFieldCpuUsage;
    }
  }
}

TrackedCgroup* CgroupTable::Touch(std::string_view path) {
  auto it = entries_.find(path);
  if (it == entries_.end()) {
    if (entries_.size() >= max_cgroups_) return nullptr;
    auto cg = std::make_unique<TrackedCgroup>();
    cg->path = std::string(path);
    MapInto(cg.get(), /*report_unknown=*/true);
    membership_changed_ = true;
    it = entries_.emplace(cg->path, std::move(cg)).first;
  }
  TrackedCgroup* cg = it->second.get();
  if (cg->generation != generation_) Reset(cg);
  return cg;
}

void CgroupTable::Reset(TrackedCgroup* cg) const {
  cg->generation = generation_;
  cg->refresh = true;
  cg->stats.Reset(0);
}

void CgroupTable::MapInto(TrackedCgroup* cg, bool report_unknown) {
  // Only a cgroup seen for the first time asks for a fresher pod list: one the newest list still
  // does not know (a pod the pod source does not show) would otherwise ask again after every read.
  bool unknown = false;
  auto labels = mapper_.Map(cg->path, pods_.get(), &unknown);
  if (report_unknown && unknown) unknown_pod_ = true;
  cg->included = labels.has_value();
  cg->labels = labels ? std::move(*labels) : metrics::Labels{};
  cg->label_refs.clear();
  cg->rendered_labels.clear();
  if (!cg->included) return;
  cg->label_refs.push_back({"id", cg->path});
  cg->label_refs.push_back({"node", node_});
  for (const auto& [k, v] : cg->labels) cg->label_refs.push_back({k, v});
  metrics::TextWriter::AppendLabels(&cg->rendered_labels, cg->label_refs);
}

void CgroupTable::SetPods(std::shared_ptr<const PodIndex> pods) { pods_ = std::move(pods); }

void CgroupTable::EndCycle() {
  if (!discovering_) return;
  if (pods_ != mapped_pods_) {
    mapped_pods_ = pods_;
    for (auto& [path, cg] : entries_) {
      const metrics::Labels before = cg->labels;
      const bool was_included = cg->included;
      MapInto(cg.get(), /*report_unknown=*/false);
      if (cg->labels != before || cg->included != was_included) membership_changed_ = true;
    }
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second->generation != generation_) {
      it = entries_.erase(it);
      membership_changed_ = true;
    } else {
      ++it;
    }
  }
  if (!membership_changed_) return;
  membership_changed_ = false;
  included_.clear();
  for (auto& [path, cg] : entries_) {
    if (cg->included) included_.push_back(cg.get());
  }
  std::sort(included_.begin(), included_.end(),
            [](const TrackedCgroup* a, const TrackedCgroup* b) { return a->path < b->path; });
}

CgroupFileReader::CgroupFileReader(size_t fd_budget) : fd_budget_(fd_budget) {
  buffer_.resize(16 << 10);
  path_.reserve(512);
}

CgroupFileReader::Outcome CgroupFileReader::ReadFd(int fd, std::string_view* out) {
  while (true) {
    const ssize_t n = ::pread(fd, buffer_.data(), buffer_.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Outcome::kError;
    }
    if (static_cast<size_t>(n) == buffer_.size() && buffer_.size() < (4u << 20)) {
      buffer_.resize(buffer_.size() * 2);  // the file may be longer: read it whole
      continue;
    }
    *out = std::string_view(buffer_.data(), static_cast<size_t>(n));
    return Outcome::kOk;
  }
}

CgroupFileReader::Outcome CgroupFileReader::ReadPath(const char* path, std::string_view* out) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? Outcome::kMissing : Outcome::kError;
  const Outcome o = ReadFd(fd, out);
  ::close(fd);
  return o;
}

CgroupFileReader::Outcome CgroupFileReader::Read(TrackedCgroup& cg, CgroupFile file, const std::string& dir,
                                                 const char* name, std::string_view* out) {
  const int fd = cg.fds[file];
  if (fd == TrackedCgroup::kMissing) return Outcome::kMissing;
  if (fd >= 0) {
    const Outcome o = ReadFd(fd, out);
    // ENODEV: the cgroup was removed, perhaps re-created under the same path (a
    // restarted service). Drop the stale descriptor and read by path from now on:
    // reopening would mark the file missing for good if it came while the cgroup is gone.
    if (o == Outcome::kError) {
      Close(cg, file);
      cg.fds[file] = TrackedCgroup::kUncached;
    }
    return o;
  }
  path_.assign(dir);
  if (cg.path != "/") path_ += cg.path;
  path_ += '/';
  path_ += name;
  return ReadAt(cg, file, path_.c_str(), out);
}

CgroupFileReader::Outcome CgroupFileReader::ReadAt(TrackedCgroup& cg, CgroupFile file, const char* path,
                                                   std::string_view* out) {
  int& fd = cg.fds[file];
  if (fd == TrackedCgroup::kMissing) return Outcome::kMissing;
  if (fd >= 0) return ReadFd(fd, out);
  if (fd == TrackedCgroup::kUncached) return ReadPath(path, out);
  const int opened = ::open(path, O_RDONLY | O_CLOEXEC);
  if (opened < 0) {
    if (errno == ENOENT) {
      fd = TrackedCgroup::kMissing;
      return Outcome::kMissing;
    }
    return Outcome::kError;
  }
  if (GlobalOpenFds() >= fd_budget_) {
    fd = TrackedCgroup::kUncached;
    const Outcome o = ReadFd(opened, out);
    ::close(opened);
    return o;
  }
  fd = opened;
  ++GlobalOpenFds();
  return ReadFd(fd, out);
}

void CgroupFileReader::Close(TrackedCgroup& cg, CgroupFile file) {
  int& fd = cg.fds[file];
  if (fd >= 0) {
    ::close(fd);
    --GlobalOpenFds();
  }
  fd = TrackedCgroup::kUnopened;
}

size_t RaiseFdLimitAndBudget() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 512;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  const rlim_t reserve = 256;
  const rlim_t limit = rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : rl.rlim_cur;
  return limit > reserve * 2 ? static_cast<size_t>(limit - reserve) : static_cast<size_t>(limit / 2);
}

}  // namespace prescale::agent
