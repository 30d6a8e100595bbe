#include "prescale/agent/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace prescale::agent {
namespace {

constexpr std::string_view kBcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// Standard base64 with its padding, strictly (as Go's base64.StdEncoding,
// which the toolkit's r.BasicAuth uses): OpenSSL decodes; what it would let
// through (surrounding whitespace, '=' before the end) is refused here, and
// the padding it decodes as zero bytes is taken off.
bool DecodeBase64(std::string_view in, std::string* out) {
  if (in.empty() || in.size() % 4 != 0 || std::isspace(static_cast<unsigned char>(in.front())) != 0 ||
      std::isspace(static_cast<unsigned char>(in.back())) != 0) {
    return false;
  }
  const size_t pad = in.ends_with("==") ? 2 : (in.ends_with('=') ? 1 : 0);
  if (in.substr(0, in.size() - pad).find('=') != std::string_view::npos) return false;
  out->resize(in.size() / 4 * 3);
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out->data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0 || static_cast<size_t>(n) < pad) return false;
  out->resize(static_cast<size_t>(n) - pad);
  return true;
}

// "Basic <base64(user:password)>" (the scheme case-insensitive) into its parts.
bool ParseBasic(std::string_view header, std::string* user, std::string* password) {
  constexpr std::string_view kScheme = "Basic ";
  if (header.size() <= kScheme.size() || strncasecmp(header.data(), kScheme.data(), kScheme.size()) != 0) return false;
  std::string_view encoded = header.substr(kScheme.size());
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  std::string decoded;
  if (!DecodeBase64(encoded, &decoded)) return false;
  const size_t colon = decoded.find(':');
  // crypt_r takes C strings: a NUL would cut the password short.
  if (colon == std::string::npos || decoded.find('\0') != std::string::npos) {
    OPENSSL_cleanse(decoded.data(), decoded.size());
    return false;
  }
  *user = decoded.substr(0, colon);
  *password = decoded.substr(colon + 1);
  OPENSSL_cleanse(decoded.data(), decoded.size());
  return true;
}

// SHA-256 of the length-prefixed user, password and hash.
std::string CacheKey(std::string_view user, std::string_view password, std::string_view hash) {
  std::string material;
  for (std::string_view part : {user, password, hash}) {
    material += std::to_string(part.size());
    material += ':';
    material += part;
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest);
  OPENSSL_cleanse(material.data(), material.size());
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

http::HttpResponse Unauthorized(std::string_view why) {
  http::HttpResponse r = http::HttpResponse::JsonError(401, "unauthorized", why);
  r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"prescale-agent\"");
  return r;
}

}  // namespace

bool IsBcryptHash(std::string_view hash) {
  if (hash.size() != 60 || hash[0] != '$' || hash[1] != '2' || hash[3] != '$' || hash[6] != '$') return false;
  if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') return false;
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9') return false;
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return false;
  return std::all_of(hash.begin() + 7, hash.end(),
                     [](char c) { return kBcryptAlphabet.find(c) != std::string_view::npos; });
}

BasicAuth::BasicAuth(std::vector<std::pair<std::string, std::string>> users, std::vector<std::string> open_paths)
    : users_(std::move(users)), open_paths_(std::move(open_paths)), crypt_data_(std::make_unique<crypt_data>()) {
  PRESCALE_CHECK(!users_.empty());
  std::memset(crypt_data_.get(), 0, sizeof(crypt_data));
}

BasicAuth::~BasicAuth() = default;

std::optional<http::HttpResponse> BasicAuth::Authorize(const http::HttpRequest& request) {
  for (const std::string& path : open_paths_) {
    if (request.path == path) return std::nullopt;
  }
  const std::string_view header = request.Header("Authorization");
  if (header.empty()) {
    return Unauthorized("authentication required: send 'Authorization: Basic' with a user of the web configuration");
  }
  std::string user;
  std::string password;
  if (!ParseBasic(header, &user, &password)) {
    return Unauthorized("the Authorization header is not 'Basic' with base64 of user:password");
  }
  const bool ok = Verify(user, password);
  OPENSSL_cleanse(password.data(), password.size());
  if (!ok) return Unauthorized("wrong user or password");
  return std::nullopt;
}

bool BasicAuth::Verify(std::string_view user, std::string_view password) {
  const std::string* hash = nullptr;
  for (const auto& [name, h] : users_) {
    if (name == user) hash = &h;
  }
  // An unknown user is checked against a known user's hash and refused
  // whatever the outcome: the same bcrypt cost, so timing tells no names.
  const bool known = hash != nullptr;
  const std::string& checked = known ? *hash : users_.front().second;
  const std::string key = CacheKey(user, password, checked);
  if (known) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.contains(key)) return true;
  }
  const bool match = BcryptMatches(password, checked);
  if (!match || !known) return false;
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (cache_.insert(key).second) {
    cache_order_.push_back(key);
    if (cache_order_.size() > kCacheEntries) {
      cache_.erase(cache_order_.front());
      cache_order_.pop_front();
    }
  }
  return true;
}

bool BasicAuth::BcryptMatches(std::string_view password, const std::string& hash) {
  std::string phrase(password);  // NUL-terminated for crypt_r
  std::lock_guard<std::mutex> lock(bcrypt_mu_);
  bcrypt_runs_.fetch_add(1);
  const char* out = crypt_r(phrase.c_str(), hash.c_str(), crypt_data_.get());
  // libxcrypt answers a failure with a token starting with '*' (or null).
  bool match = out != nullptr && out[0] != '*' && std::strlen(out) == hash.size() &&
               CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(phrase.data(), phrase.size());
  OPENSSL_cleanse(crypt_data_.get(), sizeof(crypt_data));
  return match;
}

}  // namespace prescale::agent
