// HttpServer's front end: `threads` Asio event loops, one thread each (an
// io_context per thread: no lock handoffs or wake-ups between threads on the
// way from a socket to its handler, which cost a fifth of the ingest CPU with
// one loop shared by all threads). A new connection goes to the loop holding
// the fewest. Each connection is a Connection: a socket, a timer and a read
// buffer; it holds its loop's thread only while a handler runs for one of its
// requests (a slow handler delays the other connections of its loop, not the
// rest).
// Beast parses requests; responses are written as prescale builds them (one
// gather write of headers, body and shared body parts). TLS is an
// asio::ssl::stream over the same socket, in the same loop.
//
// A connection's life: [TLS handshake] -> wait for a first byte (idle_timeout)
// -> header (header_timeout) -> body (body_timeout) -> handler -> response
// (write_timeout) -> again while kept alive, else a lingering close. A
// body_writer response is produced on a streamer thread that hands each piece
// to the connection's loop and waits for it to be written.
#include "prescale/http/http_server.h"

#include <netdb.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

// Asio's scheduler trips GCC's -Wnull-dereference where it is inlined (as in beast_http_client.cc).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#pragma GCC diagnostic pop

#include "prescale/base/log.h"
#include "prescale/http/query_string.h"
#include "request_id.h"
#include "response_head.h"
#include "route_match.h"
#include "tls_context.h"

namespace prescale::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using beast::error_code;

// A connection that will not be kept alive drains what the client still sends
// for at most this long before it closes, so its last answer is not lost to a
// reset (and a TLS client gets its close_notify exchange).
constexpr auto kLingerTimeout = std::chrono::seconds(2);
// What a connection waiting for its next request reads at once.
constexpr size_t kFirstRead = 4096;

// Binds ADDR:PORT, [ADDR6]:PORT or PORT (IPv4, as a bare port always was).
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
  hints.ai_family = host.empty() ? AF_INET : AF_UNSPEC;
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

bool IsParseError(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

class Connection;

}  // namespace

class HttpServer::Front {
 public:
  // One event loop and its thread.
  struct Loop {
    std::atomic<size_t> connections{0};  // declared first: connections destroyed with ioc count down here
    asio::io_context ioc{1};             // run by one thread
    asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  };

  Front(const HttpServer* owner, const HttpServerOptions& opts)
      : server(owner),
        options(opts),
        loops(MakeLoops(opts.threads)),
        acceptor(loops[0]->ioc),
        accept_retry(loops[0]->ioc) {}
  static std::vector<std::unique_ptr<Loop>> MakeLoops(int threads) {
    std::vector<std::unique_ptr<Loop>> loops;
    for (int i = 0; i < std::max(1, threads); ++i) loops.push_back(std::make_unique<Loop>());
    return loops;
  }

  void Accept();
  void Admit(Loop* loop, tcp::socket socket);
  // Called by a connection as it goes: the counts it held are released.
  void Release(const Connection* c, const std::string& client);
  asio::thread_pool& Streamers();
  asio::thread_pool& Blockers();
  void Shutdown();

