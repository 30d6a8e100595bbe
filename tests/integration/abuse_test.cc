// Abuse against the built prescale-aggregator, the way anyone who reaches its
// port (or holds a leaked token) could try to take it down: bodies over
// max_body_bytes with and without a Content-Length, 100,000-level JSON,
// header floods, 10,000 labels on one series, snappy bodies that claim or
// decompress to 1 GiB, and malformed HTTP, all over raw sockets on 127.0.0.1.
// Each must be refused with its documented status and a JSON reason
// ({"error","message"}); after each the process still runs, /healthz answers
// and the series pushed before are all there. The aggregator's peak RSS
// (VmHWM) is printed before and after every abuse and must stay within
// kPeakRssGrowthCeilingMiB of its peak after start (docs/security.md).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "prescale/remote_write/remote_write.h"
#include "tests/integration/e2e_helpers.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr const char* kToken = testing::kTestToken;  // an admin token in the config below
// Small, so that "over the limit" is cheap to send and a buffer sized to an
// attacker's claim stands out against what a legitimate request may cost.
constexpr size_t kMaxBodyBytes = 1 << 20;
// The most any single abuse may raise the aggregator's peak RSS above its peak
// after start and seeding (4 HTTP threads, max_body_bytes 1 MiB).
constexpr double kPeakRssGrowthCeilingMiB = 48;
constexpr auto kExchangeTimeout = 15s;

// ---- A raw HTTP/1.1 exchange: what a client library would refuse to send. ----

struct RawReply {
  int status = 0;    // 0: no status line (connection closed, or the deadline passed)
  std::string head;  // status line and headers
  std::string body;  // de-chunked
  std::string note;  // what happened on our side: connect errors, deadline, closed early

  std::string Header(std::string_view name) const {
    size_t at = head.find("\r\n");
    while (at != std::string::npos && at + 2 < head.size()) {
      const size_t end = head.find("\r\n", at + 2);
      const std::string line = head.substr(at + 2, end == std::string::npos ? std::string::npos : end - at - 2);
      const size_t colon = line.find(':');
      if (colon == name.size() && strncasecmp(line.data(), name.data(), name.size()) == 0) {
        size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        return line.substr(v);
      }
      at = end;
    }
    return "";
  }
  std::string Describe() const {
    return "status " + std::to_string(status) + (note.empty() ? "" : " (" + note + ")") + ", head [" +
           testing::Tail(head, 300) + "], body [" + body.substr(0, 300) + "]";
  }
};

// Parses `in` as one HTTP response; true once it is complete (headers and the
// whole body by Content-Length, chunked framing, or `eof` for a body that runs
// to the end of the connection).
bool ParseResponse(const std::string& in, bool eof, RawReply* out) {
  const size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  out->head = in.substr(0, head_end);
  if (in.compare(0, 5, "HTTP/") != 0 || in.size() < 12) return false;
  out->status = std::atoi(in.c_str() + 9);
  const std::string rest = in.substr(head_end + 4);
  if (out->status == 204 || out->status == 304 || out->status < 200) return true;
  if (strcasecmp(out->Header("Transfer-Encoding").c_str(), "chunked") == 0) {
    out->body.clear();
    size_t at = 0;
    while (true) {
      const size_t line_end = rest.find("\r\n", at);
      if (line_end == std::string::npos) return false;
      const size_t size = std::strtoul(rest.c_str() + at, nullptr, 16);
      if (size == 0) return true;
      if (rest.size() < line_end + 2 + size + 2) return false;
      out->body.append(rest, line_end + 2, size);
      at = line_end + 2 + size + 2;
    }
  }
  const std::string length = out->Header("Content-Length");
  if (!length.empty()) {
    const size_t n = std::strtoul(length.c_str(), nullptr, 10);
    if (rest.size() < n) return false;
    out->body = rest.substr(0, n);
    return true;
  }
  out->body = rest;
  return eof;
}

