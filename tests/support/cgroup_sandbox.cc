#include "tests/support/cgroup_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "tests/support/test_env.h"

namespace prescale::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPrefix = "prescale-test-";
// The v1 controllers prescale-agent reads.
constexpr const char* kV1Controllers[] = {"cpu", "cpuacct", "memory", "blkio", "pids"};
constexpr auto kCleanupTimeout = std::chrono::seconds(10);

bool IsFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string ErrnoText(int err) { return std::strerror(err); }

// The hierarchies the agent reads, v1 first (co-mounts such as cpu,cpuacct once), then v2.
std::vector<CgroupSandbox::Hierarchy> DetectHierarchies(const std::string& root) {
  std::vector<CgroupSandbox::Hierarchy> out;
  if (IsFile(root + "/cgroup.controllers")) {  // pure v2
    out.push_back({root, true});
    return out;
  }
  std::vector<std::string> resolved_seen;
  for (const char* controller : kV1Controllers) {
    const std::string dir = root + "/" + controller;
    char resolved[PATH_MAX];
    if (!IsFile(dir + "/cgroup.procs") || ::realpath(dir.c_str(), resolved) == nullptr) continue;
    if (std::find(resolved_seen.begin(), resolved_seen.end(), resolved) != resolved_seen.end()) continue;
    resolved_seen.emplace_back(resolved);
    out.push_back({dir, false});
  }
  if (IsFile(root + "/unified/cgroup.controllers")) out.push_back({root + "/unified", true});
  return out;
}

Status WriteFile(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + path + ": " + ErrnoText(errno));
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return Status::IoError("cannot write '" + text + "' to " + path + ": " + ErrnoText(err));
  }
  return Status::Ok();
}

std::vector<pid_t> ReadPids(const std::string& procs_file) {
  std::vector<pid_t> pids;
  std::istringstream in(ReadFileOrEmpty(procs_file));
  long pid = 0;
  while (in >> pid) {
    if (pid > 0) pids.push_back(static_cast<pid_t>(pid));
  }
  return pids;
}

// `dir` and every cgroup below it, deepest first.
std::vector<std::string> SubtreeDeepestFirst(const std::string& dir) {
  std::vector<std::string> dirs;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return dirs;
  dirs.push_back(dir);
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path().string());
  }
  // A child's path is longer than its parent's: sorting by length, longest first, is deepest first.
  std::stable_sort(dirs.begin(), dirs.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return dirs;
}

// Kills every process in `relative` and below in all hierarchies, waits until
// they are gone, then removes the cgroups deepest first.
Status RemoveTree(const std::vector<CgroupSandbox::Hierarchy>& hierarchies, const std::string& relative) {
  std::vector<std::string> dirs;
  for (const auto& h : hierarchies) {
    for (std::string& d : SubtreeDeepestFirst(h.dir + relative)) dirs.push_back(std::move(d));
  }
  const pid_t self = ::getpid();
  const bool emptied = PollUntil(
      [&] {
        bool empty = true;
        for (const std::string& d : dirs) {
          for (pid_t pid : ReadPids(d + "/cgroup.procs")) {
            if (pid == self) continue;  // never kill the test itself
            ::kill(pid, SIGKILL);
            empty = false;
          }
        }
        return empty;
      },
      kCleanupTimeout, std::chrono::milliseconds(10));
  std::string failed;
  for (const std::string& d : dirs) {
    // An exiting process can keep a cgroup busy for a moment after it left cgroup.procs.
    const bool removed =
        PollUntil([&] { return ::rmdir(d.c_str()) == 0 || errno == ENOENT || (errno != EBUSY && errno != EAGAIN); },
                  kCleanupTimeout, std::chrono::milliseconds(10));
    std::error_code ec;
    if (!removed || fs::exists(d, ec)) failed += (failed.empty() ? "" : ", ") + d;
  }
  if (!failed.empty()) {
    return Status::IoError("cannot remove cgroup(s) " + failed +
                           (emptied ? "" : " (processes survived SIGKILL for 10s)"));
  }
  return Status::Ok();
}

// Removes /prescale-test-<pid>-<n> subtrees whose creating process is gone
// (a test that crashed or was killed before its destructor ran).
void RemoveStaleSandboxes(const std::vector<CgroupSandbox::Hierarchy>& hierarchies) {
  std::vector<std::string> stale;
  for (const auto& h : hierarchies) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(h.dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (!name.starts_with(kPrefix) || !entry.is_directory(ec)) continue;
      const long pid = std::strtol(name.c_str() + std::strlen(kPrefix), nullptr, 10);
      if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)) {
        if (std::find(stale.begin(), stale.end(), name) == stale.end()) stale.push_back(name);
      }
    }
  }
  for (const std::string& name : stale) (void)RemoveTree(hierarchies, "/" + name);
}

