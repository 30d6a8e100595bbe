// prescale-bench-remote-write-codec: the CPU cost of the remote-write path.
//   BM_Encode/N         the agent's side: N series x 1 sample, one-shot Encode
//   BM_EncoderReuse/N   the same through a reused Encoder (what the agent's pusher does)
//   BM_Decode/N         the aggregator's side: snappy + protobuf + validation
//   BM_DecoderReuse/N   the same through a reused Decoder (what the aggregator's HTTP threads do)
//   BM_DecodeAndStore/N/W reused Decoder then SeriesStore::Append into a warm store (the receiver's core
//                       path); W=1: each body written to a write-ahead log first, as with a data_dir
//   BM_WalLog/N/threads  WriteAheadLog::Log of one N-series body (CRC-32 and one write(2) under the
//                       log's mutex), from 1-8 threads at once: what the mutex costs when pushes meet
//   BM_Snapshot/N     WriteSnapshot of N series x 90 samples
// Counters: samples per second of CPU (items_per_second).
#include <benchmark/benchmark.h>

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "prescale/aggregator/history/series_store.h"
#include "prescale/aggregator/history/snapshot.h"
#include "prescale/aggregator/history/wal.h"
#include "prescale/base/clock.h"
#include "prescale/remote_write/remote_write.h"

