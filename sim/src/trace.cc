#include "prescale/sim/trace.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "prescale/base/numbers.h"

namespace prescale::sim {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool ParseFixedInt(std::string_view text, size_t pos, size_t len, int64_t* out) {
  if (pos + len > text.size()) return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + len; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    v = v * 10 + (text[i] - '0');
  }
  *out = v;
  return true;
}

bool ParseCivilTime(std::string_view t, int64_t* timestamp_ms) {
  int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (t.size() < 19 || t[4] != '-' || t[7] != '-' || (t[10] != ' ' && t[10] != 'T') || t[13] != ':' || t[16] != ':') {
    return false;
  }
  if (!ParseFixedInt(t, 0, 4, &y) || !ParseFixedInt(t, 5, 2, &mo) || !ParseFixedInt(t, 8, 2, &d) ||
      !ParseFixedInt(t, 11, 2, &h) || !ParseFixedInt(t, 14, 2, &mi) || !ParseFixedInt(t, 17, 2, &s)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return false;
  std::string_view rest = t.substr(19);
  if (rest.ends_with('Z')) rest.remove_suffix(1);
  double fraction = 0;
  if (!rest.empty()) {
    if (rest.front() != '.' || rest.size() < 2 || rest.size() > 10) return false;
    if (!ParseDouble("0" + std::string(rest), &fraction)) return false;
  }
  const int64_t seconds = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
  *timestamp_ms = seconds * 1000 + static_cast<int64_t>(std::llround(fraction * 1000));
  return true;
}

// Splits one CSV line on commas; cells are trimmed of spaces and of one pair of double quotes.
std::vector<std::string_view> SplitCells(std::string_view line) {
  std::vector<std::string_view> cells;
  while (true) {
    const size_t comma = line.find(',');
    std::string_view cell = line.substr(0, comma);
    while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\t')) cell.remove_prefix(1);
    while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t')) cell.remove_suffix(1);
    if (cell.size() >= 2 && cell.front() == '"' && cell.back() == '"') cell = cell.substr(1, cell.size() - 2);
    cells.push_back(cell);
    if (comma == std::string_view::npos) break;
    line.remove_prefix(comma + 1);
  }
  return cells;
}

int FindColumn(const std::vector<std::string_view>& header, std::string_view name) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::string JoinNames(const std::vector<std::string_view>& header) {
  std::string out;
  for (std::string_view h : header) out += (out.empty() ? "" : ", ") + std::string(h);
  return out;
}

struct Columns {
  int time = -1;
  int value = -1;
};

// Chooses the time and value columns from the header and the options.
Result<Columns> PickColumns(const std::vector<std::string_view>& header, const TraceOptions& options,
                            const std::string& where) {
  Columns c;
  if (!options.time_column.empty()) {
    c.time = FindColumn(header, options.time_column);
    if (c.time < 0) {
      return Status::InvalidArgument(where + ": no time column '" + options.time_column +
                                     "' (columns: " + JoinNames(header) + ")");
    }
  } else {
    for (std::string_view name : {"unix_s", "timestamp", "time"}) {
      if ((c.time = FindColumn(header, name)) >= 0) break;
    }
  }
  if (!options.column.empty()) {
    c.value = FindColumn(header, options.column);
    if (c.value < 0) {
      return Status::InvalidArgument(where + ": no column '" + options.column + "' (columns: " + JoinNames(header) +
                                     ")");
    }
    return c;
  }
  for (std::string_view name : {"value", "requests", "cpu_usage_mhz", "avg_cpu"}) {
    if ((c.value = FindColumn(header, name)) >= 0) return c;
  }
  std::vector<int> others;
  for (size_t i = 0; i < header.size(); ++i) {
    if (static_cast<int>(i) != c.time && header[i] != "timestamp_utc") others.push_back(static_cast<int>(i));
  }
  if (others.size() != 1) {
    return Status::InvalidArgument(where + ": several value columns; choose one with --column (" + JoinNames(header) +
                                   ")");
  }
  c.value = others[0];
  return c;
}

}  // namespace

