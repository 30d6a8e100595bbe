// TlsBridge: terminates TLS for HttpServer. It listens on the public address,
// completes each TLS handshake with OpenSSL and relays the plain bytes to
// civetweb's listener on 127.0.0.1 (one backend connection per client
// connection, one thread each, up to a limit).
//
// Why not civetweb's own TLS: Debian 12's civetweb 1.15 is built against the
// OpenSSL 1.1 API and loads libssl.so with dlopen; OpenSSL 3 no longer exports
// SSL_get_peer_certificate, civetweb keeps a null pointer for it and calls it
// after every handshake, so the first HTTPS request kills the process
// (civetweb issue #1334).
//
// Thread-safe: Start and Stop from one thread; the rest runs on its own.
#pragma once

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "prescale/base/status.h"
#include "prescale/http/http_server.h"

// OpenSSL's own names, as <openssl/types.h> declares them.
using SSL_CTX = struct ssl_ctx_st;  // NOLINT(readability-identifier-naming)
using SSL = struct ssl_st;          // NOLINT(readability-identifier-naming)

namespace prescale::http {

// A server SSL_CTX holding the certificate chain and the key of `options`,
// with its TLS versions, cipher suites, groups and client certificate policy.
// Fails naming the file that is missing, unreadable or not PEM (both files
// when the key does not belong to the certificate), or the setting OpenSSL
// refuses.
Result<std::shared_ptr<SSL_CTX>> NewServerTlsContext(const HttpServerOptions& options);

class TlsBridge {
 public:
  TlsBridge(const TlsBridge&) = delete;
  TlsBridge& operator=(const TlsBridge&) = delete;
  ~TlsBridge();

  // Listens on `listen` (ADDR:PORT, [ADDR6]:PORT or PORT). Fails naming the
  // address when it cannot bind.
  static Result<std::unique_ptr<TlsBridge>> Start(const std::string& listen, std::shared_ptr<SSL_CTX> ctx,
                                                  int backend_port);

  int port() const { return port_; }
  // Closes the listener and every connection, and joins the threads.
  void Stop();

 private:
  struct Connection {
    int fd = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  TlsBridge(std::shared_ptr<SSL_CTX> ctx, int backend_port) : ctx_(std::move(ctx)), backend_port_(backend_port) {}
  void AcceptLoop();
  void Serve(Connection* conn);
  void Relay(SSL* ssl, int client_fd, int backend_fd);
  void ReapFinished();

  std::shared_ptr<SSL_CTX> ctx_;
  int backend_port_;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // a pipe; written once by Stop
  int port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::list<Connection> connections_;  // guarded by mu_
};

}  // namespace prescale::http
