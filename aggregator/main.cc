// prescale-aggregator: flags and the process around the wiring (src/wiring.cc):
// the data directory, the control store's file and bootstrap objects,
// snapshots and the write-ahead log's replay, backfill, the HTTP server, the
// schedulers, and signals.
#include <pthread.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>
#include <variant>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/commands.h"
#include "prescale/aggregator/config.h"
#include "prescale/aggregator/control/control_bootstrap.h"
#include "prescale/aggregator/history/backfill.h"
#include "prescale/aggregator/history/snapshot.h"
#include "prescale/aggregator/history/wal.h"
#include "prescale/base/build_info.h"
#include "prescale/base/log.h"
#include "prescale/base/scheduler.h"
#include "prescale/http/http_client.h"
#include "prescale/http/http_server.h"

namespace {

using namespace prescale;
using namespace prescale::aggregator;

int Fail(const std::string& message, bool usage) {
  std::fprintf(stderr, "prescale-aggregator: %s\n", message.c_str());
  if (usage) std::fprintf(stderr, "\n%s", AggregatorUsage().c_str());
  return 2;
}

// mkdir -p for the data directory (one level is enough for a configured path's leaf).
bool EnsureDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0750) == 0 || errno == EEXIST) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
  return false;
}

// The --config file (the defaults without one) with the flags on top: at
// start, and again at every reload.
Result<AggregatorConfig> ReadConfig(const AggregatorCommandLine& cli) {
  auto config =
      cli.config_path.empty() ? Result<AggregatorConfig>(AggregatorConfig{}) : LoadAggregatorConfig(cli.config_path);
  if (!config.ok()) return config.status();
  PRESCALE_RETURN_IF_ERROR(ApplyAggregatorOverrides(cli, &config.value()));
  return config;
}

// The command line; an exit code when the process should not start.
std::variant<AggregatorCommandLine, int> ParseCommandLine(int argc, char** argv) {
  auto cli = ParseAggregatorCommandLine(argc, argv);
  if (!cli.ok()) return Fail(cli.status().message(), true);
  if (cli->help) {
    std::fputs(AggregatorUsage().c_str(), stdout);
    return 0;
  }
  if (cli->version) {
    std::fputs(VersionText("prescale-aggregator").c_str(), stdout);
    return 0;
  }
  return std::move(cli).value();
}

bool Report(const Result<ApplySummary>& r, const std::string& from) {
  if (!r.ok()) {
    std::fprintf(stderr, "prescale-aggregator: %s\n", r.status().message().c_str());
    return false;
  }
  Log(LogLevel::kInfo,
      "bootstrap from " + from + ": " + std::to_string(r->created) + " created, " + std::to_string(r->replaced) +
          " replaced, " + std::to_string(r->unchanged) + " unchanged",
      {{"component", "bootstrap"}, {"source", from}});
  return true;
}

// The control store (PostgreSQL when control_store names it; else a file in
// the data directory, or in memory without one)
// with the bootstrap objects applied; an exit code when that fails.
int AttachControlStore(Aggregator* aggregator) {
  const AggregatorConfig& c = aggregator->config();
  auto store = OpenControlStore(c.control_store, c.data_dir);
  if (!store.ok()) {
    std::fprintf(stderr, "prescale-aggregator: %s\n", store.status().message().c_str());
    return 1;
  }
  if (c.data_dir.empty() && c.control_store.empty()) {
    Log(LogLevel::kWarning, "no data_dir: tenants, services, tokens and audit live in memory only",
        {{"component", "control"}});
  }
  aggregator->UseControlStore(std::move(store).value());
  AuditRecord actor;
  actor.time_ms = ToUnixMillis(SystemClock::Instance().Now());
  actor.actor = "bootstrap";
  actor.actor_role = "admin";
  if (!c.bootstrap_yaml.empty() &&
      !Report(ApplyObjects(aggregator->control_store(), c.bootstrap_yaml, c.bootstrap_file, actor, false),
              c.bootstrap_file)) {
    return 2;
  }
  if (!c.bootstrap_dir.empty() &&
      !Report(ApplyDirectory(aggregator->control_store(), c.bootstrap_dir, actor), c.bootstrap_dir)) {
    return 2;
  }
  return 0;
}