bool ParseTraceTime(std::string_view text, int64_t* timestamp_ms) {
  if (ParseCivilTime(text, timestamp_ms)) return true;
  double seconds = 0;
  if (text.empty() || !ParseDouble(text, &seconds) || !std::isfinite(seconds)) return false;
  // Years 0..9999 in seconds: keeps the millisecond product far from overflow.
  if (seconds < -62'167'219'200.0 || seconds > 253'402'300'799.0) return false;
  *timestamp_ms = static_cast<int64_t>(std::llround(seconds * 1000));
  return true;
}

Result<Trace> ParseTraceCsv(std::string_view text, const TraceOptions& options, std::string_view source) {
  const std::string src(source);
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 byte order mark
  std::string_view rest = text;
  std::string_view line;
  size_t line_no = 0;
  std::vector<std::string_view> header;
  while (NextLine(&rest, &line)) {
    ++line_no;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    header = SplitCells(line);
    break;
  }
  if (header.empty()) return Status::ParseError(src + ": empty file, expected a header line");
  auto columns = PickColumns(header, options, src + " line " + std::to_string(line_no));
  if (!columns.ok()) return columns.status();
  if (columns->time < 0 && options.row_interval_ms <= 0) {
    return Status::InvalidArgument(src + ": no time column and no row interval");
  }
  Trace trace;
  trace.value_column = std::string(header[static_cast<size_t>(columns->value)]);
  if (columns->time >= 0) trace.time_column = std::string(header[static_cast<size_t>(columns->time)]);
  const size_t needed = static_cast<size_t>(std::max(columns->time, columns->value)) + 1;
  while (NextLine(&rest, &line)) {
    ++line_no;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    const std::string where = src + " line " + std::to_string(line_no);
    const std::vector<std::string_view> cells = SplitCells(line);
    if (cells.size() < needed) {
      return Status::ParseError(where + ": " + std::to_string(cells.size()) + " cells, expected " +
                                std::to_string(header.size()));
    }
    int64_t ts = static_cast<int64_t>(trace.values.size()) * options.row_interval_ms;
    if (columns->time >= 0) {
      const std::string_view cell = cells[static_cast<size_t>(columns->time)];
      if (!ParseTraceTime(cell, &ts)) {
        return Status::ParseError(where + ": bad time '" + std::string(cell) +
                                  "' (expected Unix seconds or YYYY-MM-DD HH:MM:SS)");
      }
    }
    if (!trace.timestamps_ms.empty() && ts < trace.timestamps_ms.back()) {
      return Status::ParseError(where + ": time goes backwards");
    }
    // Real exports repeat a time (NAB's clamp of a skipped DST hour writes 12
    // rows at 03:00): the first one stands, as in Prometheus' TSDB.
    if (!trace.timestamps_ms.empty() && ts == trace.timestamps_ms.back()) {
      ++trace.repeated_times_dropped;
      continue;
    }
    const std::string_view cell = cells[static_cast<size_t>(columns->value)];
    double v = std::nan("");
    // Empty cells and Python's "nan" are gaps, like NaN.
    if (!cell.empty() && cell != "nan" && !ParseDouble(cell, &v)) {
      return Status::ParseError(where + ": bad number '" + std::string(cell) + "' in column " + trace.value_column);
    }
    trace.timestamps_ms.push_back(ts);
    trace.values.push_back(v);
  }
  if (trace.values.empty()) return Status::ParseError(src + ": no data rows after the header");
  return trace;
}

Result<Trace> LoadTraceCsv(const std::string& path, const TraceOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open trace file " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Status::IoError("cannot read trace file " + path);
  return ParseTraceCsv(buffer.str(), options, path);
}

}  // namespace prescale::sim
