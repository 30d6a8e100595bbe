#include "tests/support/test_tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

namespace prescale::testing {
namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr NewKey() { return KeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free); }

bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool WriteKey(EVP_PKEY* key, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  const bool ok = PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  return std::fclose(f) == 0 && ok;
}

bool WriteCert(X509* cert, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  const bool ok = PEM_write_X509(f, cert) == 1;
  return std::fclose(f) == 0 && ok;
}

// A certificate for `key` named CN=cn, valid for an hour, not yet signed.
CertPtr NewCert(EVP_PKEY* key, const std::string& cn, long serial) {
  CertPtr cert(X509_new(), X509_free);
  X509* x = cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return cert;
}

KeyPtr ReadKey(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return KeyPtr(nullptr, EVP_PKEY_free);
  KeyPtr key(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr), EVP_PKEY_free);
  std::fclose(f);
  return key;
}

CertPtr ReadCert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return CertPtr(nullptr, X509_free);
  CertPtr cert(PEM_read_X509(f, nullptr, nullptr, nullptr), X509_free);
  std::fclose(f);
  return cert;
}

std::string OpenSslErrors() {
  std::string out;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

int ConnectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The client context `options` asks for; null with *error set when OpenSSL refuses a setting.
std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ClientContext(const TlsClientOptions& options, std::string* error) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  SSL_CTX* c = ctx.get();
  bool ok = c != nullptr;
  if (ok && options.min_version != 0) ok = SSL_CTX_set_min_proto_version(c, options.min_version) == 1;
  if (ok && options.max_version != 0) ok = SSL_CTX_set_max_proto_version(c, options.max_version) == 1;
  if (ok && !options.cipher_list.empty()) ok = SSL_CTX_set_cipher_list(c, options.cipher_list.c_str()) == 1;
  if (ok && !options.groups.empty()) ok = SSL_CTX_set1_groups_list(c, options.groups.c_str()) == 1;
  if (ok && !options.ca_file.empty()) {
    ok = SSL_CTX_load_verify_locations(c, options.ca_file.c_str(), nullptr) == 1;
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  }
  if (ok && !options.client.cert_file.empty()) {
    ok = SSL_CTX_use_certificate_chain_file(c, options.client.cert_file.c_str()) == 1 &&
         SSL_CTX_use_PrivateKey_file(c, options.client.key_file.c_str(), SSL_FILETYPE_PEM) == 1;
  }
  if (!ok) {
    *error = "client setup: " + OpenSslErrors();
    ctx.reset();
  }
  return ctx;
}

}  // namespace

bool WriteNewKey(const std::string& path) {
  KeyPtr key = NewKey();
  return key != nullptr && WriteKey(key.get(), path);
}

