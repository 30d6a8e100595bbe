// prescale-bench-connections: does an HTTP receiver hold a fleet's connections?
// One Asio thread drives, against one receiver on loopback (plain or TLS):
//   - CONNECTIONS kept-alive pushers, each sending one remote-write request
//     (SERIES series x 1 sample, its own series: label conn="<i>", timestamps
//     of now, so they rise per series) every INTERVAL seconds, spread evenly
//     over the interval; a pusher whose kept-alive connection was closed by the
//     server reconnects and sends once more within the same deadline, as Go's
//     HTTP client does;
//   - SLOWLORIS connections, each sending one byte of a never-ending request
//     header every 5 s, reopened when the server closes them (closes counted);
//   - a health probe every 100 ms, each on a fresh connection (as a kubelet's).
// All connections are opened during RAMP seconds; figures cover the DURATION
// seconds after it. Every operation has a deadline (--timeout): a push or probe
// that misses it counts as failed, with the time it took, and nothing hangs.
// Pushers are spread over the source addresses 127.0.0.2 ... 127.0.0.(N+1)
// (bound before connect), the slowloris connections all come from 127.0.0.250,
// so a receiver's per-client limits see a fleet, not one client.
//
//   prescale-bench-connections --url URL --healthz-url URL [--connections 2000] [--slowloris 200]
//       [--interval 10] [--duration 60] [--ramp 10] [--series 50] [--timeout 10] [--token TOKEN]
//       [--tls-ca FILE | --insecure] [--source-addresses N] [--receiver-pid PID] [--progress 5]
//
// Prints progress lines on stderr and one line of key=value figures on stdout:
// latencies are nearest-rank percentiles over every attempt started in the
// window, failed ones included. With --receiver-pid, also the receiver's CPU
// seconds over the window (utime+stime), peak RSS (VmHWM), open files and threads.
#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

// GCC 12 sees a null dereference in Asio's scheduler once inlined (it is not one), as in
// shared/http/src/beast_http_client.cc.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#pragma GCC diagnostic pop

#include "prescale/remote_write/remote_write.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
namespace rw = prescale::remote_write;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;
template <class T>
using Awaitable = asio::awaitable<T>;

constexpr auto kHealthzInterval = std::chrono::milliseconds(100);
constexpr auto kSlowlorisInterval = std::chrono::seconds(5);
constexpr auto kMinReopen = std::chrono::seconds(1);  // a refused slowloris waits this long before trying again
constexpr const char* kSlowlorisSource = "127.0.0.250";
constexpr int kPerSourceAddress = 100;

struct Options {
  std::string url;
  std::string healthz_url;
  std::string token;
  std::string tls_ca;
  bool insecure = false;
  int connections = 2000;
  int slowloris = 200;
  int series = 50;
  int interval_s = 10;
  int duration_s = 60;
  int ramp_s = 10;
  int timeout_s = 10;
  int progress_s = 5;
  int source_addresses = -1;  // default: one per kPerSourceAddress pushers
  int receiver_pid = 0;
};

int Usage(const std::string& why) {
  std::fprintf(stderr,
               "prescale-bench-connections: %s\n"
               "usage: prescale-bench-connections --url URL --healthz-url URL [--connections 2000] [--slowloris 200]\n"
               "         [--interval SECONDS(10)] [--duration SECONDS(60)] [--ramp SECONDS(10)] [--series 50]\n"
               "         [--timeout SECONDS(10)] [--token TOKEN] [--tls-ca FILE | --insecure]\n"
               "         [--source-addresses N(connections/100)] [--receiver-pid PID] [--progress SECONDS(5)]\n"
               "  URLs are http:// or https:// on a loopback address, e.g. https://127.0.0.1:9090/api/v1/write\n",
               why.c_str());
  return 2;
}

