#include "prescale/agent/web_config.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <memory>

#include "prescale/agent/basic_auth.h"
#include "prescale/base/yaml_config.h"

namespace prescale::agent {
namespace {

struct NamedClientAuth {
  std::string_view name;
  http::TlsClientAuth policy;
};
// Go's tls.ClientAuthType names; RequireClientCert is the toolkit's old
// spelling of RequireAnyClientCert, still accepted there.
constexpr NamedClientAuth kClientAuthTypes[] = {
    {"NoClientCert", http::TlsClientAuth::kNoClientCert},
    {"RequestClientCert", http::TlsClientAuth::kRequestClientCert},
    {"RequireAnyClientCert", http::TlsClientAuth::kRequireAnyClientCert},
    {"RequireClientCert", http::TlsClientAuth::kRequireAnyClientCert},
    {"VerifyClientCertIfGiven", http::TlsClientAuth::kVerifyClientCertIfGiven},
    {"RequireAndVerifyClientCert", http::TlsClientAuth::kRequireAndVerifyClientCert},
};

constexpr std::pair<std::string_view, http::TlsVersion> kVersions[] = {
    {"TLS10", http::TlsVersion::kTls10},
    {"TLS11", http::TlsVersion::kTls11},
    {"TLS12", http::TlsVersion::kTls12},
    {"TLS13", http::TlsVersion::kTls13},
};

// The suites Go's tls.CipherSuites() lists (the secure ones), which are the
// names the toolkit accepts. TLS 1.3's are accepted and, as in Go, not applied.
constexpr std::string_view kTls12CipherSuites[] = {
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
};
constexpr std::string_view kTls13CipherSuites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                                   "TLS_CHACHA20_POLY1305_SHA256"};

// Go's tls.CurveID names, as the toolkit takes them, and OpenSSL's.
constexpr std::pair<std::string_view, std::string_view> kCurves[] = {
    {"CurveP256", "P-256"},
    {"CurveP384", "P-384"},
    {"CurveP521", "P-521"},
    {"X25519", "X25519"},
};

// The response headers the toolkit lets a web config set, with the values it
// allows (none listed: any value).
struct AllowedHeader {
  std::string_view name;
  std::vector<std::string_view> values;
};
const AllowedHeader kAllowedHeaders[] = {
    {"Strict-Transport-Security", {}},
    {"X-Content-Type-Options", {"nosniff"}},
    {"X-Frame-Options", {"deny", "sameorigin"}},
    {"X-XSS-Protection", {}},
    {"Content-Security-Policy", {}},
};

template <typename Range>
std::string JoinNames(const Range& range) {
  std::string out;
  for (const auto& item : range) {
    if (!out.empty()) out += ", ";
    if constexpr (requires { item.name; }) {
      out += item.name;
    } else if constexpr (requires { item.first; }) {
      out += item.first;
    } else {
      out += item;
    }
  }
  return out;
}

// A relative path is taken from the web config file's directory.
std::string Resolve(const std::string& file_name, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  const size_t slash = file_name.rfind('/');
  if (slash == std::string::npos) return path;
  return file_name.substr(0, slash + 1) + path;
}

// The toolkit's keys the agent knows but does not offer: each an error saying why.
Status RefuseUnsupported(const YamlConfigReader& r, const ConfigNode& node, const std::string& section,
                         std::initializer_list<std::pair<std::string_view, std::string_view>> keys) {
  for (const ConfigNode::Entry& entry : node.Entries()) {
    for (const auto& [key, why] : keys) {
      if (entry.key == key) {
        return r.Error(entry.key_node, JoinPath(section, key), "not supported by prescale-agent: " + std::string(why));
      }
    }
  }
  return Status::Ok();
}

Result<std::vector<std::string>> ReadStringList(const YamlConfigReader& r, const ConfigNode& node,
                                                const std::string& path) {
  std::vector<std::string> out;
  if (node.IsNull()) return out;
  PRESCALE_RETURN_IF_ERROR(r.CheckSequence(node, path));
  const std::vector<ConfigNode> items = node.Items();
  for (size_t i = 0; i < items.size(); ++i) {
    PRESCALE_ASSIGN_OR_RETURN(std::string item, r.String(items[i], IndexPath(path, i)));
    out.push_back(std::move(item));
  }
  return out;
}

Status ReadCipherSuitesAndCurves(const YamlConfigReader& r, const ConfigNode& tls, WebConfig* c) {
  const std::string suites_path = "tls_server_config.cipher_suites";
  std::vector<std::string> suites;
  if (tls["cipher_suites"].IsDefined()) {
    PRESCALE_ASSIGN_OR_RETURN(suites, ReadStringList(r, tls["cipher_suites"], suites_path));
  }
  for (size_t i = 0; i < suites.size(); ++i) {
    const std::string& name = suites[i];
    if (std::find(std::begin(kTls12CipherSuites), std::end(kTls12CipherSuites), name) != std::end(kTls12CipherSuites)) {
      c->cipher_suites.push_back(name);
    } else if (std::find(std::begin(kTls13CipherSuites), std::end(kTls13CipherSuites), name) ==
               std::end(kTls13CipherSuites)) {
      return r.Error(tls["cipher_suites"][i], IndexPath(suites_path, i),
                     "unknown cipher suite '" + name + "' (known: " + JoinNames(kTls12CipherSuites) + ", " +
                         JoinNames(kTls13CipherSuites) + ")");
    }
  }
  if (!suites.empty() && c->cipher_suites.empty()) {
    return r.Error(tls["cipher_suites"], suites_path,
                   "lists TLS 1.3 suites only, which are not configurable; name TLS 1.2 suites or leave it out");
  }
  const std::string curves_path = "tls_server_config.curve_preferences";
  if (!tls["curve_preferences"].IsDefined()) return Status::Ok();
  PRESCALE_ASSIGN_OR_RETURN(const std::vector<std::string> curves,
                            ReadStringList(r, tls["curve_preferences"], curves_path));
  for (size_t i = 0; i < curves.size(); ++i) {
    const auto* found = std::find_if(std::begin(kCurves), std::end(kCurves),
                                     [&](const auto& curve) { return curve.first == curves[i]; });
    if (found == std::end(kCurves)) {
      return r.Error(tls["curve_preferences"][i], IndexPath(curves_path, i),
                     "unknown curve '" + curves[i] + "' (known: " + JoinNames(kCurves) + ")");
    }
    c->curves.emplace_back(found->second);
  }
  return Status::Ok();
}

Result<http::TlsVersion> ReadVersion(const YamlConfigReader& r, const ConfigNode& node, const std::string& path) {
  PRESCALE_ASSIGN_OR_RETURN(const std::string name, r.String(node, path));
  for (const auto& [known, version] : kVersions) {
    if (name == known) return version;
  }
  return r.Error(node, path, "unknown TLS version '" + name + "' (" + JoinNames(kVersions) + ")");
}

// tls_server_config: the certificate, the key, the client certificate policy and the versions.
Status ReadTlsServerConfig(const YamlConfigReader& r, const ConfigNode& tls, WebConfig* c) {
  const std::string section = "tls_server_config";
  PRESCALE_RETURN_IF_ERROR(r.CheckMap(
      tls, section,
      {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version", "cipher_suites",
       "prefer_server_cipher_suites", "curve_preferences", "cert", "key", "client_ca", "client_allowed_sans"}));
  PRESCALE_RETURN_IF_ERROR(
      RefuseUnsupported(r, tls, section,
                        {{"cert", "inline PEM; put the certificate in a file and name it in cert_file"},
                         {"key", "inline PEM; put the key in a file and name it in key_file"},
                         {"client_ca", "inline PEM; put the CA certificates in a file and name it in client_ca_file"},
                         {"client_allowed_sans", "client certificates are verified against client_ca_file only"}}));
  if (tls.size() == 0) return Status::Ok();
  for (auto [key, field] : {std::pair{"cert_file", &c->cert_file}, std::pair{"key_file", &c->key_file},
                            std::pair{"client_ca_file", &c->client_ca_file}}) {
    if (!tls[key].IsDefined()) continue;
    PRESCALE_ASSIGN_OR_RETURN(*field, r.String(tls[key], JoinPath(section, key)));
    if (field->empty()) return r.Error(tls[key], JoinPath(section, key), "must not be empty");
    *field = Resolve(r.file(), *field);
  }
  // Any TLS setting turns TLS on, and TLS needs both files.
  for (const char* key : {"cert_file", "key_file"}) {
    if (!tls[key].IsDefined()) {
      return r.Error(tls, JoinPath(section, key), "required key is missing: TLS needs cert_file and key_file");
    }
  }
  if (tls["client_auth_type"].IsDefined()) {
    const std::string path = JoinPath(section, "client_auth_type");
    PRESCALE_ASSIGN_OR_RETURN(const std::string name, r.String(tls["client_auth_type"], path));
    const auto* found = std::find_if(std::begin(kClientAuthTypes), std::end(kClientAuthTypes),
                                     [&](const NamedClientAuth& a) { return a.name == name; });
    if (found == std::end(kClientAuthTypes) && !name.empty()) {
      return r.Error(tls["client_auth_type"], path,
                     "unknown client auth type '" + name + "' (" + JoinNames(kClientAuthTypes) + ")");
    }
    if (found != std::end(kClientAuthTypes)) c->client_auth = found->policy;
  }
  const bool verifies = c->client_auth == http::TlsClientAuth::kVerifyClientCertIfGiven ||
                        c->client_auth == http::TlsClientAuth::kRequireAndVerifyClientCert;
  if (verifies && c->client_ca_file.empty()) {
    return r.Error(tls, JoinPath(section, "client_ca_file"),
                   "required to verify client certificates (client_auth_type VerifyClientCertIfGiven or "
                   "RequireAndVerifyClientCert)");
  }
  if (!c->client_ca_file.empty() && c->client_auth == http::TlsClientAuth::kNoClientCert) {
    return r.Error(tls["client_ca_file"], JoinPath(section, "client_ca_file"),
                   "set, but client_auth_type is NoClientCert: no client certificate would be asked for "
                   "(RequireAndVerifyClientCert verifies them against this file)");
  }
  for (auto [key, field] : {std::pair{"min_version", &c->min_version}, std::pair{"max_version", &c->max_version}}) {
    if (!tls[key].IsDefined()) continue;
    PRESCALE_ASSIGN_OR_RETURN(*field, ReadVersion(r, tls[key], JoinPath(section, key)));
  }
  if (c->min_version > c->max_version) {
    const ConfigNode at = tls["max_version"].IsDefined() ? tls["max_version"] : tls["min_version"];
    return r.Error(at, JoinPath(section, tls["max_version"].IsDefined() ? "max_version" : "min_version"),
                   "min_version is above max_version");
  }
  if (tls["prefer_server_cipher_suites"].IsDefined()) {
    PRESCALE_ASSIGN_OR_RETURN(c->prefer_server_cipher_suites, r.Bool(tls["prefer_server_cipher_suites"],
                                                                     JoinPath(section, "prefer_server_cipher_suites")));
  }
  return ReadCipherSuitesAndCurves(r, tls, c);
}

// http_server_config: headers (the toolkit's allowed ones) and http2.
Status ReadHttpServerConfig(const YamlConfigReader& r, const ConfigNode& http, WebConfig* c) {
  const std::string section = "http_server_config";
  PRESCALE_RETURN_IF_ERROR(r.CheckMap(http, section, {"headers", "http2"}));
  if (http["http2"].IsDefined()) {
    PRESCALE_ASSIGN_OR_RETURN(c->http2_requested, r.Bool(http["http2"], JoinPath(section, "http2")));
  }
  const ConfigNode headers = http["headers"];
  if (!headers.IsDefined() || headers.IsNull()) return Status::Ok();
  if (!headers.IsMap())
    return r.Error(headers, JoinPath(section, "headers"), "expected a mapping of header names to values");
  for (const ConfigNode::Entry& entry : headers.Entries()) {
    const std::string path = JoinPath(JoinPath(section, "headers"), entry.key);
    const auto* allowed = std::find_if(std::begin(kAllowedHeaders), std::end(kAllowedHeaders),
                                       [&](const AllowedHeader& h) { return h.name == entry.key; });
    if (allowed == std::end(kAllowedHeaders)) {
      return r.Error(entry.key_node, path, "this header cannot be set (allowed: " + JoinNames(kAllowedHeaders) + ")");
    }
    PRESCALE_ASSIGN_OR_RETURN(const std::string value, r.String(entry.value, path));
    if (value.find_first_of("\r\n") != std::string::npos || value.find('\0') != std::string::npos) {
      return r.Error(entry.value, path, "a header value cannot hold a line break");
    }
    if (!allowed->values.empty() && !value.empty() &&
        std::find(allowed->values.begin(), allowed->values.end(), value) == allowed->values.end()) {
      return r.Error(entry.value, path, "expected one of: " + JoinNames(allowed->values));
    }
    if (!value.empty()) c->headers.emplace_back(entry.key, value);  // blank: unset, as the toolkit does
  }
  return Status::Ok();
}

Status ReadUsers(const YamlConfigReader& r, const ConfigNode& users, WebConfig* c) {
  const std::string section = "basic_auth_users";
  if (users.IsNull()) return Status::Ok();
  if (!users.IsMap()) return r.Error(users, section, "expected a mapping of user names to bcrypt hashes");
  for (const ConfigNode::Entry& entry : users.Entries()) {
    if (!entry.key_node.IsScalar()) return r.Error(entry.key_node, section, "user names must be strings");
    const std::string path = JoinPath(section, entry.key);
    if (entry.key.find(':') != std::string::npos) {
      return r.Error(entry.key_node, path, "a user name cannot hold ':' (basic auth splits user:password there)");
    }
    for (const auto& [name, hash] : c->users) {
      if (name == entry.key) return r.Error(entry.key_node, path, "duplicate user");
    }
    PRESCALE_ASSIGN_OR_RETURN(const std::string hash, r.String(entry.value, path));
    // The hash itself stays out of the message: it is a secret too.
    if (!IsBcryptHash(hash)) {
      return r.Error(entry.value, path,
                     "expected a bcrypt hash ($2y$, $2b$ or $2a$, a cost from 04 to 31, 53 more characters), e.g. "
                     "from htpasswd -nBC 10 \"\" | tr -d ':\\n'");
    }
    c->users.emplace_back(entry.key, hash);
  }
  return Status::Ok();
}

}  // namespace

