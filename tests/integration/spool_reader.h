// The agent's spool read back from disk by the integration tests (agent_outage_test,
// fault_test): what a restarted agent would replay.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/agent/spool.h"
#include "tests/support/test_env.h"

namespace prescale::testing {

// One spool record as the agent left it on disk: what a restarted agent replays.
struct SpoolRecord {
  int64_t timestamp_ms = 0;
  uint32_t samples = 0;
};

// The records of the spool in `dir` from its read cursor on, in replay order; the
// error names the file when a segment cannot be read or holds a bad record.
inline std::optional<std::vector<SpoolRecord>> ReadSpool(const std::string& dir, std::string* error) {
  unsigned long long cursor_id = 0, cursor_offset = 0;
  const std::string cursor = ReadFileOrEmpty(dir + "/cursor");
  if (!cursor.empty() && std::sscanf(cursor.c_str(), "%llu %llu", &cursor_id, &cursor_offset) != 2) {
    *error = dir + "/cursor: unreadable: " + cursor;
    return std::nullopt;
  }
  std::vector<std::pair<unsigned long long, std::string>> segments;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".seg")) segments.emplace_back(std::stoull(name), entry.path().string());
  }
  std::sort(segments.begin(), segments.end());
  std::vector<SpoolRecord> records;
  for (const auto& [id, path] : segments) {
    if (id < cursor_id) continue;
    const std::string data = ReadFileOrEmpty(path);
    std::string_view rest(data);
    rest.remove_prefix(id == cursor_id ? std::min<size_t>(cursor_offset, rest.size()) : 0);
    while (!rest.empty()) {
      const agent::SpoolRecordView r = agent::ParseSpoolRecord(rest);
      if (r.outcome != agent::SpoolRecordOutcome::kOk) {
        *error = path + ": a bad record at " + std::to_string(data.size() - rest.size());
        return std::nullopt;
      }
      records.push_back({r.timestamp_ms, r.samples});
      rest.remove_prefix(r.consumed);
    }
  }
  return records;
}

}  // namespace prescale::testing