// "" when the flags are usable, else what is wrong.
std::string ParseArgs(int argc, char** argv, Options* o) {
  const std::map<std::string, int*> ints = {
      {"--connections", &o->connections},  {"--slowloris", &o->slowloris}, {"--series", &o->series},
      {"--interval", &o->interval_s},      {"--duration", &o->duration_s}, {"--ramp", &o->ramp_s},
      {"--timeout", &o->timeout_s},        {"--progress", &o->progress_s}, {"--source-addresses", &o->source_addresses},
      {"--receiver-pid", &o->receiver_pid}};
  const std::map<std::string, std::string*> strings = {
      {"--url", &o->url}, {"--healthz-url", &o->healthz_url}, {"--token", &o->token}, {"--tls-ca", &o->tls_ca}};
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--insecure") {
      o->insecure = true;
      continue;
    }
    if (i + 1 >= argc) return "missing a value after " + flag;
    const std::string value = argv[++i];
    if (auto s = strings.find(flag); s != strings.end()) {
      *s->second = value;
    } else if (auto n = ints.find(flag); n != ints.end()) {
      char* end = nullptr;
      const long v = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || v < 0 || v > 1'000'000) return flag + ": expected a whole number";
      *n->second = static_cast<int>(v);
    } else {
      return "unknown flag " + flag;
    }
  }
  if (o->url.empty() || o->healthz_url.empty()) return "--url and --healthz-url are required";
  if (o->connections < 1 || o->series < 1 || o->interval_s < 1 || o->duration_s < 1 || o->timeout_s < 1) {
    return "--connections, --series, --interval, --duration and --timeout must be at least 1";
  }
  if (o->source_addresses < 0) o->source_addresses = (o->connections + kPerSourceAddress - 1) / kPerSourceAddress;
  if (o->source_addresses > 248) return "--source-addresses: at most 248 (127.0.0.2 ... 127.0.0.249)";
  if (!o->tls_ca.empty() && o->insecure) return "--tls-ca and --insecure exclude each other";
  return "";
}

struct Target {
  bool tls = false;
  std::string host;       // as in the URL: checked against the certificate
  std::string host_port;  // the Host header
  std::string path;
  tcp::endpoint endpoint;
};

// Only loopback: this program must not load anything beyond the machine.
std::optional<Target> ParseUrl(const std::string& url, std::string* why) {
  Target t;
  std::string rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    t.tls = true;
    rest = url.substr(8);
  } else {
    *why = url + ": expected http:// or https://";
    return std::nullopt;
  }
  const size_t slash = rest.find('/');
  t.path = slash == std::string::npos ? "/" : rest.substr(slash);
  t.host_port = rest.substr(0, slash);
  const size_t colon = t.host_port.rfind(':');
  if (colon == std::string::npos || colon + 1 == t.host_port.size()) {
    *why = url + ": expected HOST:PORT";
    return std::nullopt;
  }
  t.host = t.host_port.substr(0, colon);
  if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']') t.host = t.host.substr(1, t.host.size() - 2);
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(t.host, ec);
  const long port = std::strtol(t.host_port.c_str() + colon + 1, nullptr, 10);
  if (ec || !address.is_loopback() || port < 1 || port > 65535) {
    *why = url + ": expected a loopback address and a port, e.g. 127.0.0.1:9090";
    return std::nullopt;
  }
  t.endpoint = tcp::endpoint(address, static_cast<unsigned short>(port));
  return t;
}

struct Stats {
  std::vector<double> push_ms, healthz_ms;  // attempts started in the window, failed ones included
  uint64_t pushes_ok = 0, pushes_failed = 0, late_pushes = 0, reconnects = 0, stale_retries = 0;
  uint64_t healthz_ok = 0, healthz_failed = 0;
  uint64_t ramp_failed = 0, slowloris_closed = 0, slowloris_connect_failed = 0;
  int pushers_open = 0, slowloris_open = 0, in_flight = 0;  // gauges
  int pushers_done_open = 0;  // pushers that ended at the window's end with their connection open
  std::map<std::string, uint64_t> push_errors, healthz_errors;
};

