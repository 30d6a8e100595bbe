#include "tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace prescale::http {
namespace {

// The last OpenSSL error of this thread, and a clean queue for the next call.
std::string OpenSslError() {
  unsigned long code = 0;
  unsigned long last = 0;
  while ((code = ERR_get_error()) != 0) last = code;
  if (last == 0) return "no detail from OpenSSL";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  return buf;
}

// Encrypted keys are refused rather than prompted for on the terminal.
int NoPassword(char*, int, int, void*) { return 0; }

Status CannotOpen(const std::string& what, const std::string& path, int err) {
  std::string message = "cannot read " + what + " " + path + ": " + std::strerror(err);
  return err == ENOENT ? Status::NotFound(std::move(message)) : Status::IoError(std::move(message));
}

// Reads the first certificate and the key with OpenSSL's PEM readers, so that
// each failure names its own file.
Status CheckTlsFiles(const std::string& cert_file, const std::string& key_file) {
  FILE* f = std::fopen(cert_file.c_str(), "r");
  if (f == nullptr) return CannotOpen("TLS certificate file", cert_file, errno);
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_X509(f, nullptr, NoPassword, nullptr), X509_free);
  std::fclose(f);
  if (cert == nullptr) {
    return Status::ParseError("TLS certificate file " + cert_file + " holds no PEM certificate: " + OpenSslError());
  }
  f = std::fopen(key_file.c_str(), "r");
  if (f == nullptr) return CannotOpen("TLS key file", key_file, errno);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_PrivateKey(f, nullptr, NoPassword, nullptr),
                                                          EVP_PKEY_free);
  std::fclose(f);
  if (key == nullptr) {
    return Status::ParseError("TLS key file " + key_file + " holds no unencrypted PEM private key: " + OpenSslError());
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("TLS key file " + key_file + " does not match the certificate in " + cert_file);
  }
  return Status::Ok();
}

