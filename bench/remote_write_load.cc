// prescale-bench-remote-write: a remote-write load generator shaped like
// Prometheus's senders, for comparing receivers (the aggregator, Prometheus's
// own /api/v1/write). Each connection owns its series (label conn="<i>"), so
// timestamps rise per series whatever the interleaving, and sends requests of
// SERIES series x SAMPLES samples back to back over a kept-alive connection.
//
//   prescale-bench-remote-write --url URL [--connections 4] [--duration 30]
//       [--series 500] [--samples 1] [--token TOKEN] [--labels short|kubernetes]
//
// Fleet mode (--nodes N --interval S): N simulated agents, each pushing its
// SERIES series once every S seconds (spread over the connections), as a
// fleet of prescale-agents would; reports rounds that finished late.
//
// --labels short (the default): 4 cAdvisor names and short labels (id, node,
// tenant, service: about 130 bytes a series). --labels kubernetes: the label
// set prescale-agent gives a pod's container (docs/metrics.md: id, name,
// namespace, pod, container, image, pod_uid, qos, workload, workload_kind,
// tenant, service, node), with values as long as a real node's (a 64-hex
// container id, a pod UID; about 480 bytes a series, as the agent's
// exposition measures), over the 23 container_* names the agent exposes for a
// cgroup on this machine: SERIES / 23 cgroups per node.
//
// Prints one line of figures: requests, samples accepted, samples/s, errors.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "prescale/http/http_client.h"
#include "prescale/remote_write/remote_write.h"