// False when the start must stop: a snapshot that could not be read nor set
// aside would be overwritten by the first snapshot written. A corrupt one that
// was moved aside (ParseError) only costs the history: the start goes on.
bool LoadHistory(Aggregator* aggregator) {
  const std::string& data_dir = aggregator->config().data_dir;
  if (data_dir.empty()) return true;
  auto loaded = LoadSnapshot(&aggregator->store(), &aggregator->demand(), data_dir);
  if (loaded.ok()) {
    Log(LogLevel::kInfo, "loaded " + std::to_string(loaded->series) + " series, " + std::to_string(loaded->samples) +
                             " samples from " + SnapshotPath(data_dir));
    return true;
  }
  if (loaded.status().code() == StatusCode::kParseError) {
    Log(LogLevel::kError, loaded.status().message(), {{"component", "snapshot"}});
    return true;
  }
  std::fprintf(stderr, "prescale-aggregator: %s; not starting, so that it is not overwritten\n",
               loaded.status().message().c_str());
  return false;
}

// Replays the write-ahead log after the snapshot: every push acknowledged
// since is stored again. False when the start must stop: a segment that
// cannot be read would be removed by the next snapshot. Damage is logged and
// skipped; a record cut short at the end of a segment (the kill landed
// mid-write: never acknowledged) is ignored.
bool ReplayWal(Aggregator* aggregator) {
  if (aggregator->config().data_dir.empty()) return true;
  const auto start = SystemClock::Instance().Monotonic();
  WalReplayObserver observer;
  observer.corruption = [](const std::string& message) { Log(LogLevel::kError, message, {{"component", "wal"}}); };
  observer.progress = [](const WalReplayStats& done, uint64_t total_bytes, uint64_t total_segments) {
    if (total_segments < 2) return;  // one segment replays in a second or two
    Log(LogLevel::kInfo, "write-ahead log replay: " + std::to_string(done.segments) + " of " +
                             std::to_string(total_segments) + " segments, " + std::to_string(done.bytes >> 20) +
                             " of " + std::to_string(total_bytes >> 20) + " MiB, " + std::to_string(done.samples) +
                             " samples");
  };
  auto replayed = aggregator->OpenWal(observer);
  if (!replayed.ok()) {
    std::fprintf(stderr, "prescale-aggregator: %s; not starting, so that the next snapshot does not remove it\n",
                 replayed.status().message().c_str());
    return false;
  }
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(SystemClock::Instance().Monotonic() - start);
  Log(LogLevel::kInfo,
      "replayed " + std::to_string(replayed->records) + " records, " + std::to_string(replayed->samples) +
          " samples (" + std::to_string(replayed->samples_out_of_order) + " already held, dropped) from " +
          std::to_string(replayed->segments) + " segments of " + WalDir(aggregator->config().data_dir) + " in " +
          std::to_string(elapsed.count()) + " ms; " + std::to_string(replayed->corruptions) + " damaged, " +
          std::to_string(replayed->torn_tails) + " torn tails ignored");
  return true;
}

// Backfill in the background: ingest serves meanwhile (it fills only open minutes).
// `history_empty`: no demand history came from the snapshot (what the log
// replayed does not count: it holds only the minutes since).
std::thread StartBackfill(Aggregator* aggregator, bool history_empty) {
  if (aggregator->config().prometheus_url.empty() || !history_empty) return {};
  return std::thread([aggregator] {
    const std::string& url = aggregator->config().prometheus_url;
    Log(LogLevel::kInfo, "backfill: the demand history is empty, reading it from " + url);
    auto client = http::NewCurlHttpClient();
    auto done = BackfillFromPrometheus(url, &aggregator->demand(), SystemClock::Instance(), client.get());
    if (done.ok()) {
      Log(LogLevel::kInfo, "backfill: " + std::to_string(done->series) + " demand series, " +
                               std::to_string(done->points) + " points from " + url);
    } else {
      Log(LogLevel::kError, "backfill from " + url + " failed: " + done.status().message());
    }
  });
}

