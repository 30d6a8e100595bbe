// CPU load in real cgroups for the end-to-end tests (scaling_e2e_test.cc,
// failover_test.cc): a sandbox of cgroups, a service cgroup TENANT/SERVICE
// with a child "load" cgroup running prescale-test-burner under a CFS quota
// of its own, and the file where a cap on the service cgroup shows (v1's
// cpu.cfs_quota_us, else v2's cpu.max). Destroying it kills the burners and
// removes the cgroups.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "tests/support/cgroup_sandbox.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale::testing {

class CgroupLoad {
 public:
  // Makes the sandbox; skips (GTEST_SKIP, saying why) without real cgroups
  // or a CPU controller: callers check IsSkipped().
  void Init() {
    const std::string reason = CgroupSandbox::SkipReason();
    if (!reason.empty()) GTEST_SKIP() << "needs real cgroups: " << reason;
    auto sandbox = CgroupSandbox::Create();
    ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
    sandbox_ = std::move(sandbox).value();
    auto probe = sandbox_->MakeCgroup("probe/cpu");
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    if (QuotaFile(*probe).empty()) {
      GTEST_SKIP() << "no cgroup CPU controller (neither a v1 cpu hierarchy with cpu.cfs_quota_us nor cpu.max in "
                      "the v2 hierarchy)";
    }
    ASSERT_TRUE(sandbox_->RemoveCgroup(sandbox_->root() + "/probe").ok());
  }
  CgroupSandbox& sandbox() { return *sandbox_; }

  // The file holding a cgroup's CFS quota; "" when there is none.
  std::string QuotaFile(const std::string& cgroup) const {
    for (const auto& h : sandbox_->hierarchies()) {
      std::string file = h.dir + cgroup + "/cpu.cfs_quota_us";
      if (!h.v2 && ::access(file.c_str(), F_OK) == 0) return file;
    }
    for (const auto& h : sandbox_->hierarchies()) {
      std::string file = h.dir + cgroup + "/cpu.max";
      if (h.v2 && ::access(file.c_str(), F_OK) == 0) return file;
    }
    return "";
  }
  // The cap (cores) a quota file holds; nullopt when it holds no limit (-1 or "max").
  static std::optional<double> CapCores(const std::string& quota_file) {
    const std::string text = ReadFileOrEmpty(quota_file);
    if (quota_file.ends_with("cpu.max")) {
      if (text.starts_with("max")) return std::nullopt;
      long long quota = 0, period = 0;
      if (std::sscanf(text.c_str(), "%lld %lld", &quota, &period) != 2 || period <= 0) return std::nullopt;
      return static_cast<double>(quota) / static_cast<double>(period);
    }
    const long long quota = std::atoll(text.c_str());
    if (quota <= 0) return std::nullopt;
    const std::string period_file = quota_file.substr(0, quota_file.rfind('/')) + "/cpu.cfs_period_us";
    const long long period = std::atoll(ReadFileOrEmpty(period_file).c_str());
    return period > 0 ? std::optional<double>(static_cast<double>(quota) / static_cast<double>(period)) : std::nullopt;
  }

  // A service cgroup TENANT/SERVICE (mapped by the agent) with a child "load"
  // cgroup holding its burner, limited with a CFS quota of its own: the load
  // stays small on a shared machine, and the service cgroup's own limit
  // (which the agent caps) stays untouched. Returns the service cgroup.
  std::string MakeServiceCgroup(const std::string& tenant, const std::string& service) {
    auto path = sandbox_->MakeCgroup(tenant + "/" + service + "/load");
    EXPECT_TRUE(path.ok()) << path.status().ToString();
    return sandbox_->root() + "/" + tenant + "/" + service;
  }
  void SetLoad(const std::string& service_cgroup, double cores) {
    const Status s = sandbox_->SetCpuQuota(service_cgroup + "/load", std::llround(cores * 100000), 100000);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // One busy thread in the service's load cgroup, until stopped or the sandbox goes.
  std::unique_ptr<Subprocess> StartBurner(const std::string& service_cgroup) {
    auto burner = std::make_unique<Subprocess>();
    EXPECT_TRUE(burner->Start({BinDir() + "/prescale-test-burner", "cpu", "1", "0"},
                              sandbox_->ProcsFiles(service_cgroup + "/load")));
    return burner;
  }

 private:
  std::unique_ptr<CgroupSandbox> sandbox_;
};

}  // namespace prescale::testing
