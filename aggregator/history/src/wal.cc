#include "prescale/aggregator/history/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>
#include <vector>

#include "prescale/base/log.h"
#include "prescale/metrics/text_writer.h"
#include "prescale/remote_write/remote_write.h"

namespace prescale::aggregator {
namespace {

constexpr size_t kIdDigits = 8;  // 00000001: sorts by name up to 10^8 segments

uint32_t LoadU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void StoreU32(uint32_t v, char* p) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// zlib's CRC-32, as the snapshot and the agent's spool use: already linked, and
// at a few GB/s it costs a few microseconds of a push that takes hundreds.
uint32_t Crc32(std::string_view data) {
  return static_cast<uint32_t>(
      crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

void EncodeHeader(std::string_view payload, char* header) {
  StoreU32(static_cast<uint32_t>(payload.size()), header);
  StoreU32(Crc32(payload), header + 4);
  StoreU32(Crc32(std::string_view(header, 8)), header + 8);
}

// The header's own checksum makes its length trustworthy: a damaged payload
// is skipped by it, and a record that runs past the end was really cut short.
bool HeaderIntact(std::string_view bytes) {
  return bytes.size() >= kWalHeaderBytes && Crc32(bytes.substr(0, 8)) == LoadU32(bytes.data() + 8);
}

// The next offset from `from` where an intact header starts, or bytes.size().
size_t Resync(std::string_view bytes, size_t from) {
  for (size_t q = from; q + kWalHeaderBytes <= bytes.size(); ++q) {
    if (HeaderIntact(bytes.substr(q))) return q;
  }
  return bytes.size();
}

// A full disk (or quota) is ResourceExhausted: it passes once space is freed.
Status Errno(int error, const std::string& what, const std::string& path) {
  std::string message = what + " " + path + ": " + std::strerror(error);
  if (error == ENOSPC || error == EDQUOT) return Status::ResourceExhausted(std::move(message));
  return Status::IoError(std::move(message));
}

// 0, or the errno of the failure.
int ReadFile(const std::string& path, std::string* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  out->clear();
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out->reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  int error = 0;
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error = errno;
    if (n <= 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return error;
}

bool ParseSegmentName(const std::string& name, uint64_t* id) {
  if (name.size() < kIdDigits || name.size() > 19) return false;
  if (!std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  *id = std::stoull(name);
  return *id > 0;
}

}  // namespace

std::string WalDir(const std::string& data_dir) { return data_dir + "/wal"; }

void AppendWalRecord(std::string_view payload, std::string* out) {
  char header[kWalHeaderBytes];
  EncodeHeader(payload, header);
  out->append(header, kWalHeaderBytes);
  out->append(payload);
}

uint64_t ScanWalSegment(std::string_view bytes, const WalSegmentVisitor& visitor) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    const std::string_view rest = bytes.substr(pos);
    if (rest.size() < kWalHeaderBytes) return rest.size();  // a header cut short
    if (!HeaderIntact(rest)) {
      // Zeros to the end: space the file system gave the file and the crash
      // left unwritten. Anything else is damage, skipped up to the next record.
      if (std::all_of(rest.begin(), rest.end(), [](char c) { return c == 0; })) return rest.size();
      const size_t next = Resync(bytes, pos + 1);
      if (visitor.corruption) visitor.corruption(pos, next - pos, "damaged record header");
      pos = next;
      continue;
    }
    const uint32_t length = LoadU32(rest.data());
    if (length > rest.size() - kWalHeaderBytes) return rest.size();  // a record cut short
    const std::string_view payload = rest.substr(kWalHeaderBytes, length);
    if (Crc32(payload) != LoadU32(rest.data() + 4)) {
      if (visitor.corruption) visitor.corruption(pos, kWalHeaderBytes + length, "payload checksum mismatch");
    } else if (visitor.record) {
      visitor.record(pos, payload);
    }
    pos += kWalHeaderBytes + length;
  }
  return 0;
}

void WalPending::Release() {
  if (wal_ == nullptr) return;
  WriteAheadLog* wal = wal_;
  wal_ = nullptr;
  wal->Release(epoch_slot_);
}

WriteAheadLog::WriteAheadLog(WalOptions options, const Clock& clock) : options_(std::move(options)) {
  if (options_.sync_interval.count() > 0) syncer_ = std::make_unique<Scheduler>(clock);
}

WriteAheadLog::~WriteAheadLog() {
  if (syncer_ != nullptr) syncer_->Stop();
  const int fd = fd_;
  fd_ = -1;
  if (fd >= 0) SyncAndClose(fd, segment_id_);
}

Result<std::unique_ptr<WriteAheadLog>> WriteAheadLog::Open(WalOptions options, const Clock& clock) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return Status::IoError("cannot create the write-ahead log directory " + options.dir + ": " + ec.message());
  std::unique_ptr<WriteAheadLog> wal(new WriteAheadLog(std::move(options), clock));
  // Increments with an error code: the range-for form would throw. Any name
  // of digits counts for the next id, so that a new segment never collides
  // with something else by that name; only files are replayed.
  uint64_t last = 0;
  for (std::filesystem::directory_iterator it(wal->options_.dir, ec), end; !ec && it != end; it.increment(ec)) {
    uint64_t id = 0;
    if (!ParseSegmentName(it->path().filename().string(), &id)) continue;
    last = std::max(last, id);
    std::error_code type_ec;
    if (it->is_regular_file(type_ec)) wal->on_disk_.insert(id);
  }
  if (ec) {
    return Status::IoError("cannot list the write-ahead log directory " + wal->options_.dir + ": " + ec.message());
  }
  wal->replay_below_ = last + 1;
  wal->segment_id_ = wal->replay_below_;  // a new process never appends to a segment a crash may have torn
  if (wal->syncer_ != nullptr) {
    WriteAheadLog* w = wal.get();
    PRESCALE_RETURN_IF_ERROR(wal->syncer_->Every("wal_sync", w->options_.sync_interval, [w] {
      if (Status s = w->Sync(); !s.ok()) prescale::Log(LogLevel::kError, s.message());
    }));
    wal->syncer_->Start();
  }
  return wal;
}

std::string WriteAheadLog::SegmentPath(uint64_t id) const {
  char name[32];
  std::snprintf(name, sizeof name, "%0*" PRIu64, static_cast<int>(kIdDigits), id);
  return options_.dir + "/" + name;
}

uint64_t WriteAheadLog::segments() const {
  std::lock_guard lock(mu_);
  return on_disk_.size();
}

Result<WalReplayStats> WriteAheadLog::Replay(SeriesStore* store, const WalReplayObserver& observer) {
  std::vector<uint64_t> ids;
  {
    std::lock_guard lock(mu_);
    for (uint64_t id : on_disk_) {
      if (id < replay_below_) ids.push_back(id);
    }
  }
  uint64_t total_bytes = 0;
  for (uint64_t id : ids) {
    struct stat st {};
    if (::stat(SegmentPath(id).c_str(), &st) == 0) total_bytes += static_cast<uint64_t>(st.st_size);
  }
  WalReplayStats stats;
  for (uint64_t id : ids) {
    PRESCALE_RETURN_IF_ERROR(ReplaySegment(id, store, observer, &stats));
    if (observer.progress) observer.progress(stats, total_bytes, ids.size());
  }
  std::lock_guard lock(mu_);
  replayed_ = stats;
  return stats;
}

Status WriteAheadLog::ReplaySegment(uint64_t id, SeriesStore* store, const WalReplayObserver& observer,
                                    WalReplayStats* stats) {
  const std::string path = SegmentPath(id);
  std::string bytes;
  if (const int error = ReadFile(path, &bytes); error != 0) {
    return Status::IoError("cannot read the write-ahead log segment " + path + ": " + std::strerror(error));
  }
  remote_write::DecodeLimits limits;  // records passed these limits' label checks when they were logged
  limits.max_compressed_bytes = std::numeric_limits<size_t>::max();
  limits.max_decompressed_bytes = std::numeric_limits<size_t>::max();
  remote_write::Decoder decoder;
  remote_write::WriteRequest request;
  auto report = [&](uint64_t offset, const std::string& why) {
    ++stats->corruptions;
    if (observer.corruption) {
      observer.corruption("write-ahead log " + path + ": offset " + std::to_string(offset) + ": " + why);
    }
  };
  WalSegmentVisitor visitor;
  visitor.record = [&](uint64_t offset, std::string_view payload) {
    if (Status s = decoder.Decode(payload, limits, &request); !s.ok()) {
      report(offset, "record skipped, it does not decode: " + s.message());
      return;
    }
    AppendStats appended;
    if (store->Append(request.timeseries, &appended).code() == StatusCode::kResourceExhausted) {
      ++stats->series_rejected;
    }
    ++stats->records;
    stats->samples += appended.samples_appended;
    stats->samples_out_of_order += appended.samples_out_of_order;
  };
  visitor.corruption = [&](uint64_t offset, uint64_t length, const std::string& why) {
    report(offset, std::to_string(length) + " bytes skipped: " + why);
  };
  if (ScanWalSegment(bytes, visitor) > 0) ++stats->torn_tails;
  ++stats->segments;
  stats->bytes += bytes.size();
  return Status::Ok();
}

Status WriteAheadLog::Log(std::string_view payload, WalPending* pending) {
  pending->Release();  // a reused one: before mu_ is taken, which Release takes too
  if (payload.size() > std::numeric_limits<uint32_t>::max()) {
    return Status::InvalidArgument("a write-ahead log record holds at most 4 GiB");
  }
  char header[kWalHeaderBytes];
  EncodeHeader(payload, header);  // the checksums are the costly part: outside the lock
  int retired = -1;
  uint64_t retired_id = 0;
  Status s;
  {
    std::lock_guard lock(mu_);
    if (fd_ >= 0 && segment_size_ >= options_.segment_bytes) {
      retired_id = segment_id_;
      retired = CloseSegmentLocked();
    }
    if (fd_ < 0) s = OpenSegmentLocked();
    if (s.ok()) s = WriteLocked(header, payload);
    if (s.ok()) {
      const size_t slot = epoch_ & 1;
      ++in_flight_[slot];
      pending->wal_ = this;
      pending->epoch_slot_ = slot;
    }
  }
  // The full segment is synced by the push that closed it, after the lock: the others write on meanwhile.
  if (retired >= 0) SyncAndClose(retired, retired_id);
  if (!s.ok()) {
    write_failures_.fetch_add(1, std::memory_order_relaxed);
    out_of_space_.store(s.code() == StatusCode::kResourceExhausted, std::memory_order_relaxed);
    return s;
  }
  records_.fetch_add(1, std::memory_order_relaxed);
  bytes_.fetch_add(kWalHeaderBytes + payload.size(), std::memory_order_relaxed);
  out_of_space_.store(false, std::memory_order_relaxed);
  return s;
}

Status WriteAheadLog::OpenSegmentLocked() {
  const std::string path = SegmentPath(segment_id_);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int error = errno;
    return Errno(error, "cannot create the write-ahead log segment", path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    return Errno(error, "cannot stat the write-ahead log segment", path);
  }
  fd_ = fd;
  segment_size_ = static_cast<uint64_t>(st.st_size);
  segment_records_ = 0;
  on_disk_.insert(segment_id_);
  dir_dirty_ = true;
  return Status::Ok();
}

Status WriteAheadLog::WriteLocked(const char* header, std::string_view payload) {
  iovec iov[2] = {{const_cast<char*>(header), kWalHeaderBytes}, {const_cast<char*>(payload.data()), payload.size()}};
  const size_t total = kWalHeaderBytes + payload.size();
  size_t done = 0;
  int error = 0;
  while (done < total) {
    const ssize_t n = ::writev(fd_, iov, 2);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(n);
    // Moves the vectors past what was written (a short write: the disk filled up mid-record).
    for (size_t skip = static_cast<size_t>(n); skip > 0;) {
      iovec& v = iov[0].iov_len > 0 ? iov[0] : iov[1];
      const size_t step = std::min(skip, v.iov_len);
      v.iov_base = static_cast<char*>(v.iov_base) + step;
      v.iov_len -= step;
      skip -= step;
    }
  }
  if (error == 0) {
    segment_size_ += total;
    ++segment_records_;
    dirty_ = true;
    return Status::Ok();
  }
  const std::string path = SegmentPath(segment_id_);
  // Nothing of a failed record may stay: the records after it would look like
  // damage. When it cannot be taken back the segment ends there (a torn tail)
  // and the next record starts a new one.
  if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(segment_size_)) != 0) {
    const int truncate_error = errno;
    prescale::Log(LogLevel::kError, "cannot take a failed record back from " + path + " (" +
                                        std::strerror(truncate_error) + "): the next record starts a new segment");
    ::close(CloseSegmentLocked());
  }
  return Errno(error, "cannot write the write-ahead log segment", path);
}

