#include "tls_bridge.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <system_error>

#include "prescale/base/log.h"

namespace prescale::http {
namespace {

constexpr size_t kMaxConnections = 256;
constexpr int kIdleTimeoutMs = 60000;  // civetweb closes idle keep-alive connections sooner
constexpr int kIoTimeoutSeconds = 10;  // a handshake or one TLS record that stalls

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

void BlockSigpipe() {
  // A peer that hangs up makes a write raise SIGPIPE; blocked in this thread,
  // the write fails with EPIPE instead of ending the process.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Result<int> ListenSocket(const std::string& listen) {
  std::string host;
  std::string port = listen;
  const size_t colon = listen.rfind(':');
  if (colon != std::string::npos) {
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = host.empty() ? AF_INET : AF_UNSPEC;  // as civetweb: a bare PORT is IPv4
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return Status::Unavailable("cannot listen on " + listen + " (not an ADDR:PORT: " + gai_strerror(rc) + ")");
  }
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int err = errno;
  if (fd >= 0) {
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (::bind(fd, found->ai_addr, found->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) {
      freeaddrinfo(found);
      return fd;
    }
    err = errno;
    ::close(fd);
  }
  freeaddrinfo(found);
  return Status::Unavailable("cannot listen on " + listen + ": " + std::strerror(err));
}

int ConnectBackend(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return fd;
}

bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
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

Result<std::unique_ptr<TlsBridge>> TlsBridge::Start(const std::string& listen, std::shared_ptr<SSL_CTX> ctx,
                                                    int backend_port) {
  std::unique_ptr<TlsBridge> bridge(new TlsBridge(std::move(ctx), backend_port));
  Result<int> fd = ListenSocket(listen);
  if (!fd.ok()) return fd.status();
  bridge->listen_fd_ = *fd;
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(bridge->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    return Status::Unavailable("cannot determine the port bound for " + listen + ": " + std::strerror(errno));
  }
  bridge->port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
                                              : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  if (::pipe2(bridge->wake_fds_, O_CLOEXEC) != 0) {
    return Status::Internal(std::string("pipe2 failed: ") + std::strerror(errno));
  }
  try {
    bridge->acceptor_ = std::thread(&TlsBridge::AcceptLoop, bridge.get());
  } catch (const std::system_error& e) {
    return Status::Internal(std::string("cannot start the TLS accept thread: ") + e.what());
  }
  return bridge;
}

void TlsBridge::AcceptLoop() {
  BlockSigpipe();
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, std::string("https listener: poll failed: ") + std::strerror(errno));
      return;
    }
    if (p[1].revents != 0) return;
    if ((p[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of descriptors: wait a little (or for Stop) instead of spinning.
      if (errno == EMFILE || errno == ENFILE) ::poll(&p[1], 1, 100);
      continue;
    }
    ReapFinished();
    std::lock_guard<std::mutex> lock(mu_);
    if (connections_.size() >= kMaxConnections) {
      ::close(fd);
      continue;
    }
    Connection& conn = connections_.emplace_back();
    conn.fd = fd;
    try {
      conn.thread = std::thread(&TlsBridge::Serve, this, &conn);
    } catch (const std::system_error&) {
      ::close(fd);
      connections_.pop_back();
    }
  }
}

void TlsBridge::ReapFinished() {
  std::list<Connection> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      auto next = std::next(it);
      if (it->done.load()) finished.splice(finished.end(), connections_, it);
      it = next;
    }
  }
  for (Connection& conn : finished) conn.thread.join();
}

void TlsBridge::Serve(Connection* conn) {
  BlockSigpipe();
  const int fd = conn->fd;
  const timeval timeout{kIoTimeoutSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  SSL* ssl = SSL_new(ctx_.get());
  if (ssl != nullptr && SSL_set_fd(ssl, fd) == 1) {
    if (SSL_accept(ssl) == 1) {
      const int backend = ConnectBackend(backend_port_);
      if (backend >= 0) {
        Relay(ssl, fd, backend);
        ::close(backend);
      }
      SSL_shutdown(ssl);  // close_notify, best effort
    } else {
      Log(LogLevel::kDebug, "https listener: handshake failed: " + OpenSslError());
    }
  }
  SSL_free(ssl);
  ERR_clear_error();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ::close(conn->fd);
    conn->fd = -1;
  }
  conn->done.store(true);
}

void TlsBridge::Relay(SSL* ssl, int client_fd, int backend_fd) {
  char buf[16384];
  for (;;) {
    bool client_readable = SSL_pending(ssl) > 0;  // bytes OpenSSL already decrypted
    if (!client_readable) {
      pollfd p[3] = {{client_fd, POLLIN, 0}, {backend_fd, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
      const int n = ::poll(p, 3, kIdleTimeoutMs);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || p[2].revents != 0) return;
      if (p[1].revents != 0) {
        const ssize_t got = ::recv(backend_fd, buf, sizeof buf, 0);
        if (got <= 0) return;  // civetweb closed the connection
        if (SSL_write(ssl, buf, static_cast<int>(got)) != got) return;
      }
      client_readable = p[0].revents != 0;
    }
    if (client_readable) {
      const int got = SSL_read(ssl, buf, sizeof buf);
      if (got <= 0) return;  // close_notify, hang-up, stalled record or error
      if (!SendAll(backend_fd, buf, static_cast<size_t>(got))) return;
    }
  }
}

void TlsBridge::Stop() {
  if (wake_fds_[1] >= 0) {
    const char byte = 1;
    // The pipe stays readable from now on: every poll in the bridge sees it.
    if (::write(wake_fds_[1], &byte, 1) < 0) Log(LogLevel::kError, "https listener: cannot signal stop");
  }
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Connection& conn : connections_) {
      if (conn.fd >= 0) ::shutdown(conn.fd, SHUT_RDWR);  // ends a read or write blocked in OpenSSL
    }
  }
  // Without the lock: each connection takes it once more on its way out.
  for (Connection& conn : connections_) {
    if (conn.thread.joinable()) conn.thread.join();
  }
  connections_.clear();
  for (int* fd : {&listen_fd_, &wake_fds_[0], &wake_fds_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

TlsBridge::~TlsBridge() { Stop(); }

}  // namespace prescale::http
