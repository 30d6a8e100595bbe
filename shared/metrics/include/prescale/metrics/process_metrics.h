// The series every Prometheus exporter has about its own process, with the
// client libraries' names and meanings: process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_start_time_seconds, process_open_fds, process_max_fds (read from
// /proc/self), and prescale_build_info{version,revision,branch,compiler} 1
// (the binary's GetBuildInfo()). A value that cannot be read is left out.
#pragma once

#include <string>
#include <string_view>

namespace prescale::metrics {

// `proc` is the procfs root ("/proc"; tests pass another).
void AppendProcessMetrics(std::string* out, std::string_view proc = "/proc");
void AppendBuildInfo(std::string* out);

}  // namespace prescale::metrics
