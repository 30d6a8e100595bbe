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
  if (table_->walking()) {
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

void CgroupHierarchyCollector::ReadNumber(TrackedCgroup& cg, CgroupFile file, const char* name, uint64_t* out,
                                          uint32_t field, bool max_is_zero) {
  std::string_view text;
  const bool spec = (field & kSpecFields) != 0;
  if (spec ? !ReadSpecFile(cg, file, name, &text) : !ReadFile(cg, file, name, &text)) return;
  if (Parsed(max_is_zero ? ParseMaxOrU64(text, out) : ParseSingleU64(text, out))) cg.stats.present |= field;
}

void CgroupHierarchyCollector::ReadMemoryStat(TrackedCgroup& cg, CgroupFile file, std::string_view rss_key,
                                              std::string_view cache_key, std::string_view inactive_file_key) {
  CgroupStats& s = cg.stats;
  std::string_view text;
  if (!ReadFile(cg, file, "memory.stat", &text)) return;
  uint32_t found = 0;
  const bool parsed = ForEachKeyValue(text, [&](std::string_view k, uint64_t v) {
    if (k == rss_key) {
      s.mem_rss_bytes = v;
      found |= 1;
    } else if (k == cache_key) {
      s.mem_cache_bytes = v;
      found |= 2;
    } else if (k == inactive_file_key) {
      s.mem_inactive_file_bytes = v;
      found |= 4;
    }
  });
  if (Parsed(parsed && found == 7)) s.present |= kFieldMemStat;
}

// The working set follows the fresh usage rather than being kept with
// memory.stat until the next detail read: it is the memory signal consumers
// act on (the kubelet evicts on it, autoscalers and the aggregator's demand
// read it), and it moves with usage (anonymous memory, new page cache), while
// inactive_file only moves as the kernel ages the page cache. Usage less the
// inactive_file of at most one detail interval ago stays at or below usage,
// like cAdvisor's; the clamp at 0 covers usage falling below it in between.
void CgroupHierarchyCollector::DeriveWorkingSet(CgroupStats& s) {
  if (!s.Has(kFieldMemUsage) || !s.Has(kFieldMemStat)) return;
  s.mem_working_set_bytes =
      s.mem_usage_bytes > s.mem_inactive_file_bytes ? s.mem_usage_bytes - s.mem_inactive_file_bytes : 0;
}

CgroupV1Collector::CgroupV1Collector(CgroupHierarchy hierarchy, CgroupTable* table, CgroupFileReader* reader,
                                     CgroupTreeWatch* watch)
    : CgroupHierarchyCollector(std::move(hierarchy), table, reader, watch) {
  const long ticks = ::sysconf(_SC_CLK_TCK);
  ns_per_tick_ = ticks > 0 ? 1'000'000'000ULL / static_cast<uint64_t>(ticks) : 10'000'000ULL;
}

void CgroupV1Collector::ReadCgroup(TrackedCgroup& cg) {
  CgroupStats& s = cg.stats;
  std::string_view text;
  const uint32_t c = hierarchy_.controllers;
  if (c & kCtrlCpuacct) {
    if (!s.Has(kFieldCpuUsage)) ReadNumber(cg, kV1CpuacctUsage, "cpuacct.usage", &s.cpu_usage_ns, kFieldCpuUsage);
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
  if ((c & kCtrlBlkio) && read_detail()) {
    if (ReadFile(cg, kV1BlkioBytes, "blkio.throttle.io_service_bytes_recursive", &text) &&
        Parsed(ParseBlkio(text, true, &s.io)) &&
        ReadFile(cg, kV1BlkioOps, "blkio.throttle.io_serviced_recursive", &text) &&
        Parsed(ParseBlkio(text, false, &s.io))) {
      s.present |= kFieldIo;
    }
  }
  if (c & kCtrlPids) {
    ReadNumber(cg, kV1PidsCurrent, "pids.current", &s.tasks, kFieldTasks);
    if (read_spec()) ReadNumber(cg, kV1PidsMax, "pids.max", &s.tasks_max, kFieldTasksMax, true);
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
  ReadNumber(cg, kV1CfsPeriod, "cpu.cfs_period_us", &s.cpu_period_us, kFieldCpuPeriod);
  if (ReadSpecFile(cg, kV1CfsQuota, "cpu.cfs_quota_us", &text)) {
    if (!ParseSingleI64(text, &quota)) {
      ++errors_;
    } else if (quota > 0 && s.Has(kFieldCpuPeriod)) {
      s.cpu_quota_us = static_cast<uint64_t>(quota);
      s.present |= kFieldCpuQuota;
    }
  }
  ReadNumber(cg, kV1CpuShares, "cpu.shares", &s.cpu_shares, kFieldCpuShares);
}

void CgroupV1Collector::ReadMemory(TrackedCgroup& cg) {
  CgroupStats& s = cg.stats;
  std::string_view text;
  ReadNumber(cg, kV1MemUsage, "memory.usage_in_bytes", &s.mem_usage_bytes, kFieldMemUsage);
  if (read_detail()) ReadMemoryStat(cg, kV1MemStat, "total_rss", "total_cache", "total_inactive_file");
  DeriveWorkingSet(s);
  if (read_spec()) {
    ReadNumber(cg, kV1MemLimit, "memory.limit_in_bytes", &s.mem_limit_bytes, kFieldMemLimit);
    if (s.mem_limit_bytes >= kV1NoLimit) s.mem_limit_bytes = 0;
  }
  if (ReadFile(cg, kV1MemOomControl, "memory.oom_control", &text)) {
    bool found = false;
    ForEachKeyValue(text, [&](std::string_view k, uint64_t v) {
      if (k == "oom_kill") s.oom_kills = v, found = true;
    });
    if (found) s.present |= kFieldOom;  // older kernels lack oom_kill: not an error
  }
  ReadNumber(cg, kV1MemFailcnt, "memory.failcnt", &s.mem_failcnt, kFieldMemFailcnt);
}

}  // namespace prescale::agent
