// TLS for tests: certificates made on the fly (a CA and the certificates it
// signs, or self-signed ones) as PEM files, and a bare OpenSSL client that
// sends one request and can pin TLS versions, cipher suites and present a
// client certificate, which the HTTP clients cannot. OpenSSL stays out of this
// header. Functions are thread-safe; a TestCa is used from one thread.
#pragma once

#include <optional>
#include <string>

namespace prescale::testing {

struct TlsFiles {
  std::string cert_file;
  std::string key_file;
};

// A new EC P-256 key, unencrypted PEM; false when it cannot be written.
bool WriteNewKey(const std::string& path);

// A self-signed CA:TRUE certificate for 127.0.0.1 (CN and subjectAltName),
// valid for an hour, and its key: <dir>/<name>.pem and <dir>/<name>-key.pem.
std::optional<TlsFiles> WriteSelfSignedCert(const std::string& dir, const std::string& name);

// A certificate authority whose certificate (<dir>/<name>-ca.pem) clients and
// servers trust, and which issues certificates valid for an hour.
class TestCa {
 public:
  TestCa(std::string dir, const std::string& name);
  bool ok() const { return ok_; }  // false when the CA could not be written
  const std::string& cert_file() const { return ca_.cert_file; }

  // A server certificate for 127.0.0.1: <dir>/<name>.pem, <dir>/<name>-key.pem.
  std::optional<TlsFiles> IssueServer(const std::string& name) const;
  // A client certificate with CN=name (extendedKeyUsage clientAuth).
  std::optional<TlsFiles> IssueClient(const std::string& name) const;

 private:
  std::optional<TlsFiles> Issue(const std::string& name, bool server) const;

  std::string dir_;
  TlsFiles ca_;
  bool ok_ = false;
  mutable long serial_ = 1;  // each issued certificate's
};

// 0x0301 (TLS 1.0) ... 0x0304 (TLS 1.3), as OpenSSL's TLS1_x_VERSION.
inline constexpr int kTls12 = 0x0303;
inline constexpr int kTls13 = 0x0304;

struct TlsClientOptions {
  std::string ca_file;  // the server's certificate must verify against it; empty: not verified
  TlsFiles client;      // a client certificate to present; empty: none
  int min_version = 0;  // 0: OpenSSL's default
  int max_version = 0;
  std::string cipher_list;  // TLS 1.2 suites by OpenSSL name; empty: defaults
  std::string groups;       // key exchange groups, e.g. "P-256:X25519"; empty: defaults
};

int HttpStatusOf(const std::string& response);

struct TlsExchange {
  bool handshake_ok = false;
  std::string error;     // what failed: connect, handshake (OpenSSL's reason) or the read
  std::string response;  // all the server sent before closing
  std::string version;   // the negotiated protocol, e.g. "TLSv1.3"
  std::string cipher;    // the negotiated suite, OpenSSL's name
  // The HTTP status of `response`; 0 when there is no status line.
  int status() const { return HttpStatusOf(response); }
};

// Connects to 127.0.0.1:port, completes the handshake, sends `request`
// (raw HTTP/1.1; say "Connection: close") and reads until the server closes,
// within 10 s. A TLS 1.3 server refuses a client certificate after the
// client's handshake is done, so a refusal may show as a failed read only.
TlsExchange TlsRequest(int port, const std::string& request, const TlsClientOptions& options);

// "GET <path> HTTP/1.1" to 127.0.0.1 with Connection: close and `extra_headers`
// (each "Name: value\r\n").
std::string HttpGetRequest(const std::string& path, const std::string& extra_headers = "");

// Sends `request` in plain TCP to 127.0.0.1:port and returns all the server
// sent before closing (within 10 s); empty when it cannot connect.
std::string PlainHttpRequest(int port, const std::string& request);

// The status code of a raw HTTP response; 0 without a status line.
int HttpStatusOf(const std::string& response);
// The value of header `name` (case-insensitive) in a raw HTTP response; empty when absent.
std::string HttpHeaderOf(const std::string& response, const std::string& name);

}  // namespace prescale::testing
