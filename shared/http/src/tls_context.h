// The server side of HttpServer's TLS: an OpenSSL context built from HttpServerOptions.
#pragma once

#include <memory>

#include "prescale/base/status.h"
#include "prescale/http/http_server.h"

// OpenSSL's own name, as <openssl/types.h> declares it.
using SSL_CTX = struct ssl_ctx_st;  // NOLINT(readability-identifier-naming)

namespace prescale::http {

// A server SSL_CTX holding the certificate chain and the key of `options`,
// with its TLS versions, cipher suites, groups and client certificate policy.
// Fails naming the file that is missing, unreadable or not PEM (both files
// when the key does not belong to the certificate), or the setting OpenSSL
// refuses.
Result<std::shared_ptr<SSL_CTX>> NewServerTlsContext(const HttpServerOptions& options);

}  // namespace prescale::http
