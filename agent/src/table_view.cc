#include "prescale/agent/table_view.h"

#include <cstdio>

namespace prescale::agent {
namespace {

std::string LabelOf(const TrackedCgroup& cg, std::string_view name) {
  for (const auto& [k, v] : cg.labels) {
    if (k == name) return v.empty() ? "-" : v;
  }
  return "-";
}

struct Row {
  double cores = 0;
  bool has_rate = false;
  uint64_t working_set = 0;
  uint64_t periods = 0, throttled = 0;
  uint64_t tasks = 0;
  int cgroups = 0;
};

}  // namespace

std::string TableView::Render(const CgroupTable& table, const NodeStats& node,
                              std::chrono::steady_clock::time_point now) {
  const double elapsed =
      previous_time_.time_since_epoch().count() == 0 ? 0 : std::chrono::duration<double>(now - previous_time_).count();
  std::map<std::pair<std::string, std::string>, Row> rows;
  std::map<std::string, Previous> current;
  for (const TrackedCgroup* cg : table.included()) {
    Row& row = rows[{LabelOf(*cg, "tenant"), LabelOf(*cg, "service")}];
    const CgroupStats& s = cg->stats;
    ++row.cgroups;
    current[cg->path] = {s.cpu_usage_ns, s.cpu_periods, s.cpu_throttled_periods};
    auto prev = previous_.find(cg->path);
    if (elapsed > 0 && prev != previous_.end() && s.Has(kFieldCpuUsage) &&
        s.cpu_usage_ns >= prev->second.cpu_usage_ns) {
      row.cores += static_cast<double>(s.cpu_usage_ns - prev->second.cpu_usage_ns) / 1e9 / elapsed;
      row.has_rate = true;
      if (s.cpu_periods >= prev->second.periods) {
        row.periods += s.cpu_periods - prev->second.periods;
        row.throttled += s.cpu_throttled_periods - prev->second.throttled_periods;
      }
    }
    row.working_set += s.mem_working_set_bytes;
    row.tasks += s.tasks;
  }
  previous_ = std::move(current);
  previous_time_ = now;

  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "node %s: %zu CPUs, %.1f GiB memory (%.1f GiB available), load %.2f\n",
                table.node().c_str(), node.cpus.size(), static_cast<double>(node.mem_total_bytes) / (1 << 30),
                static_cast<double>(node.mem_available_bytes) / (1 << 30), node.load1);
  out += line;
  std::snprintf(line, sizeof line, "%-16s %-24s %8s %12s %10s %7s %8s\n", "TENANT", "SERVICE", "CPU", "WORKING SET",
                "THROTTLED", "TASKS", "CGROUPS");
  out += line;
  for (const auto& [key, row] : rows) {
    char cores[16], throttled[16];
    if (row.has_rate) {
      std::snprintf(cores, sizeof cores, "%.3f", row.cores);
    } else {
      std::snprintf(cores, sizeof cores, "-");
    }
    if (row.periods > 0) {
      std::snprintf(throttled, sizeof throttled, "%.1f%%",
                    100.0 * static_cast<double>(row.throttled) / static_cast<double>(row.periods));
    } else {
      std::snprintf(throttled, sizeof throttled, "-");
    }
    std::snprintf(line, sizeof line, "%-16.16s %-24.24s %8s %9.1f MiB %10s %7llu %8d\n", key.first.c_str(),
                  key.second.c_str(), cores, static_cast<double>(row.working_set) / (1 << 20), throttled,
                  static_cast<unsigned long long>(row.tasks), row.cgroups);
    out += line;
  }
  if (rows.empty()) out += "(no cgroup matches the mapping rules yet)\n";
  return out;
}

}  // namespace prescale::agent