// Sends `request` on a new connection to 127.0.0.1:port as fast as the server
// reads it while reading its answer, and stops sending once a whole answer has
// arrived: a server may (and should) refuse before the body is over. Returns
// what it got by `timeout`.
RawReply Exchange(int port, std::string_view request, std::chrono::milliseconds timeout = kExchangeTimeout) {
  RawReply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    reply.note = std::string("socket: ") + std::strerror(errno);
    return reply;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    reply.note = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return reply;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t sent = 0;
  bool can_send = true;
  std::string in;
  char buf[65536];
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      reply.note = "no whole answer within " + std::to_string(timeout.count()) + " ms; sent " + std::to_string(sent) +
                   " of " + std::to_string(request.size()) + " bytes";
      ParseResponse(in, true, &reply);
      break;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (can_send && sent < request.size() ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        in.append(buf, static_cast<size_t>(n));
        if (ParseResponse(in, false, &reply)) break;
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        if (n < 0) reply.note = std::string("recv: ") + std::strerror(errno);
        if (!ParseResponse(in, true, &reply) && reply.note.empty()) {
          reply.note = "connection closed after " + std::to_string(sent) + " of " + std::to_string(request.size()) +
                       " bytes sent, " + std::to_string(in.size()) + " received";
        }
        break;
      }
    }
    if ((p.revents & POLLOUT) != 0) {
      const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (errno != EAGAIN && errno != EINTR) {
        can_send = false;  // the server stopped reading (EPIPE, ECONNRESET): its answer may still be there
      }
    }
  }
  ::close(fd);
  return reply;
}

std::string Request(const std::string& method, const std::string& target, const std::vector<std::string>& headers,
                    const std::string& body, bool content_length = true) {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const std::string& h : headers) out += h + "\r\n";
  if (content_length) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return out + "\r\n" + body;
}

std::string Bearer() { return std::string("Authorization: Bearer ") + kToken; }

// `body` in chunks of `chunk` bytes with Transfer-Encoding: chunked.
std::string Chunked(const std::string& method, const std::string& target, std::vector<std::string> headers,
                    const std::string& body, size_t chunk) {
  headers.emplace_back("Transfer-Encoding: chunked");
  std::string framed;
  char size_line[32];
  for (size_t at = 0; at < body.size(); at += chunk) {
    const size_t n = std::min(chunk, body.size() - at);
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
    framed += size_line;
    framed.append(body, at, n);
    framed += "\r\n";
  }
  framed += "0\r\n\r\n";
  return Request(method, target, headers, framed, false);
}

// ---- Snappy bodies built by hand: a length header, a literal, then copies. ----

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}

// A snappy block whose header claims `claimed` bytes, then one literal byte and
// `copies` copies of 64 bytes at offset 1 (3 bytes each: 64 bytes out per 3 in,
// snappy's best ratio), then `tail_copy` more bytes (1..64, 0: none).
std::string SnappyRun(uint64_t claimed, size_t copies, size_t tail_copy = 0) {
  std::string out = Varint(claimed);
  out += '\0';  // literal of length 1
  out += 'x';
  const char copy64[3] = {static_cast<char>((63 << 2) | 2), 1, 0};
  out.reserve(out.size() + 3 * (copies + 1));
  for (size_t i = 0; i < copies; ++i) out.append(copy64, 3);
  if (tail_copy > 0) {
    out += static_cast<char>(((tail_copy - 1) << 2) | 2);
    out += '\1';
    out += '\0';
  }
  return out;
}

// ---- /proc ----

// The process's peak resident set (VmHWM) in KiB; -1 when it cannot be read.
int64_t PeakRssKiB(pid_t pid) {
  const std::string status = testing::ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/status");
  const size_t at = status.find("VmHWM:");
  if (at == std::string::npos) return -1;
  return std::strtoll(status.c_str() + at + 6, nullptr, 10);
}

double MiB(int64_t kib) { return static_cast<double>(kib) / 1024.0; }

struct Envelope {
  bool ok = false;  // a JSON object with a string "error" and a non-empty "message"
  std::string error, message, field;
};

