#include "prescale/agent/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace prescale::agent {
namespace {

constexpr char kSuffix[] = ".seg";
constexpr size_t kIdDigits = 20;
constexpr size_t kCursorBytes = 42;  // "%020llu %020llu\n"

uint32_t LoadU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t LoadU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
void StoreU32(uint32_t v, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void StoreU64(uint64_t v, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t Crc32(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; records are bounded well below 4 GiB.
  crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
  return static_cast<uint32_t>(crc);
}

std::string Errno(const std::string& path, const char* what) {
  return path + ": " + what + ": " + std::strerror(errno);
}

// Valid records' samples and newest timestamp in `data` (invalid ones are skipped as Front() would).
void ScanStats(std::string_view data, uint64_t* samples, int64_t* newest_ms) {
  while (!data.empty()) {
    const SpoolRecordView r = ParseSpoolRecord(data);
    if (r.outcome == SpoolRecordOutcome::kTruncated || r.outcome == SpoolRecordOutcome::kBadLength) return;
    if (r.outcome == SpoolRecordOutcome::kOk) {
      *samples += r.samples;
      *newest_ms = std::max(*newest_ms, r.timestamp_ms);
    }
    data.remove_prefix(r.consumed);
  }
}

bool ReadWholeFile(const std::string& path, uint64_t offset, std::string* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[65536];
  off_t pos = static_cast<off_t>(offset);
  while (true) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, pos);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out->append(buf, static_cast<size_t>(n));
    pos += n;
  }
  ::close(fd);
  return true;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// A front segment's unread samples less the record Front() handed out and PopFront() has not
// acknowledged yet: the reader holds that batch and still sends it (or counts its rejection), so
// dropping the segment must not count it as dropped as well.
uint64_t Droppable(uint64_t unread, bool handed_out, uint32_t handed_out_samples) {
  return handed_out ? unread - std::min<uint64_t>(unread, handed_out_samples) : unread;
}

}  // namespace

SpoolRecordView ParseSpoolRecord(std::string_view bytes) {
  SpoolRecordView r;
  if (bytes.size() < kSpoolHeaderBytes) {
    r.consumed = bytes.size();
    return r;
  }
  const uint32_t length = LoadU32(bytes.data());
  if (length < kSpoolPayloadHeaderBytes || length > kSpoolMaxRecordBytes) {
    r.outcome = SpoolRecordOutcome::kBadLength;
    r.consumed = bytes.size();
    return r;
  }
  if (bytes.size() - kSpoolHeaderBytes < length) {
    r.consumed = bytes.size();
    return r;
  }
  const std::string_view payload = bytes.substr(kSpoolHeaderBytes, length);
  r.consumed = kSpoolHeaderBytes + length;
  if (Crc32(payload) != LoadU32(bytes.data() + 4)) {
    r.outcome = SpoolRecordOutcome::kBadChecksum;
    return r;
  }
  r.outcome = SpoolRecordOutcome::kOk;
  r.samples = LoadU32(payload.data());
  r.timestamp_ms = static_cast<int64_t>(LoadU64(payload.data() + 4));
  r.body = payload.substr(kSpoolPayloadHeaderBytes);
  return r;
}

void AppendSpoolRecord(uint32_t samples, int64_t timestamp_ms, std::string_view body, std::string* out) {
  // The payload header is built apart and the CRC chained over it and the body, so the body is copied once.
  std::string header;
  StoreU32(samples, &header);
  StoreU64(static_cast<uint64_t>(timestamp_ms), &header);
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(header.data()), static_cast<uInt>(header.size()));
  crc = crc32(crc, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  out->reserve(out->size() + kSpoolHeaderBytes + header.size() + body.size());
  StoreU32(static_cast<uint32_t>(header.size() + body.size()), out);
  StoreU32(static_cast<uint32_t>(crc), out);
  out->append(header);
  out->append(body);
}

Spool::Spool(SpoolOptions options, const Clock& clock) : options_(std::move(options)), clock_(clock) {
  if (options_.segment_bytes == 0) {
    options_.segment_bytes = std::clamp<uint64_t>(options_.max_bytes / 16, 64 << 10, 16 << 20);
  }
  options_.segment_bytes = std::max<uint64_t>(1, std::min(options_.segment_bytes, options_.max_bytes / 2));
}

Spool::~Spool() {
  CloseWriterLocked();
  if (cursor_fd_ >= 0) ::close(cursor_fd_);
}

Result<std::unique_ptr<Spool>> Spool::Open(SpoolOptions options, const Clock& clock) {
  if (options.dir.empty()) return Status::InvalidArgument("data_dir: must not be empty");
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return Status::IoError(options.dir + ": cannot create the spool directory: " + ec.message());
  std::unique_ptr<Spool> spool(new Spool(std::move(options), clock));
  PRESCALE_RETURN_IF_ERROR(spool->Index());
  return spool;
}

std::string Spool::SegmentPath(uint64_t id) const {
  char name[kIdDigits + sizeof kSuffix + 1];
  std::snprintf(name, sizeof name, "%020llu%s", static_cast<unsigned long long>(id), kSuffix);
  return options_.dir + "/" + name;
}

Status Spool::Index() {
  const std::string cursor_path = options_.dir + "/cursor";
  cursor_fd_ = ::open(cursor_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (cursor_fd_ < 0) return Status::IoError(Errno(cursor_path, "cannot open"));
  char cursor[kCursorBytes + 1] = {};
  unsigned long long cursor_id = 0, cursor_offset = 0;
  if (::pread(cursor_fd_, cursor, kCursorBytes, 0) > 0 &&
      std::sscanf(cursor, "%llu %llu", &cursor_id, &cursor_offset) != 2) {
    cursor_id = cursor_offset = 0;  // an unreadable cursor replays from the start
  }
  std::vector<uint64_t> ids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != kIdDigits + 4 || !name.ends_with(kSuffix)) continue;
    if (!std::all_of(name.begin(), name.begin() + kIdDigits, [](char c) { return c >= '0' && c <= '9'; })) continue;
    ids.push_back(std::stoull(name.substr(0, kIdDigits)));
  }
  if (ec) return Status::IoError(options_.dir + ": cannot list the spool directory: " + ec.message());
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) {
    const std::string path = SegmentPath(id);
    if (id < cursor_id) {  // fully sent before a crash removed it
      ::unlink(path.c_str());
      continue;
    }
    Segment s;
    s.id = id;
    if (!ReadWholeFile(path, 0, &buffer_)) return Status::IoError(Errno(path, "cannot read"));
    s.size = buffer_.size();
    if (id == cursor_id) s.read_offset = std::min<uint64_t>(cursor_offset, s.size);
    ScanStats(std::string_view(buffer_).substr(s.read_offset), &s.samples, &s.newest_ms);
    bytes_ += s.size;
    segments_.push_back(s);
    next_id_ = std::max(next_id_, id + 1);
  }
  buffer_.clear();
  buffer_.shrink_to_fit();
  return Status::Ok();
}

