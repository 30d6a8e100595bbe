#include "prescale/agent/exposition.h"

#include <algorithm>
#include <cstdio>
#include <span>
#include <vector>

#include "prescale/metrics/text_writer.h"

namespace prescale::agent {
namespace {

using metrics::LabelRef;
using metrics::MetricType;
using metrics::TextWriter;

constexpr double kNs = 1e-9;
constexpr double kUs = 1e-6;

struct ScalarFamily {
  const char* name;
  const char* help;
  MetricType type;
  uint32_t fields;  // all must be present
  double (*value)(const CgroupStats&);
  int needs_full = -1;  // PSI "stalled" families need that resource's full line
};

// Scalar per-cgroup families, in exposition order.
const ScalarFamily kScalarFamilies[] = {
    {"container_cpu_usage_seconds_total", "Cumulative CPU time consumed, in seconds.", MetricType::kCounter,
     kFieldCpuUsage, [](const CgroupStats& s) { return static_cast<double>(s.cpu_usage_ns) * kNs; }},
    {"container_cpu_user_seconds_total", "Cumulative user CPU time consumed, in seconds.", MetricType::kCounter,
     kFieldCpuUserSystem, [](const CgroupStats& s) { return static_cast<double>(s.cpu_user_ns) * kNs; }},
    {"container_cpu_system_seconds_total", "Cumulative system CPU time consumed, in seconds.", MetricType::kCounter,
     kFieldCpuUserSystem, [](const CgroupStats& s) { return static_cast<double>(s.cpu_system_ns) * kNs; }},
    {"container_cpu_cfs_periods_total", "Number of elapsed CFS enforcement periods.", MetricType::kCounter,
     kFieldCpuThrottling, [](const CgroupStats& s) { return static_cast<double>(s.cpu_periods); }},
    {"container_cpu_cfs_throttled_periods_total", "Number of CFS periods in which the cgroup was throttled.",
     MetricType::kCounter, kFieldCpuThrottling,
     [](const CgroupStats& s) { return static_cast<double>(s.cpu_throttled_periods); }},
    {"container_cpu_cfs_throttled_seconds_total", "Total time the cgroup was throttled by CFS, in seconds.",
     MetricType::kCounter, kFieldCpuThrottling,
     [](const CgroupStats& s) { return static_cast<double>(s.cpu_throttled_ns) * kNs; }},
    {"container_spec_cpu_quota", "CPU quota per CFS period, in microseconds (absent when unlimited).",
     MetricType::kGauge, kFieldCpuQuota, [](const CgroupStats& s) { return static_cast<double>(s.cpu_quota_us); }},
    {"container_spec_cpu_period", "CFS period, in microseconds.", MetricType::kGauge, kFieldCpuPeriod,
     [](const CgroupStats& s) { return static_cast<double>(s.cpu_period_us); }},
    {"container_spec_cpu_shares", "CPU shares (cgroup v2 cpu.weight converted to shares).", MetricType::kGauge,
     kFieldCpuShares, [](const CgroupStats& s) { return static_cast<double>(s.cpu_shares); }},
    {"container_memory_usage_bytes", "Current memory usage, including page cache, in bytes.", MetricType::kGauge,
     kFieldMemUsage, [](const CgroupStats& s) { return static_cast<double>(s.mem_usage_bytes); }},
    {"container_memory_working_set_bytes", "Memory usage minus inactive file cache, in bytes.", MetricType::kGauge,
     kFieldMemUsage | kFieldMemStat, [](const CgroupStats& s) { return static_cast<double>(s.mem_working_set_bytes); }},
    {"container_memory_rss", "Anonymous memory (RSS), in bytes.", MetricType::kGauge, kFieldMemStat,
     [](const CgroupStats& s) { return static_cast<double>(s.mem_rss_bytes); }},
    {"container_memory_cache", "Page cache memory, in bytes.", MetricType::kGauge, kFieldMemStat,
     [](const CgroupStats& s) { return static_cast<double>(s.mem_cache_bytes); }},
    {"container_spec_memory_limit_bytes", "Memory limit in bytes; 0 when unlimited.", MetricType::kGauge,
     kFieldMemLimit, [](const CgroupStats& s) { return static_cast<double>(s.mem_limit_bytes); }},
    // A counter without the _total suffix: cAdvisor's name and type (metrics/prometheus.go).
    {"container_memory_failcnt", "Cumulative number of times memory usage hit the limit (cgroup v1).",
     MetricType::kCounter, kFieldMemFailcnt, [](const CgroupStats& s) { return static_cast<double>(s.mem_failcnt); }},
    {"container_oom_events_total", "Number of processes killed by the OOM killer in the cgroup.", MetricType::kCounter,
     kFieldOom, [](const CgroupStats& s) { return static_cast<double>(s.oom_kills); }},
    {"container_threads", "Number of tasks (threads) in the cgroup.", MetricType::kGauge, kFieldTasks,
     [](const CgroupStats& s) { return static_cast<double>(s.tasks); }},
    {"container_threads_max", "Maximum number of tasks allowed; 0 when unlimited.", MetricType::kGauge, kFieldTasksMax,
     [](const CgroupStats& s) { return static_cast<double>(s.tasks_max); }},
    {"container_pressure_cpu_waiting_seconds_total", "Time some tasks waited for CPU (PSI some), in seconds.",
     MetricType::kCounter, kFieldPsiCpu,
     [](const CgroupStats& s) { return static_cast<double>(s.pressure[kPressureCpu].some_us) * kUs; }},
    {"container_pressure_cpu_stalled_seconds_total", "Time all tasks stalled on CPU (PSI full), in seconds.",
     MetricType::kCounter, kFieldPsiCpu,
     [](const CgroupStats& s) { return static_cast<double>(s.pressure[kPressureCpu].full_us) * kUs; }, kPressureCpu},
    {"container_pressure_memory_waiting_seconds_total", "Time some tasks waited for memory (PSI some), in seconds.",
     MetricType::kCounter, kFieldPsiMemory,
     [](const CgroupStats& s) { return static_cast<double>(s.pressure[kPressureMemory].some_us) * kUs; }},
    {"container_pressure_memory_stalled_seconds_total", "Time all tasks stalled on memory (PSI full), in seconds.",
     MetricType::kCounter, kFieldPsiMemory,
     [](const CgroupStats& s) { return static_cast<double>(s.pressure[kPressureMemory].full_us) * kUs; },
     kPressureMemory},
    {"container_pressure_io_waiting_seconds_total", "Time some tasks waited for IO (PSI some), in seconds.",
     MetricType::kCounter, kFieldPsiIo,
     [](const CgroupStats& s) { return static_cast<double>(s.pressure[kPressureIo].some_us) * kUs; }},
    {"container_pressure_io_stalled_seconds_total", "Time all tasks stalled on IO (PSI full), in seconds.",
     MetricType::kCounter, kFieldPsiIo,
     [](const CgroupStats& s) { return static_cast<double>(s.pressure[kPressureIo].full_us) * kUs; }, kPressureIo},
};

struct IoFamily {
  const char* name;
  const char* help;
  uint64_t IoDeviceStats::*field;
};
const IoFamily kIoFamilies[] = {
    {"container_fs_reads_bytes_total", "Cumulative bytes read from block devices.", &IoDeviceStats::read_bytes},
    {"container_fs_writes_bytes_total", "Cumulative bytes written to block devices.", &IoDeviceStats::write_bytes},
    {"container_fs_reads_total", "Cumulative completed block device reads.", &IoDeviceStats::reads},
    {"container_fs_writes_total", "Cumulative completed block device writes.", &IoDeviceStats::writes},
};

struct NetFamily {
  const char* container_name;
  const char* node_name;
  const char* help;
  uint64_t NetDeviceStats::*field;
};
const NetFamily kNetFamilies[] = {
    {"container_network_receive_bytes_total", "node_network_receive_bytes_total", "Cumulative bytes received.",
     &NetDeviceStats::rx_bytes},
    {"container_network_receive_packets_total", "node_network_receive_packets_total", "Cumulative packets received.",
     &NetDeviceStats::rx_packets},
    {"container_network_receive_errors_total", "node_network_receive_errs_total", "Cumulative errors while receiving.",
     &NetDeviceStats::rx_errors},
    {"container_network_receive_packets_dropped_total", "node_network_receive_drop_total",
     "Cumulative packets dropped while receiving.", &NetDeviceStats::rx_dropped},
    {"container_network_transmit_bytes_total", "node_network_transmit_bytes_total", "Cumulative bytes transmitted.",
     &NetDeviceStats::tx_bytes},
    {"container_network_transmit_packets_total", "node_network_transmit_packets_total",
     "Cumulative packets transmitted.", &NetDeviceStats::tx_packets},
    {"container_network_transmit_errors_total", "node_network_transmit_errs_total",
     "Cumulative errors while transmitting.", &NetDeviceStats::tx_errors},
    {"container_network_transmit_packets_dropped_total", "node_network_transmit_drop_total",
     "Cumulative packets dropped while transmitting.", &NetDeviceStats::tx_dropped},
};

constexpr const char* kCpuModes[] = {"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"};

// A series' labels other than the per-sample extras: the label refs, and
// (for cgroups) the same labels rendered once in text form.
struct BaseLabels {
  std::span<const LabelRef> refs;
  std::string_view rendered;  // empty: render refs
};

// The text exposition: one family header, then its samples. With a `flush`, whatever reached
// `chunk_bytes` is handed to it and the buffer starts again; once it fails, nothing more is written.
class TextSink {
 public:
  explicit TextSink(std::string* out, size_t chunk_bytes = 0,
                    const std::function<bool(std::string_view)>* flush = nullptr)
      : out_(out), w_(out), chunk_bytes_(chunk_bytes), flush_(flush) {}
  void Family(const char* name, const char* help, MetricType type) {
    if (!ok_) return;
    w_.Family(name, help, type);
  }
  void Sample(const char* name, const BaseLabels& base, std::span<const LabelRef> extra, double v) {
    if (!ok_) return;
    if (!base.rendered.empty()) {
      w_.SampleRendered(name, base.rendered, extra, v);
    } else {
      w_.Sample(name, base.refs, extra, v);
    }
    if (flush_ != nullptr && out_->size() >= chunk_bytes_) Flush();
  }
  // Hands what is buffered to `flush`; false once it failed.
  bool Flush() {
    if (ok_ && flush_ != nullptr && !out_->empty()) ok_ = (*flush_)(*out_);
    out_->clear();
    return ok_;
  }

