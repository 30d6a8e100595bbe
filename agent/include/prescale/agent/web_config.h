// The agent's web configuration (--web.config.file, YAML key web_config_file):
// TLS, client certificates, basic authentication and response headers for
// /metrics, /healthz and /readyz, in the file format of the Prometheus
// exporter toolkit (docs/configuration.md, "Web configuration"). Read once at
// start; a value type.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/base/status.h"
#include "prescale/http/http_server.h"

namespace prescale::agent {

struct WebConfig {
  // tls_server_config. TLS is on when cert_file is set; relative file paths
  // are taken from the web config file's directory, as the toolkit does.
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  http::TlsClientAuth client_auth = http::TlsClientAuth::kNoClientCert;
  http::TlsVersion min_version = http::TlsVersion::kTls12;
  http::TlsVersion max_version = http::TlsVersion::kTls13;
  // TLS 1.2 suites by their IANA (and Go) names; TLS 1.3 suites the file
  // names are left out: they are not configurable, in Go's crypto/tls either.
  std::vector<std::string> cipher_suites;
  std::vector<std::string> curves;  // OpenSSL's group names: X25519, P-256, P-384, P-521
  bool prefer_server_cipher_suites = true;
  // http_server_config: headers added to every response (blank ones left
  // out), and whether `http2: true` was written (ignored: HTTP/1.1 only).
  std::vector<std::pair<std::string, std::string>> headers;
  bool http2_requested = false;
  // basic_auth_users: user -> bcrypt hash, in file order. Empty: no basic auth.
  std::vector<std::pair<std::string, std::string>> users;

  bool tls() const { return !cert_file.empty(); }
};

// Parses web config YAML; `file_name` names the file in errors
// ("web.yml:4: tls_server_config.client_auth_type: ...") and anchors
// relative paths. Unknown keys, and the toolkit's keys the agent does not
// support, are errors. Touches no file.
Result<WebConfig> ParseWebConfig(std::string_view yaml_text, const std::string& file_name);

// Reads and parses the file at `path`, and checks that the certificate, key
// and client CA files it names can be read. Errors name the file (and the
// key and line for what is inside it).
Result<WebConfig> LoadWebConfig(const std::string& path);

// The paths served without basic authentication (the kubelet's probes):
// /healthz and /readyz. Every other path, unknown ones included, needs it.
inline constexpr std::string_view kUnauthenticatedPaths[] = {"/healthz", "/readyz"};

// Sets `options`' TLS settings, response headers and, with users, basic
// authentication (a BasicAuth shared by the server's threads) from `web`.
void ApplyWebConfig(const WebConfig& web, http::HttpServerOptions* options);

// One line for the start-up log: "HTTPS (TLS12-TLS13, client certificates
// RequireAndVerifyClientCert), basic auth (2 users)" or "plain HTTP".
std::string DescribeWebConfig(const WebConfig& web);

}  // namespace prescale::agent