namespace {

using prescale::remote_write::TimeSeries;
using prescale::remote_write::WriteRequest;

// N series shaped like the agent's: cAdvisor names and the agent's labels.
WriteRequest Request(int n, int64_t timestamp_ms) {
  static const char* const kNames[] = {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                                       "container_network_receive_bytes_total", "container_threads"};
  WriteRequest r;
  for (int s = 0; s < n; ++s) {
    TimeSeries ts;
    ts.labels = {{"__name__", kNames[s % 4]},
                 {"id", "/prescale/tenant" + std::to_string(s / 40) + "/service" + std::to_string(s % 40)},
                 {"node", "bench-node"},
                 {"service", "service" + std::to_string(s % 40)},
                 {"tenant", "tenant" + std::to_string(s / 40)}};
    ts.samples = {{static_cast<double>(s), timestamp_ms}};
    r.timeseries.push_back(std::move(ts));
  }
  return r;
}

void BM_Encode(benchmark::State& state) {
  const WriteRequest r = Request(static_cast<int>(state.range(0)), 1'700'000'000'000);
  for (auto _ : state) benchmark::DoNotOptimize(prescale::remote_write::Encode(r));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_EncoderReuse(benchmark::State& state) {
  const WriteRequest r = Request(static_cast<int>(state.range(0)), 1'700'000'000'000);
  prescale::remote_write::Encoder encoder;
  std::string body;
  for (auto _ : state) {
    encoder.Encode(r, &body);
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["body_bytes"] = static_cast<double>(body.size());
}

void BM_Decode(benchmark::State& state) {
  const std::string body = prescale::remote_write::Encode(Request(static_cast<int>(state.range(0)), 1));
  for (auto _ : state) benchmark::DoNotOptimize(prescale::remote_write::Decode(body));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_DecoderReuse(benchmark::State& state) {
  const std::string body = prescale::remote_write::Encode(Request(static_cast<int>(state.range(0)), 1));
  prescale::remote_write::Decoder decoder;
  WriteRequest out;
  for (auto _ : state) benchmark::DoNotOptimize(decoder.Decode(body, {}, &out));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// A write-ahead log in a fresh temporary directory (removed by the caller), synced every second.
std::unique_ptr<prescale::aggregator::WriteAheadLog> TempWal(std::string* dir) {
  char tmpl[] = "/tmp/prescale-bench-wal.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return nullptr;
  *dir = tmpl;
  auto wal = prescale::aggregator::WriteAheadLog::Open({.dir = *dir}, prescale::SystemClock::Instance());
  return wal.ok() ? std::move(wal).value() : nullptr;
}

void BM_DecodeAndStore(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  prescale::aggregator::SeriesStoreOptions options;
  prescale::aggregator::SeriesStore store(options, prescale::SystemClock::Instance());
  std::string wal_dir;
  std::unique_ptr<prescale::aggregator::WriteAheadLog> wal;
  if (state.range(1) != 0 && (wal = TempWal(&wal_dir)) == nullptr) {
    state.SkipWithError("cannot open a write-ahead log in /tmp");
    return;
  }
  int64_t logged = 0;
  // Bodies with rising timestamps, encoded ahead so only the receiver's work is timed.
  std::vector<std::string> bodies;
  bodies.reserve(256);
  for (int i = 0; i < 256; ++i) bodies.push_back(prescale::remote_write::Encode(Request(n, 1'000 + i)));
  size_t next = 0;
  int64_t round = 0;
  prescale::remote_write::Decoder decoder;  // as the aggregator's HTTP threads do
  WriteRequest decoded;
  for (auto _ : state) {
    if (auto s = decoder.Decode(bodies[next], {}, &decoded); !s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
    if (++next == bodies.size()) {  // a new round of timestamps keeps every sample in order
      state.PauseTiming();
      ++round;
      for (int i = 0; i < 256; ++i) {
        bodies[static_cast<size_t>(i)] = prescale::remote_write::Encode(Request(n, 1'000 + round * 256 + i));
      }
      next = 0;
      state.ResumeTiming();
    }
    prescale::aggregator::AppendStats stats;
    if (wal == nullptr) {
      (void)store.Append(decoded.timeseries, &stats);
      continue;
    }
    prescale::aggregator::WalPending pending;
    (void)store.Append(decoded.timeseries, &stats, false,
                       [&] { return wal->Log(bodies[next == 0 ? bodies.size() - 1 : next - 1], &pending); });
    pending.Release();
    if (++logged % 4096 == 0) (void)wal->RemoveBefore(wal->Cut());  // as snapshots do: the disk use stays bounded
  }
  state.SetItemsProcessed(state.iterations() * n);
  wal.reset();
  if (!wal_dir.empty()) std::filesystem::remove_all(wal_dir);
}

// One log for every thread of a run, opened before they start and removed after (Setup, Teardown).
std::string wal_log_dir;
std::unique_ptr<prescale::aggregator::WriteAheadLog> wal_log;

void WalLogSetup(const benchmark::State&) { wal_log = TempWal(&wal_log_dir); }
void WalLogTeardown(const benchmark::State&) {
  wal_log.reset();
  std::filesystem::remove_all(wal_log_dir);
}

// Every thread logs the same body; thread 0 cuts and removes now and then, as snapshots do.
void BM_WalLog(benchmark::State& state) {
  const std::string body = prescale::remote_write::Encode(Request(static_cast<int>(state.range(0)), 1'000));
  if (wal_log == nullptr) {
    state.SkipWithError("cannot open a write-ahead log in /tmp");
    return;
  }
  int64_t logged = 0;
  for (auto _ : state) {
    prescale::aggregator::WalPending pending;
    if (!wal_log->Log(body, &pending).ok()) {
      state.SkipWithError("write-ahead log write failed");
      break;
    }
    if (state.thread_index() == 0 && ++logged % 4096 == 0) {
      pending.Release();
      (void)wal_log->RemoveBefore(wal_log->Cut());
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
  state.counters["body_bytes"] = static_cast<double>(body.size());
}

// WriteSnapshot of a store of N series x 90 samples (15 minutes at 10 s), as
// the main loop does every snapshot_interval. Items: samples written.
void BM_Snapshot(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  prescale::aggregator::SeriesStoreOptions options;
  prescale::aggregator::SeriesStore store(options, prescale::SystemClock::Instance());
  for (int i = 0; i < 90; ++i) {
    WriteRequest r = Request(n, 1'000'000 + i * 10'000);
    for (size_t s = 0; s < r.timeseries.size(); ++s) {
      r.timeseries[s].samples[0].value =
          0.0137 * static_cast<double>(s + 1) * (i * 10 + 0.01 * static_cast<double>((i * 7UL + s) % 11));
    }
    prescale::aggregator::AppendStats stats;
    (void)store.Append(r.timeseries, &stats);
  }
  char dir[] = "/tmp/prescale-bench-snapshot.XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  uint64_t bytes = 0;
  for (auto _ : state) {
    auto info = prescale::aggregator::WriteSnapshot(store, nullptr, dir);
    if (!info.ok()) {
      state.SkipWithError(info.status().ToString().c_str());
      break;
    }
    bytes = info->bytes;
  }
  state.counters["file_bytes"] = static_cast<double>(bytes);
  state.counters["raw_store_bytes"] = static_cast<double>(store.bytes());
  state.SetItemsProcessed(state.iterations() * n * 90);
  std::filesystem::remove_all(dir);
}

BENCHMARK(BM_Encode)->Arg(500)->Arg(5400);
BENCHMARK(BM_EncoderReuse)->Arg(500)->Arg(5400);
BENCHMARK(BM_Decode)->Arg(500)->Arg(5400);
BENCHMARK(BM_DecoderReuse)->Arg(500)->Arg(5400);
BENCHMARK(BM_DecodeAndStore)->Args({500, 0})->Args({500, 1});
BENCHMARK(BM_WalLog)
    ->Arg(500)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->Threads(8)
    ->UseRealTime()
    ->Setup(WalLogSetup)
    ->Teardown(WalLogTeardown);
BENCHMARK(BM_Snapshot)->Arg(100'000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
