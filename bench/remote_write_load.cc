// prescale-bench-remote-write: a remote-write load generator shaped like
// Prometheus's senders, for comparing receivers (the aggregator, Prometheus's
// own /api/v1/write). Each connection owns its series (label conn="<i>"), so
// timestamps rise per series whatever the interleaving, and sends requests of
// SERIES series x SAMPLES samples back to back over a kept-alive connection.
//
//   prescale-bench-remote-write --url URL [--connections 4] [--duration 30]
//       [--series 500] [--samples 1] [--token TOKEN]
//
// Fleet mode (--nodes N --interval S): N simulated agents, each pushing its
// SERIES series once every S seconds (spread over the connections), as a
// fleet of prescale-agents would; reports rounds that finished late.
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
};

int Usage(const char* why) {
  std::fprintf(stderr,
               "prescale-bench-remote-write: %s\n"
               "usage: prescale-bench-remote-write --url URL [--connections N] [--duration SECONDS]\n"
               "                                   [--series N] [--samples N] [--token TOKEN]\n"
               "                                   [--nodes N --interval SECONDS]\n",
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
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && !o->url.empty() && o->connections > 0 && o->duration_s > 0 && o->series > 0 && o->samples > 0;
}

// Series of one connection, shaped like an agent's: cAdvisor-style names and labels.
WriteRequest Template(int conn, int series, int samples) {
  static const char* const kNames[] = {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                                       "container_network_receive_bytes_total", "container_threads"};
  WriteRequest r;
  for (int s = 0; s < series; ++s) {
    TimeSeries ts;
    ts.labels = {{"__name__", kNames[s % 4]},
                 {"conn", std::to_string(conn)},
                 {"id", "/prescale/tenant" + std::to_string(s / 40) + "/service" + std::to_string(s % 40)},
                 {"node", "bench-node"},
                 {"service", "service" + std::to_string(s % 40)},
                 {"tenant", "tenant" + std::to_string(s / 40)}};
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
          0.001 * static_cast<double>(1 + (s * 31 + node * 17) % 997) + 1e-7 * static_cast<double>(node);
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
  for (int c = 0; c < o.connections; ++c) {
    threads.emplace_back([&, c] {
      auto client = prescale::http::NewCurlHttpClient();
      WriteRequest req = Template(c, o.series, o.samples);
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
