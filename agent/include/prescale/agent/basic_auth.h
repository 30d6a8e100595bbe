// BasicAuth: HTTP basic authentication against bcrypt hashes, as the
// Prometheus exporter toolkit's basic_auth_users does it. Passwords are
// checked with libxcrypt's bcrypt ($2a$, $2b$, $2y$), one at a time (bcrypt at
// cost 10 costs ~50 ms of CPU), and the result compared in constant time; an
// unknown user costs one bcrypt too, so timing does not tell which users
// exist. Successful checks are cached (a bounded set of SHA-256 digests of
// user, password and hash), so a scraper's every request does not pay for
// bcrypt. Thread-safe: the server's worker threads share one instance.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "prescale/http/http_server.h"

struct crypt_data;  // <crypt.h>

namespace prescale::agent {

// True when `hash` looks like a bcrypt hash libxcrypt takes: $2a$, $2b$ or
// $2y$, a two-digit cost from 04 to 31, '$' and 53 characters of bcrypt's
// base64 alphabet.
bool IsBcryptHash(std::string_view hash);

class BasicAuth {
 public:
  static constexpr size_t kCacheEntries = 100;

  // `users`: user -> bcrypt hash (IsBcryptHash), at least one. Requests for
  // `open_paths` (exact paths) pass without credentials.
  BasicAuth(std::vector<std::pair<std::string, std::string>> users, std::vector<std::string> open_paths);
  ~BasicAuth();
  BasicAuth(const BasicAuth&) = delete;
  BasicAuth& operator=(const BasicAuth&) = delete;

  // nullopt when the request may go on: its path is open, or its
  // Authorization header is "Basic base64(user:password)" with a user's
  // password. Otherwise a 401 with `WWW-Authenticate: Basic` and a JSON
  // reason. For HttpServerOptions::authorize.
  std::optional<http::HttpResponse> Authorize(const http::HttpRequest& request);

  // Whether `password` is `user`'s.
  bool Verify(std::string_view user, std::string_view password);

  // bcrypt computations so far (cache hits do not count).
  uint64_t bcrypt_runs() const { return bcrypt_runs_.load(); }

 private:
  bool BcryptMatches(std::string_view password, const std::string& hash);  // holds bcrypt_mu_

  const std::vector<std::pair<std::string, std::string>> users_;
  const std::vector<std::string> open_paths_;
  std::mutex bcrypt_mu_;
  std::unique_ptr<crypt_data> crypt_data_;  // guarded by bcrypt_mu_
  std::atomic<uint64_t> bcrypt_runs_{0};
  std::mutex cache_mu_;
  std::unordered_set<std::string> cache_;  // guarded by cache_mu_; SHA-256 digests
  std::deque<std::string> cache_order_;    // guarded by cache_mu_; oldest first
};

}  // namespace prescale::agent
