// Workload traces as CSV: the decoder prescale-sim reads them with. It knows
// the shapes of the real traces prescale is evaluated on:
//   timestamp,value                        (one value column)
//   unix_s,timestamp_utc,cpu_usage_mhz,... (several named columns)
//   avg_cpu,avg_mem,...                    (no time column: row i is at i * row_interval)
// A time cell is Unix seconds (integer or decimal) or "YYYY-MM-DD HH:MM:SS"
// (also with 'T'), read as UTC. Value cells are numbers, NaN or +-Inf; an empty
// value cell is a gap (NaN). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::sim {

struct TraceOptions {
  std::string column;                 // the value column; "" picks one (see ParseTraceCsv)
  std::string time_column;            // "" picks unix_s, timestamp or time when present
  int64_t row_interval_ms = 300'000;  // for files without a time column
};

struct Trace {
  std::string value_column;
  std::string time_column;             // "" when rows are placed by row_interval_ms
  std::vector<int64_t> timestamps_ms;  // strictly increasing
  std::vector<double> values;          // may hold NaN (gaps)
  size_t repeated_times_dropped = 0;   // rows whose time equals the previous row's
};

// Parses CSV text with a header line. Without --column, the value column is
// the first present of value, requests, cpu_usage_mhz, avg_cpu, or the only
// column besides the time columns. Errors are ParseError or InvalidArgument
// naming `source` and the line (1-based): a missing column, a short row, a bad
// number or time, a time earlier than the previous row's, no data rows. A row
// repeating the previous row's time is dropped (the first one stands) and counted.
Result<Trace> ParseTraceCsv(std::string_view text, const TraceOptions& options, std::string_view source = "trace");

// Reads and parses a file; NotFound / IoError name the path.
Result<Trace> LoadTraceCsv(const std::string& path, const TraceOptions& options);

// "YYYY-MM-DD HH:MM:SS" (or with 'T', optional fractional seconds and a
// trailing 'Z') as UTC, or Unix seconds; false when it is neither.
bool ParseTraceTime(std::string_view text, int64_t* timestamp_ms);

}  // namespace prescale::sim
