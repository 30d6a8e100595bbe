// TableView: a human-readable, refreshing table of what the agent sees per
// tenant and service (CPU cores, memory working set, throttling, tasks), for
// `prescale-agent --table` and scripts/demo. Collection thread only.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "prescale/agent/cgroup_table.h"

namespace prescale::agent {

class TableView {
 public:
  // Renders the table for the current cycle; rates are over the time since
  // the previous call (the first call shows "-" for them).
  std::string Render(const CgroupTable& table, const NodeStats& node, std::chrono::steady_clock::time_point now);

 private:
  struct Previous {
    uint64_t cpu_usage_ns = 0;
    uint64_t periods = 0;
    uint64_t throttled_periods = 0;
  };
  std::map<std::string, Previous> previous_;
  std::chrono::steady_clock::time_point previous_time_{};
};

}  // namespace prescale::agent