int WriteAheadLog::CloseSegmentLocked() {
  const int fd = fd_;
  fd_ = -1;
  ++segment_id_;
  segment_size_ = 0;
  segment_records_ = 0;
  dirty_ = false;  // the caller syncs what it wrote
  return fd;
}

void WriteAheadLog::SyncAndClose(int fd, uint64_t id) {
  if (::fdatasync(fd) != 0) {
    const int error = errno;
    sync_failures_.fetch_add(1, std::memory_order_relaxed);
    prescale::Log(LogLevel::kError, "cannot fdatasync " + SegmentPath(id) + ": " + std::strerror(error));
  }
  ::close(fd);
  if (Status s = SyncDirectory(); !s.ok()) prescale::Log(LogLevel::kError, s.message());  // a new segment's entry
}

void WriteAheadLog::Release(size_t epoch_slot) {
  std::lock_guard lock(mu_);
  if (--in_flight_[epoch_slot] == 0) drained_.notify_all();
}

uint64_t WriteAheadLog::Cut() {
  std::lock_guard cut_lock(cut_mu_);
  int retired = -1;
  uint64_t retired_id = 0;
  uint64_t first_kept = 0;
  {
    std::unique_lock lock(mu_);
    if (fd_ >= 0 && segment_records_ > 0) {
      retired_id = segment_id_;
      retired = CloseSegmentLocked();
    }
    first_kept = segment_id_;
    // The records of the segments before first_kept were logged in this epoch
    // or earlier ones (already drained by earlier cuts): once this one's
    // pushes have stored their samples, a snapshot holds them all. Pushes
    // logged from now on count in the other slot and are not waited for.
    const size_t closing = epoch_ & 1;
    ++epoch_;
    drained_.wait(lock, [&] { return in_flight_[closing] == 0; });
  }
  if (retired >= 0) SyncAndClose(retired, retired_id);
  return first_kept;
}