namespace {

using prescale::remote_write::Label;
using prescale::remote_write::TimeSeries;
using prescale::remote_write::WriteRequest;

struct Options {
  std::string url;
  int connections = 4;
  int duration_s = 30;
  int series = 500;
  int samples = 1;
  std::string token;
  int nodes = 0;  // fleet mode when > 0
  int interval_s = 10;
  bool kubernetes_labels = false;
};

int Usage(const char* why) {
  std::fprintf(stderr,
               "prescale-bench-remote-write: %s\n"
               "usage: prescale-bench-remote-write --url URL [--connections N] [--duration SECONDS]\n"
               "                                   [--series N] [--samples N] [--token TOKEN]\n"
               "                                   [--nodes N --interval SECONDS] [--labels short|kubernetes]\n",
               why);
  return 2;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--url") {
      o->url = v;
    } else if (flag == "--connections") {
      o->connections = std::atoi(v);
    } else if (flag == "--duration") {
      o->duration_s = std::atoi(v);
    } else if (flag == "--series") {
      o->series = std::atoi(v);
    } else if (flag == "--samples") {
      o->samples = std::atoi(v);
    } else if (flag == "--token") {
      o->token = v;
    } else if (flag == "--nodes") {
      o->nodes = std::atoi(v);
    } else if (flag == "--interval") {
      o->interval_s = std::atoi(v);
    } else if (flag == "--labels") {
      if (std::strcmp(v, "short") != 0 && std::strcmp(v, "kubernetes") != 0) return false;
      o->kubernetes_labels = std::strcmp(v, "kubernetes") == 0;
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && !o->url.empty() && o->connections > 0 && o->duration_s > 0 && o->series > 0 && o->samples > 0;
}

// The container_* families prescale-agent exposes for a busy cgroup of this
// machine (hybrid v1 + unified: PSI, failcnt; no quota, IO or network).
const char* const kContainerFamilies[] = {"container_cpu_usage_seconds_total",
                                          "container_cpu_user_seconds_total",
                                          "container_cpu_system_seconds_total",
                                          "container_cpu_cfs_periods_total",
                                          "container_cpu_cfs_throttled_periods_total",
                                          "container_cpu_cfs_throttled_seconds_total",
                                          "container_spec_cpu_period",
                                          "container_spec_cpu_shares",
                                          "container_memory_usage_bytes",
                                          "container_memory_working_set_bytes",
                                          "container_memory_rss",
                                          "container_memory_cache",
                                          "container_spec_memory_limit_bytes",
                                          "container_memory_failcnt",
                                          "container_oom_events_total",
                                          "container_threads",
                                          "container_threads_max",
                                          "container_pressure_cpu_waiting_seconds_total",
                                          "container_pressure_cpu_stalled_seconds_total",
                                          "container_pressure_memory_waiting_seconds_total",
                                          "container_pressure_memory_stalled_seconds_total",
                                          "container_pressure_io_waiting_seconds_total",
                                          "container_pressure_io_stalled_seconds_total"};
constexpr int kContainerFamilyCount = sizeof kContainerFamilies / sizeof kContainerFamilies[0];

// `n` lowercase hex digits derived from `seed` (a container id, a pod UID's digits).
std::string Hex(uint64_t seed, size_t n) {
  std::string out;
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  while (out.size() < n) {
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
    out += buf;
  }
  out.resize(n);
  return out;
}

// The labels prescale-agent gives series `s` of a pod container (docs/metrics.md), in name
// order as the agent sends them; `conn` keeps connections' series apart outside fleet mode.
std::vector<Label> KubernetesLabels(int conn, int s) {
  const int cgroup = s / kContainerFamilyCount;
  const std::string ns = "tenant-" + std::to_string(cgroup / 10);
  const std::string workload = "service-" + std::to_string(cgroup % 10);
  const std::string container_id = Hex(static_cast<uint64_t>(conn) << 32 | static_cast<uint64_t>(cgroup), 64);
  const std::string uid_hex = Hex(static_cast<uint64_t>(conn) << 40 | static_cast<uint64_t>(cgroup), 32);
  const std::string uid = uid_hex.substr(0, 8) + "-" + uid_hex.substr(8, 4) + "-" + uid_hex.substr(12, 4) + "-" +
                          uid_hex.substr(16, 4) + "-" + uid_hex.substr(20, 12);
  return {
      {"__name__", kContainerFamilies[s % kContainerFamilyCount]},
      {"conn", std::to_string(conn)},
      {"container", "app"},
      {"id", "/kubepods/burstable/pod" + uid + "/" + container_id},
      {"image", "registry.example.com/" + ns + "/" + workload + ":1.24.3"},
      {"name", container_id},
      {"namespace", ns},
      {"node", "bench-node"},
      {"pod", workload + "-" + Hex(static_cast<uint64_t>(cgroup), 10) + "-" + Hex(~static_cast<uint64_t>(cgroup), 5)},
      {"pod_uid", uid},
      {"qos", "burstable"},
      {"service", workload},
      {"tenant", ns},
      {"workload", workload},
      {"workload_kind", "Deployment"}};
}

// Series of one connection, shaped like an agent's: cAdvisor-style names and labels.
WriteRequest Template(int conn, int series, int samples, bool kubernetes_labels) {
  static const char* const kNames[] = {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                                       "container_network_receive_bytes_total", "container_threads"};
  WriteRequest r;
  for (int s = 0; s < series; ++s) {
    TimeSeries ts;
    if (kubernetes_labels) {
      ts.labels = KubernetesLabels(conn, s);
    } else {
      ts.labels = {{"__name__", kNames[s % 4]},
                   {"conn", std::to_string(conn)},
                   {"id", "/prescale/tenant" + std::to_string(s / 40) + "/service" + std::to_string(s % 40)},
                   {"node", "bench-node"},
                   {"service", "service" + std::to_string(s % 40)},
                   {"tenant", "tenant" + std::to_string(s / 40)}};
    }
    ts.samples.resize(static_cast<size_t>(samples));
    r.timeseries.push_back(std::move(ts));
  }
  return r;
}

// Values as an agent's vary: counters (names 0 and 2) grow at a per-series rate
// with a full-precision mantissa, memory moves by pages, threads stay put.
double FleetValue(size_t series, int node, int64_t round, int interval_s) {
  const auto s = static_cast<int64_t>(series);
  switch (series % 4) {
    case 0:
    case 2: {
      const double rate =
          0.001 * static_cast<double>(1 + (s * 31 + int64_t{node} * 17) % 997) + 1e-7 * static_cast<double>(node);
      // Jittered increments that never make the counter go back.
      return rate * (static_cast<double>(round * interval_s) + 0.01 * static_cast<double>((round * 7 + s) % 11));
    }
    case 1: return 5e7 + static_cast<double>((s * 7 + node + round) % 64) * 4096.0;
    default: return static_cast<double>((s + node) % 50);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) return Usage("bad arguments");
  std::atomic<uint64_t> requests{0}, samples_ok{0}, errors{0}, first_error_reported{0}, late_rounds{0};
  std::atomic<int64_t> max_late_ms{0};
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(o.duration_s);
  const int64_t base_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count() -
      3'600'000;  // an hour ago, rising by 1 ms per sample: stays in the past and in order
  const int64_t fleet_start_ms = base_ms + 3'600'000;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(o.connections));
  for (int c = 0; c < o.connections; ++c) {
    threads.emplace_back([&, c] {
      auto client = prescale::http::NewCurlHttpClient();
      WriteRequest req = Template(c, o.series, o.samples, o.kubernetes_labels);
      prescale::http::PostOptions post;
      post.headers = {{"Content-Encoding", "snappy"},
                      {"Content-Type", "application/x-protobuf"},
                      {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
      if (!o.token.empty()) post.headers.emplace_back("Authorization", "Bearer " + o.token);
      prescale::remote_write::Encoder encoder;
      std::string body;
      auto send = [&](uint64_t samples) {
        encoder.Encode(req, &body);
        auto r = client->Post(o.url, body, post);
        ++requests;
        if (r.ok() && r->status / 100 == 2) {
          samples_ok += samples;
        } else {
          ++errors;
          if (first_error_reported.exchange(1) == 0) {
            std::fprintf(stderr, "first error: %s\n",
                         r.ok() ? ("HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 200)).c_str()
                                : r.status().ToString().c_str());
          }
        }
      };
      if (o.nodes > 0) {
        // Fleet mode: the nodes c, c + connections, ... each push one sample per series every interval.
        size_t node_label = 0;
        while (req.timeseries[0].labels[node_label].name != "node") ++node_label;
        for (int64_t round = 0;; ++round) {
          const auto round_start = start + std::chrono::seconds(o.interval_s) * round;
          if (round_start >= deadline) break;
          std::this_thread::sleep_until(round_start);  // a load generator's pacing, not a test wait
          // Now, as an agent stamps its samples (the demand rollups see live data).
          const int64_t ts = fleet_start_ms + round * o.interval_s * 1000;
          for (int node = c; node < o.nodes; node += o.connections) {
            const std::string name = "node-" + std::to_string(node);
            for (size_t i = 0; i < req.timeseries.size(); ++i) {
              TimeSeries& s = req.timeseries[i];
              s.labels[node_label].value = name;
              s.samples[0] = {FleetValue(i, node, round, o.interval_s), ts};
            }
            send(static_cast<uint64_t>(o.series));
          }
          const auto late = std::chrono::steady_clock::now() - (round_start + std::chrono::seconds(o.interval_s));
          if (late > std::chrono::seconds(0)) {
            ++late_rounds;
            const auto late_ms = std::chrono::duration_cast<std::chrono::milliseconds>(late).count();
            int64_t seen = max_late_ms.load();
            while (late_ms > seen && !max_late_ms.compare_exchange_weak(seen, late_ms)) {
            }
          }
        }
        return;
      }
      int64_t ts = base_ms;
      while (std::chrono::steady_clock::now() < deadline) {
        for (TimeSeries& s : req.timeseries) {
          int64_t t = ts;
          for (auto& sample : s.samples) sample = {static_cast<double>(t % 1000), t++};
        }
        ts += o.samples;
        send(static_cast<uint64_t>(o.series) * static_cast<uint64_t>(o.samples));
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "requests=%llu samples_ok=%llu errors=%llu seconds=%.2f samples_per_second=%.0f late_rounds=%llu "
      "max_late_ms=%lld\n",
      static_cast<unsigned long long>(requests.load()), static_cast<unsigned long long>(samples_ok.load()),
      static_cast<unsigned long long>(errors.load()), seconds, static_cast<double>(samples_ok.load()) / seconds,
      static_cast<unsigned long long>(late_rounds.load()), static_cast<long long>(max_late_ms.load()));
  return errors.load() == requests.load() ? 1 : 0;
}