Result<WebConfig> ParseWebConfig(std::string_view yaml_text, const std::string& file_name) {
  YamlConfigReader r(file_name);
  PRESCALE_ASSIGN_OR_RETURN(const ConfigNode root, r.Parse(yaml_text));
  WebConfig c;
  if (root.IsNull()) return c;
  PRESCALE_RETURN_IF_ERROR(
      r.CheckMap(root, "", {"tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"}));
  PRESCALE_RETURN_IF_ERROR(RefuseUnsupported(
      r, root, "", {{"rate_limit", "the agent has no request rate limiter; limit the scrapers instead"}}));
  if (root["tls_server_config"].IsDefined() && !root["tls_server_config"].IsNull()) {
    PRESCALE_RETURN_IF_ERROR(ReadTlsServerConfig(r, root["tls_server_config"], &c));
  }
  if (root["http_server_config"].IsDefined() && !root["http_server_config"].IsNull()) {
    PRESCALE_RETURN_IF_ERROR(ReadHttpServerConfig(r, root["http_server_config"], &c));
  }
  if (root["basic_auth_users"].IsDefined()) PRESCALE_RETURN_IF_ERROR(ReadUsers(r, root["basic_auth_users"], &c));
  return c;
}

Result<WebConfig> LoadWebConfig(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    return Status::InvalidArgument("web config file " + path + ": cannot read it: " + std::strerror(err));
  }
  std::string text;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  PRESCALE_ASSIGN_OR_RETURN(WebConfig c, ParseWebConfig(text, path));
  for (auto [key, file] : {std::pair{"cert_file", &c.cert_file}, std::pair{"key_file", &c.key_file},
                           std::pair{"client_ca_file", &c.client_ca_file}}) {
    if (file->empty() || ::access(file->c_str(), R_OK) == 0) continue;
    const int err = errno;
    return Status::InvalidArgument(path + ": tls_server_config." + key + ": cannot read " + *file + ": " +
                                   std::strerror(err));
  }
  return c;
}

