// Plain value types for what the agent reads per cgroup and per node. Each
// struct is reused across collection cycles (vectors keep their capacity), so
// a steady-state cycle does not allocate.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace prescale::agent {

struct IoDeviceStats {
  uint32_t major = 0;
  uint32_t minor = 0;
  uint64_t read_bytes = 0;
  uint64_t write_bytes = 0;
  uint64_t reads = 0;
  uint64_t writes = 0;
};

struct NetDeviceStats {
  std::array<char, 32> name{};  // interface name, NUL-terminated
  uint64_t rx_bytes = 0, rx_packets = 0, rx_errors = 0, rx_dropped = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0, tx_dropped = 0;
};

struct PressureStats {
  uint64_t some_us = 0;
  uint64_t full_us = 0;
  bool has_full = false;
};

enum PressureKind { kPressureCpu = 0, kPressureMemory = 1, kPressureIo = 2 };

// Which fields of CgroupStats were read this cycle.
enum CgroupField : uint32_t {
  kFieldCpuUsage = 1u << 0,
  kFieldCpuUserSystem = 1u << 1,
  kFieldCpuThrottling = 1u << 2,
  kFieldCpuQuota = 1u << 3,  // a CFS quota is set (cpu_quota_us, cpu_period_us valid)
  kFieldCpuShares = 1u << 4,
  kFieldMemUsage = 1u << 5,
  kFieldMemStat = 1u << 6,  // working set, rss, cache
  kFieldMemLimit = 1u << 7,
  kFieldMemFailcnt = 1u << 8,
  kFieldOom = 1u << 9,
  kFieldTasks = 1u << 10,
  kFieldTasksMax = 1u << 11,
  kFieldPsiCpu = 1u << 12,
  kFieldPsiMemory = 1u << 13,
  kFieldPsiIo = 1u << 14,
  kFieldIo = 1u << 15,
  kFieldNet = 1u << 16,
  kFieldCpuPeriod = 1u << 17,  // cpu_period_us valid even without a quota
};

// The cgroup's configuration rather than its usage: limits, quotas, shares.
// Read on discovery cycles only (see AgentConfig::discovery_interval).
constexpr uint32_t kSpecFields = kFieldCpuQuota | kFieldCpuPeriod | kFieldCpuShares | kFieldMemLimit | kFieldTasksMax;

// What the costly files give: memory.stat (the kernel sums every counter over
// the cgroup's subtree, per CPU on v1), the three pressure files and
// blkio.throttle.* / io.stat (formatted per device). Read on detail cycles
// only (AgentConfig::detail_interval) and kept in between, as cAdvisor's
// housekeeping reads them less often than it is scraped.
constexpr uint32_t kDetailFields = kFieldMemStat | kFieldPsiCpu | kFieldPsiMemory | kFieldPsiIo | kFieldIo;

struct CgroupStats {
  uint32_t present = 0;
  uint64_t cpu_usage_ns = 0, cpu_user_ns = 0, cpu_system_ns = 0;
  uint64_t cpu_periods = 0, cpu_throttled_periods = 0, cpu_throttled_ns = 0;
  uint64_t cpu_quota_us = 0, cpu_period_us = 0, cpu_shares = 0;
  uint64_t mem_usage_bytes = 0, mem_working_set_bytes = 0, mem_rss_bytes = 0, mem_cache_bytes = 0;
  uint64_t mem_inactive_file_bytes = 0;
  uint64_t mem_limit_bytes = 0;  // 0: no limit (as cAdvisor reports it)
  uint64_t mem_failcnt = 0, oom_kills = 0;
  uint64_t tasks = 0, tasks_max = 0;
  std::array<PressureStats, 3> pressure{};
  std::vector<IoDeviceStats> io;
  std::vector<NetDeviceStats> net;

  bool Has(uint32_t field) const { return (present & field) != 0; }
  // Forgets the last read but for the fields in `keep` (kSpecFields,
  // kDetailFields), whose values stay as they were read.
  void Reset(uint32_t keep) {
    present &= keep;
    if ((keep & kFieldIo) == 0) io.clear();
    net.clear();
  }
};

struct NodeCpuStats {
  uint32_t cpu = 0;
  // user nice system idle iowait irq softirq steal, in seconds
  std::array<double, 8> seconds{};
};

struct BlockDevice {
  uint32_t major = 0;
  uint32_t minor = 0;
  std::array<char, 32> name{};  // NUL-terminated, e.g. "vda"
};

struct NodeStats {
  std::vector<BlockDevice> block_devices;  // from /proc/partitions, to name IO devices
  std::vector<NodeCpuStats> cpus;
  uint64_t mem_total_bytes = 0, mem_available_bytes = 0;
  double load1 = 0, load5 = 0, load15 = 0;
  std::vector<NetDeviceStats> net;
  std::array<PressureStats, 3> pressure{};
  uint32_t pressure_present = 0;  // bit i: pressure[i] read
  bool has_stat = false, has_meminfo = false, has_loadavg = false, has_net = false;
};

}  // namespace prescale::agent
