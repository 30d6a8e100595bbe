#include "prescale/agent/cpu_throttler.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "prescale/base/numbers.h"

namespace prescale::agent {
namespace {

constexpr int64_t kMinQuotaUs = 1000;  // the kernel's floor for a CFS quota

Result<std::string> ReadText(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound(path + ": " + std::strerror(errno));
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  const int err = errno;
  ::close(fd);
  if (n < 0) return Status::IoError(path + ": " + std::strerror(err));
  std::string text(buf, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

Status WriteText(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return Status::IoError(path + ": " + std::strerror(errno));
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size()))
    return Status::IoError(path + ": cannot write '" + text + "': " + std::strerror(err));
  return Status::Ok();
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The CFS period of the cgroup, in microseconds.
Result<int64_t> PeriodUs(const std::string& dir, bool v2) {
  auto text = ReadText(dir + (v2 ? "/cpu.max" : "/cpu.cfs_period_us"));
  if (!text.ok()) return text.status();
  std::string_view field = *text;
  if (v2) field = field.substr(field.find(' ') == std::string_view::npos ? field.size() : field.find(' ') + 1);
  int64_t period = 0;
  if (!ParseI64(field, &period) || period <= 0) {
    return Status::ParseError(dir + (v2 ? "/cpu.max" : "/cpu.cfs_period_us") + ": no period in '" + *text + "'");
  }
  return period;
}

// v1 only: the kernel refuses a parent's quota below a child's (as a share of
// each one's period). Lowers every descendant whose quota is above `cores`
// to it, deepest first, recording each changed file's original (outermost
// first, the order they go back in) unless `kept` has it already.
Status LowerDescendants(const std::string& dir, double cores, std::vector<std::pair<std::string, std::string>>* kept) {
  std::vector<std::string> stack = {dir};
  std::vector<std::string> descendants;  // outermost first
  while (!stack.empty()) {
    const std::string d = stack.back();
    stack.pop_back();
    DIR* handle = ::opendir(d.c_str());
    if (handle == nullptr) continue;
    while (const dirent* e = ::readdir(handle)) {
      if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
      const std::string child = d + "/" + e->d_name;
      descendants.push_back(child);
      stack.push_back(child);
    }
    ::closedir(handle);
  }
  for (auto it = descendants.rbegin(); it != descendants.rend(); ++it) {
    const std::string file = *it + "/cpu.cfs_quota_us";
    auto text = ReadText(file);
    auto period = PeriodUs(*it, false);
    int64_t quota = 0;
    if (!text.ok() || !period.ok() || !ParseI64(*text, &quota) || quota < 0) continue;  // gone, or unlimited
    const auto limit = std::max(kMinQuotaUs, static_cast<int64_t>(std::floor(cores * static_cast<double>(*period))));
    if (quota <= limit) continue;
    bool known = false;
    for (const auto& [f, original] : *kept) known = known || f == file;
    PRESCALE_RETURN_IF_ERROR(WriteText(file, std::to_string(limit)));
    if (!known) kept->emplace_back(file, *text);
  }
  // Outermost first, so that restoring never puts a child above its parent.
  std::stable_sort(kept->begin(), kept->end(),
                   [](const auto& a, const auto& b) { return a.first.size() < b.first.size(); });
  return Status::Ok();
}

}  // namespace

CpuThrottler::~CpuThrottler() { ReleaseAll(); }

Status CpuThrottler::Apply(const std::string& dir, double cores, std::chrono::milliseconds lease) {
  if (!(cores > 0) || !std::isfinite(cores)) return Status::InvalidArgument(dir + ": a CPU cap must be > 0 cores");
  auto it = caps_.find(dir);
  const bool v2 = it != caps_.end() ? it->second.v2 : Exists(dir + "/cpu.max");
  const std::string file = dir + (v2 ? "/cpu.max" : "/cpu.cfs_quota_us");
  if (!v2 && !Exists(file)) return Status::NotFound(dir + ": neither cpu.max nor cpu.cfs_quota_us (no CPU controller)");
  auto period = PeriodUs(dir, v2);
  if (!period.ok()) return period.status();
  const auto quota = std::max(kMinQuotaUs, static_cast<int64_t>(std::llround(cores * static_cast<double>(*period))));
  const bool created = it == caps_.end();
  if (created) {
    auto original = ReadText(file);
    if (!original.ok()) return original.status();
    it = caps_.emplace(dir, Cap{dir, cores, v2, *original, {}, {}}).first;
  }
  Status written = Status::Ok();
  if (!v2) written = LowerDescendants(dir, cores, &it->second.descendants);
  if (written.ok()) {
    written = WriteText(file, v2 ? std::to_string(quota) + " " + std::to_string(*period) : std::to_string(quota));
  }
  if (!written.ok()) {
    // Not capped: nothing is left to expire or count; what was lowered goes back.
    if (created) (void)Release(dir);
    return written;
  }
  it->second.cores = cores;
  it->second.lease_end = clock_.Monotonic() + lease;
  return Status::Ok();
}

Status CpuThrottler::Release(const std::string& dir) {
  auto it = caps_.find(dir);
  if (it == caps_.end()) return Status::NotFound(dir + ": not capped");
  const Cap cap = std::move(it->second);
  caps_.erase(it);  // `dir` may be the erased key's own string: only `cap` is used below
  // v2's original "max 100000" (or "QUOTA PERIOD") goes back as it was; v1's
  // quota alone, then its descendants' (outermost first).
  Status status = WriteText(cap.dir + (cap.v2 ? "/cpu.max" : "/cpu.cfs_quota_us"), cap.original);
  for (const auto& [file, original] : cap.descendants) {
    if (Status s = WriteText(file, original); !s.ok() && status.ok() && Exists(file)) status = s;
  }
  return status;
}

size_t CpuThrottler::ExpireLeases() {
  const auto now = clock_.Monotonic();
  std::vector<std::string> due;
  for (const auto& [dir, cap] : caps_) {
    if (now >= cap.lease_end) due.push_back(dir);
  }
  for (const std::string& dir : due) (void)Release(dir);
  return due.size();
}

void CpuThrottler::ReleaseAll() {
  while (!caps_.empty()) {
    const std::string dir = caps_.begin()->first;  // a copy: Release erases the key
    (void)Release(dir);
  }
}

std::vector<CpuThrottler::Cap> CpuThrottler::caps() const {
  std::vector<Cap> out;
  for (const auto& [dir, cap] : caps_) out.push_back(cap);
  return out;
}

}  // namespace prescale::agent
