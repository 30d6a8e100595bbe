#include "prescale/agent/node_collector.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "prescale/agent/parsers.h"

namespace prescale::agent {
namespace {
constexpr const char* kPaths[] = {"/stat",         "/meminfo",         "/loadavg",     "/net/dev",
                                  "/pressure/cpu", "/pressure/memory", "/pressure/io", "/partitions"};
}  // namespace

NodeCollector::NodeCollector(std::string proc_root, NodeStats* out, CgroupFileReader* reader)
    : proc_root_(std::move(proc_root)), out_(out), reader_(reader) {
  fds_.fill(TrackedCgroup::kUnopened);
  const long ticks = ::sysconf(_SC_CLK_TCK);
  if (ticks > 0) ticks_per_second_ = static_cast<double>(ticks);
}

NodeCollector::~NodeCollector() {
  for (int fd : fds_) {
    if (fd >= 0) ::close(fd);
  }
}

CgroupFileReader::Outcome NodeCollector::Read(File file, std::string_view* text) {
  int& fd = fds_[file];
  if (fd == TrackedCgroup::kMissing) return CgroupFileReader::Outcome::kMissing;
  if (fd < 0) {
    const std::string path = proc_root_ + kPaths[file];
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const bool missing = errno == ENOENT;
      fd = missing ? TrackedCgroup::kMissing : TrackedCgroup::kUnopened;
      return missing ? CgroupFileReader::Outcome::kMissing : CgroupFileReader::Outcome::kError;
    }
  }
  return reader_->ReadFd(fd, text);
}

uint64_t NodeCollector::Collect() {
  uint64_t errors = 0;
  NodeStats& n = *out_;
  std::string_view text;
  auto read = [&](File f) {
    const auto o = Read(f, &text);
    if (o == CgroupFileReader::Outcome::kError) ++errors;
    return o == CgroupFileReader::Outcome::kOk;
  };
  auto parsed = [&](bool ok) {
    if (!ok) ++errors;
    return ok;
  };
  n.cpus.clear();
  n.net.clear();
  n.has_stat = read(kStatFile) && parsed(ParseProcStat(text, ticks_per_second_, &n.cpus));
  n.has_meminfo = read(kMeminfoFile) && parsed(ParseMeminfo(text, &n.mem_total_bytes, &n.mem_available_bytes));
  n.has_loadavg = read(kLoadavgFile) && parsed(ParseLoadavg(text, &n.load1, &n.load5, &n.load15));
  n.has_net = read(kNetDevFile) && parsed(ParseNetDev(text, &n.net));
  n.block_devices.clear();
  if (read(kPartitionsFile)) parsed(ParsePartitions(text, &n.block_devices));
  n.pressure_present = 0;
  for (int i = 0; i < 3; ++i) {
    if (read(static_cast<File>(kPsiCpuFile + i)) && !text.empty() && parsed(ParsePressure(text, &n.pressure[i]))) {
      n.pressure_present |= 1u << i;
    }
  }
  return errors;
}

}  // namespace prescale::agent