Status WriteAheadLog::RemoveBefore(uint64_t first_kept) {
  std::vector<uint64_t> doomed;
  {
    std::lock_guard lock(mu_);
    // The open segment (and any after it) is never removed, whatever the caller says.
    const uint64_t limit = std::min(first_kept, segment_id_);
    for (uint64_t id : on_disk_) {
      if (id >= limit) break;
      doomed.push_back(id);
    }
  }
  Status result;
  for (uint64_t id : doomed) {
    const std::string path = SegmentPath(id);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      const int error = errno;
      if (result.ok()) result = Errno(error, "cannot remove", path);
      continue;
    }
    std::lock_guard lock(mu_);
    on_disk_.erase(id);
  }
  return result;
}

Status WriteAheadLog::Sync() {
  int fd = -1;
  uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    if (fd_ >= 0 && dirty_) {
      fd = ::dup(fd_);  // the segment may be closed meanwhile: the copy keeps the file open
      dirty_ = fd < 0;
      id = segment_id_;
    }
  }
  Status s;
  if (fd >= 0) {
    if (::fdatasync(fd) != 0) {
      const int error = errno;
      sync_failures_.fetch_add(1, std::memory_order_relaxed);
      s = Errno(error, "cannot fdatasync", SegmentPath(id));
    }
    ::close(fd);
  }
  Status dir = SyncDirectory();
  return s.ok() ? dir : s;
}

