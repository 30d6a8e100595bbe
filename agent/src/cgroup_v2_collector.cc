// CgroupV2Collector: reads the cgroup v2 hierarchy (pure v2, or the "unified"
// mount of a hybrid host, where it adds pressure and whatever v1 did not give).
#include "cgroup_collectors.h"
#include "prescale/agent/parsers.h"

namespace prescale::agent {

void CgroupV2Collector::ReadCgroup(TrackedCgroup& cg) {
  CgroupStats& s = cg.stats;
  std::string_view text;
  ReadCpu(cg);
  ReadMemory(cg);
  if (read_detail() && !s.Has(kFieldIo) && ReadFile(cg, kV2IoStat, "io.stat", &text)) {
    if (ParseIoStat(text, &s.io)) {
      s.present |= kFieldIo;
    } else {
      ++errors_;
    }
  }
  if (!s.Has(kFieldTasks)) ReadNumber(cg, kV2PidsCurrent, "pids.current", &s.tasks, kFieldTasks);
  if (read_spec() && !s.Has(kFieldTasksMax)) ReadNumber(cg, kV2PidsMax, "pids.max", &s.tasks_max, kFieldTasksMax, true);
  static constexpr struct {
    CgroupFile file;
    const char* name;
    PressureKind kind;
    CgroupField field;
  } kPressure[] = {{kV2CpuPressure, "cpu.pressure", kPressureCpu, kFieldPsiCpu},
                   {kV2MemPressure, "memory.pressure", kPressureMemory, kFieldPsiMemory},
                   {kV2IoPressure, "io.pressure", kPressureIo, kFieldPsiIo}};
  for (const auto& p : kPressure) {
    if (!read_detail() || !ReadFile(cg, p.file, p.name, &text)) continue;
    // An empty pressure file means PSI is off for this cgroup: not an error.
    if (text.empty()) continue;
    if (ParsePressure(text, &s.pressure[p.kind])) {
      s.present |= p.field;
    } else {
      ++errors_;
    }
  }
}

void CgroupV2Collector::ReadCpu(TrackedCgroup& cg) {
  CgroupStats& s = cg.stats;
  std::string_view text;
  // On a hybrid host v1's cpuacct and cpu usually gave all of cpu.stat already.
  const uint32_t cpu_fields = kFieldCpuUsage | kFieldCpuUserSystem | kFieldCpuThrottling;
  if ((s.present & cpu_fields) != cpu_fields && ReadFile(cg, kV2CpuStat, "cpu.stat", &text)) {
    uint64_t usage = 0, user = 0, system = 0, periods = 0, throttled = 0, throttled_us = 0;
    bool has_periods = false;
    if (ForEachKeyValue(text, [&](std::string_view k, uint64_t v) {
          if (k == "usage_usec")
            usage = v;
          else if (k == "user_usec")
            user = v;
          else if (k == "system_usec")
            system = v;
          else if (k == "nr_periods")
            periods = v, has_periods = true;
          else if (k == "nr_throttled")
            throttled = v;
          else if (k == "throttled_usec")
            throttled_us = v;
        })) {
      // On a hybrid host v1's cpuacct and cpu came first and are kept.
      if (!s.Has(kFieldCpuUsage)) {
        s.cpu_usage_ns = usage * 1000;
        s.present |= kFieldCpuUsage;
      }
      if (!s.Has(kFieldCpuUserSystem)) {
        s.cpu_user_ns = user * 1000;
        s.cpu_system_ns = system * 1000;
        s.present |= kFieldCpuUserSystem;
      }
      if (has_periods && !s.Has(kFieldCpuThrottling)) {
        s.cpu_periods = periods;
        s.cpu_throttled_periods = throttled;
        s.cpu_throttled_ns = throttled_us * 1000;
        s.present |= kFieldCpuThrottling;
      }
    } else {
      ++errors_;
    }
  }
  if (read_spec() && !s.Has(kFieldCpuPeriod) && ReadSpecFile(cg, kV2CpuMax, "cpu.max", &text)) {
    uint64_t quota = 0;
    if (ParseCpuMax(text, &quota, &s.cpu_period_us)) {
      s.present |= kFieldCpuPeriod;
      if (quota > 0) {
        s.cpu_quota_us = quota;
        s.present |= kFieldCpuQuota;
      }
    } else {
      ++errors_;
    }
  }
  if (read_spec() && !s.Has(kFieldCpuShares) && ReadSpecFile(cg, kV2CpuWeight, "cpu.weight", &text)) {
    uint64_t weight = 0;
    if (ParseSingleU64(text, &weight)) {
      s.cpu_shares = CpuWeightToShares(weight);
      s.present |= kFieldCpuShares;
    } else {
      ++errors_;
    }
  }
}

void CgroupV2Collector::ReadMemory(TrackedCgroup& cg) {
  CgroupStats& s = cg.stats;
  if (s.Has(kFieldMemUsage)) return;  // v1's memory controller on a hybrid host
  std::string_view text;
  ReadNumber(cg, kV2MemCurrent, "memory.current", &s.mem_usage_bytes, kFieldMemUsage);
  if (read_detail()) ReadMemoryStat(cg, kV2MemStat, "anon", "file", "inactive_file");
  // The root cgroup has no memory.current: its usage comes from memory.stat,
  // so between detail reads it is as old as that.
  if (s.Has(kFieldMemStat) && !s.Has(kFieldMemUsage)) {
    s.mem_usage_bytes = s.mem_rss_bytes + s.mem_cache_bytes;
    s.present |= kFieldMemUsage;
  }
  DeriveWorkingSet(s);
  if (read_spec()) ReadNumber(cg, kV2MemMax, "memory.max", &s.mem_limit_bytes, kFieldMemLimit, true);
  if (ReadFile(cg, kV2MemEvents, "memory.events", &text)) {
    bool found = false;
    if (ForEachKeyValue(text,
                        [&](std::string_view k, uint64_t v) {
                          if (k == "oom_kill") s.oom_kills = v, found = true;
                        }) &&
        found) {
      s.present |= kFieldOom;
    } else {
      ++errors_;
    }
  }
}

}  // namespace prescale::agent
