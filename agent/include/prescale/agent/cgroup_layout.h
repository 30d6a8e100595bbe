// Which cgroup hierarchies a node has: pure v2, pure v1, or hybrid (v1
// controllers plus a v2 "unified" mount). Detected from the files under the
// cgroup root, so fixture trees work like the real /sys/fs/cgroup.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::agent {

enum V1Controller : uint32_t {
  kCtrlCpu = 1u << 0,
  kCtrlCpuacct = 1u << 1,
  kCtrlMemory = 1u << 2,
  kCtrlBlkio = 1u << 3,
  kCtrlPids = 1u << 4,
};

struct CgroupHierarchy {
  std::string dir;  // the hierarchy's root directory
  bool v2 = false;
  uint32_t controllers = 0;  // v1 only: V1Controller bits
};

enum class CgroupLayoutKind { kV1, kV2, kHybrid };
std::string_view CgroupLayoutKindName(CgroupLayoutKind kind);

struct CgroupLayout {
  CgroupLayoutKind kind = CgroupLayoutKind::kV2;
  std::vector<CgroupHierarchy> hierarchies;  // v1 hierarchies first, then the v2 one
};

// NotFound when `root` holds no cgroup hierarchy the agent can read.
Result<CgroupLayout> DetectCgroupLayout(const std::string& root);

}  // namespace prescale::agent