void Spool::CloseWriterLocked() {
  if (write_fd_ >= 0) ::close(write_fd_);
  write_fd_ = -1;
}

Status Spool::OpenWriterLocked() {
  const uint64_t id = next_id_++;
  const std::string path = SegmentPath(id);
  write_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (write_fd_ < 0) return Status::IoError(Errno(path, "cannot create a spool segment"));
  Segment s;
  s.id = id;
  segments_.push_back(s);
  return Status::Ok();
}

void Spool::SaveCursorLocked() {
  char cursor[kCursorBytes + 1];
  const uint64_t id = segments_.empty() ? 0 : segments_.front().id;
  const uint64_t offset = segments_.empty() ? 0 : segments_.front().read_offset;
  std::snprintf(cursor, sizeof cursor, "%020llu %020llu\n", static_cast<unsigned long long>(id),
                static_cast<unsigned long long>(offset));
  // Best effort: a lost cursor only means records are sent again after a restart.
  [[maybe_unused]] const ssize_t n = ::pwrite(cursor_fd_, cursor, kCursorBytes, 0);
}

void Spool::DropFront(bool count_as_full) {
  const Segment& s = segments_.front();
  if (count_as_full) drops_.full_samples += Droppable(s.samples, front_cached_, front_samples_);
  ::unlink(SegmentPath(s.id).c_str());
  bytes_ -= s.size;
  if (segments_.size() == 1) CloseWriterLocked();
  segments_.pop_front();
  front_cached_ = false;
  SaveCursorLocked();
}