// The run's shared state. Everything runs on ioc's one thread. ioc is the last member, so it is
// destroyed first: the coroutines still suspended at the end (and their connections, which
// update the gauges here) go before the state and the TLS context they use.
struct Run {
  Options o;
  Target push, healthz;
  std::optional<ssl::context> tls;
  Clock::time_point start, window_start, window_end;
  bool stopping = false;
  Stats stats;
  rw::Encoder encoder;
  asio::io_context ioc;

  bool InWindow(Clock::time_point t) const { return t >= window_start && t < window_end; }
  Clock::duration timeout() const { return std::chrono::seconds(o.timeout_s); }
};

auto Capture(error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

Awaitable<void> SleepUntil(Clock::time_point t) {
  asio::steady_timer timer(co_await asio::this_coro::executor, t);
  error_code ec;
  co_await timer.async_wait(Capture(ec));
}

// What failed, short and without spaces: "connect:timeout", "read:eof", "http_503".
std::string ErrorLabel(const char* phase, const error_code& ec) {
  std::string what;
  if (ec == beast::error::timeout) {
    what = "timeout";
  } else if (ec == asio::error::connection_refused) {
    what = "refused";
  } else if (ec == asio::error::connection_reset) {
    what = "reset";
  } else if (ec == asio::error::broken_pipe) {
    what = "broken_pipe";
  } else if (ec == asio::error::eof || ec == bhttp::error::end_of_stream || ec == ssl::error::stream_truncated) {
    what = "eof";
  } else {
    what = ec.message();
    std::replace_if(
        what.begin(), what.end(), [](char c) { return c == ' ' || c == ',' || c == '='; }, '_');
  }
  return std::string(phase) + ":" + what;
}

struct OpError {
  error_code ec;
  const char* phase = "";
  explicit operator bool() const { return static_cast<bool>(ec); }
};

// One client connection, plain or TLS, from an optional source address; `open_gauge` counts it
// while it is open. Not thread-safe (the run's one thread).
class Connection {
 public:
  Connection(Run& run, const Target& target, std::optional<asio::ip::address> source, int* open_gauge)
      : run_(run), target_(target), source_(source), open_gauge_(open_gauge) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { Close(); }

  bool is_open() const { return plain_.has_value() || tls_.has_value(); }

  // Connects (and completes the TLS handshake) by `deadline`.
  Awaitable<OpError> Open(Clock::time_point deadline) {
    Close();
    error_code ec;
    beast::tcp_stream stream(run_.ioc);
    stream.socket().open(target_.endpoint.protocol(), ec);
    if (!ec && source_ && source_->is_v4() == target_.endpoint.address().is_v4()) {
      stream.socket().bind(tcp::endpoint(*source_, 0), ec);
    }
    if (ec) co_return OpError{ec, "bind"};
    stream.expires_at(deadline);
    co_await stream.async_connect(target_.endpoint, Capture(ec));
    if (ec) co_return OpError{ec, "connect"};
    stream.socket().set_option(tcp::no_delay(true), ec);
    if (!run_.tls) {
      plain_.emplace(std::move(stream));
    } else {
      tls_.emplace(std::move(stream), *run_.tls);
      if (!run_.o.insecure) tls_->set_verify_callback(ssl::host_name_verification(target_.host));
      co_await tls_->async_handshake(ssl::stream_base::client, Capture(ec));
      if (ec) {
        tls_.reset();
        co_return OpError{ec, "tls"};
      }
    }
    if (open_gauge_ != nullptr) ++*open_gauge_;
    co_return OpError{};
  }

  // Sends `request` and reads the response by `deadline`.
  Awaitable<OpError> Exchange(Request& request, Response* response, Clock::time_point deadline) {
    error_code ec;
    Lowest().expires_at(deadline);
    if (tls_) {
      co_await bhttp::async_write(*tls_, request, Capture(ec));
    } else {
      co_await bhttp::async_write(*plain_, request, Capture(ec));
    }
    if (ec) co_return OpError{ec, "write"};
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(1 << 20);
    if (tls_) {
      co_await bhttp::async_read(*tls_, buffer_, parser, Capture(ec));
    } else {
      co_await bhttp::async_read(*plain_, buffer_, parser, Capture(ec));
    }
    if (ec) co_return OpError{ec, "read"};
    *response = parser.release();
    co_return OpError{};
  }

  // No deadline for what follows: a slowloris' reads wait for the server's close, and its single
  // bytes never fill a socket buffer.
  void ClearDeadline() { Lowest().expires_never(); }

  Awaitable<error_code> Write(asio::const_buffer bytes) {
    error_code ec;
    if (tls_) {
      co_await asio::async_write(*tls_, bytes, Capture(ec));
    } else {
      co_await asio::async_write(*plain_, bytes, Capture(ec));
    }
    co_return ec;
  }

  // Reads whatever the server sends; `done` gets the error that ends the connection.
  template <class Handler>
  void ReadSome(asio::mutable_buffer into, Handler&& done) {
    if (tls_) {
      tls_->async_read_some(into, std::forward<Handler>(done));
    } else {
      plain_->async_read_some(into, std::forward<Handler>(done));
    }
  }

  // Closes the socket only: pending operations end with operation_aborted, and the streams they
  // refer to stay until Close or the destructor.
  void Abort() {
    error_code ignored;
    if (is_open()) Lowest().socket().close(ignored);
  }

  void Close() {
    if (!is_open()) return;
    error_code ignored;
    Lowest().socket().close(ignored);
    plain_.reset();
    tls_.reset();
    buffer_.clear();
    if (open_gauge_ != nullptr) --*open_gauge_;
  }

 private:
  beast::tcp_stream& Lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }

  Run& run_;
  const Target& target_;
  std::optional<asio::ip::address> source_;
  int* open_gauge_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
};