  const HttpServer* const server;
  const HttpServerOptions& options;
  // Declared before the loops: connections a loop still owns when it is
  // destroyed release their counts here.
  std::mutex mu;
  std::unordered_map<std::string, size_t> per_client;                     // guarded by mu
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> open;  // guarded by mu
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> timed_out{0};
  std::atomic<bool> stopping{false};
  std::optional<asio::ssl::context> tls;  // before the loops: their connections' TLS streams use it
  std::vector<std::unique_ptr<Loop>> loops;
  tcp::acceptor acceptor;  // on loops[0]
  asio::steady_timer accept_retry;
  std::once_flag streamers_once;
  std::optional<asio::thread_pool> streamers;
  std::once_flag blockers_once;
  std::optional<asio::thread_pool> blockers;  // HttpServerOptions::blocking's requests
  std::vector<std::thread> threads;
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpServer::Front* front, HttpServer::Front::Loop* loop, tcp::socket socket, std::string client,
             std::string remote)
      : front_(front),
        loop_(loop),
        options_(front->options),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        client_(std::move(client)),
        remote_(std::move(remote)) {
    if (front_->tls.has_value()) tls_.emplace(socket_, *front_->tls);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    --loop_->connections;
    front_->Release(this, client_);
  }

  asio::any_io_executor executor() { return socket_.get_executor(); }

  void Start() {
    asio::dispatch(executor(), [self = shared_from_this()] { self->Begin(); });
  }

  // On its loop: every pending operation ends with operation_aborted.
  void Close() {
    Disarm();
    error_code ignored;
    socket_.close(ignored);
  }

 private:
  // Runs `f` with the stream requests and responses go through.
  template <class F>
  void OnStream(F&& f) {
    if (tls_.has_value()) {
      f(*tls_);
    } else {
      f(socket_);
    }
  }

  // Closes the connection when `timeout` passes before the next Arm or Disarm.
  void Arm(std::chrono::milliseconds timeout) {
    const uint64_t generation = ++timer_generation_;
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this(), generation](error_code ec) {
      if (ec || generation != self->timer_generation_) return;
      ++self->front_->timed_out;
      self->Close();
    });
  }
  void Disarm() {
    ++timer_generation_;
    timer_.cancel();
  }

  void Begin() {
    if (!tls_.has_value()) {
      ReadRequest();
      return;
    }
    Arm(options_.header_timeout);
    tls_->async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](error_code ec) {
      if (ec) {
        self->Close();  // a refused client certificate, a plain-HTTP client, a stalled handshake
        return;
      }
      self->ReadRequest();
    });
  }

  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<size_t>(options_.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(options_.max_body_bytes);
    if (buffer_.size() > 0) {  // pipelined: the next request is here already
      ReadHeader();
      return;
    }
    // Idle until the client sends a byte: only then does header_timeout start. A
    // read rather than a wait for the socket: TLS may hold decrypted bytes already.
    // An idle connection keeps no buffer (a fleet's 2,000 would hold their
    // largest request's each).
    buffer_.shrink_to_fit();
    Arm(options_.idle_timeout);
    OnStream([this](auto& stream) {
      stream.async_read_some(buffer_.prepare(kFirstRead), [self = shared_from_this()](error_code ec, size_t n) {
        if (ec) {
          self->Close();
          return;
        }
        self->buffer_.commit(n);
        self->ReadHeader();
      });
    });
  }

  void ReadHeader() {
    started_ = std::chrono::steady_clock::now();
    method_.clear();
    path_.clear();
    request_id_.clear();
    Arm(options_.header_timeout);
    OnStream([this](auto& stream) {
      bhttp::async_read_header(stream, buffer_, *parser_,
                               [self = shared_from_this()](error_code ec, size_t) { self->OnHeader(ec); });
    });
  }

  // The method and path of the header read, for the log of a request refused before Handle.
  void NoteRequestLine() {
    const auto& req = parser_->get();
    method_.assign(req.method_string().data(), req.method_string().size());
    const std::string_view target(req.target().data(), req.target().size());
    path_ = target.substr(0, target.find('?'));
  }

  void OnHeader(error_code ec) {
    if (ec) {
      if (ec == bhttp::error::body_limit) {  // a Content-Length over the limit
        NoteRequestLine();
        TooLarge();
      } else if (ec == bhttp::error::header_limit) {
        Refuse(431, "headers_too_large",
               "the request line and headers exceed " + std::to_string(options_.max_header_bytes) + " bytes");
      } else if (IsParseError(ec)) {
        Refuse(400, "bad_request", "malformed request: " + ec.message());
      } else {
        Close();  // the client went away, or a timeout closed the socket
      }
      return;
    }
    const auto& req = parser_->get();
    NoteRequestLine();
    http10_ = req.version() < 11;
    keep_alive_ = req.keep_alive();
    const auto length = parser_->content_length();
    if (length.has_value() && *length > options_.max_body_bytes) {
      TooLarge();
      return;
    }
    Arm(options_.body_timeout);
    if (!parser_->is_done() && beast::iequals(req[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      OnStream([this](auto& stream) {
        asio::async_write(stream, asio::buffer(kContinue.data(), kContinue.size()),
                          [self = shared_from_this()](error_code write_ec, size_t) {
                            if (write_ec) {
                              self->Close();
                              return;
                            }
                            self->ReadBody();
                          });
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) {
      Handle();
      return;
    }
    OnStream([this](auto& stream) {
      bhttp::async_read(stream, buffer_, *parser_, [self = shared_from_this()](error_code ec, size_t) {
        if (!ec) {
          self->Handle();
        } else if (ec == bhttp::error::body_limit) {
          self->TooLarge();
        } else if (IsParseError(ec)) {
          self->Refuse(400, "bad_request", "malformed request body: " + ec.message());
        } else {
          self->Close();
        }
      });
    });
  }

  void TooLarge() {
    Refuse(413, "body_too_large", "the body exceeds " + std::to_string(options_.max_body_bytes) + " bytes");
  }

  // Answers and closes: what is left of the request is not read as another one.
  void Refuse(int status, std::string_view code, std::string_view message) {
    keep_alive_ = false;
    auto response = std::make_shared<HttpResponse>(HttpResponse::JsonError(status, code, message));
    if (request_id_.empty()) request_id_ = NewRequestId();
    response->headers.emplace_back("X-Request-Id", request_id_);
    LogRequest(status, response->body.size());
    Write(std::move(response), false);
  }

  // One line per request: at options_.request_log_level, 5xx at warn. Only
  // the path (no query: its values may carry secrets), never a header's value.
  void LogRequest(int status, uint64_t bytes) const {
    const LogLevel level = status >= 500 ? LogLevel::kWarning : options_.request_log_level;
    if (!LogEnabled(level)) return;  // the hot path stops here
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
    Log(level, "request",
        {{"component", "http"},
         {"method", method_.empty() ? "-" : method_},
         {"path", path_.empty() ? "-" : std::string_view(path_).substr(0, 256)},
         {"status", status},
         {"duration_ms", std::round(ms * 1000) / 1000},
         {"bytes", bytes},
         {"remote", remote_},
         {"request_id", request_id_}});
  }

  void Handle() {
    Disarm();
    auto message = parser_->release();
    HttpRequest request;
    request.method = std::string(message.method_string());
    const std::string_view target(message.target().data(), message.target().size());
    if (!SplitRequestTarget(target, &request.path, &request.query)) {
      Refuse(400, "bad_request", "the request target is not a path: " + std::string(target.substr(0, 200)));
      return;
    }
    for (const auto& field : message) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.remote_address = remote_;
    request_id_ = TakeRequestId(&request);
    method_ = request.method;
    path_ = request.path;
    const bool head = request.method == "HEAD";
    if (options_.blocking && options_.blocking(method_, path_)) {
      // Handled on the blocking pool; answered back on this connection's loop.
      asio::post(front_->Blockers(), [self = shared_from_this(), request = std::move(request), head]() mutable {
        std::shared_ptr<HttpResponse> response = self->Run(std::move(request));
        asio::post(self->executor(), [self, response = std::move(response), head] { self->Respond(response, head); });
      });
      return;
    }
    Respond(Run(std::move(request)), head);
  }

  // Authorizes and routes one request (on the loop's thread or the blocking pool's).
  std::shared_ptr<HttpResponse> Run(HttpRequest request) const {
    try {
      return std::make_shared<HttpResponse>(front_->server->Dispatch(std::move(request)));
    } catch (const std::exception& e) {
      Log(LogLevel::kError, "a handler threw",
          {{"component", "http"}, {"error", e.what()}, {"path", path_}, {"request_id", request_id_}});
      return std::make_shared<HttpResponse>(HttpResponse::JsonError(500, "internal", "the handler failed"));
    }
  }

  // On the connection's loop: sends a handler's response.
  void Respond(std::shared_ptr<HttpResponse> response, bool head) {
    SetHeaderUnlessSet(response.get(), "X-Request-Id", request_id_);
    if (front_->stopping.load()) keep_alive_ = false;
    if (response->body_writer) {
      if (http10_) keep_alive_ = false;  // the body ends with the connection
      asio::post(front_->Streamers(), [self = shared_from_this(), response, head] { self->Stream(*response, head); });
      return;
    }
    size_t length = response->body.size();
    for (const auto& part : response->body_parts) length += part->size();
    LogRequest(response->status, head ? 0 : length);
    Write(std::move(response), head);
  }

  // One gather write: headers, body and body parts (none for HEAD).
  void Write(std::shared_ptr<HttpResponse> response, bool head) {
    size_t length = response->body.size();
    for (const auto& part : response->body_parts) length += part->size();
    out_header_ = HeaderBlock(*response, length, false, keep_alive_, http10_);
    std::vector<asio::const_buffer> buffers{asio::buffer(out_header_)};
    if (!head) {
      buffers.emplace_back(asio::buffer(response->body));
      for (const auto& part : response->body_parts) buffers.emplace_back(asio::buffer(*part));
    }
    Arm(options_.write_timeout);
    OnStream([&](auto& stream) {
      asio::async_write(stream, buffers,
                        [self = shared_from_this(), response = std::move(response)](error_code ec, size_t) {
                          if (ec) {
                            self->Close();
                            return;
                          }
                          self->Next();
                        });
    });
  }

  // On a streamer thread: the body_writer's pieces, each written before the next is asked for.
  void Stream(const HttpResponse& response, bool head) {
    const bool chunked = !http10_;
    std::string pending = HeaderBlock(response, std::nullopt, chunked, keep_alive_, http10_);
    bool ok = true;
    uint64_t bytes = 0;
    if (!head) {
      bool held = false;  // pending ends with a piece: send it before the next one (the headers go with the first)
      char size_line[24];
      response.body_writer([&](std::string_view piece) {
        if (!ok) return false;
        if (piece.empty()) return true;  // an empty chunk would end the body
        if (held) {
          ok = WriteAndWait(pending);
          pending.clear();
        }
        if (chunked) {
          const int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
          pending.append(size_line, static_cast<size_t>(n));
        }
        pending.append(piece);
        bytes += piece.size();
        if (chunked) pending.append("\r\n");
        held = true;
        return ok;
      });
      if (chunked) pending.append("0\r\n\r\n");
    }
    ok = ok && WriteAndWait(pending);
    LogRequest(response.status, bytes);
    asio::post(executor(), [self = shared_from_this(), ok] {
      if (ok) {
        self->Next();
      } else {
        self->Close();
      }
    });
  }

  // From a streamer thread: writes `data` on the connection's loop and waits for the outcome.
  bool WriteAndWait(const std::string& data) {
    std::promise<bool> written;
    std::future<bool> outcome = written.get_future();
    asio::post(executor(), [this, &data, &written] {
      if (!socket_.is_open()) {
        written.set_value(false);
        return;
      }
      Arm(options_.write_timeout);
      OnStream([&](auto& stream) {
        asio::async_write(stream, asio::buffer(data),
                          [self = shared_from_this(), &written](error_code ec, size_t) { written.set_value(!ec); });
      });
    });
    return outcome.get();
  }

  void Next() {
    if (keep_alive_) {
      ReadRequest();
    } else {
      Linger();
    }
  }

  // Ends a connection that is not kept alive: TLS sends close_notify; plain TCP
  // sends FIN and drains what the client still sends, then closes.
  void Linger() {
    Arm(kLingerTimeout);
    if (tls_.has_value()) {
      tls_->async_shutdown([self = shared_from_this()](error_code) { self->Close(); });
      return;
    }
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    Drain();
  }
  void Drain() {
    socket_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](error_code ec, size_t) {
      if (ec) {
        self->Close();
        return;
      }
      self->Drain();
    });
  }

  HttpServer::Front* const front_;
  HttpServer::Front::Loop* const loop_;
  const HttpServerOptions& options_;
  tcp::socket socket_;
  std::optional<asio::ssl::stream<tcp::socket&>> tls_;
  asio::steady_timer timer_;
  uint64_t timer_generation_ = 0;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  const std::string client_;  // the address, for the per-client limit
  const std::string remote_;  // address and port, for HttpRequest::remote_address
  bool keep_alive_ = false;
  bool http10_ = false;
  // The request being answered, for its log line: from its first byte.
  std::chrono::steady_clock::time_point started_;
  std::string method_;
  std::string path_;
  std::string request_id_;
  std::string out_header_;
  std::array<char, 4096> scratch_{};
};

bool OutOfDescriptors(const error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space || ec == asio::error::no_memory ||
         ec.value() == ENFILE;
}

}  // namespace