void Spool::ExpireLocked() {
  const int64_t cutoff = ToUnixMillis(clock_.Now()) - options_.max_age.count();
  // A segment without one valid record (newest_ms 0) is left to Front(), which counts its corruption.
  while (!segments_.empty() && segments_.front().newest_ms != 0 && segments_.front().newest_ms < cutoff) {
    drops_.age_samples += Droppable(segments_.front().samples, front_cached_, front_samples_);
    DropFront(false);
  }
}

bool Spool::DropOldestForRoomLocked() {
  // Every segment holds older batches than the one being appended, the writer's too; only
  // an empty one frees nothing.
  if (segments_.empty() || (segments_.size() == 1 && segments_.front().size == 0)) return false;
  DropFront(true);
  return true;
}

void Spool::EnforceSizeLocked() {
  while (bytes_ > options_.max_bytes && segments_.size() > 1) DropFront(true);
}

Status Spool::Append(const Batch& batch) {
  if (batch.body.size() + kSpoolPayloadHeaderBytes > kSpoolMaxRecordBytes) {
    return Status::ResourceExhausted("batch of " + std::to_string(batch.body.size()) + " bytes is too large to spool");
  }
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked();
  buffer_.clear();
  AppendSpoolRecord(batch.samples, batch.timestamp_ms, batch.body, &buffer_);
  while (true) {
    if (write_fd_ < 0 || segments_.back().size >= options_.segment_bytes) {
      CloseWriterLocked();
      PRESCALE_RETURN_IF_ERROR(OpenWriterLocked());
    }
    if (WriteAll(write_fd_, buffer_)) break;
    const int error = errno;
    const std::string message = Errno(SegmentPath(segments_.back().id), "cannot append to the spool");
    if (::ftruncate(write_fd_, static_cast<off_t>(segments_.back().size)) != 0)
      CloseWriterLocked();  // never append after a torn record
    // A full disk before max_bytes: the oldest data makes room, as max_bytes would have it.
    if ((error != ENOSPC && error != EDQUOT) || !DropOldestForRoomLocked()) return Status::IoError(message);
  }
  Segment& s = segments_.back();
  s.size += buffer_.size();
  s.samples += batch.samples;
  s.newest_ms = std::max(s.newest_ms, batch.timestamp_ms);
  bytes_ += buffer_.size();
  EnforceSizeLocked();
  return Status::Ok();
}

Status Spool::WriteSegmentFile(uint64_t id, const std::string& data) {
  const std::string path = SegmentPath(id);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError(Errno(path, "cannot create a spool segment"));
  const bool ok = WriteAll(fd, data);
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return Status::IoError(Errno(path, "cannot write a spool segment"));
  }
  return Status::Ok();
}

Status Spool::Prepend(const std::vector<Batch>& batches) {
  if (batches.empty()) return Status::Ok();
  std::lock_guard<std::mutex> lock(mu_);
  std::string data;
  for (const Batch& b : batches) AppendSpoolRecord(b.samples, b.timestamp_ms, b.body, &data);
  // A partly read front segment is folded into the new one: the cursor names one segment only.
  if (!segments_.empty() && segments_.front().read_offset > 0) {
    std::string tail;
    if (!ReadWholeFile(SegmentPath(segments_.front().id), segments_.front().read_offset, &tail)) {
      return Status::IoError(Errno(SegmentPath(segments_.front().id), "cannot read"));
    }
    data += tail;
    DropFront(false);
  }
  const uint64_t id = segments_.empty() ? next_id_++ : segments_.front().id - 1;
  PRESCALE_RETURN_IF_ERROR(WriteSegmentFile(id, data));
  Segment s;
  s.id = id;
  s.size = data.size();
  ScanStats(data, &s.samples, &s.newest_ms);
  segments_.push_front(s);
  bytes_ += s.size;
  front_cached_ = false;
  SaveCursorLocked();
  return Status::Ok();
}