Status WriteAheadLog::SyncDirectory() {
  {
    std::lock_guard lock(mu_);
    if (!dir_dirty_) return Status::Ok();
    dir_dirty_ = false;
  }
  const int d = ::open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  Status s;
  if (d < 0 || ::fsync(d) != 0) {
    const int error = errno;
    sync_failures_.fetch_add(1, std::memory_order_relaxed);
    s = Errno(error, "cannot fsync the directory", options_.dir);
  }
  if (d >= 0) ::close(d);
  return s;
}

void WriteAheadLog::AppendMetrics(std::string* out) const {
  metrics::TextWriter w(out);
  auto one = [&w](const char* name, const char* help, metrics::MetricType type, uint64_t value) {
    w.Family(name, help, type);
    w.Sample(name, std::span<const metrics::LabelRef>(), static_cast<double>(value));
  };
  using metrics::MetricType;
  WalReplayStats replayed;
  uint64_t segments = 0;
  {
    std::lock_guard lock(mu_);
    replayed = replayed_;
    segments = on_disk_.size();
  }
  one("prescale_aggregator_wal_records_total", "Pushes written to the write-ahead log", MetricType::kCounter,
      records_.load(std::memory_order_relaxed));
  one("prescale_aggregator_wal_bytes_total", "Bytes written to the write-ahead log (record headers included)",
      MetricType::kCounter, bytes_.load(std::memory_order_relaxed));
  one("prescale_aggregator_wal_write_failures_total",
      "Pushes refused with 503 because their record could not be written to the write-ahead log", MetricType::kCounter,
      write_failures_.load(std::memory_order_relaxed));
  one("prescale_aggregator_wal_sync_failures_total", "fdatasync or fsync calls on the write-ahead log that failed",
      MetricType::kCounter, sync_failures_.load(std::memory_order_relaxed));
  one("prescale_aggregator_wal_segments", "Segment files of the write-ahead log on disk", MetricType::kGauge, segments);
  one("prescale_aggregator_wal_replayed_records", "Records replayed from the write-ahead log at start",
      MetricType::kGauge, replayed.records);
  one("prescale_aggregator_wal_replayed_samples",
      "Samples appended from the write-ahead log at start (those the snapshot held are not counted)",
      MetricType::kGauge, replayed.samples);
  one("prescale_aggregator_wal_corruptions_total",
      "Damaged stretches and undecodable records skipped when the write-ahead log was replayed", MetricType::kCounter,
      replayed.corruptions);
}

}  // namespace prescale::aggregator
