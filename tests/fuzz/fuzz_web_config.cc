// Fuzzes the web config parser (--web.config.file, the exporter toolkit's
// format): any text is either a web config or an error naming the file; never
// a crash or an escaped exception. What it accepts also configures a server's
// options and passes its own checks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "prescale/agent/basic_auth.h"
#include "prescale/agent/web_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto web = prescale::agent::ParseWebConfig(text, "/etc/prescale/fuzz-web.yml");
  if (!web.ok()) {
    if (web.status().message().find("fuzz-web.yml") == std::string::npos) std::abort();
    return 0;
  }
  if (web->tls() && (web->key_file.empty() || web->min_version > web->max_version)) std::abort();
  for (const auto& [user, hash] : web->users) {
    if (!prescale::agent::IsBcryptHash(hash) || user.find(':') != std::string::npos) std::abort();
  }
  for (const auto& [name, value] : web->headers) {
    if (value.empty() || value.find_first_of("\r\n") != std::string::npos) std::abort();
  }
  prescale::http::HttpServerOptions options;
  prescale::agent::ApplyWebConfig(*web, &options);
  (void)prescale::agent::DescribeWebConfig(*web);
  return 0;
}