// On cgroup v2, controllers reach a child only when its parent enables them.
void EnableV2Controllers(const std::string& dir) {
  std::istringstream available(ReadFileOrEmpty(dir + "/cgroup.controllers"));
  std::string controller;
  while (available >> controller) {
    if (controller == "cpu" || controller == "memory" || controller == "io" || controller == "pids") {
      (void)WriteFile(dir + "/cgroup.subtree_control", "+" + controller);  // best effort
    }
  }
}

std::string EscapeRegex(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::strchr(R"(\^$.|?*+()[]{})", c) != nullptr) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string CgroupSandbox::SkipReason(const std::string& cgroup_root) {
  if (::geteuid() != 0) return "creating cgroups needs root (euid " + std::to_string(::geteuid()) + ")";
  const auto hierarchies = DetectHierarchies(cgroup_root);
  if (hierarchies.empty()) {
    return "no cgroup v1 controller (cpu, cpuacct, memory, blkio, pids) or cgroup v2 hierarchy under " + cgroup_root;
  }
  for (const auto& h : hierarchies) {
    const std::string probe = h.dir + "/" + kPrefix + std::to_string(::getpid()) + "-probe";
    if (::mkdir(probe.c_str(), 0755) != 0 && errno != EEXIST) {
      return "cannot create a cgroup in " + h.dir + ": " + ErrnoText(errno);
    }
    ::rmdir(probe.c_str());
  }
  return "";
}

Result<std::unique_ptr<CgroupSandbox>> CgroupSandbox::Create(const std::string& cgroup_root) {
  static std::atomic<int> counter{0};
  auto hierarchies = DetectHierarchies(cgroup_root);
  if (hierarchies.empty()) return Status::NotFound("no cgroup hierarchy under " + cgroup_root);
  RemoveStaleSandboxes(hierarchies);
  const std::string root = "/" + std::string(kPrefix) + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  std::unique_ptr<CgroupSandbox> sandbox(new CgroupSandbox(std::move(hierarchies), root));
  for (const auto& h : sandbox->hierarchies_) {
    const std::string dir = h.dir + root;
    if (::mkdir(dir.c_str(), 0755) != 0) {
      return Status::IoError("cannot create cgroup " + dir + ": " + ErrnoText(errno));  // the destructor cleans up
    }
    if (h.v2) EnableV2Controllers(dir);
  }
  return sandbox;
}

CgroupSandbox::~CgroupSandbox() {
  const Status s = RemoveTree(hierarchies_, root_);
  if (!s.ok()) std::fprintf(stderr, "CgroupSandbox: %s\n", s.ToString().c_str());
}

std::string CgroupSandbox::MappingPattern() const { return "^" + EscapeRegex(root_) + "/([^/]+)/([^/]+)$"; }

Result<std::string> CgroupSandbox::MakeCgroup(const std::string& relative) {
  if (relative.empty() || relative.front() == '/' || relative.find("..") != std::string::npos) {
    return Status::InvalidArgument("cgroup '" + relative + "': expected a relative path such as acme/web");
  }
  const std::string path = root_ + "/" + relative;
  for (const auto& h : hierarchies_) {
    // Create level by level so that on v2 each new parent enables controllers for its children.
    std::string dir = h.dir + root_;
    std::istringstream parts(relative);
    std::string part;
    while (std::getline(parts, part, '/')) {
      if (part.empty()) continue;
      dir += "/" + part;
      if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        return Status::IoError("cannot create cgroup " + dir + ": " + ErrnoText(errno));
      }
      if (h.v2 && dir != h.dir + path) EnableV2Controllers(dir);
    }
  }
  return path;
}

Status CgroupSandbox::RemoveCgroup(const std::string& path) {
  if (!path.starts_with(root_ + "/")) {
    return Status::InvalidArgument("cgroup '" + path + "' is not inside the sandbox " + root_);
  }
  return RemoveTree(hierarchies_, path);
}

std::vector<std::string> CgroupSandbox::ProcsFiles(const std::string& path) const {
  std::vector<std::string> files;
  for (const auto& h : hierarchies_) files.push_back(h.dir + path + "/cgroup.procs");
  return files;
}

Status CgroupSandbox::SetCpuQuota(const std::string& path, int64_t quota_us, int64_t period_us) {
  for (const auto& h : hierarchies_) {
    const std::string dir = h.dir + path;
    if (!h.v2 && IsFile(dir + "/cpu.cfs_quota_us")) {
      // The period first: a quota is checked against the current period.
      PRESCALE_RETURN_IF_ERROR(WriteFile(dir + "/cpu.cfs_period_us", std::to_string(period_us)));
      return WriteFile(dir + "/cpu.cfs_quota_us", std::to_string(quota_us < 0 ? -1 : quota_us));
    }
  }
  for (const auto& h : hierarchies_) {
    const std::string dir = h.dir + path;
    if (h.v2 && IsFile(dir + "/cpu.max")) {
      return WriteFile(dir + "/cpu.max", (quota_us < 0 ? std::string("max") : std::to_string(quota_us)) + " " +
                                             std::to_string(period_us));
    }
  }
  return Status::NotFound("no cpu controller (cpu.cfs_quota_us or cpu.max) for cgroup " + path);
}

}  // namespace prescale::testing
