#include "prescale/metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "prescale/base/build_info.h"
#include "prescale/metrics/text_writer.h"

namespace prescale::metrics {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// /proc/self/stat's fields after "(comm)", which may hold spaces and parentheses:
// fields[0] is the state (field 3 of proc(5)).
std::vector<std::string> StatFields(const std::string& stat) {
  std::vector<std::string> fields;
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream in(stat.substr(close + 1));
  for (std::string f; in >> f;) fields.push_back(f);
  return fields;
}

// btime from /proc/stat: the boot time, Unix seconds (0 when unknown).
double BootTime(std::string_view proc) {
  std::istringstream in(ReadAll(std::string(proc) + "/stat"));
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("btime ")) return std::strtod(line.c_str() + 6, nullptr);
  }
  return 0;
}

void Scalar(TextWriter& w, const char* name, const char* help, MetricType type, double value) {
  w.Family(name, help, type);
  w.Sample(name, std::span<const LabelRef>(), value);
}

}  // namespace

void AppendProcessMetrics(std::string* out, std::string_view proc) {
  TextWriter w(out);
  const std::string self = std::string(proc) + "/self";
  const std::vector<std::string> f = StatFields(ReadAll(self + "/stat"));
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  // proc(5): utime 14, stime 15, starttime 22, vsize 23, rss 24 (fields[0] is field 3).
  if (f.size() > 21 && ticks > 0) {
    Scalar(w, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType::kCounter,
           (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) / ticks);
    const double boot = BootTime(proc);
    if (boot > 0) {
      Scalar(w, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
             MetricType::kGauge, boot + std::strtod(f[19].c_str(), nullptr) / ticks);
    }
    Scalar(w, "process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::kGauge,
           std::strtod(f[20].c_str(), nullptr));
    Scalar(w, "process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::kGauge,
           std::strtod(f[21].c_str(), nullptr) * static_cast<double>(::sysconf(_SC_PAGESIZE)));
  }
  if (DIR* dir = ::opendir((self + "/fd").c_str()); dir != nullptr) {
    double open = 0;
    while (const dirent* e = ::readdir(dir)) {
      if (e->d_name[0] != '.') ++open;
    }
    ::closedir(dir);
    Scalar(w, "process_open_fds", "Number of open file descriptors.", MetricType::kGauge, open - 1);  // less opendir's
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    Scalar(w, "process_max_fds", "Maximum number of open file descriptors.", MetricType::kGauge,
           static_cast<double>(limit.rlim_cur));
  }
}

void AppendBuildInfo(std::string* out) {
  const BuildInfo& b = GetBuildInfo();
  TextWriter w(out);
  w.Family("prescale_build_info",
           "A metric with a constant '1' value labeled by version, revision, branch, and compiler from which "
           "prescale was built.",
           MetricType::kGauge);
  w.Sample("prescale_build_info",
           {{"branch", b.branch}, {"compiler", b.compiler}, {"revision", b.revision}, {"version", b.version}}, 1);
}

}  // namespace prescale::metrics
