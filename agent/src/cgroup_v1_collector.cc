// CgroupV1Collector: reads one cgroup v1 hierarchy (cpu, cpuacct, memory,
// blkio, pids, or a co-mount such as cpu,cpuacct) for every cgroup in it.
#include <unistd.h>

#include "cgroup_collectors.h"
#include "prescale/agent/parsers.h"

namespace prescale::agent {
namespace {

// cgroup v1 reports "no limit" as a huge page-aligned number.
constexpr uint64_t kV1NoLimit = 1ULL << 62;

}  // namespace

uint64_t CgroupHierarchyCollector::Collect() {
  errors_ = 0;
  if (table_->discovering()) {
    walker_.Walk([this](std::string_view path) {
      TrackedCgroup* cg = table_->Touch(path);
      if (cg != nullptr && cg->included) ReadCgroup(*cg);
    });
  } else {
    for (TrackedCgroup* cg : table_->included()) {
      if (cg->refresh) ReadCgroup(*cg);
    }
  }
  return errors_;
}

uint64_t ActivityProbe::Collect() {
  if (table_->discovering()) return 0;  // every cgroup gets a full read
  uint64_t errors = 0;
  const bool v2 = hierarchy_.v2;
  for (TrackedCgroup* cg : table_->included()) {
    std::string_view text;
    const auto outcome = v2 ? reader_->Read(*cg, kV2CpuStat, hierarchy_.dir, "cpu.stat", &text)
                            : reader_->Read(*cg, kV1CpuacctUsage, hierarchy_.dir, "cpuacct.usage", &text);
    uint64_t usage_ns = 0;
    bool ok = outcome == CgroupFileReader::Outcome::kOk;
    if (ok && v2) {
      ok = ForEachKeyValue(text, [&](std::string_view k, uint64_t v) {
        if (k == "usage_usec") usage_ns = v * 1000;
      });
    } else if (ok) {
      ok = ParseSingleU64(text, &usage_ns);
    }
    if (outcome == CgroupFileReader::Outcome::kError) ++errors;
    // Unknown activity (no probe file, a failed read) means a full read.
    const bool idle = ok && cg->stats.Has(kFieldCpuUsage) && usage_ns == cg->stats.cpu_usage_ns;
    cg->probed = ok;
    cg->probed_usage_ns = usage_ns;
    cg->refresh = !idle;
  }
  return errors;
}

bool CgroupHierarchyCollector::ReadFile(TrackedCgroup& cg, CgroupFile file, const char* name, std::string_view* text) {
  switch (reader_->Read(cg, file, hierarchy_.dir, name, text)) {
    case CgroupFileReader::Outcome::kOk: return true;
    case CgroupFileReader::Outcome::kMissing: return false;
    case CgroupFileReader::Outcome::kError: ++errors_; return false;
  }
  return false;
}

CgroupV1Collector::CgroupV1Collector(CgroupHierarchy hierarchy, CgroupTable* table, CgroupFileReader* reader)
    : CgroupHierarchyCollector(std::move(hierarchy), table, reader) {
  const long ticks = ::sysconf(_SC_CLK_TCK);
  ns_per_tick_ = ticks > 0 ? 1'000'000'000ULL / static_cast<uint64_t>(ticks) : 10'000'000ULL;
}

void CgroupV1Collector::ReadCgroup(TrackedCgroup& cg) {
  CgroupStats& s = cg.stats;
  std::string_view text;
  const uint32_t c = hierarchy_.controllers;
  if (c & kCtrlCpuacct) {
    if (!s.Has(kFieldCpuUsage) && ReadFile(cg, kV1CpuacctUsage, "cpuacct.usage", &text) && Parsed(ParseSingleU64(text, &s.cpu_usage_ns))) {
      s.present |= kFieldCpuUsage;
    }
    if (ReadFile(cg, kV1CpuacctStat, "cpuacct.stat", &text)) {
      uint64_t user = 0, system = 0;
      if (Parsed(ForEachKeyValue(text, [&](std::string_view k, uint64_t v) {
            if (k == "user") user = v;
            if (k == "system") system = v;
          }))) {
        s.cpu_user_ns = user * ns_per_tick_;
        s.cpu_system_ns = system * ns_per_tick_;
        s.present |= kFieldCpuUserSystem;
      }
    }
  }
  if (c & kCtrlCpu) ReadCpu(cg);
  if (c & kCtrlMemory) ReadMemory(cg);
  if (c & kCtrlBlkio) {
    if (ReadFile(cg, kV1BlkioBytes, "blkio.throttle.io_service_bytes_recursive", &text) &&
        Parsed(ParseBlkio(text, true, &s.io)) &&
        ReadFile(cg, kV1BlkioOps, "blkio.throttle.io_serviced_recursive", &text) &&
        Parsed(ParseBlkio(text, false, &s.io))) {
      s.present |= kFieldIo;
    }
  }
  if (c & kCtrlPids) {
    if (ReadFile(cg, kV1PidsCurrent, "pids.current", &text) && Parsed(ParseSingleU64(text, &s.tasks))) {
      s.present |= kFieldTasks;
    }
    if (read_spec() && ReadSpecFile(cg, kV1PidsMax, "pids.max", &text) && Parsed(ParseMaxOrU64(text, &s.tasks_max))) {
      s.present |= kFieldTasksMax;
    }
  }
}

void CgroupV1Collector::ReadCpu(TrackedCgroup& cg) {
  CgroupStats& s = cg.stats;
  std::string_view text;
  if (ReadFile(cg, kV1CpuStat, "cpu.stat", &text)) {
    if (ForEachKeyValue(text, [&](std::string_view k, uint64_t v) {
          if (k == "nr_periods")
            s.cpu_periods = v;
          else if (k == "nr_throttled")
            s.cpu_throttled_periods = v;
          else if (k == "throttled_time")
            s.cpu_throttled_ns = v;
        })) {
      s.present |= kFieldCpuThrottling;
    } else {
      ++errors_;
    }
  }
  if (!read_spec()) return;
  int64_t quota = 0;
  if (ReadSpecFile(cg, kV1CfsPeriod, "cpu.cfs_period_us", &text)) {
    if (ParseSingleU64(text, &s.cpu_period_us)) {
      s.present |= kFieldCpuPeriod;
    } else {
      ++errors_;
    }
  }
  if (ReadSpecFile(cg, kV1CfsQuota, "cpu.cfs_quota_us", &text)) {
    if (!ParseSingleI64(text, &quota)) {
      ++errors_;
    } else if (quota > 0 && s.Has(kFieldCpuPeriod)) {
      s.cpu_quota_us = static_cast<uint64_t>(quota);
      s.present |= kFieldCpuQuota;
    }
  }
  if (ReadSpecFile(cg, kV1CpuShares, "cpu.shares", &text)) {
    if (ParseSingleU64(text, &s.cpu_shares)) {
      s.present |= kFieldCpuShares;
    } else {
      ++errors_;
    }
  }
}

void CgroupV1Collector::ReadMemory(TrackedCgroup& cg) {
  CgroupStats& s = cg.stats;
  std::string_view text;
  if (ReadFile(cg, kV1MemUsage, "memory.usage_in_bytes", &text)) {
    if (ParseSingleU64(text, &s.mem_usage_bytes)) {
      s.present |= kFieldMemUsage;
    } else {
      ++errors_;
    }
  }
  if (ReadFile(cg, kV1MemStat, "memory.stat", &text)) {
    uint64_t found = 0;
    if (ForEachKeyValue(text,
                        [&](std::string_view k, uint64_t v) {
                          if (!k.starts_with("total_")) return;
                          k.remove_prefix(6);
                          if (k == "rss")
                            s.mem_rss_bytes = v, found |= 1;
                          else if (k == "cache")
                            s.mem_cache_bytes = v, found |= 2;
                          else if (k == "inactive_file")
                            s.mem_inactive_file_bytes = v, found |= 4;
                        }) &&
        found == 7) {
      s.present |= kFieldMemStat;
    } else {
      ++errors_;
    }
  }
  if (s.Has(kFieldMemUsage) && s.Has(kFieldMemStat)) {
    s.mem_working_set_bytes =
        s.mem_usage_bytes > s.mem_inactive_file_bytes ? s.mem_usage_bytes - s.mem_inactive_file_bytes : 0;
  }
  if (read_spec() && ReadSpecFile(cg, kV1MemLimit, "memory.limit_in_bytes", &text)) {
    if (ParseSingleU64(text, &s.mem_limit_bytes)) {
      if (s.mem_limit_bytes >= kV1NoLimit) s.mem_limit_bytes = 0;
      s.present |= kFieldMemLimit;
    } else {
      ++errors_;
    }
  }
  if (ReadFile(cg, kV1MemOomControl, "memory.oom_control", &text)) {
    bool found = false;
    ForEachKeyValue(text, [&](std::string_view k, uint64_t v) {
      if (k == "oom_kill") s.oom_kills = v, found = true;
    });
    if (found) s.present |= kFieldOom;  // older kernels lack oom_kill: not an error
  }
  if (ReadFile(cg, kV1MemFailcnt, "memory.failcnt", &text)) {
    if (ParseSingleU64(text, &s.mem_failcnt)) {
      s.present |= kFieldMemFailcnt;
    } else {
      ++errors_;
    }
  }
}

}  // namespace prescale::agent