void Record(Run& run, Clock::time_point started, const std::string& error, bool push) {
  if (!run.InWindow(started)) return;
  Stats& s = run.stats;
  (push ? s.push_ms : s.healthz_ms)
      .push_back(std::chrono::duration<double, std::milli>(Clock::now() - started).count());
  if (error.empty()) {
    ++(push ? s.pushes_ok : s.healthz_ok);
    return;
  }
  ++(push ? s.pushes_failed : s.healthz_failed);
  if (++(push ? s.push_errors : s.healthz_errors)[error] == 1) {
    std::fprintf(stderr, "connections: first %s error: %s\n", push ? "push" : "healthz", error.c_str());
  }
}

// Series of one pusher, shaped like an agent's; labels sorted by name.
rw::WriteRequest Template(int conn, int series) {
  static const char* const kNames[] = {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                                       "container_network_receive_bytes_total", "container_threads"};
  rw::WriteRequest r;
  for (int s = 0; s < series; ++s) {
    rw::TimeSeries ts;
    ts.labels = {{"__name__", kNames[s % 4]},
                 {"conn", std::to_string(conn)},
                 {"id", "/prescale/tenant" + std::to_string(s / 10) + "/service" + std::to_string(s % 10)},
                 {"node", "node-" + std::to_string(conn)},
                 {"service", "service" + std::to_string(s % 10)},
                 {"tenant", "tenant" + std::to_string(s / 10)}};
    ts.samples.resize(1);
    r.timeseries.push_back(std::move(ts));
  }
  return r;
}

// One push by one deadline; "" on a 2xx, else what failed. A kept-alive connection the server
// closed while idle is reopened and the request sent once more, within the same deadline.
Awaitable<std::string> Push(Run& run, Connection& conn, Request& request) {
  const auto deadline = Clock::now() + run.timeout();
  for (int attempt = 0;; ++attempt) {
    const bool reused = conn.is_open();
    if (!reused) {
      if (run.InWindow(Clock::now())) ++run.stats.reconnects;
      if (OpError e = co_await conn.Open(deadline)) co_return ErrorLabel(e.phase, e.ec);
    }
    Response response;
    OpError e = co_await conn.Exchange(request, &response, deadline);
    if (e) {
      conn.Close();
      const bool stale = e.ec == asio::error::eof || e.ec == bhttp::error::end_of_stream ||
                         e.ec == asio::error::connection_reset || e.ec == asio::error::broken_pipe ||
                         e.ec == ssl::error::stream_truncated;
      if (reused && stale && attempt == 0 && Clock::now() < deadline) {
        ++run.stats.stale_retries;
        continue;
      }
      co_return ErrorLabel(e.phase, e.ec);
    }
    if (!response.keep_alive()) conn.Close();
    if (response.result_int() / 100 != 2) co_return "http_" + std::to_string(response.result_int());
    co_return "";
  }
}

