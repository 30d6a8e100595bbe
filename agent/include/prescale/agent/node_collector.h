// NodeCollector: node-level usage from /proc (CPU seconds by mode, memory,
// network per interface, load, pressure), with descriptors kept open.
#pragma once

#include <array>
#include <string>

#include "prescale/agent/cgroup_stats.h"
#include "prescale/agent/collector.h"

namespace prescale::agent {

class NodeCollector final : public Collector {
 public:
  NodeCollector(std::string proc_root, NodeStats* out, CgroupFileReader* reader);
  ~NodeCollector() override;
  std::string_view name() const override { return "node"; }
  uint64_t Collect() override;

 private:
  enum File {
    kStatFile,
    kMeminfoFile,
    kLoadavgFile,
    kNetDevFile,
    kPsiCpuFile,
    kPsiMemoryFile,
    kPsiIoFile,
    kPartitionsFile,
    kFileCount
  };
  // kOk with the text, kMissing when the file does not exist, kError otherwise.
  CgroupFileReader::Outcome Read(File file, std::string_view* text);

  std::string proc_root_;
  NodeStats* out_;
  CgroupFileReader* reader_;
  std::array<int, kFileCount> fds_{};
  double ticks_per_second_ = 100;
};

}  // namespace prescale::agent
