#include "prescale/aggregator/history/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>
#include <algorithm>

#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "prescale/remote_write/remote_write.h"

namespace prescale::aggregator {
namespace {

// A full disk (or quota) is ResourceExhausted, so that the caller can tell it
// from other I/O errors: it passes once space is freed.
Status Errno(const std::string& what, const std::string& path) {
  const int error = errno;
  std::string message = what + " " + path + ": " + std::strerror(error);
  if (error == ENOSPC || error == EDQUOT) return Status::ResourceExhausted(std::move(message));
  return Status::IoError(std::move(message));
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

constexpr std::string_view kMagicV1 = "prescale-snapshot-1\n";  // remote-write chunks (read only)
constexpr std::string_view kMagic = "prescale-snapshot-2\n";

std::string SnapshotPath(const std::string& data_dir) { return data_dir + "/series.snapshot"; }

uint32_t Crc32(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  return static_cast<uint32_t>(crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

// [u64 length][u32 CRC-32 of the payload][payload], little-endian.
Status WriteFramed(int fd, const std::string& payload, const std::string& path, SnapshotInfo* info) {
  std::string header(12, '\0');
  uint64_t n = payload.size();
  for (size_t i = 0; i < 8; ++i, n >>= 8) header[i] = static_cast<char>(n & 0xff);
  uint32_t crc = Crc32(payload);
  for (size_t i = 8; i < 12; ++i, crc >>= 8) header[i] = static_cast<char>(crc & 0xff);
  info->bytes += header.size() + payload.size();
  PRESCALE_RETURN_IF_ERROR(WriteAll(fd, header, path));
  return WriteAll(fd, payload, path);
}

// Renames `path` to <path>.corrupt, or .corrupt.1, .2, ... when taken: an
// earlier corrupt snapshot set aside is never overwritten.
Status MoveAside(const std::string& path, std::string* aside) {
  for (int n = 0; n < 1000; ++n) {
    *aside = path + ".corrupt" + (n == 0 ? "" : "." + std::to_string(n));
    if (::renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, aside->c_str(), RENAME_NOREPLACE) == 0) return Status::Ok();
    if (errno != EEXIST) return Errno("cannot move it aside to", *aside);
  }
  return Status::IoError("cannot move it aside: " + path + ".corrupt.1 to .999 exist");
}

uint64_t ReadLittleEndian(std::string_view bytes) {
  uint64_t n = 0;
  for (size_t i = bytes.size(); i-- > 0;) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  return n;
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
  std::string payload;
  for (size_t shard = 0; s.ok() && shard < SeriesStore::shard_count(); ++shard) {
    payload.clear();
    store.SerializeShard(shard, &payload, &info.samples);
    s = WriteFramed(fd, payload, tmp, &info);
  }
  info.series = store.active_series();
  if (s.ok() && demand != nullptr) {
    remote_write::WriteRequest rollups;
    rollups.timeseries = demand->Export();
    remote_write::Encoder encoder;
    encoder.Encode(rollups, &payload);
    s = WriteFramed(fd, payload, tmp, &info);
  }
  if (s.ok() && ::fsync(fd) != 0) s = Errno("cannot fsync", tmp);
  ::close(fd);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    s = Errno("cannot rename onto", path);
    ::unlink(tmp.c_str());
    return s;
  }
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
    std::string aside;
    if (Status moved = MoveAside(path, &aside); !moved.ok()) {
      return Status::IoError("snapshot " + path + ": " + why + "; " + moved.message());
    }
    return Status::ParseError("snapshot " + path + ": " + why + "; moved to " + aside + ", starting empty");
  };
  if (std::string_view(body).starts_with(kMagicV1)) return corrupt("written by an older prescale (format 1)");
  if (!std::string_view(body).starts_with(kMagic)) return corrupt("not a prescale snapshot");
  // Check every frame's length and checksum before restoring any.
  std::vector<std::string_view> frames;
  for (size_t pos = kMagic.size(); pos < body.size();) {
    if (body.size() - pos < 12) return corrupt("truncated frame header at byte " + std::to_string(pos));
    const uint64_t n = ReadLittleEndian(std::string_view(body).substr(pos, 8));
    const auto crc = static_cast<uint32_t>(ReadLittleEndian(std::string_view(body).substr(pos + 8, 4)));
    pos += 12;
    if (n > body.size() - pos) return corrupt("truncated frame at byte " + std::to_string(pos));
    const std::string_view payload = std::string_view(body).substr(pos, n);
    if (Crc32(payload) != crc) return corrupt("checksum mismatch in frame " + std::to_string(frames.size()));
    frames.push_back(payload);
    pos += n;
  }
  if (frames.size() < SeriesStore::shard_count()) return corrupt("missing frames");
  remote_write::WriteRequest rollups;
  if (frames.size() > SeriesStore::shard_count()) {
    remote_write::DecodeLimits limits;
    limits.max_compressed_bytes = std::numeric_limits<size_t>::max();
    limits.max_decompressed_bytes = std::numeric_limits<size_t>::max();
    auto decoded = remote_write::Decode(frames[SeriesStore::shard_count()], limits);
    if (!decoded.ok()) return corrupt("demand rollups: " + decoded.status().message());
    rollups = std::move(decoded).value();
  }
  SnapshotInfo info;
  info.bytes = body.size();
  for (size_t shard = 0; shard < SeriesStore::shard_count(); ++shard) {
    Status s = store->RestoreSerialized(frames[shard], &info.series, &info.samples);
    if (!s.ok()) return corrupt("shard " + std::to_string(shard) + ": " + s.message());
  }
  if (demand != nullptr) {
    for (const auto& ts : rollups.timeseries) {
      if (IsRollup(ts)) demand->Restore(ts);
    }
  }
  return info;
}

}  // namespace prescale::aggregator
