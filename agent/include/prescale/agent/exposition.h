// Serialises one collection cycle (per-cgroup and node stats) to the
// Prometheus text format, under the names cAdvisor and node_exporter use for
// the same quantities, with tenant, service, node and id labels. Runs once
// per cycle on the collection thread, appending to a reused buffer.
#pragma once

#include <string>
#include <string_view>

#include "prescale/agent/cgroup_stats.h"
#include "prescale/agent/cgroup_table.h"

namespace prescale::agent {

void WriteCgroupExposition(const CgroupTable& table, const NodeStats& node, std::string* out);
void WriteNodeExposition(const NodeStats& node, std::string_view node_name, std::string* out);

// True when `name` is a family the agent itself exports (scraped families
// with such names are dropped to keep the exposition valid).
bool IsAgentFamilyName(std::string_view name);

}  // namespace prescale::agent