std::optional<asio::ip::address> PusherSource(const Options& o, int i) {
  if (o.source_addresses == 0) return std::nullopt;
  return asio::ip::make_address_v4(0x7f000002U + static_cast<uint32_t>(i % o.source_addresses));
}

Awaitable<void> Pusher(Run& run, int i) {
  const Options& o = run.o;
  Connection conn(run, run.push, PusherSource(o, i), &run.stats.pushers_open);
  rw::WriteRequest series = Template(i, o.series);
  Request request{bhttp::verb::post, run.push.path, 11};
  request.set(bhttp::field::host, run.push.host_port);
  request.set(bhttp::field::user_agent, "prescale-bench-connections");
  // Beast 1.74 takes boost::string_view, not std::string_view.
  request.set(bhttp::field::content_type, std::string(rw::kContentType));
  request.set(bhttp::field::content_encoding, std::string(rw::kContentEncoding));
  request.set(std::string(rw::kVersionHeader), std::string(rw::kVersion));
  if (!o.token.empty()) request.set(bhttp::field::authorization, "Bearer " + o.token);
  co_await SleepUntil(run.start + std::chrono::seconds(o.ramp_s) * i / o.connections);
  if (co_await conn.Open(Clock::now() + run.timeout())) ++run.stats.ramp_failed;
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(o.interval_s));
  auto next = run.window_start + interval * i / o.connections;
  for (int64_t round = 1;; ++round) {
    co_await SleepUntil(next);
    const auto started = Clock::now();
    if (started >= run.window_end) {
      if (conn.is_open()) ++run.stats.pushers_done_open;  // it held on to the end
      break;
    }
    const int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    for (size_t s = 0; s < series.timeseries.size(); ++s) {
      series.timeseries[s].samples[0] = {static_cast<double>(round) * static_cast<double>(s + 1), now_ms};
    }
    run.encoder.Encode(series, &request.body());
    request.prepare_payload();
    ++run.stats.in_flight;
    const std::string error = co_await Push(run, conn, request);
    --run.stats.in_flight;
    Record(run, started, error, true);
    next += interval;
    if (next < Clock::now()) {
      if (run.InWindow(started)) ++run.stats.late_pushes;
      next = Clock::now();
    }
  }
}

Awaitable<void> Probe(Run& run) {
  const auto started = Clock::now();
  const auto deadline = started + run.timeout();
  ++run.stats.in_flight;
  Connection conn(run, run.healthz, std::nullopt, nullptr);
  std::string error;
  if (OpError e = co_await conn.Open(deadline)) {
    error = ErrorLabel(e.phase, e.ec);
  } else {
    Request request{bhttp::verb::get, run.healthz.path, 11};
    request.set(bhttp::field::host, run.healthz.host_port);
    request.set(bhttp::field::user_agent, "prescale-bench-connections");
    request.set(bhttp::field::connection, "close");
    Response response;
    if (OpError x = co_await conn.Exchange(request, &response, deadline)) {
      error = ErrorLabel(x.phase, x.ec);
    } else if (response.result_int() != 200) {
      error = "http_" + std::to_string(response.result_int());
    }
  }
  --run.stats.in_flight;
  Record(run, started, error, false);
}

Awaitable<void> Prober(Run& run) {
  for (auto next = run.window_start; next < run.window_end; next += kHealthzInterval) {
    co_await SleepUntil(next);
    asio::co_spawn(run.ioc, Probe(run), asio::detached);
  }
}