void HttpServer::Front::Accept() {
  Loop* loop = loops[0].get();
  for (const auto& l : loops) {
    if (l->connections.load() < loop->connections.load()) loop = l.get();
  }
  acceptor.async_accept(loop->ioc, [this, loop](error_code ec, tcp::socket socket) {
    if (stopping.load() || ec == asio::error::operation_aborted) return;
    if (ec) {
      if (OutOfDescriptors(ec)) {
        // Out of file descriptors: wait for connections to close instead of spinning.
        Log(LogLevel::kWarning, "cannot accept a connection", {{"component", "http"}, {"error", ec.message()}});
        accept_retry.expires_after(std::chrono::milliseconds(100));
        accept_retry.async_wait([this](error_code wait) {
          if (!wait) Accept();
        });
        return;
      }
      Accept();
      return;
    }
    Admit(loop, std::move(socket));
    Accept();
  });
}

void HttpServer::Front::Admit(Loop* loop, tcp::socket socket) {
  error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return;  // gone before it was seen
  std::string client = peer.address().to_string();
  std::string remote = (peer.address().is_v6() ? "[" + client + "]" : client) + ":" + std::to_string(peer.port());
  bool over = false;
  {
    std::lock_guard lock(mu);
    size_t& from_client = per_client[client];
    over = (options.max_connections > 0 && open.size() >= options.max_connections) ||
           (options.max_connections_per_client > 0 && from_client >= options.max_connections_per_client);
    if (over && from_client == 0) per_client.erase(client);
    if (!over) ++from_client;
  }
  if (over) {
    const uint64_t n = ++refused;
    if ((n & (n - 1)) == 0) {  // 1, 2, 4, ...: a flood does not flood the log
      Log(LogLevel::kWarning, "refused a connection over a connection limit",
          {{"component", "http"},
           {"remote", remote},
           {"max_connections", options.max_connections},
           {"max_connections_per_client", options.max_connections_per_client},
           {"refused_so_far", n}});
    }
    if (!tls.has_value()) {
      const HttpResponse busy =
          HttpResponse::JsonError(503, "too_many_connections", "the server holds too many connections; retry later");
      const std::string answer = HeaderBlock(busy, busy.body.size(), false, false, false) + busy.body;
      socket.non_blocking(true, ec);
      asio::write(socket, asio::buffer(answer), ec);  // a fresh socket's send buffer takes it whole
    }
    socket.close(ec);
    return;
  }
  ++accepted;
  ++loop->connections;
  socket.set_option(tcp::no_delay(true), ec);
  auto connection = std::make_shared<Connection>(this, loop, std::move(socket), std::move(client), std::move(remote));
  {
    std::lock_guard lock(mu);
    open.emplace(connection.get(), connection);
  }
  connection->Start();
}