 private:
  std::string* out_;
  TextWriter w_;
  size_t chunk_bytes_;
  const std::function<bool(std::string_view)>* flush_;
  bool ok_ = true;
};

// Remote write: one TimeSeries per sample, labels sorted by name with
// __name__, empty values left out (remote write forbids them; the text
// format treats an empty value as an absent label, so both say the same).
// Strings are assigned into the builder's slots, reusing last cycle's storage.
class RemoteWriteSink {
 public:
  RemoteWriteSink(SeriesBuilder* out, int64_t timestamp_ms) : out_(out), timestamp_ms_(timestamp_ms) {}
  void Family(const char*, const char*, MetricType) {}
  void Sample(const char* name, const BaseLabels& base, std::span<const LabelRef> extra, double v) {
    refs_.clear();
    refs_.push_back({"__name__", name});
    for (auto labels : {base.refs, extra}) {
      for (const LabelRef& l : labels) {
        if (!l.value.empty()) refs_.push_back(l);
      }
    }
    std::sort(refs_.begin(), refs_.end(), [](const LabelRef& a, const LabelRef& b) { return a.name < b.name; });
    remote_write::TimeSeries& ts = out_->Add();
    ts.labels.resize(refs_.size());
    for (size_t i = 0; i < refs_.size(); ++i) {
      ts.labels[i].name.assign(refs_[i].name);
      ts.labels[i].value.assign(refs_[i].value);
    }
    ts.samples.resize(1);
    ts.samples[0] = {v, timestamp_ms_};
  }

