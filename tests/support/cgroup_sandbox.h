// CgroupSandbox: a uniquely named cgroup subtree, /prescale-test-<pid>-<n>,
// created in every hierarchy the agent reads (the cpu, cpuacct, memory, blkio
// and pids v1 controllers, and the v2 hierarchy: /sys/fs/cgroup/unified on a
// hybrid host, the root on pure v2), for tests that run processes in real
// cgroups. The same relative path exists in each hierarchy, as the agent
// expects. The destructor kills every process left in the subtree and removes
// its cgroups deepest first, in every hierarchy; Create() also clears the
// subtrees of earlier test processes that died before they could.
// Not thread-safe: one test thread uses a sandbox.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::testing {

class CgroupSandbox {
 public:
  struct Hierarchy {
    std::string dir;  // the hierarchy's root, e.g. /sys/fs/cgroup/cpu
    bool v2 = false;
  };

  static constexpr const char* kDefaultRoot = "/sys/fs/cgroup";

  // Empty when this process can create cgroups under cgroup_root; otherwise
  // why not (not root, no cgroup filesystem, read-only), for GTEST_SKIP.
  static std::string SkipReason(const std::string& cgroup_root = kDefaultRoot);

  // Creates the sandbox's top cgroup in every hierarchy; the error names the
  // directory that could not be created.
  static Result<std::unique_ptr<CgroupSandbox>> Create(const std::string& cgroup_root = kDefaultRoot);

  ~CgroupSandbox();
  CgroupSandbox(const CgroupSandbox&) = delete;
  CgroupSandbox& operator=(const CgroupSandbox&) = delete;

  // The sandbox's top cgroup, relative to each hierarchy root: "/prescale-test-<pid>-<n>".
  const std::string& root() const { return root_; }
  // An ECMAScript regex for agent mapping rules matching root()/<tenant>/<service>,
  // with the tenant and the service as groups 1 and 2.
  std::string MappingPattern() const;
  const std::vector<Hierarchy>& hierarchies() const { return hierarchies_; }

  // Creates root()/relative ("acme/web"), parents included, in every
  // hierarchy. Returns the cgroup path as the agent names it
  // ("/prescale-test-<pid>-<n>/acme/web").
  Result<std::string> MakeCgroup(const std::string& relative);
  // Kills the processes in `path` (a path MakeCgroup returned) and its
  // descendants, then removes them from every hierarchy.
  Status RemoveCgroup(const std::string& path);
  // The cgroup.procs file of `path` in every hierarchy: what Subprocess::Start joins.
  std::vector<std::string> ProcsFiles(const std::string& path) const;
  // Sets a CFS bandwidth limit on `path`: cpu.cfs_quota_us and cpu.cfs_period_us
  // (v1 cpu controller), else cpu.max (v2). quota_us < 0 removes the limit.
  Status SetCpuQuota(const std::string& path, int64_t quota_us, int64_t period_us);

 private:
  CgroupSandbox(std::vector<Hierarchy> hierarchies, std::string root)
      : hierarchies_(std::move(hierarchies)), root_(std::move(root)) {}

  std::vector<Hierarchy> hierarchies_;
  std::string root_;
};

}  // namespace prescale::testing
