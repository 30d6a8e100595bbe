// Fuzzes every parser of cgroup and /proc files: the first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "prescale/agent/parsers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prescale::agent;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  uint64_t a = 0, b = 0;
  int64_t i = 0;
  double x = 0, y = 0, z = 0;
  std::vector<IoDeviceStats> io;
  std::vector<NetDeviceStats> net;
  std::vector<NodeCpuStats> cpus;
  std::vector<BlockDevice> devices;
  PressureStats psi;
  switch (data[0] % 13) {
    case 0: (void)ParseSingleU64(text, &a); break;
    case 1: (void)ParseSingleI64(text, &i); break;
    case 2: (void)ParseCpuMax(text, &a, &b); break;
    case 3: (void)ParseMaxOrU64(text, &a); break;
    case 4: (void)ForEachKeyValue(text, [&](std::string_view, uint64_t v) { a += v; }); break;
    case 5: (void)ParseBlkio(text, true, &io); break;
    case 6: (void)ParseIoStat(text, &io); break;
    case 7: (void)ParsePressure(text, &psi); break;
    case 8: (void)ParseNetDev(text, &net); break;
    case 9: (void)ParseProcStat(text, 100, &cpus); break;
    case 10: (void)ParseMeminfo(text, &a, &b); break;
    case 11: (void)ParseLoadavg(text, &x, &y, &z); break;
    case 12: (void)ParsePartitions(text, &devices); break;
  }
  return 0;
}