 private:
  SeriesBuilder* out_;
  int64_t timestamp_ms_;
  std::vector<LabelRef> refs_;
};

// Announces a family on its first sample only, so empty families are left out.
template <typename Sink>
class LazyFamily {
 public:
  LazyFamily(Sink* sink, const char* name, const char* help, MetricType type)
      : sink_(sink), name_(name), help_(help), type_(type) {}
  void Sample(const BaseLabels& base, std::span<const LabelRef> extra, double v) {
    if (!written_) {
      sink_->Family(name_, help_, type_);
      written_ = true;
    }
    sink_->Sample(name_, base, extra, v);
  }

 private:
  Sink* sink_;
  const char* name_;
  const char* help_;
  MetricType type_;
  bool written_ = false;
};

// "/dev/vda", or "8:0" when /proc/partitions does not name it.
std::string_view DeviceName(const NodeStats& node, const IoDeviceStats& d, char* buf, size_t size) {
  for (const BlockDevice& b : node.block_devices) {
    if (b.major == d.major && b.minor == d.minor) {
      const int n = std::snprintf(buf, size, "/dev/%s", b.name.data());
      return {buf, static_cast<size_t>(n)};
    }
  }
  const int n = std::snprintf(buf, size, "%u:%u", d.major, d.minor);
  return {buf, static_cast<size_t>(n)};
}

// The labels of a table's cgroup (refs for remote write, rendered text) or of a snapshot's (text).
BaseLabels LabelsOf(const TrackedCgroup& cg) { return {cg.label_refs, cg.rendered_labels}; }
BaseLabels LabelsOf(const CgroupSample& cg) { return {{}, cg.rendered_labels}; }

// `cgroups`: pointers to TrackedCgroup (the table's) or CgroupSample (a snapshot's).
template <typename Sink, typename Cgroups>
void VisitCgroupSamples(const Cgroups& cgroups, const NodeStats& node, Sink* sink) {
  for (const ScalarFamily& f : kScalarFamilies) {
    LazyFamily family(sink, f.name, f.help, f.type);
    for (const auto* cg : cgroups) {
      if ((cg->stats.present & f.fields) != f.fields) continue;
      if (f.needs_full >= 0 && !cg->stats.pressure[f.needs_full].has_full) continue;
      family.Sample(LabelsOf(*cg), {}, f.value(cg->stats));
    }
  }
  char device[64];
  for (const IoFamily& f : kIoFamilies) {
    LazyFamily family(sink, f.name, f.help, MetricType::kCounter);
    for (const auto* cg : cgroups) {
      if (!cg->stats.Has(kFieldIo)) continue;
      for (const IoDeviceStats& d : cg->stats.io) {
        const LabelRef extra[] = {{"device", DeviceName(node, d, device, sizeof device)}};
        family.Sample(LabelsOf(*cg), extra, static_cast<double>(d.*f.field));
      }
    }
  }
  for (const NetFamily& f : kNetFamilies) {
    LazyFamily family(sink, f.container_name, f.help, MetricType::kCounter);
    for (const auto* cg : cgroups) {
      if (!cg->stats.Has(kFieldNet)) continue;
      for (const NetDeviceStats& d : cg->stats.net) {
        const LabelRef extra[] = {{"interface", d.name.data()}};
        family.Sample(LabelsOf(*cg), extra, static_cast<double>(d.*f.field));
      }
    }
  }
}

template <typename Sink>
void VisitNodeSamples(const NodeStats& node, std::string_view node_name, Sink* sink) {
  const LabelRef node_label[] = {{"node", node_name}};
  const BaseLabels base{node_label, {}};
  if (node.has_stat) {
    LazyFamily cpu(sink, "node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", MetricType::kCounter);
    char num[16];
    for (const NodeCpuStats& c : node.cpus) {
      const int n = std::snprintf(num, sizeof num, "%u", c.cpu);
      for (size_t m = 0; m < c.seconds.size(); ++m) {
        const LabelRef extra[] = {{"cpu", {num, static_cast<size_t>(n)}}, {"mode", kCpuModes[m]}};
        cpu.Sample(base, extra, c.seconds[m]);
      }
    }
    LazyFamily cores(sink, "machine_cpu_cores", "Number of logical CPUs of the node (its CPU capacity).",
                     MetricType::kGauge);
    cores.Sample(base, {}, static_cast<double>(node.cpus.size()));
  }
  if (node.has_meminfo) {
    // MemTotal under cAdvisor's capacity name (the aggregator's capacity reads
    // it) and, with MemAvailable, under node_exporter's meminfo names, which
    // node-mixin queries (camelCase: promtool's lint complains, see
    // tests/integration/promtool_test.cc).
    LazyFamily(sink, "machine_memory_bytes", "Memory of the node (MemTotal), in bytes.", MetricType::kGauge)
        .Sample(base, {}, static_cast<double>(node.mem_total_bytes));
    LazyFamily(sink, "node_memory_MemTotal_bytes", "Memory information field MemTotal_bytes.", MetricType::kGauge)
        .Sample(base, {}, static_cast<double>(node.mem_total_bytes));
    LazyFamily(sink, "node_memory_MemAvailable_bytes", "Memory information field MemAvailable_bytes.",
               MetricType::kGauge)
        .Sample(base, {}, static_cast<double>(node.mem_available_bytes));
  }
  if (node.has_loadavg) {
    LazyFamily(sink, "node_load1", "1m load average.", MetricType::kGauge).Sample(base, {}, node.load1);
    LazyFamily(sink, "node_load5", "5m load average.", MetricType::kGauge).Sample(base, {}, node.load5);
    LazyFamily(sink, "node_load15", "15m load average.", MetricType::kGauge).Sample(base, {}, node.load15);
  }
  if (node.has_net) {
    for (const NetFamily& f : kNetFamilies) {
      LazyFamily family(sink, f.node_name, f.help, MetricType::kCounter);
      for (const NetDeviceStats& d : node.net) {
        const LabelRef extra[] = {{"device", d.name.data()}};
        family.Sample(base, extra, static_cast<double>(d.*f.field));
      }
    }
  }
  static constexpr struct {
    const char* waiting;
    const char* stalled;
    const char* what;
  } kPsi[] = {{"node_pressure_cpu_waiting_seconds_total", "node_pressure_cpu_stalled_seconds_total", "CPU"},
              {"node_pressure_memory_waiting_seconds_total", "node_pressure_memory_stalled_seconds_total", "memory"},
              {"node_pressure_io_waiting_seconds_total", "node_pressure_io_stalled_seconds_total", "IO"}};
  for (int i = 0; i < 3; ++i) {
    if (!(node.pressure_present & (1u << i))) continue;
    const std::string some_help =
        std::string("Total time in seconds that processes have waited for ") + kPsi[i].what + ".";
    LazyFamily(sink, kPsi[i].waiting, some_help.c_str(), MetricType::kCounter)
        .Sample(base, {}, static_cast<double>(node.pressure[i].some_us) * kUs);
    if (node.pressure[i].has_full) {
      const std::string full_help =
          std::string("Total time in seconds no process could make progress due to ") + kPsi[i].what + " congestion.";
      LazyFamily(sink, kPsi[i].stalled, full_help.c_str(), MetricType::kCounter)
          .Sample(base, {}, static_cast<double>(node.pressure[i].full_us) * kUs);
    }
  }
}

}  // namespace

void WriteCgroupExposition(const CgroupTable& table, const NodeStats& node, std::string* out) {
  TextSink sink(out);
  VisitCgroupSamples(table.included(), node, &sink);
}

void TakeSnapshot(const CgroupTable& table, const NodeStats& node, ExpositionSnapshot* out) {
  const auto& included = table.included();
  out->cgroups.resize(included.size());
  for (size_t i = 0; i < included.size(); ++i) {
    out->cgroups[i].rendered_labels.assign(included[i]->rendered_labels);
    out->cgroups[i].stats = included[i]->stats;
  }
  out->node = node;
}

bool StreamExposition(const ExpositionSnapshot& snapshot, std::string_view node_name, size_t chunk_bytes,
                      const std::function<bool(std::string_view)>& write) {
  std::string buffer;
  buffer.reserve(chunk_bytes + (4 << 10));  // a chunk ends after the sample that reached chunk_bytes
  TextSink sink(&buffer, chunk_bytes, &write);
  std::vector<const CgroupSample*> cgroups;
  cgroups.reserve(snapshot.cgroups.size());
  for (const CgroupSample& cg : snapshot.cgroups) cgroups.push_back(&cg);
  VisitCgroupSamples(cgroups, snapshot.node, &sink);
  VisitNodeSamples(snapshot.node, node_name, &sink);
  return sink.Flush();
}

void WriteNodeExposition(const NodeStats& node, std::string_view node_name, std::string* out) {
  TextSink sink(out);
  VisitNodeSamples(node, node_name, &sink);
}

remote_write::TimeSeries& SeriesBuilder::Add() {
  if (used_ == request_.timeseries.size()) request_.timeseries.emplace_back();
  return request_.timeseries[used_++];
}

const remote_write::WriteRequest& SeriesBuilder::Finish() {
  request_.timeseries.resize(used_);
  return request_;
}

void AppendCgroupSeries(const CgroupTable& table, const NodeStats& node, int64_t timestamp_ms, SeriesBuilder* out) {
  RemoteWriteSink sink(out, timestamp_ms);
  VisitCgroupSamples(table.included(), node, &sink);
}

void AppendNodeSeries(const NodeStats& node, std::string_view node_name, int64_t timestamp_ms, SeriesBuilder* out) {
  RemoteWriteSink sink(out, timestamp_ms);
  VisitNodeSamples(node, node_name, &sink);
}

bool IsAgentFamilyName(std::string_view name) {
  if (name.starts_with("container_") || name.starts_with("node_") || name.starts_with("machine_") ||
      name.starts_with("prescale_agent_")) {
    return true;
  }
  return false;
}

}  // namespace prescale::agent
