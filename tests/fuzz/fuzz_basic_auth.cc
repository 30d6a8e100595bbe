// Fuzzes the agent's basic auth (--web.config.file basic_auth_users) on the
// Authorization header a client sends: any header is let through only with a
// user's password, and is otherwise a 401 with WWW-Authenticate; never a
// crash. The user's hash has bcrypt's lowest cost (4) so that inputs that
// decode reach bcrypt without slowing the fuzzer to a crawl.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "prescale/agent/basic_auth.h"
#include "prescale/http/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // "secret", cost 4 (libxcrypt's crypt_r with the setting $2b$04$abcdefghijklmnopqrstuu).
  static prescale::agent::BasicAuth auth(
      {{"prometheus", "$2b$04$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIrW"}}, {"/healthz"});
  prescale::http::HttpRequest request;
  request.method = "GET";
  request.path = "/metrics";
  request.headers.emplace_back("Authorization", std::string(reinterpret_cast<const char*>(data), size));
  const auto refused = auth.Authorize(request);
  const bool right = request.headers[0].second == "Basic cHJvbWV0aGV1czpzZWNyZXQ=";  // prometheus:secret
  if (right && refused.has_value()) std::abort();
  if (refused.has_value() && (refused->status != 401 || refused->headers.empty())) std::abort();
  return 0;
}