int ProtocolVersion(TlsVersion version) {
  switch (version) {
    case TlsVersion::kTls10: return TLS1_VERSION;
    case TlsVersion::kTls11: return TLS1_1_VERSION;
    case TlsVersion::kTls12: return TLS1_2_VERSION;
    case TlsVersion::kTls13: return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

// OpenSSL's security level (Debian's default is 2) may still refuse TLS 1.0
// and 1.1 handshakes below TLS 1.2 (they sign with SHA-1): a lower minimum
// allows them, it does not lower the level.
Status SetProtocolVersions(SSL_CTX* c, const HttpServerOptions& options) {
  if (options.tls_min_version > options.tls_max_version) {
    return Status::InvalidArgument("tls_min_version is above tls_max_version");
  }
  if (SSL_CTX_set_min_proto_version(c, ProtocolVersion(options.tls_min_version)) != 1 ||
      SSL_CTX_set_max_proto_version(c, ProtocolVersion(options.tls_max_version)) != 1) {
    return Status::Internal("cannot set the TLS versions: " + OpenSslError());
  }
  return Status::Ok();
}

Status SetCipherSuitesAndCurves(SSL_CTX* c, const HttpServerOptions& options) {
  if (!options.tls_cipher_suites.empty()) {
    std::string list;
    for (const std::string& name : options.tls_cipher_suites) {
      // The IANA name (Go's, the exporter toolkit's) to OpenSSL's; "(NONE)" when unknown.
      const char* openssl_name = OPENSSL_cipher_name(name.c_str());
      if (openssl_name == nullptr || std::strcmp(openssl_name, "(NONE)") == 0) {
        return Status::InvalidArgument("tls_cipher_suites: unknown cipher suite " + name);
      }
      if (!list.empty()) list += ':';
      list += openssl_name;
    }
    if (SSL_CTX_set_cipher_list(c, list.c_str()) != 1) {
      return Status::InvalidArgument("tls_cipher_suites: OpenSSL enables none of " + list + ": " + OpenSslError());
    }
  }
  if (!options.tls_curves.empty()) {
    std::string list;
    for (const std::string& name : options.tls_curves) list += (list.empty() ? "" : ":") + name;
    if (SSL_CTX_set1_groups_list(c, list.c_str()) != 1) {
      return Status::InvalidArgument("tls_curves: OpenSSL does not know all of " + list + ": " + OpenSslError());
    }
  }
  return Status::Ok();
}

// The policies that ask for a certificate without verifying it take any.
int AcceptAnyCertificate(int /*preverified*/, X509_STORE_CTX* /*store*/) { return 1; }

Status SetClientAuth(SSL_CTX* c, const HttpServerOptions& options) {
  const TlsClientAuth policy = options.tls_client_auth;
  const std::string& ca_file = options.tls_client_ca_file;
  const bool verifies =
      policy == TlsClientAuth::kVerifyClientCertIfGiven || policy == TlsClientAuth::kRequireAndVerifyClientCert;
  if (verifies && ca_file.empty()) {
    return Status::InvalidArgument("tls_client_ca_file is needed to verify client certificates");
  }
  if (!ca_file.empty()) {
    FILE* f = std::fopen(ca_file.c_str(), "r");
    if (f == nullptr) return CannotOpen("TLS client CA file", ca_file, errno);
    std::fclose(f);
    // The issuers a client may pick its certificate by, and the store that verifies it.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca_file.c_str());
    if (names == nullptr) {
      return Status::ParseError("TLS client CA file " + ca_file + " holds no PEM certificate: " + OpenSslError());
    }
    SSL_CTX_set_client_CA_list(c, names);  // takes ownership
    if (SSL_CTX_load_verify_locations(c, ca_file.c_str(), nullptr) != 1) {
      return Status::ParseError("cannot load TLS client CA file " + ca_file + ": " + OpenSslError());
    }
  }
  // Sessions resumed by a client must come from this context (OpenSSL refuses
  // to resume without an id context once peers are verified).
  static constexpr unsigned char kSessionContext[] = "prescale-http";
  SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);
  switch (policy) {
    case TlsClientAuth::kNoClientCert: SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr); break;
    case TlsClientAuth::kRequestClientCert: SSL_CTX_set_verify(c, SSL_VERIFY_PEER, AcceptAnyCertificate); break;
    case TlsClientAuth::kRequireAnyClientCert:
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, AcceptAnyCertificate);
      break;
    case TlsClientAuth::kVerifyClientCertIfGiven: SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr); break;
    case TlsClientAuth::kRequireAndVerifyClientCert:
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<SSL_CTX>> NewServerTlsContext(const HttpServerOptions& options) {
  const std::string& cert_file = options.tls_cert_file;
  const std::string& key_file = options.tls_key_file;
  ERR_clear_error();
  PRESCALE_RETURN_IF_ERROR(CheckTlsFiles(cert_file, key_file));
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (ctx == nullptr) return Status::Internal("SSL_CTX_new failed: " + OpenSslError());
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_default_passwd_cb(c, NoPassword);
  PRESCALE_RETURN_IF_ERROR(SetProtocolVersions(c, options));
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);  // a connection between requests holds no record buffers
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                             (options.tls_prefer_server_cipher_suites ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  PRESCALE_RETURN_IF_ERROR(SetCipherSuitesAndCurves(c, options));
  if (SSL_CTX_use_certificate_chain_file(c, cert_file.c_str()) != 1) {
    return Status::ParseError("cannot load the certificate chain in TLS certificate file " + cert_file + ": " +
                              OpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(c, key_file.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(c) != 1) {
    return Status::InvalidArgument("TLS key file " + key_file + " does not match the certificate in " + cert_file +
                                   ": " + OpenSslError());
  }
  PRESCALE_RETURN_IF_ERROR(SetClientAuth(c, options));
  return ctx;
}

}  // namespace prescale::http