// A slowloris connection and the read that notices when the server closes it; shared by the
// writing coroutine and the pending read's handler, whichever ends last (an asio::ssl::stream
// must outlive its pending read).
struct Slow {
  Slow(Run& run, std::optional<asio::ip::address> source)
      : conn(run, run.push, source, &run.stats.slowloris_open), tick(run.ioc) {}
  Connection conn;
  asio::steady_timer tick;
  bool closed = false;
  std::array<char, 512> sink{};
};

void ReadUntilClosed(const std::shared_ptr<Slow>& slow) {
  slow->conn.ReadSome(asio::buffer(slow->sink), [slow](const error_code& ec, size_t) {
    if (!ec) return ReadUntilClosed(slow);
    slow->closed = true;
    slow->tick.cancel();
  });
}

// Byte k of a request header that never ends: the request line, Host, then "X-Slow: a" lines.
char HeaderByte(const Run& run, size_t k) {
  static const std::string kFiller = "X-Slow: a\r\n";
  const std::string prefix = "POST " + run.push.path + " HTTP/1.1\r\nHost: " + run.push.host_port + "\r\n";
  return k < prefix.size() ? prefix[k] : kFiller[(k - prefix.size()) % kFiller.size()];
}

Awaitable<void> Slowloris(Run& run, int i) {
  const auto source = asio::ip::make_address(kSlowlorisSource);
  co_await SleepUntil(run.start + std::chrono::seconds(run.o.ramp_s) * i / std::max(1, run.o.slowloris));
  while (!run.stopping) {
    auto slow = std::make_shared<Slow>(run, source);
    const auto opened = Clock::now();
    if (co_await slow->conn.Open(opened + run.timeout())) {
      if (run.InWindow(Clock::now())) ++run.stats.slowloris_connect_failed;
      co_await SleepUntil(opened + kMinReopen);
      continue;
    }
    slow->conn.ClearDeadline();
    ReadUntilClosed(slow);
    for (size_t k = 0; !run.stopping; ++k) {
      const char byte = HeaderByte(run, k);
      const error_code ec = co_await slow->conn.Write(asio::buffer(&byte, 1));
      if (ec) slow->closed = true;
      if (slow->closed) break;
      slow->tick.expires_after(kSlowlorisInterval);
      error_code ignored;
      co_await slow->tick.async_wait(Capture(ignored));
      if (slow->closed) break;
    }
    if (slow->closed && !run.stopping && run.InWindow(Clock::now())) ++run.stats.slowloris_closed;
    slow->conn.Abort();  // the read's handler ends it
    if (Clock::now() - opened < kMinReopen) co_await SleepUntil(opened + kMinReopen);
  }
}

struct ProcFigures {
  double cpu_s = -1, hwm_mib = -1;
  long fds = -1, threads = -1;
};