Envelope ParseEnvelope(const std::string& body) {
  Envelope e;
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("error") || !d["error"].IsString() ||
      !d.HasMember("message") || !d["message"].IsString() || d["message"].GetStringLength() == 0) {
    return e;
  }
  e.ok = true;
  e.error = d["error"].GetString();
  e.message = d["message"].GetString();
  if (d.HasMember("field") && d["field"].IsString()) e.field = d["field"].GetString();
  return e;
}

class AbuseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string bin = testing::BinDir() + "/prescale-aggregator";
    ASSERT_EQ(::access(bin.c_str(), X_OK), 0) << bin << " is missing: build the prescale-aggregator target";
    const std::string config = dir_.Write("aggregator.yaml",
                                          "max_body_bytes: 1MiB\n"
                                          "http_threads: 4\n"
                                          "tokens:\n"
                                          "  - name: admin\n"
                                          "    role: admin\n"
                                          "    sha256: \"" +
                                              std::string(testing::kTestTokenSha256) + "\"\n");
    ASSERT_TRUE(
        aggregator_.Start({bin, "--config", config, "--listen", "127.0.0.1:0", "--data-dir", dir_.path() + "/data"}));
    std::string log;
    port_ = testing::WaitForServingPort(aggregator_, 20s, &log);
    ASSERT_NE(port_, 0) << "the aggregator did not start: " << log;
    ASSERT_NO_FATAL_FAILURE(Seed());
    start_peak_kib_ = PeakRssKiB(aggregator_.pid());
    ASSERT_GT(start_peak_kib_, 0) << "cannot read VmHWM from /proc/" << aggregator_.pid() << "/status";
    std::printf("[ rss      ] after start and seeding: VmHWM %.1f MiB (ceiling: +%.0f MiB)\n", MiB(start_peak_kib_),
                kPeakRssGrowthCeilingMiB);
  }

  void TearDown() override { testing::StopProcess(&aggregator_, "aggregator"); }

  // What every abuse must leave intact: a series pushed as JSON and one over remote write.
  void Seed() {
    const int64_t t = testing::NowMs() - 3000;
    const std::string json = R"({"series":[{"labels":{"__name__":"abuse_seed_json","tenant":"acme","service":"web"},)"
                             R"("samples":[[)" +
                             std::to_string(t) + ",1],[" + std::to_string(t + 1000) + ",2],[" +
                             std::to_string(t + 2000) + ",3]]}]}";
    const RawReply j = Exchange(port_, Request("POST", "/api/v1/ingest", {Bearer()}, json));
    ASSERT_EQ(j.status, 200) << j.Describe();
    remote_write::WriteRequest rw;
    rw.timeseries.push_back({{{"__name__", "abuse_seed_rw"}, {"service", "web"}, {"tenant", "acme"}},
                             {{1, t}, {2, t + 1000}, {3, t + 2000}}});
    const RawReply r = Exchange(
        port_, Request("POST", "/api/v1/write", {Bearer(), "Content-Encoding: snappy"}, remote_write::Encode(rw)));
    ASSERT_EQ(r.status, 204) << r.Describe();
  }

  // The process runs, /healthz answers 200, and both seeded series hold their three samples.
  void ExpectServing(const std::string& after) {
    ASSERT_TRUE(aggregator_.running()) << "the aggregator died after " << after
                                       << "; stderr: " << testing::Tail(aggregator_.Stderr(), 2000);
    const RawReply health = Exchange(port_, Request("GET", "/healthz", {}, "", false));
    EXPECT_EQ(health.status, 200) << "/healthz after " << after << ": " << health.Describe();
    for (const char* metric : {"abuse_seed_json", "abuse_seed_rw"}) {
      const RawReply raw =
          Exchange(port_, Request("GET", std::string("/api/v1/raw?match=") + metric, {Bearer()}, "", false));
      ASSERT_EQ(raw.status, 200) << metric << " after " << after << ": " << raw.Describe();
      rapidjson::Document d;
      d.Parse(raw.body.c_str(), raw.body.size());
      ASSERT_TRUE(d.IsObject() && d.HasMember("data") && d["data"].IsArray()) << raw.body;
      ASSERT_EQ(d["data"].Size(), 1u) << metric << " after " << after << ": " << raw.body;
      const auto& samples = d["data"][0]["samples"];
      ASSERT_EQ(samples.Size(), 3u) << metric << " after " << after << ": " << raw.body;
      for (rapidjson::SizeType i = 0; i < 3; ++i) {
        EXPECT_EQ(std::string(samples[i][1].GetString()), std::to_string(i + 1)) << metric << ": " << raw.body;
      }
    }
  }

  // Runs one abuse; prints the peak RSS before and after; checks the process
  // still serves with its data and that its peak stayed under the ceiling.
  void Abuse(const std::string& name, const std::function<void()>& attack) {
    SCOPED_TRACE(name);
    const int64_t before = PeakRssKiB(aggregator_.pid());
    attack();
    const int64_t after = PeakRssKiB(aggregator_.pid());
    std::printf("[ rss      ] %-58s VmHWM %6.1f -> %6.1f MiB (+%.1f)\n", name.c_str(), MiB(before), MiB(after),
                MiB(after - before));
    std::fflush(stdout);
    ExpectServing(name);
    if (after > 0) {
      EXPECT_LE(MiB(after - start_peak_kib_), kPeakRssGrowthCeilingMiB)
          << name << " raised the peak RSS to " << MiB(after) << " MiB from " << MiB(start_peak_kib_) << " MiB";
    }
  }

  // `r` is status `status` with the JSON envelope {"error": error, "message": ...}.
  static void ExpectRefused(const RawReply& r, int status, const std::string& error, const std::string& what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.Describe();
    const Envelope e = ParseEnvelope(r.body);
    EXPECT_TRUE(e.ok) << what << ": not a JSON reason: " << r.Describe();
    EXPECT_EQ(e.error, error) << what << ": " << r.Describe();
  }

  testing::TempDir dir_{"prescale-abuse"};  // first: removed after the process is gone
  testing::Subprocess aggregator_;
  int port_ = 0;
  int64_t start_peak_kib_ = 0;
};

