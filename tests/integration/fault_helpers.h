// Helpers of the fault tests (fault_test.cc): a webhook receiver that applies
// each action id once and can hold a delivery open, a tmpfs mount, filling a
// disk, comparing files byte for byte, and reading the agent's spool as a
// restarted agent would replay it.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/agent/spool.h"
#include "prescale/aggregator/actions/webhook_signature.h"
#include "prescale/http/http_server.h"
#include "tests/integration/spool_reader.h"
#include "tests/support/test_env.h"

namespace prescale::testing {

// One action the receiver applied: the first request carrying its id.
struct Applied {
  std::string id, tenant, service;
  int64_t to_replicas = 0;
};

// The webhook receiver: shared/http's server on 127.0.0.1, as the docs ask
// receivers to be: it checks the signature, takes the action id from the
// Idempotency-Key header (which must equal the body's id), applies an id once
// and acknowledges repeats without applying them. HoldNext() makes it hold the
// next new action's request after applying it, unanswered, until Release():
// the sender is then provably in the middle of that delivery. Thread-safe.
class Receiver {
 public:
  explicit Receiver(std::string secret) : secret_(std::move(secret)) {}
  ~Receiver() { Stop(); }

  std::string Start() {
    http::HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.threads = 4;
    auto server =
        http::HttpServer::Start(options, {{"POST", "/hook", [this](const http::HttpRequest& r) { return Handle(r); }}});
    if (!server.ok()) return server.status().ToString();
    server_ = std::move(server).value();
    return "";
  }
  void Stop() {
    Release();  // a held handler must return before the server can stop
    if (server_ != nullptr) server_->Stop();
    server_.reset();
  }
  // Needs Start().
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/hook"; }

  void HoldNext() {
    std::lock_guard lock(mu_);
    hold_next_ = true;
  }
  // True once a request is held (within `timeout`); its action in *held.
  bool WaitHeld(std::chrono::milliseconds timeout, Applied* held) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [this] { return holding_; })) return false;
    *held = held_;
    return true;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      holding_ = false;
      hold_next_ = false;
    }
    cv_.notify_all();
  }

  std::vector<Applied> applied() const {
    std::lock_guard lock(mu_);
    return applied_;
  }
  // Requests per action id, repeats included.
  std::map<std::string, int> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t repeats() const {
    std::lock_guard lock(mu_);
    return repeats_;
  }
  size_t refused() const {
    std::lock_guard lock(mu_);
    return refused_;
  }

 private:
  http::HttpResponse Handle(const http::HttpRequest& request) {
    std::unique_lock lock(mu_);
    if (!aggregator::VerifyWebhookSignature(secret_, request.body, request.Header("X-Prescale-Signature"))) {
      ++refused_;
      return http::HttpResponse::JsonError(401, "bad_signature", "X-Prescale-Signature does not verify");
    }
    rapidjson::Document doc;
    doc.Parse(request.body.data(), request.body.size());
    auto str = [&doc](const char* key) {
      return doc.IsObject() && doc.HasMember(key) && doc[key].IsString() ? std::string(doc[key].GetString()) : "";
    };
    Applied a{str("id"), str("tenant"), str("service"), -1};
    if (doc.IsObject() && doc.HasMember("to_replicas") && doc["to_replicas"].IsInt64()) {
      a.to_replicas = doc["to_replicas"].GetInt64();
    }
    const std::string key(request.Header("Idempotency-Key"));
    if (a.id.empty() || key != a.id || a.to_replicas < 0) {
      ++refused_;
      return http::HttpResponse::JsonError(400, "bad_body", "Idempotency-Key " + key + ": " + request.body);
    }
    ++requests_[a.id];
    http::HttpResponse response;
    response.content_type = "application/json";
    response.body = "{\"replicas\":" + std::to_string(a.to_replicas) + "}";
    if (!seen_.insert(a.id).second) {
      ++repeats_;  // at least once: a repeat is acknowledged, not applied again
      return response;
    }
    applied_.push_back(a);
    if (hold_next_) {
      hold_next_ = false;
      holding_ = true;
      held_ = a;
      cv_.notify_all();
      cv_.wait_for(lock, std::chrono::minutes(2), [this] { return !holding_; });
    }
    return response;
  }

  const std::string secret_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<http::HttpServer> server_;
  bool hold_next_ = false, holding_ = false;
  Applied held_;
  std::set<std::string> seen_;
  std::vector<Applied> applied_;
  std::map<std::string, int> requests_;
  size_t repeats_ = 0, refused_ = 0;
};

// A tmpfs mounted on a directory of the test, unmounted (lazily, should a
// process still hold it) on destruction.
class Tmpfs {
 public:
  ~Tmpfs() { Unmount(); }
  // "" when mounted, else why not.
  std::string Mount(const std::string& dir, const std::string& size) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    const std::string options = "size=" + size + ",mode=0750";
    if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      return "mount -t tmpfs -o " + options + " tmpfs " + dir + ": " + std::strerror(errno);
    }
    dir_ = dir;
    return "";
  }
  void Unmount() {
    if (!dir_.empty()) ::umount2(dir_.c_str(), MNT_DETACH);
    dir_.clear();
  }

 private:
  std::string dir_;
};

// Writes `path` until its filesystem is full (ENOSPC); returns the bytes written.
inline uint64_t FillDisk(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return 0;
  uint64_t written = 0;
  const std::string chunk(64 << 10, 'f');
  for (size_t size = chunk.size(); size > 0; size /= 2) {  // ever smaller pieces take the last free pages
    ssize_t n = 0;
    while ((n = ::write(fd, chunk.data(), size)) > 0) written += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return written;
}

// Whether the file holds exactly `bytes` (a failure says how, without printing them).
inline ::testing::AssertionResult SameBytes(const std::string& path, const std::string& bytes) {
  const std::string held = ReadFileOrEmpty(path);
  if (held == bytes) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << path << " holds " << held.size() << " bytes, not the " << bytes.size()
                                       << " expected" << (held.size() == bytes.size() ? " (same size)" : "");
}

// Every regular file under `dir` (relative name -> bytes).
inline std::map<std::string, std::string> Files(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[e.path().lexically_relative(dir).string()] = ReadFileOrEmpty(e.path().string());
  }
  return out;
}

}  // namespace prescale::testing