// Serves until SIGTERM or SIGINT (waited for with sigwait: the signals are
// blocked in every thread, so none of them is interrupted).
int Serve(Aggregator* aggregator, const sigset_t& signals, bool history_empty) {
  const AggregatorConfig& c = aggregator->config();
  if (const std::string warning = aggregator->AccessWarning(); !warning.empty()) {
    Log(LogLevel::kWarning, warning, {{"component", "auth"}});
  }
  auto server = http::HttpServer::Start(aggregator->ServerOptions(), aggregator->Routes());
  if (!server.ok()) {
    std::fprintf(stderr, "prescale-aggregator: %s\n", server.status().message().c_str());
    return 1;
  }
  aggregator->AttachServer(server->get());
  Log(LogLevel::kInfo,
      "prescale-aggregator: max_series " + std::to_string(c.max_series) + ", raw retention " +
          std::to_string(c.raw_retention.count()) + "ms, serving on port " + std::to_string((*server)->port()),
      {{"component", "http"}, {"port", (*server)->port()}});
  std::thread backfill = StartBackfill(aggregator, history_empty);
  Scheduler work(SystemClock::Instance());
  Scheduler delivery(SystemClock::Instance());
  Scheduler lease(SystemClock::Instance());
  if (Status s = aggregator->Schedule(&work, &delivery, &lease); !s.ok()) return Fail(s.message(), false);
  lease.Start();
  work.Start();
  delivery.Start();
  int signal = 0;
  // SIGHUP reads the configuration again (as POST /-/reload does); SIGTERM and SIGINT stop.
  while (::sigwait(&signals, &signal) == 0 && signal == SIGHUP) aggregator->Reload("SIGHUP");
  Log(LogLevel::kInfo, std::string("prescale-aggregator: ") + ::strsignal(signal) + ", stopping");
  (*server)->Stop();
  aggregator->AttachServer(nullptr);
  work.Stop();
  delivery.Stop();
  lease.Stop();
  // Nothing acts here any more: another replica may take over at once.
  if (LeaderElection* leader = aggregator->leader(); leader != nullptr) leader->Release();
  if (backfill.joinable()) backfill.join();
  aggregator->Snapshot();  // after the server stopped: nothing accepted is left out
  Log(LogLevel::kInfo, "prescale-aggregator stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (IsCommand(argc, argv)) return RunCommand(argc, argv, stdout, stderr);
  auto parsed = ParseCommandLine(argc, argv);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  const AggregatorCommandLine cli = std::get<AggregatorCommandLine>(std::move(parsed));
  auto loaded = ReadConfig(cli);
  if (!loaded.ok()) return Fail(loaded.status().message(), loaded.status().message().starts_with("--"));
  AggregatorConfig& config = loaded.value();
  SetLogLevel(config.log_level);
  SetLogFormat(config.log_format);
  if (!config.data_dir.empty() && !EnsureDirectory(config.data_dir)) {
    std::fprintf(stderr, "prescale-aggregator: data directory %s: %s\n", config.data_dir.c_str(), std::strerror(errno));
    return 1;
  }
  // Before any thread starts, so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Aggregator aggregator(std::move(config), SystemClock::Instance());
  aggregator.ReloadFrom([cli] { return ReadConfig(cli); });
  if (int code = AttachControlStore(&aggregator); code != 0) return code;
  if (!LoadHistory(&aggregator)) return 1;
  const bool history_empty = aggregator.demand().empty();
  if (!ReplayWal(&aggregator)) return 1;
  return Serve(&aggregator, signals, history_empty);
}