TEST_F(AbuseTest, BodiesOverMaxBodyBytesGet413WithAndWithoutContentLength) {
  const std::string big(2 * kMaxBodyBytes, 'a');
  for (const char* path : {"/api/v1/write", "/api/v1/ingest", "/api/v1/tenants"}) {
    Abuse(std::string("2 MiB body with Content-Length to ") + path,
          [&] { ExpectRefused(Exchange(port_, Request("POST", path, {Bearer()}, big)), 413, "body_too_large", path); });
    Abuse(std::string("2 MiB chunked body to ") + path, [&] {
      ExpectRefused(Exchange(port_, Chunked("POST", path, {Bearer()}, big, 64 << 10)), 413, "body_too_large", path);
    });
  }
  // Without a token too: the size is refused before anyone is asked who they are.
  Abuse("2 MiB chunked body without a token", [&] {
    const RawReply r = Exchange(port_, Chunked("POST", "/api/v1/write", {}, big, 64 << 10));
    EXPECT_TRUE(r.status == 413 || r.status == 401) << r.Describe();
    EXPECT_TRUE(ParseEnvelope(r.body).ok) << r.Describe();
  });
  // One chunk that claims a terabyte: nothing may be sized to it.
  Abuse("a chunk claiming 1 TiB", [&] {
    std::string request = Request("POST", "/api/v1/write", {Bearer(), "Transfer-Encoding: chunked"}, "", false);
    request += "10000000000\r\n" + std::string(kMaxBodyBytes + (64 << 10), 'a');
    ExpectRefused(Exchange(port_, request), 413, "body_too_large", "1 TiB chunk");
  });
}

