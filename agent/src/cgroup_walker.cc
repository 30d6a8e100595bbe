#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "prescale/agent/collector.h"
#include "prescale/base/log.h"

namespace prescale::agent {
namespace {

constexpr size_t kMaxDepth = 32;

struct LinuxDirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];  // NUL-terminated, d_reclen covers its real length
};

}  // namespace

CgroupTreeWatch::CgroupTreeWatch() : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
  if (fd_ < 0) {
    Log(LogLevel::kWarning, std::string("cgroup trees: no inotify instance (") + std::strerror(errno) +
                                "): they are walked on every discovery");
  }
}

CgroupTreeWatch::~CgroupTreeWatch() {
  if (fd_ >= 0) ::close(fd_);
}

void CgroupTreeWatch::Add(const char* dir) {
  if (!complete()) return;
  if (::inotify_add_watch(fd_, dir, IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR) >= 0) return;
  if (errno == ENOSPC) {
    full_ = true;
    Log(LogLevel::kWarning,
        "cgroup trees: fs.inotify.max_user_watches reached; the trees are walked on every discovery instead");
  }
  // Other errors: the directory went between listing and watching, which its parent's watch reports.
}

bool CgroupTreeWatch::Changed() {
  if (fd_ < 0) return false;
  alignas(inotify_event) char buf[4096];
  bool changed = false;
  while (true) {
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) break;  // EAGAIN: drained
    for (ssize_t off = 0; off < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      // Directories only (files come with their cgroup); IN_IGNORED alone: a watched directory
      // went, which its parent's IN_DELETE already says.
      const bool dir_event =
          (e->mask & IN_ISDIR) != 0 && (e->mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)) != 0;
      if (dir_event || (e->mask & IN_Q_OVERFLOW) != 0) changed = true;
    }
  }
  return changed;
}

void CgroupWalker::WatchPath() {
  full_path_.assign(root_);
  full_path_ += path_;
  watch_->Add(full_path_.c_str());
}

// One getdents buffer per depth, shared by every walker of the (single)
// collection thread; storage stays put when deeper levels add buffers.
static std::vector<std::unique_ptr<char[]>>& DepthBuffers() {
  thread_local std::vector<std::unique_ptr<char[]>> buffers;
  return buffers;
}
constexpr size_t kBufferSize = 16 << 10;

// getdents64 on descriptors relative to the parent keeps a walk to one open,
// a few getdents and one close per inner directory, with no allocation. A
// directory whose link count is 2 has no subdirectories (cgroupfs and tmpfs
// count 2 + subdirectories), so leaves, most cgroups, cost one fstatat.
bool CgroupWalker::WalkDir(int parent_fd, size_t depth, void* ctx, void (*cb)(void*, std::string_view)) {
  const int fd = parent_fd < 0
                     ? ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                     : ::openat(parent_fd, path_.c_str() + path_.rfind('/') + 1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;                             // vanished between listing and opening: skip it
  if (watch_ != nullptr && parent_fd < 0) WatchPath();  // the root; subdirectories are watched below
  cb(ctx, path_.empty() ? std::string_view("/") : std::string_view(path_));
  auto& buffers = DepthBuffers();
  if (buffers.size() <= depth) buffers.push_back(std::make_unique<char[]>(kBufferSize));
  char* buf = buffers[depth].get();
  while (depth < kMaxDepth) {
    const long n = ::syscall(SYS_getdents64, fd, buf, kBufferSize);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      const auto* d = reinterpret_cast<const LinuxDirent64*>(buf + off);
      off += d->d_reclen;
      if (d->d_type != DT_DIR || d->d_name[0] == '.') continue;
      const size_t saved = path_.size();
      path_ += '/';
      path_ += d->d_name;
      // Watched before it is looked at: a subdirectory created from here on is an event.
      if (watch_ != nullptr) WatchPath();
      struct stat st {};
      if (::fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (st.st_nlink == 2) {
          cb(ctx, path_);
        } else {
          WalkDir(fd, depth + 1, ctx, cb);
        }
      }
      path_.resize(saved);
    }
  }
  ::close(fd);
  return true;
}

}  // namespace prescale::agent
