#include "prescale/aggregator/actions/webhook_signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "prescale/base/status.h"

namespace prescale::aggregator {
namespace {

constexpr std::string_view kPrefix = "sha256=";
constexpr size_t kHexDigits = 64;  // SHA-256: 32 bytes

}  // namespace

std::string SignWebhook(std::string_view secret, std::string_view body) {
  // HMAC() wants non-null pointers even for empty inputs.
  static const unsigned char kEmpty = 0;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  const unsigned char* key = secret.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(secret.data());
  const unsigned char* data = body.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(body.data());
  const unsigned char* done =
      HMAC(EVP_sha256(), key, static_cast<int>(secret.size()), data, body.size(), mac, &mac_len);
  // With SHA-256 built into libcrypto this cannot fail short of a broken OpenSSL.
  PRESCALE_CHECK(done != nullptr && mac_len * 2 == kHexDigits);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(kPrefix);
  out.reserve(kPrefix.size() + kHexDigits);
  for (unsigned int i = 0; i < mac_len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 0xf]);
  }
  return out;
}

bool VerifyWebhookSignature(std::string_view secret, std::string_view body, std::string_view header) {
  if (secret.empty() || header.size() != kPrefix.size() + kHexDigits || header.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  std::string given(header);
  for (char& c : given) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  const std::string expected = SignWebhook(secret, body);
  return CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

}  // namespace prescale::aggregator