std::optional<TlsFiles> WriteSelfSignedCert(const std::string& dir, const std::string& name) {
  KeyPtr key = NewKey();
  if (key == nullptr) return std::nullopt;
  CertPtr cert = NewCert(key.get(), "127.0.0.1", 1);
  X509* x = cert.get();
  X509_set_issuer_name(x, X509_get_subject_name(x));
  if (!AddExtension(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExtension(x, x, NID_subject_alt_name, "IP:127.0.0.1") || X509_sign(x, key.get(), EVP_sha256()) == 0) {
    return std::nullopt;
  }
  TlsFiles files{dir + "/" + name + ".pem", dir + "/" + name + "-key.pem"};
  if (!WriteCert(x, files.cert_file) || !WriteKey(key.get(), files.key_file)) return std::nullopt;
  return files;
}

TestCa::TestCa(std::string dir, const std::string& name) : dir_(std::move(dir)) {
  KeyPtr key = NewKey();
  if (key == nullptr) return;
  CertPtr cert = NewCert(key.get(), name + " test CA", 1);
  X509* x = cert.get();
  X509_set_issuer_name(x, X509_get_subject_name(x));
  if (!AddExtension(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExtension(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(x, x, NID_subject_key_identifier, "hash") || X509_sign(x, key.get(), EVP_sha256()) == 0) {
    return;
  }
  ca_ = {dir_ + "/" + name + "-ca.pem", dir_ + "/" + name + "-ca-key.pem"};
  ok_ = WriteCert(x, ca_.cert_file) && WriteKey(key.get(), ca_.key_file);
}

std::optional<TlsFiles> TestCa::IssueServer(const std::string& name) const { return Issue(name, true); }
std::optional<TlsFiles> TestCa::IssueClient(const std::string& name) const { return Issue(name, false); }

std::optional<TlsFiles> TestCa::Issue(const std::string& name, bool server) const {
  if (!ok_) return std::nullopt;
  KeyPtr ca_key = ReadKey(ca_.key_file);
  CertPtr ca_cert = ReadCert(ca_.cert_file);
  KeyPtr key = NewKey();
  if (ca_key == nullptr || ca_cert == nullptr || key == nullptr) return std::nullopt;
  CertPtr cert = NewCert(key.get(), server ? "127.0.0.1" : name, ++serial_);
  X509* x = cert.get();
  X509_set_issuer_name(x, X509_get_subject_name(ca_cert.get()));
  if (!AddExtension(x, ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExtension(x, ca_cert.get(), NID_ext_key_usage, server ? "serverAuth" : "clientAuth") ||
      !AddExtension(x, ca_cert.get(), NID_authority_key_identifier, "keyid:always") ||
      (server && !AddExtension(x, ca_cert.get(), NID_subject_alt_name, "IP:127.0.0.1")) ||
      X509_sign(x, ca_key.get(), EVP_sha256()) == 0) {
    return std::nullopt;
  }
  TlsFiles files{dir_ + "/" + name + ".pem", dir_ + "/" + name + "-key.pem"};
  if (!WriteCert(x, files.cert_file) || !WriteKey(key.get(), files.key_file)) return std::nullopt;
  return files;
}

int HttpStatusOf(const std::string& response) {
  // "HTTP/1.1 200 OK"
  if (!response.starts_with("HTTP/1.") || response.size() < 12) return 0;
  int code = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (response[i] < '0' || response[i] > '9') return 0;
    code = code * 10 + (response[i] - '0');
  }
  return code;
}

std::string HttpHeaderOf(const std::string& response, const std::string& name) {
  const size_t end = response.find("\r\n\r\n");
  size_t line = response.find("\r\n");
  while (line != std::string::npos && line < end) {
    const size_t start = line + 2;
    const size_t next = response.find("\r\n", start);
    const std::string header = response.substr(start, next - start);
    const size_t colon = header.find(':');
    if (colon == name.size() && strncasecmp(header.c_str(), name.c_str(), colon) == 0) {
      const size_t value = header.find_first_not_of(' ', colon + 1);
      return value == std::string::npos ? "" : header.substr(value);
    }
    line = next;
  }
  return "";
}

std::string PlainHttpRequest(int port, const std::string& request) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return "";
  std::string response;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[16384];
    ssize_t n = 0;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return response;
}

TlsExchange TlsRequest(int port, const std::string& request, const TlsClientOptions& options) {
  TlsExchange out;
  ERR_clear_error();
  auto ctx = ClientContext(options, &out.error);
  if (ctx == nullptr) return out;
  const int fd = ConnectLoopback(port);
  if (fd < 0) {
    out.error = std::string("connect: ") + std::strerror(errno);
    return out;
  }
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd);
  if (SSL_connect(ssl.get()) != 1) {
    out.error = "handshake: " + OpenSslErrors();
    ::close(fd);
    return out;
  }
  out.handshake_ok = true;
  out.version = SSL_get_version(ssl.get());
  out.cipher = SSL_get_cipher_name(ssl.get());
  if (SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())) != static_cast<int>(request.size())) {
    out.error = "write: " + OpenSslErrors();
  } else {
    char buf[16384];
    int n = 0;
    while ((n = SSL_read(ssl.get(), buf, sizeof buf)) > 0) out.response.append(buf, static_cast<size_t>(n));
    const int reason = SSL_get_error(ssl.get(), n);
    if (reason != SSL_ERROR_ZERO_RETURN && !(reason == SSL_ERROR_SYSCALL && !out.response.empty())) {
      out.error = "read: " + OpenSslErrors();
    }
  }
  SSL_shutdown(ssl.get());
  ::close(fd);
  ERR_clear_error();
  return out;
}

std::string HttpGetRequest(const std::string& path, const std::string& extra_headers) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra_headers + "\r\n";
}

}  // namespace prescale::testing