ProcFigures ReadProc(int pid) {
  ProcFigures f;
  if (pid <= 0) return f;
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream stat(dir + "/stat");
  std::string line;
  if (std::getline(stat, line) && line.rfind(')') != std::string::npos) {
    // Fields after "pid (comm)": state is field 3, utime 14, stime 15.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::vector<std::string> fields;
    for (std::string field; rest >> field;) fields.push_back(field);
    if (fields.size() > 12) {
      const double ticks = std::strtod(fields[11].c_str(), nullptr) + std::strtod(fields[12].c_str(), nullptr);
      f.cpu_s = ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  std::ifstream status(dir + "/status");
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) f.hwm_mib = std::strtod(line.c_str() + 6, nullptr) / 1024.0;
    if (line.starts_with("Threads:")) f.threads = std::strtol(line.c_str() + 8, nullptr, 10);
  }
  std::error_code ec;
  f.fds = 0;
  for (auto it = std::filesystem::directory_iterator(dir + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++f.fds;
  }
  return f;
}

void PrintProgress(const Run& run, const char* phase) {
  const Stats& s = run.stats;
  std::fprintf(
      stderr,
      "connections: +%3llds %-9s pushers open %d/%d, pushes ok %llu failed %llu, healthz ok %llu failed %llu, "
      "slowloris open %d closed %llu\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - run.start).count()), phase,
      s.pushers_open, run.o.connections, static_cast<unsigned long long>(s.pushes_ok),
      static_cast<unsigned long long>(s.pushes_failed), static_cast<unsigned long long>(s.healthz_ok),
      static_cast<unsigned long long>(s.healthz_failed), s.slowloris_open,
      static_cast<unsigned long long>(s.slowloris_closed));
}

// This process's CPU seconds: a load generator starved of CPU would inflate the latencies.
double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

struct WindowFigures {
  int pushers_open_start = 0, slowloris_open_start = 0, pushers_open_end = 0, slowloris_open_end = 0;
  ProcFigures proc_start, proc_end;
  double load_cpu_start = 0, load_cpu_end = 0;
};

// Marks the window, prints progress, samples the receiver, then waits for what is in flight.
Awaitable<void> Control(Run& run, WindowFigures* w) {
  const auto every = std::chrono::seconds(std::max(1, run.o.progress_s));
  auto next = run.start + every;
  for (; next < run.window_start; next += every) {
    co_await SleepUntil(next);
    PrintProgress(run, "ramp-up");
  }
  co_await SleepUntil(run.window_start);
  w->pushers_open_start = run.stats.pushers_open;
  w->slowloris_open_start = run.stats.slowloris_open;
  w->proc_start = ReadProc(run.o.receiver_pid);
  w->load_cpu_start = SelfCpuSeconds();
  PrintProgress(run, "measuring");
  for (; next < run.window_end; next += every) {
    co_await SleepUntil(next);
    if (next > run.window_start) PrintProgress(run, "measuring");
  }
  co_await SleepUntil(run.window_end);
  w->proc_end = ReadProc(run.o.receiver_pid);
  w->load_cpu_end = SelfCpuSeconds();
  w->pushers_open_end = run.stats.pushers_open + run.stats.pushers_done_open;
  w->slowloris_open_end = run.stats.slowloris_open;
  run.stopping = true;
  const auto drain_deadline = run.window_end + run.timeout() + std::chrono::milliseconds(500);
  while (run.stats.in_flight > 0 && Clock::now() < drain_deadline) {
    co_await SleepUntil(Clock::now() + std::chrono::milliseconds(50));  // a load generator's wait, not a test's
  }
  PrintProgress(run, "done");
  run.ioc.stop();
}

std::string Percentiles(const char* name, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto rank = [&](double q) {
    if (ms.empty()) return -1.0;
    return ms[static_cast<size_t>(std::max(1.0, std::ceil(q * static_cast<double>(ms.size())))) - 1];
  };
  char out[160];
  std::snprintf(out, sizeof out, "%s_p50_ms=%.1f %s_p99_ms=%.1f %s_max_ms=%.1f", name, rank(0.5), name, rank(0.99),
                name, ms.empty() ? -1.0 : ms.back());
  return out;
}

std::string Errors(const std::map<std::string, uint64_t>& errors) {
  std::string out;
  for (const auto& [label, n] : errors) out += (out.empty() ? "" : ",") + label + ":" + std::to_string(n);
  return out.empty() ? "none" : out;
}

// The pushes the schedule holds in the window: those not sent were waiting behind a late one.
uint64_t PushesDue(const Options& o) {
  uint64_t due = 0;
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(o.interval_s));
  const auto window = std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(o.duration_s));
  for (int i = 0; i < o.connections; ++i) {
    const auto first = interval * i / o.connections;
    if (first < window) due += static_cast<uint64_t>((window - first - Clock::duration(1)) / interval) + 1;
  }
  return due;
}

