#include "prescale/agent/parsers.h"

#include <algorithm>
#include <cstring>

namespace prescale::agent {
namespace {

std::string_view TrimNewline(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  return text;
}

bool ParseDevice(std::string_view token, uint32_t* major, uint32_t* minor) {
  const size_t colon = token.find(':');
  if (colon == std::string_view::npos) return false;
  uint64_t ma = 0, mi = 0;
  if (!ParseU64(token.substr(0, colon), &ma) || !ParseU64(token.substr(colon + 1), &mi)) return false;
  if (ma > UINT32_MAX || mi > UINT32_MAX) return false;
  *major = static_cast<uint32_t>(ma);
  *minor = static_cast<uint32_t>(mi);
  return true;
}

IoDeviceStats* FindOrAddDevice(std::vector<IoDeviceStats>* out, uint32_t major, uint32_t minor) {
  for (IoDeviceStats& d : *out) {
    if (d.major == major && d.minor == minor) return &d;
  }
  out->push_back(IoDeviceStats{major, minor, 0, 0, 0, 0});
  return &out->back();
}

}  // namespace

bool ParseSingleU64(std::string_view text, uint64_t* out) { return ParseU64(TrimNewline(text), out); }

bool ParseSingleI64(std::string_view text, int64_t* out) { return ParseI64(TrimNewline(text), out); }

bool ParseCpuMax(std::string_view text, uint64_t* quota_us, uint64_t* period_us) {
  std::string_view rest = TrimNewline(text);
  std::string_view quota = NextToken(&rest);
  std::string_view period = NextToken(&rest);
  if (!NextToken(&rest).empty() || !ParseU64(period, period_us)) return false;
  if (quota == "max") {
    *quota_us = 0;
    return true;
  }
  return ParseU64(quota, quota_us);
}

bool ParseMaxOrU64(std::string_view text, uint64_t* value) {
  std::string_view t = TrimNewline(text);
  if (t == "max") {
    *value = 0;
    return true;
  }
  return ParseU64(t, value);
}

bool ParseBlkio(std::string_view text, bool bytes, std::vector<IoDeviceStats>* out) {
  std::string_view rest = text;
  std::string_view line;
  while (NextLine(&rest, &line)) {
    std::string_view dev = NextToken(&line);
    if (dev.empty() || dev == "Total") continue;
    std::string_view op = NextToken(&line);
    std::string_view value = NextToken(&line);
    uint32_t major = 0, minor = 0;
    uint64_t v = 0;
    if (!ParseDevice(dev, &major, &minor) || !ParseU64(value, &v)) return false;
    if (op != "Read" && op != "Write") continue;  // Sync, Async, Discard, Total
    IoDeviceStats* d = FindOrAddDevice(out, major, minor);
    if (op == "Read") {
      (bytes ? d->read_bytes : d->reads) = v;
    } else {
      (bytes ? d->write_bytes : d->writes) = v;
    }
  }
  return true;
}

bool ParseIoStat(std::string_view text, std::vector<IoDeviceStats>* out) {
  std::string_view rest = text;
  std::string_view line;
  while (NextLine(&rest, &line)) {
    std::string_view dev = NextToken(&line);
    if (dev.empty()) continue;
    uint32_t major = 0, minor = 0;
    if (!ParseDevice(dev, &major, &minor)) return false;
    IoDeviceStats* d = FindOrAddDevice(out, major, minor);
    for (std::string_view kv = NextToken(&line); !kv.empty(); kv = NextToken(&line)) {
      const size_t eq = kv.find('=');
      if (eq == std::string_view::npos) return false;
      std::string_view key = kv.substr(0, eq);
      uint64_t v = 0;
      if (!ParseU64(kv.substr(eq + 1), &v)) return false;
      if (key == "rbytes")
        d->read_bytes = v;
      else if (key == "wbytes")
        d->write_bytes = v;
      else if (key == "rios")
        d->reads = v;
      else if (key == "wios")
        d->writes = v;
    }
  }
  return true;
}

bool ParsePressure(std::string_view text, PressureStats* out) {
  std::string_view rest = text;
  std::string_view line;
  bool some = false;
  out->has_full = false;
  while (NextLine(&rest, &line)) {
    std::string_view kind = NextToken(&line);
    if (kind.empty()) continue;
    if (kind != "some" && kind != "full") return false;
    bool found_total = false;
    for (std::string_view kv = NextToken(&line); !kv.empty(); kv = NextToken(&line)) {
      if (!kv.starts_with("total=")) continue;
      uint64_t v = 0;
      if (!ParseU64(kv.substr(6), &v)) return false;
      found_total = true;
      if (kind == "some") {
        out->some_us = v;
        some = true;
      } else {
        out->full_us = v;
        out->has_full = true;
      }
    }
    if (!found_total) return false;
  }
  return some;
}

bool ParseNetDev(std::string_view text, std::vector<NetDeviceStats>* out) {
  std::string_view rest = text;
  std::string_view line;
  int line_no = 0;
  while (NextLine(&rest, &line)) {
    if (++line_no <= 2) continue;  // two header lines
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    if (name.empty() || name.size() >= NetDeviceStats{}.name.size()) return false;
    std::string_view fields = line.substr(colon + 1);
    uint64_t v[16];
    for (uint64_t& x : v) {
      if (!ParseU64(NextToken(&fields), &x)) return false;
    }
    if (name == "lo") continue;
    NetDeviceStats d;
    std::memcpy(d.name.data(), name.data(), name.size());
    d.rx_bytes = v[0];
    d.rx_packets = v[1];
    d.rx_errors = v[2];
    d.rx_dropped = v[3];
    d.tx_bytes = v[8];
    d.tx_packets = v[9];
    d.tx_errors = v[10];
    d.tx_dropped = v[11];
    out->push_back(d);
  }
  return line_no >= 2;
}

bool ParseProcStat(std::string_view text, double ticks_per_second, std::vector<NodeCpuStats>* out) {
  std::string_view rest = text;
  std::string_view line;
  while (NextLine(&rest, &line)) {
    if (!line.starts_with("cpu") || line.size() < 4 || line[3] == ' ') continue;  // per-CPU lines only
    std::string_view name = NextToken(&line);
    uint64_t cpu = 0;
    if (!ParseU64(name.substr(3), &cpu) || cpu > UINT32_MAX) return false;
    NodeCpuStats s;
    s.cpu = static_cast<uint32_t>(cpu);
    for (double& seconds : s.seconds) {
      uint64_t ticks = 0;
      std::string_view token = NextToken(&line);
      if (token.empty()) break;  // old kernels print fewer columns
      if (!ParseU64(token, &ticks)) return false;
      seconds = static_cast<double>(ticks) / ticks_per_second;
    }
    out->push_back(s);
  }
  return !out->empty();
}

bool ParseMeminfo(std::string_view text, uint64_t* total_bytes, uint64_t* available_bytes) {
  std::string_view rest = text;
  std::string_view line;
  int found = 0;
  while (NextLine(&rest, &line) && found < 2) {
    std::string_view key = NextToken(&line);
    uint64_t* target = key == "MemTotal:" ? total_bytes : (key == "MemAvailable:" ? available_bytes : nullptr);
    if (target == nullptr) continue;
    uint64_t kib = 0;
    if (!ParseU64(NextToken(&line), &kib) || kib > UINT64_MAX / 1024) return false;
    *target = kib * 1024;
    ++found;
  }
  return found == 2;
}

bool ParseLoadavg(std::string_view text, double* load1, double* load5, double* load15) {
  std::string_view rest = text;
  return ParseDouble(NextToken(&rest), load1) && ParseDouble(NextToken(&rest), load5) &&
         ParseDouble(NextToken(&rest), load15);
}

bool ParsePartitions(std::string_view text, std::vector<BlockDevice>* out) {
  std::string_view rest = text;
  std::string_view line;
  bool header = true;
  while (NextLine(&rest, &line)) {
    std::string_view major = NextToken(&line);
    if (major.empty()) continue;
    if (header && major == "major") {
      header = false;
      continue;
    }
    std::string_view minor = NextToken(&line);
    NextToken(&line);  // #blocks
    std::string_view name = NextToken(&line);
    BlockDevice d;
    uint64_t ma = 0, mi = 0;
    if (!ParseU64(major, &ma) || !ParseU64(minor, &mi) || ma > UINT32_MAX || mi > UINT32_MAX || name.empty() ||
        name.size() >= d.name.size()) {
      return false;
    }
    d.major = static_cast<uint32_t>(ma);
    d.minor = static_cast<uint32_t>(mi);
    std::memcpy(d.name.data(), name.data(), name.size());
    out->push_back(d);
  }
  return true;
}

uint64_t CpuWeightToShares(uint64_t weight) {
  if (weight == 0) return 0;
  weight = std::min<uint64_t>(weight, 10000);
  return 2 + ((weight - 1) * 262142) / 9999;
}

}  // namespace prescale::agent
