// CpuThrottler: the agent's side of throttling (issue 6). It caps the CPU of
// cgroups the aggregator's directives name: cpu.max on cgroup v2 ("QUOTA
// PERIOD"), cpu.cfs_quota_us on v1 (with the cgroup's own cpu.cfs_period_us).
// Before the first write to a cgroup it keeps the file's original text, and
// puts it back when the cap is released, when its lease runs out (the agent
// lost the aggregator for longer than the lease), and when the throttler is
// destroyed (the agent stops): a service is never left throttled by a dead
// controller. Not thread-safe: the agent's directive loop owns it.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "prescale/base/clock.h"
#include "prescale/base/status.h"

namespace prescale::agent {

class CpuThrottler {
 public:
  explicit CpuThrottler(const Clock& clock) : clock_(clock) {}
  ~CpuThrottler();  // releases every cap
  CpuThrottler(const CpuThrottler&) = delete;
  CpuThrottler& operator=(const CpuThrottler&) = delete;

  // Caps the cgroup directory `dir` (one holding cpu.max, or cpu.cfs_quota_us)
  // at `cores` (at least 1 ms of CPU per period) until `lease`. Applying again
  // renews the lease and changes the cap; the original stays the first one read.
  // Errors name the file.
  Status Apply(const std::string& dir, double cores, std::chrono::milliseconds lease);
  // Puts the original value back; NotFound when `dir` is not capped. The cap is
  // forgotten even when the write fails (the cgroup is usually gone then).
  Status Release(const std::string& dir);
  // Releases the caps whose lease ran out; returns how many.
  size_t ExpireLeases();
  // Releases every cap (on shutdown, or when the aggregator says none hold).
  void ReleaseAll();

  struct Cap {
    std::string dir;
    double cores = 0;
    bool v2 = false;
    std::string original;  // the file's text before the first cap
    std::chrono::steady_clock::time_point lease_end;
    // v1: descendants' cpu.cfs_quota_us lowered to the cap (the kernel refuses
    // a parent below a child), with their originals, outermost first.
    std::vector<std::pair<std::string, std::string>> descendants;
  };
  // The caps in force, for metrics.
  std::vector<Cap> caps() const;

 private:
  const Clock& clock_;
  std::map<std::string, Cap> caps_;
};

}  // namespace prescale::agent
