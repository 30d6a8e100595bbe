// Parsers of the cgroup and /proc files the agent reads. Pure functions over a
// buffer, no allocation beyond the output vectors, never reading past the end:
// the fuzz target tests/fuzz/fuzz_cgroup_proc_parsers.cc feeds them anything.
// Each returns false when the text is not in the expected format.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "prescale/agent/cgroup_stats.h"

namespace prescale::agent {

// "123\n"
bool ParseSingleU64(std::string_view text, uint64_t* out);
// "-1\n" or "50000\n" (cpu.cfs_quota_us)
bool ParseSingleI64(std::string_view text, int64_t* out);
// "max 100000\n" or "50000 100000\n"; *quota_us = 0 when "max".
bool ParseCpuMax(std::string_view text, uint64_t* quota_us, uint64_t* period_us);
// "max\n" -> *value = 0 (no limit), or a number.
bool ParseMaxOrU64(std::string_view text, uint64_t* value);

// Calls fn(key, value) for each "key value" line with a numeric value
// (cpu.stat, memory.stat, memory.events, cpuacct.stat, memory.oom_control).
template <typename Fn>
bool ForEachKeyValue(std::string_view text, Fn&& fn);

// blkio.throttle.io_service_bytes_recursive / io_serviced_recursive ("8:0 Read 4096").
// bytes=true fills read/write bytes, else read/write operations; merges by device.
bool ParseBlkio(std::string_view text, bool bytes, std::vector<IoDeviceStats>* out);
// io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0").
bool ParseIoStat(std::string_view text, std::vector<IoDeviceStats>* out);
// cpu.pressure etc. ("some avg10=0.00 avg60=0.00 avg300=0.00 total=123").
bool ParsePressure(std::string_view text, PressureStats* out);
// /proc/<pid>/net/dev; skips "lo".
bool ParseNetDev(std::string_view text, std::vector<NetDeviceStats>* out);

// /proc/stat cpuN lines; ticks converted with ticks_per_second.
bool ParseProcStat(std::string_view text, double ticks_per_second, std::vector<NodeCpuStats>* out);
bool ParseMeminfo(std::string_view text, uint64_t* total_bytes, uint64_t* available_bytes);
bool ParseLoadavg(std::string_view text, double* load1, double* load5, double* load15);

// /proc/partitions ("major minor #blocks name").
bool ParsePartitions(std::string_view text, std::vector<BlockDevice>* out);

// cgroup v2 cpu.weight to cgroup v1 cpu.shares, with cAdvisor's formula (the
// inverse of runc's shares-to-weight mapping), so v1 and v2 nodes chart alike.
uint64_t CpuWeightToShares(uint64_t weight);

}  // namespace prescale::agent

#include "prescale/base/numbers.h"

namespace prescale::agent {
template <typename Fn>
bool ForEachKeyValue(std::string_view text, Fn&& fn) {
  std::string_view rest = text;
  std::string_view line;
  bool any = false;
  while (NextLine(&rest, &line)) {
    if (line.empty()) continue;
    std::string_view key = NextToken(&line);
    std::string_view value = NextToken(&line);
    uint64_t v = 0;
    if (key.empty() || !ParseU64(value, &v)) {
      int64_t signed_value = 0;  // some kernels print negative stats; treat as 0
      if (key.empty() || !ParseI64(value, &signed_value)) return false;
      v = 0;
    }
    any = true;
    fn(key, v);
  }
  return any;
}
}  // namespace prescale::agent
