#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "prescale/agent/collector.h"

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

// getdents64 on descriptors relative to the parent keeps a walk to one open,
// a few getdents and one close per directory, with no allocation.
bool CgroupWalker::WalkDir(int parent_fd, size_t depth, void* ctx, void (*cb)(void*, std::string_view)) {
  const int fd = parent_fd < 0
                     ? ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                     : ::openat(parent_fd, path_.c_str() + path_.rfind('/') + 1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;  // vanished between listing and opening: skip it
  cb(ctx, path_.empty() ? std::string_view("/") : std::string_view(path_));
  if (buffers_.size() <= depth) buffers_.emplace_back(32 << 10);
  if (depth < kMaxDepth) {
    // The buffer's storage stays put when deeper levels grow buffers_.
    char* buf = buffers_[depth].data();
    const size_t buf_size = buffers_[depth].size();
    while (true) {
      const long n = ::syscall(SYS_getdents64, fd, buf, buf_size);
      if (n <= 0) break;
      for (long off = 0; off < n;) {
        const auto* d = reinterpret_cast<const LinuxDirent64*>(buf + off);
        off += d->d_reclen;
        if (d->d_type != DT_DIR || d->d_name[0] == '.') continue;
        const size_t saved = path_.size();
        path_ += '/';
        path_ += d->d_name;
        WalkDir(fd, depth + 1, ctx, cb);
        path_.resize(saved);
      }
    }
  }
  ::close(fd);
  return true;
}

}  // namespace prescale::agent
