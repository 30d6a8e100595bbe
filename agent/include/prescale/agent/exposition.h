// Turns one collection cycle (per-cgroup and node stats) into samples, under
// the names, types and labels cAdvisor and node_exporter use for the same
// quantities (docs/metrics.md: which peer each family matches), with tenant,
// service, node and id labels. One set of family tables feeds two
// forms: the Prometheus text format (appended to a reused buffer, for
// /metrics) and remote-write series (for the pusher). The table and node forms
// run on the collection thread; StreamExposition on a snapshot, on any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/agent/cgroup_stats.h"
#include "prescale/agent/cgroup_table.h"
#include "prescale/remote_write/remote_write.h"

namespace prescale::agent {

void WriteCgroupExposition(const CgroupTable& table, const NodeStats& node, std::string* out);
void WriteNodeExposition(const NodeStats& node, std::string_view node_name, std::string* out);

// What the text exposition needs of one included cgroup, copied out of the table so that a
// scrape renders (and sends, at the client's pace) without holding the collection thread.
struct CgroupSample {
  std::string rendered_labels;
  CgroupStats stats;
};
// One cycle's cgroups (included, in path order) and node stats, as copied for a scrape.
struct ExpositionSnapshot {
  std::vector<CgroupSample> cgroups;
  NodeStats node;
};
// Replaces *out with the table's included cgroups and `node`, reusing its storage.
void TakeSnapshot(const CgroupTable& table, const NodeStats& node, ExpositionSnapshot* out);
// The same text as WriteCgroupExposition then WriteNodeExposition, handed to `write` in pieces
// of about `chunk_bytes` (with Kubernetes' labels the whole is megabytes, never held at once).
// Stops early, returning false, when `write` returns false (the client is gone).
bool StreamExposition(const ExpositionSnapshot& snapshot, std::string_view node_name, size_t chunk_bytes,
                      const std::function<bool(std::string_view)>& write);

// A cycle's remote-write series, built in place: the storage the previous
// cycle left is reused, so a steady cycle allocates (almost) nothing.
class SeriesBuilder {
 public:
  // Starts a new batch.
  void Begin() { used_ = 0; }
  // The next series slot (its old contents are to be overwritten).
  remote_write::TimeSeries& Add();
  // The series added since Begin(), exactly.
  const remote_write::WriteRequest& Finish();
  size_t size() const { return used_; }

 private:
  remote_write::WriteRequest request_;
  size_t used_ = 0;
};

// The same samples as remote-write series, added to *out: one sample each at
// timestamp_ms, labels sorted by name with __name__, empty values left out.
void AppendCgroupSeries(const CgroupTable& table, const NodeStats& node, int64_t timestamp_ms, SeriesBuilder* out);
void AppendNodeSeries(const NodeStats& node, std::string_view node_name, int64_t timestamp_ms, SeriesBuilder* out);

// True when `name` is a family the agent itself exports (scraped families
// with such names are dropped to keep the exposition valid).
bool IsAgentFamilyName(std::string_view name);

}  // namespace prescale::agent