void HttpServer::Front::Release(const Connection* c, const std::string& client) {
  std::lock_guard lock(mu);
  open.erase(c);
  auto it = per_client.find(client);
  if (it != per_client.end() && --it->second == 0) per_client.erase(it);
}

asio::thread_pool& HttpServer::Front::Streamers() {
  std::call_once(streamers_once, [this] { streamers.emplace(std::max(1, options.threads)); });
  return *streamers;
}

asio::thread_pool& HttpServer::Front::Blockers() {
  std::call_once(blockers_once, [this] { blockers.emplace(std::max(1, options.blocking_threads)); });
  return *blockers;
}

void HttpServer::Front::Shutdown() {
  stopping = true;
  asio::post(acceptor.get_executor(), [this] {
    error_code ignored;
    acceptor.close(ignored);
    accept_retry.cancel();
  });
  // Closing every connection ends the streamers' writes; a second pass catches
  // connections admitted while the first ran.
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<std::shared_ptr<Connection>> connections;
    {
      std::lock_guard lock(mu);
      for (const auto& [key, weak] : open) {
        if (auto c = weak.lock()) connections.push_back(std::move(c));
      }
    }
    for (auto& c : connections) asio::post(c->executor(), [c] { c->Close(); });
    if (pass == 0 && streamers.has_value()) streamers->join();
    if (pass == 0 && blockers.has_value()) blockers->join();  // their answers go to loops still running
  }
  for (const auto& loop : loops) {
    loop->work.reset();
    loop->ioc.stop();
  }
  for (std::thread& t : threads) {
    if (t.joinable()) t.join();
  }
}

