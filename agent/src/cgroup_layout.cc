#include "prescale/agent/cgroup_layout.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

namespace prescale::agent {
namespace {

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

uint32_t ControllersOf(std::string_view name) {
  uint32_t mask = 0;
  while (!name.empty()) {
    const size_t comma = name.find(',');
    std::string_view c = name.substr(0, comma);
    if (c == "cpu") mask |= kCtrlCpu;
    if (c == "cpuacct") mask |= kCtrlCpuacct;
    if (c == "memory") mask |= kCtrlMemory;
    if (c == "blkio") mask |= kCtrlBlkio;
    if (c == "pids") mask |= kCtrlPids;
    if (comma == std::string_view::npos) break;
    name.remove_prefix(comma + 1);
  }
  return mask;
}

}  // namespace

std::string_view CgroupLayoutKindName(CgroupLayoutKind kind) {
  switch (kind) {
    case CgroupLayoutKind::kV1: return "v1";
    case CgroupLayoutKind::kV2: return "v2";
    case CgroupLayoutKind::kHybrid: return "hybrid";
  }
  return "unknown";
}

Result<CgroupLayout> DetectCgroupLayout(const std::string& root) {
  CgroupLayout layout;
  if (Exists(root + "/cgroup.controllers")) {
    layout.kind = CgroupLayoutKind::kV2;
    layout.hierarchies.push_back({root, true, 0});
    return layout;
  }
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(root.c_str()), ::closedir);
  if (!dir) return Status::NotFound("cannot open the cgroup root " + root);
  std::vector<std::pair<std::string, CgroupHierarchy>> found;  // by resolved path, to merge symlinks
  while (dirent* e = ::readdir(dir.get())) {
    const uint32_t mask = ControllersOf(e->d_name);
    if (mask == 0) continue;
    const std::string path = root + "/" + e->d_name;
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) continue;
    auto it = std::find_if(found.begin(), found.end(), [&](const auto& f) { return f.first == resolved; });
    if (it != found.end()) {
      it->second.controllers |= mask;
      if (e->d_type == DT_DIR) it->second.dir = path;  // a symlink to it may have come first
      continue;
    }
    // Prefer the directory's own name ("cpu,cpuacct") over a symlink to it.
    found.emplace_back(resolved, CgroupHierarchy{path, false, mask});
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.second.dir < b.second.dir; });
  for (auto& [resolved, h] : found) {
    (void)resolved;
    layout.hierarchies.push_back(std::move(h));
  }
  const bool has_unified = Exists(root + "/unified/cgroup.controllers");
  if (layout.hierarchies.empty() && !has_unified) {
    return Status::NotFound("no cgroup v1 controllers or cgroup v2 hierarchy under " + root);
  }
  if (has_unified) layout.hierarchies.push_back({root + "/unified", true, 0});
  layout.kind = layout.hierarchies.back().v2
                    ? (layout.hierarchies.size() > 1 ? CgroupLayoutKind::kHybrid : CgroupLayoutKind::kV2)
                    : CgroupLayoutKind::kV1;
  return layout;
}

}  // namespace prescale::agent