Result<bool> Spool::Front(Batch* out) {
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked();
  const int64_t cutoff = ToUnixMillis(clock_.Now()) - options_.max_age.count();
  while (!segments_.empty()) {
    Segment& s = segments_.front();
    if (s.read_offset >= s.size) {
      DropFront(false);
      continue;
    }
    const std::string path = SegmentPath(s.id);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {  // removed behind our back: skip it rather than stall the replay
      ++drops_.corrupt_records;
      DropFront(false);
      continue;
    }
    if (fd < 0) return Status::IoError(Errno(path, "cannot open"));
    const uint64_t avail = s.size - s.read_offset;
    buffer_.resize(std::min<uint64_t>(avail, kSpoolHeaderBytes));
    ssize_t n = ::pread(fd, buffer_.data(), buffer_.size(), static_cast<off_t>(s.read_offset));
    if (n == static_cast<ssize_t>(kSpoolHeaderBytes)) {
      const uint64_t want =
          std::min<uint64_t>(avail, kSpoolHeaderBytes + std::min(LoadU32(buffer_.data()), kSpoolMaxRecordBytes));
      buffer_.resize(want);
      n = ::pread(fd, buffer_.data(), buffer_.size(), static_cast<off_t>(s.read_offset));
    }
    ::close(fd);
    if (n < 0) return Status::IoError(Errno(path, "cannot read"));
    buffer_.resize(static_cast<size_t>(n));
    const SpoolRecordView r = ParseSpoolRecord(buffer_);
    if (r.outcome == SpoolRecordOutcome::kTruncated || r.outcome == SpoolRecordOutcome::kBadLength) {
      ++drops_.corrupt_records;
      s.read_offset = s.size;
      SaveCursorLocked();
      continue;
    }
    if (r.outcome == SpoolRecordOutcome::kBadChecksum) {
      ++drops_.corrupt_records;
      s.read_offset += r.consumed;
      SaveCursorLocked();
      continue;
    }
    if (r.timestamp_ms < cutoff) {
      // If Front() handed this record out and it was not popped (the first one here then), the reader holds
      // it, as in DropFront(): Pusher::Stop() writes it back when the spool no longer has it, and it is
      // counted when read back too old, so counting it here too would count it twice. Later records are not held.
      drops_.age_samples += Droppable(r.samples, front_cached_, front_samples_);
      front_cached_ = false;
      s.samples -= std::min<uint64_t>(s.samples, r.samples);
      s.read_offset += r.consumed;
      SaveCursorLocked();
      continue;
    }
    out->body.assign(r.body);
    out->samples = r.samples;
    out->timestamp_ms = r.timestamp_ms;
    front_cached_ = true;
    front_consumed_ = r.consumed;
    front_samples_ = r.samples;
    return true;
  }
  return false;
}

Status Spool::PopFront() {
  std::lock_guard<std::mutex> lock(mu_);
  // Not cached: the segment was dropped (size or age) while the batch was out; nothing to remove.
  if (!front_cached_ || segments_.empty()) return Status::Ok();
  Segment& s = segments_.front();
  s.read_offset += front_consumed_;
  s.samples -= std::min<uint64_t>(s.samples, front_samples_);
  front_cached_ = false;
  if (s.read_offset >= s.size) {
    DropFront(false);
  } else {
    SaveCursorLocked();
  }
  return Status::Ok();
}

bool Spool::empty() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Segment& s : segments_) {
    if (s.read_offset < s.size) return false;
  }
  return true;
}

uint64_t Spool::bytes() {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

SpoolDrops Spool::TakeDrops() {
  std::lock_guard<std::mutex> lock(mu_);
  SpoolDrops d = drops_;
  drops_ = {};
  return d;
}

}  // namespace prescale::agent