TEST_F(AbuseTest, DeeplyNestedJsonIsRefusedWith400NotAStackOverflow) {
  ASSERT_EQ(Exchange(port_, Request("POST", "/api/v1/tenants", {Bearer()}, R"({"name":"acme"})")).status, 201);
  ASSERT_EQ(Exchange(port_, Request("POST", "/api/v1/tenants/acme/services", {Bearer()}, R"({"name":"web"})")).status,
            201);
  const std::string arrays(100'000, '[');
  std::string objects;
  for (int i = 0; i < 100'000; ++i) objects += R"({"a":)";
  const std::string closed = std::string(100'000, '[') + std::string(100'000, ']');
  struct Route {
    std::string method, path;
  };
  const std::vector<Route> routes = {
      {"POST", "/api/v1/ingest"},
      {"POST", "/api/v1/tenants"},
      {"PATCH", "/api/v1/tenants/acme"},
      {"PUT", "/api/v1/tenants/acme/services/web"},
      {"POST", "/api/v1/policies"},
      {"POST", "/api/v1/tokens"},
      {"POST", "/api/v1/tenants/acme/services/web/replicas"},
      {"POST", "/api/v1/alerts/alertmanager"},
  };
  for (const Route& route : routes) {
    for (const auto& body : {std::pair<const char*, const std::string*>{"100,000 '['", &arrays},
                             {"100,000 '{\"a\":'", &objects},
                             {"100,000 closed '[...]'", &closed}}) {
      const std::string name = std::string(body.first) + " to " + route.method + " " + route.path;
      const std::string& json = *body.second;
      Abuse(name, [&] {
        const RawReply r = Exchange(port_, Request(route.method, route.path, {Bearer()}, json));
        ExpectRefused(r, 400, "bad_request", name);
      });
    }
  }
}

// The contract of the event-driven HTTP front end (shared/http): a request line
// and headers over 64 KiB get 431 {"error":"headers_too_large",...}.
TEST_F(AbuseTest, HeaderFloodsOver64KiBGet431) {
  std::string many;
  for (int i = 0; i < 700; ++i) many += "X-Flood-" + std::to_string(i) + ": " + std::string(90, 'f') + "\r\n";
  std::string tiny;
  for (int i = 0; i < 20'000; ++i) tiny += "X: y\r\n";
  const std::vector<std::pair<std::string, std::string>> floods = {
      {"700 headers of 100 bytes (70 KiB)", "GET /healthz HTTP/1.1\r\nHost: a\r\n" + many + "\r\n"},
      {"one 70 KiB header", "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(70 << 10, 'b') + "\r\n\r\n"},
      {"20,000 headers of 6 bytes", "GET /healthz HTTP/1.1\r\nHost: a\r\n" + tiny + "\r\n"},
      {"a 70 KiB token on a push", "POST /api/v1/write HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " +
                                       std::string(70 << 10, 't') + "\r\nContent-Length: 0\r\n\r\n"},
      {"a 70 KiB request line", "GET /healthz?" + std::string(70 << 10, 'q') + " HTTP/1.1\r\nHost: a\r\n\r\n"},
  };
  for (const auto& flood : floods) {
    Abuse(flood.first, [&] { ExpectRefused(Exchange(port_, flood.second), 431, "headers_too_large", flood.first); });
  }
}

TEST_F(AbuseTest, TenThousandLabelsOnOneSeriesAreRefusedWithAReason) {
  remote_write::WriteRequest rw;
  rw.timeseries.push_back({{{"__name__", "abuse_labels"}}, {{1, testing::NowMs()}}});
  std::string json = R"({"series":[{"labels":{"__name__":"abuse_labels")";
  char name[16];
  for (int i = 1; i <= 10'000; ++i) {
    std::snprintf(name, sizeof name, "l%05d", i);
    rw.timeseries[0].labels.push_back({name, "v"});
    json += std::string(",\"") + name + "\":\"v\"";
  }
  json += R"(},"samples":[1]}]})";
  Abuse("remote write: 10,000 labels on one series", [&] {
    const RawReply r = Exchange(
        port_, Request("POST", "/api/v1/write", {Bearer(), "Content-Encoding: snappy"}, remote_write::Encode(rw)));
    ExpectRefused(r, 400, "bad_request", "remote write");
    EXPECT_THAT(ParseEnvelope(r.body).message, HasSubstr("more than 64 labels"));
  });
  Abuse("JSON ingest: 10,000 labels on one series", [&] {
    const RawReply r = Exchange(port_, Request("POST", "/api/v1/ingest", {Bearer()}, json));
    ExpectRefused(r, 400, "bad_request", "JSON ingest");
    const Envelope e = ParseEnvelope(r.body);
    EXPECT_THAT(e.message, HasSubstr("more than 64 labels"));
    EXPECT_EQ(e.field, "series[0].labels");
  });
  remote_write::WriteRequest long_value;
  long_value.timeseries.push_back({{{"__name__", "abuse_labels"}, {"a", std::string(100'000, 'v')}}, {{1, 1}}});
  Abuse("remote write: a 100 KB label value", [&] {
    const RawReply r = Exchange(port_, Request("POST", "/api/v1/write", {Bearer(), "Content-Encoding: snappy"},
                                               remote_write::Encode(long_value)));
    ExpectRefused(r, 400, "bad_request", "long label value");
    EXPECT_THAT(ParseEnvelope(r.body).message, HasSubstr("longer than 4096 bytes"));
  });
  // Nothing of the refused pushes was stored.
  const RawReply raw = Exchange(port_, Request("GET", "/api/v1/raw?match=abuse_labels", {Bearer()}, "", false));
  EXPECT_EQ(raw.status, 200) << raw.Describe();
  EXPECT_THAT(raw.body, HasSubstr(R"("data":[])"));
}

TEST_F(AbuseTest, SnappyBodiesClaimingOrDecompressingToAGibibyteAreRefusedWithoutAllocatingIt) {
  const std::vector<std::string> headers = {Bearer(), "Content-Encoding: snappy"};
  // The header claims 1 GiB; the body (under max_body_bytes) holds the first 21 MiB of it.
  const std::string claims_gib = SnappyRun(1ULL << 30, (kMaxBodyBytes - 64) / 3);
  ASSERT_LE(claims_gib.size(), kMaxBodyBytes);
  Abuse("snappy header claiming 1 GiB (1 MiB body)", [&] {
    ExpectRefused(Exchange(port_, Request("POST", "/api/v1/write", headers, claims_gib)), 413, "body_too_large",
                  "1 GiB claim");
  });
  // Under the decompressed limit (128 MiB) but far beyond what the body can hold.
  Abuse("snappy header claiming 100 MiB (9-byte body)", [&] {
    const RawReply r = Exchange(port_, Request("POST", "/api/v1/write", headers, SnappyRun(100 << 20, 1)));
    ExpectRefused(r, 400, "bad_request", "100 MiB claim");
  });
  Abuse("snappy header claiming 127 MiB (1 MiB body)", [&] {
    const RawReply r =
        Exchange(port_, Request("POST", "/api/v1/write", headers, SnappyRun(127 << 20, (kMaxBodyBytes - 64) / 3)));
    ExpectRefused(r, 400, "bad_request", "127 MiB claim");
  });
  // A real bomb: 48 MiB that decompress to exactly 1 GiB.
  const size_t copies = ((1ULL << 30) - 1) / 64;
  const std::string bomb = SnappyRun(1ULL << 30, copies, (1ULL << 30) - 1 - 64 * copies);
  Abuse("48 MiB snappy bomb (1 GiB decompressed) with Content-Length", [&] {
    ExpectRefused(Exchange(port_, Request("POST", "/api/v1/write", headers, bomb)), 413, "body_too_large", "bomb");
  });
  Abuse("48 MiB snappy bomb (1 GiB decompressed) chunked", [&] {
    ExpectRefused(Exchange(port_, Chunked("POST", "/api/v1/write", headers, bomb, 256 << 10)), 413, "body_too_large",
                  "chunked bomb");
  });
}

// The contract of the event-driven HTTP front end (shared/http): a malformed
// request gets 400 {"error":"bad_request",...}, and the server goes on. Where a
// request carries a body it is a valid push of abuse_smuggled, so a server that
// guesses (takes one of two Content-Lengths, or the chunks before a bad one)
// stores it and is caught: framing a request two ways is how requests are
// smuggled past a proxy.
TEST_F(AbuseTest, MalformedHttpGets400AndTheServerKeepsServing) {
  const std::string auth = Bearer() + "\r\n";
  const std::string push = R"({"series":[{"labels":{"__name__":"abuse_smuggled"},"samples":[1]}]})";
  const std::string n = std::to_string(push.size());
  const std::string ingest = "POST /api/v1/ingest HTTP/1.1\r\nHost: a\r\n" + auth;
  char chunk_size[16];
  std::snprintf(chunk_size, sizeof chunk_size, "%zx", push.size());
  const std::vector<std::pair<std::string, std::string>> malformed = {
      {"garbage request line", "GARBAGE\r\n\r\n"},
      {"binary request line", std::string("\x00\x01\x02 \xff\xfe / HTTP/1.1\r\n\r\n", 21)},
      {"header line without a colon", "GET /healthz HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n"},
      {"Content-Length: abc", ingest + "Content-Length: abc\r\n\r\n" + push},
      {"Content-Length: -5", ingest + "Content-Length: -5\r\n\r\n" + push},
      {"two different Content-Lengths", ingest + "Content-Length: " + n + "\r\nContent-Length: " +
                                            std::to_string(push.size() + 5) + "\r\n\r\n" + push + "\r\n\r\n\r\n"},
      {"chunk size 'zz' after a whole chunk",
       ingest + "Transfer-Encoding: chunked\r\n\r\n" + chunk_size + "\r\n" + push + "\r\nzz\r\n\r\n"},
  };
  for (const auto& bad : malformed) {
    Abuse(bad.first, [&] { ExpectRefused(Exchange(port_, bad.second), 400, "bad_request", bad.first); });
  }
  // A Content-Length past 64 bits: refused as malformed or as too large, either way with a reason.
  Abuse("Content-Length: 99999999999999999999999", [&] {
    const RawReply r = Exchange(port_, ingest + "Content-Length: 99999999999999999999999\r\n\r\n" + push);
    EXPECT_TRUE(r.status == 400 || r.status == 413) << r.Describe();
    EXPECT_TRUE(ParseEnvelope(r.body).ok) << r.Describe();
  });
  const RawReply raw = Exchange(port_, Request("GET", "/api/v1/raw?match=abuse_smuggled", {Bearer()}, "", false));
  EXPECT_EQ(raw.status, 200) << raw.Describe();
  EXPECT_THAT(raw.body, HasSubstr(R"("data":[])")) << "a malformed request was taken as a push";
}

// One client holding http_max_connections_per_client (256 by default) idle
// connections: its next one is answered 503 too_many_connections and closed;
// once they close it is served again, and the refusal shows in the front
// end's metrics.
TEST_F(AbuseTest, OneClientOverItsConnectionLimitGets503UntilItClosesSome) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  Abuse("257 connections from one client", [&] {
    std::vector<int> held;
    for (int i = 0; i < 256; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ASSERT_GE(fd, 0);
      held.push_back(fd);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(port_));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
    }
    // The server counts connections as it accepts them: poll until the 257th is refused.
    RawReply refused;
    while (std::chrono::steady_clock::now() < deadline) {
      refused = Exchange(port_, Request("GET", "/healthz", {}, "", false));
      if (refused.status == 503) break;
    }
    ExpectRefused(refused, 503, "too_many_connections", "the 257th connection");
    for (int fd : held) ::close(fd);
    RawReply health;
    while (std::chrono::steady_clock::now() < deadline && health.status != 200) {
      health = Exchange(port_, Request("GET", "/healthz", {}, "", false));
    }
    EXPECT_EQ(health.status, 200) << "after closing: " << health.Describe();
  });
  const RawReply metrics = Exchange(port_, Request("GET", "/metrics", {Bearer()}, "", false));
  ASSERT_EQ(metrics.status, 200) << metrics.Describe();
  EXPECT_THAT(metrics.body, HasSubstr("prescale_aggregator_http_connections "));
  EXPECT_THAT(metrics.body, ::testing::ContainsRegex("prescale_aggregator_http_connections_refused_total [1-9]"));
  EXPECT_THAT(metrics.body, ::testing::ContainsRegex("prescale_aggregator_http_connections_accepted_total [1-9]"));
}

}  // namespace
}  // namespace prescale
