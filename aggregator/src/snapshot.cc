#include "prescale/aggregator/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "prescale/remote_write/remote_write.h"

namespace prescale::aggregator {
namespace {

Status Errno(const std::string& what, const std::string& path) {
  return Status::IoError(what + " " + path + ": " + std::strerror(errno));
}

Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

constexpr std::string_view kMagic = "prescale-snapshot-1\n";

std::string SnapshotPath(const std::string& data_dir) { return data_dir + "/series.snapshot"; }

Status WriteChunk(int fd, const remote_write::WriteRequest& request, remote_write::Encoder* encoder, std::string* chunk,
                  const std::string& path, SnapshotInfo* info) {
  info->series += request.timeseries.size();
  for (const auto& ts : request.timeseries) info->samples += ts.samples.size();
  encoder->Encode(request, chunk);
  char length[8];
  uint64_t n = chunk->size();
  for (char& c : length) {
    c = static_cast<char>(n & 0xff);
    n >>= 8;
  }
  info->bytes += sizeof length + chunk->size();
  return WriteAll(fd, std::string(length, sizeof length) + *chunk, path);
}

bool IsRollup(const remote_write::TimeSeries& ts) {
  for (const auto& l : ts.labels) {
    if (l.name == "__name__") return l.value.starts_with(DemandRollups::kSnapshotPrefix);
  }
  return false;
}

Result<SnapshotInfo> WriteSnapshot(const SeriesStore& store, const DemandRollups* demand, const std::string& data_dir) {
  const std::string path = SnapshotPath(data_dir);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", tmp);
  SnapshotInfo info;
  Status s = WriteAll(fd, std::string(kMagic), tmp);
  info.bytes = kMagic.size();
  remote_write::Encoder encoder;
  std::string chunk;
  for (size_t shard = 0; s.ok() && shard < SeriesStore::shard_count(); ++shard) {
    s = WriteChunk(fd, store.CopyShard(shard), &encoder, &chunk, tmp, &info);
  }
  if (s.ok() && demand != nullptr) {
    remote_write::WriteRequest rollups;
    rollups.timeseries = demand->Export();
    s = WriteChunk(fd, rollups, &encoder, &chunk, tmp, &info);
  }
  if (s.ok() && ::fsync(fd) != 0) s = Errno("cannot fsync", tmp);
  ::close(fd);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("cannot rename onto", path);
  // The rename itself is durable once the directory is synced.
  const int dir = ::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return info;
}

Result<SnapshotInfo> LoadSnapshot(SeriesStore* store, DemandRollups* demand, const std::string& data_dir) {
  const std::string path = SnapshotPath(data_dir);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return SnapshotInfo{};
    return Errno("cannot open", path);
  }
  std::string body;
  char buf[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    body.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  auto corrupt = [&](const std::string& why) -> Result<SnapshotInfo> {
    const std::string aside = path + ".corrupt";
    ::rename(path.c_str(), aside.c_str());
    return Status::ParseError("snapshot " + path + ": " + why + "; moved to " + aside + ", starting empty");
  };
  if (!std::string_view(body).starts_with(kMagic)) return corrupt("not a prescale snapshot");
  remote_write::DecodeLimits limits;
  limits.max_compressed_bytes = std::numeric_limits<size_t>::max();
  limits.max_decompressed_bytes = std::numeric_limits<size_t>::max();
  // Decode every chunk before storing any, so a corrupt file loads nothing.
  std::vector<remote_write::WriteRequest> chunks;
  for (size_t pos = kMagic.size(); pos < body.size();) {
    if (body.size() - pos < 8) return corrupt("truncated chunk header at byte " + std::to_string(pos));
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(body[pos + static_cast<size_t>(i)]);
    pos += 8;
    if (n > body.size() - pos) return corrupt("truncated chunk at byte " + std::to_string(pos));
    auto request = remote_write::Decode(std::string_view(body).substr(pos, n), limits);
    if (!request.ok()) return corrupt(request.status().message());
    chunks.push_back(std::move(request).value());
    pos += n;
  }
  SnapshotInfo info;
  info.bytes = body.size();
  for (auto& chunk : chunks) {
    info.series += chunk.timeseries.size();
    for (const auto& ts : chunk.timeseries) info.samples += ts.samples.size();
    // Rollups (the last chunk) go back to the demand rollups, raw series to the store.
    auto rollups = std::stable_partition(chunk.timeseries.begin(), chunk.timeseries.end(), IsRollup);
    if (demand != nullptr) {
      for (auto it = chunk.timeseries.begin(); it != rollups; ++it) demand->Restore(*it);
    }
    chunk.timeseries.erase(chunk.timeseries.begin(), rollups);
    AppendStats stats;
    PRESCALE_RETURN_IF_ERROR(store->Append(chunk.timeseries, &stats, /*restoring=*/true));
  }
  return info;
}

}  // namespace prescale::aggregator