void PrintSummary(const Run& run, const WindowFigures& w) {
  const Stats& s = run.stats;
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  const uint64_t due = PushesDue(run.o);
  const double cpu = w.proc_start.cpu_s >= 0 && w.proc_end.cpu_s >= 0 ? w.proc_end.cpu_s - w.proc_start.cpu_s : -1;
  std::printf(
      "tls=%d connections=%d slowloris=%d window_s=%d pushers_open_start=%d pushers_open_end=%d ramp_failed=%llu "
      "pushes_due=%llu pushes_ok=%llu pushes_failed=%llu pushes_not_sent=%llu %s late_pushes=%llu reconnects=%llu "
      "stale_retries=%llu push_errors=%s "
      "healthz_ok=%llu healthz_failed=%llu %s healthz_errors=%s slowloris_open_start=%d slowloris_open_end=%d "
      "slowloris_closed=%llu slowloris_connect_failed=%llu receiver_cpu_s=%.2f receiver_hwm_mib=%.1f "
      "receiver_fds=%ld receiver_threads=%ld load_cpu_s=%.2f\n",
      run.push.tls ? 1 : 0, run.o.connections, run.o.slowloris, run.o.duration_s, w.pushers_open_start,
      w.pushers_open_end, u(s.ramp_failed), u(due), u(s.pushes_ok), u(s.pushes_failed),
      u(due > s.pushes_ok + s.pushes_failed ? due - s.pushes_ok - s.pushes_failed : 0),
      Percentiles("push", s.push_ms).c_str(), u(s.late_pushes), u(s.reconnects), u(s.stale_retries),
      Errors(s.push_errors).c_str(), u(s.healthz_ok), u(s.healthz_failed), Percentiles("healthz", s.healthz_ms).c_str(),
      Errors(s.healthz_errors).c_str(), w.slowloris_open_start, w.slowloris_open_end, u(s.slowloris_closed),
      u(s.slowloris_connect_failed), cpu, w.proc_end.hwm_mib, w.proc_end.fds, w.proc_end.threads,
      w.load_cpu_end - w.load_cpu_start);
  std::fflush(stdout);
}

int RunLoad(Run& run) {
  const Options& o = run.o;
  WindowFigures window;
  run.start = Clock::now();
  run.window_start = run.start + std::chrono::seconds(o.ramp_s);
  run.window_end = run.window_start + std::chrono::seconds(o.duration_s);
  std::fprintf(stderr,
               "connections: %d pushers (%d series every %d s, from %d source addresses), %d slowloris (from %s), "
               "healthz every 100 ms; %d s ramp-up, %d s measured, %s\n",
               o.connections, o.series, o.interval_s, o.source_addresses, o.slowloris, kSlowlorisSource, o.ramp_s,
               o.duration_s, run.push.tls ? "TLS" : "plain HTTP");
  for (int i = 0; i < o.connections; ++i) asio::co_spawn(run.ioc, Pusher(run, i), asio::detached);
  for (int i = 0; i < o.slowloris; ++i) asio::co_spawn(run.ioc, Slowloris(run, i), asio::detached);
  asio::co_spawn(run.ioc, Prober(run), asio::detached);
  asio::co_spawn(run.ioc, Control(run, &window), asio::detached);
  run.ioc.run();
  PrintSummary(run, window);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto run = std::make_unique<Run>();
  if (std::string why = ParseArgs(argc, argv, &run->o); !why.empty()) return Usage(why);
  std::string why;
  auto push = ParseUrl(run->o.url, &why);
  if (!push) return Usage("--url " + why);
  auto healthz = ParseUrl(run->o.healthz_url, &why);
  if (!healthz) return Usage("--healthz-url " + why);
  if (push->tls != healthz->tls) return Usage("--url and --healthz-url must both be http:// or both https://");
  run->push = *push;
  run->healthz = *healthz;
  try {  // Asio and OpenSSL report setup failures (a bad CA file) as exceptions: the boundary
    if (push->tls) {
      run->tls.emplace(ssl::context::tls_client);
      if (run->o.insecure) {
        run->tls->set_verify_mode(ssl::verify_none);
      } else {
        run->tls->set_verify_mode(ssl::verify_peer);
        if (run->o.tls_ca.empty()) {
          run->tls->set_default_verify_paths();
        } else {
          run->tls->load_verify_file(run->o.tls_ca);
        }
      }
    }
    return RunLoad(*run);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "prescale-bench-connections: %s%s\n", e.what(),
                 run->o.tls_ca.empty() ? "" : (" (--tls-ca " + run->o.tls_ca + ")").c_str());
    return 1;
  }
}