HttpServer::HttpServer(HttpServerOptions options, std::vector<Route> routes)
    : options_(std::move(options)), routes_(std::move(routes)) {}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, std::vector<Route> routes) {
  for (const Route& route : routes) PRESCALE_RETURN_IF_ERROR(ValidateRoutePath(route.path));
  const bool tls = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  std::shared_ptr<SSL_CTX> tls_context;
  if (!tls && (options.tls_client_auth != TlsClientAuth::kNoClientCert || !options.tls_client_ca_file.empty() ||
               !options.tls_cipher_suites.empty() || !options.tls_curves.empty())) {
    return Status::InvalidArgument("TLS settings are set but tls_cert_file and tls_key_file are not");
  }
  if (tls) {
    if (options.tls_cert_file.empty()) return Status::InvalidArgument("tls_key_file is set but tls_cert_file is not");
    if (options.tls_key_file.empty()) return Status::InvalidArgument("tls_cert_file is set but tls_key_file is not");
    Result<std::shared_ptr<SSL_CTX>> context = NewServerTlsContext(options);
    if (!context.ok()) return context.status();
    tls_context = std::move(context).value();
  }
  Result<int> fd = ListenSocket(options.listen);
  if (!fd.ok()) return fd.status();
  std::unique_ptr<HttpServer> server(new HttpServer(options, std::move(routes)));
  server->front_ = std::make_unique<Front>(server.get(), server->options_);
  Front& front = *server->front_;
  if (tls_context != nullptr) {
    SSL_CTX_up_ref(tls_context.get());  // asio::ssl::context owns (and frees) one reference
    front.tls.emplace(tls_context.get());
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(*fd, reinterpret_cast<sockaddr*>(&bound), &length);
  error_code ec;
  front.acceptor.assign(bound.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), *fd, ec);
  if (ec) {
    ::close(*fd);
    return Status::Unavailable("cannot listen on " + options.listen + ": " + ec.message());
  }
  server->port_ = front.acceptor.local_endpoint(ec).port();
  asio::post(front.acceptor.get_executor(), [&front] { front.Accept(); });
  try {
    for (const auto& loop : front.loops) front.threads.emplace_back([l = loop.get()] { l->ioc.run(); });
  } catch (const std::system_error& e) {
    server->Stop();
    return Status::Internal(std::string("cannot start the HTTP server's threads: ") + e.what());
  }
  return server;
}

HttpServerStats HttpServer::stats() const {
  HttpServerStats s;
  if (front_ == nullptr) return s;
  {
    std::lock_guard lock(front_->mu);
    s.open_connections = front_->open.size();
  }
  s.accepted_connections = front_->accepted.load();
  s.refused_connections = front_->refused.load();
  s.timed_out_connections = front_->timed_out.load();
  return s;
}

void HttpServer::Stop() {
  if (front_ == nullptr) return;
  front_->Shutdown();
  front_.reset();
}

HttpServer::~HttpServer() { Stop(); }

}  // namespace prescale::http