void ApplyWebConfig(const WebConfig& web, http::HttpServerOptions* options) {
  if (web.tls()) {
    options->tls_cert_file = web.cert_file;
    options->tls_key_file = web.key_file;
    options->tls_client_auth = web.client_auth;
    options->tls_client_ca_file = web.client_ca_file;
    options->tls_min_version = web.min_version;
    options->tls_max_version = web.max_version;
    options->tls_cipher_suites = web.cipher_suites;
    options->tls_curves = web.curves;
    options->tls_prefer_server_cipher_suites = web.prefer_server_cipher_suites;
  }
  options->response_headers = web.headers;
  if (!web.users.empty()) {
    auto auth = std::make_shared<BasicAuth>(
        web.users, std::vector<std::string>(std::begin(kUnauthenticatedPaths), std::end(kUnauthenticatedPaths)));
    options->authorize = [auth](const http::HttpRequest& request) { return auth->Authorize(request); };
  }
}

std::string DescribeWebConfig(const WebConfig& web) {
  std::string out = "plain HTTP";
  if (web.tls()) {
    const auto version = [](http::TlsVersion v) {
      for (const auto& [name, known] : kVersions) {
        if (known == v) return std::string(name);
      }
      return std::string("?");
    };
    std::string policy = "NoClientCert";
    for (const auto& [name, known] : kClientAuthTypes) {
      if (known == web.client_auth) {
        policy = name;
        break;
      }
    }
    out = "HTTPS (" + version(web.min_version) + "-" + version(web.max_version) + ", client certificates: " + policy +
          ")";
  }
  if (!web.users.empty()) {
    out += ", basic auth (" + std::to_string(web.users.size()) + (web.users.size() == 1 ? " user" : " users") +
           "; /healthz and /readyz open)";
  }
  return out;
}

}  // namespace prescale::agent
