// prescale-aggregator: flags and wiring only; everything else lives in aggregator_lib.
#include <malloc.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/commands.h"
#include "prescale/aggregator/config.h"
#include "prescale/aggregator/control/control_bootstrap.h"
#include "prescale/aggregator/control/sqlite_store.h"
#include "prescale/aggregator/history/backfill.h"
#include "prescale/aggregator/history/snapshot.h"
#include "prescale/base/log.h"
#include "prescale/http/http_client.h"
#include "prescale/http/http_server.h"

namespace {

std::atomic<bool> g_stop{false};

void HandleSignal(int) { g_stop.store(true); }

int Fail(const std::string& message, bool usage) {
  std::fprintf(stderr, "prescale-aggregator: %s\n", message.c_str());
  if (usage) std::fprintf(stderr, "\n%s", prescale::aggregator::AggregatorUsage().c_str());
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

}  // namespace

int main(int argc, char** argv) {
  using namespace prescale;
  using namespace prescale::aggregator;
  if (IsCommand(argc, argv)) return RunCommand(argc, argv, stdout, stderr);
  auto cli = ParseAggregatorCommandLine(argc, argv);
  if (!cli.ok()) return Fail(cli.status().message(), true);
  if (cli->help) {
    std::fputs(AggregatorUsage().c_str(), stdout);
    return 0;
  }
  auto config =
      cli->config_path.empty() ? Result<AggregatorConfig>(AggregatorConfig{}) : LoadAggregatorConfig(cli->config_path);
  if (!config.ok()) return Fail(config.status().message(), false);
  if (Status s = ApplyAggregatorOverrides(*cli, &config.value()); !s.ok()) return Fail(s.message(), true);
  SetLogLevel(config->log_level);
  if (!config->data_dir.empty() && !EnsureDirectory(config->data_dir)) {
    std::fprintf(stderr, "prescale-aggregator: data directory %s: %s\n", config->data_dir.c_str(),
                 std::strerror(errno));
    return 1;
  }

  Aggregator aggregator(std::move(config).value(), SystemClock::Instance());
  const std::string& data_dir = aggregator.config().data_dir;
  {
    // The control store: a file in the data directory, or in memory without one.
    const std::string path = data_dir.empty() ? ":memory:" : ControlStorePath(data_dir);
    auto store = OpenSqliteStore(path, SqliteStoreOptions{});
    if (!store.ok()) {
      std::fprintf(stderr, "prescale-aggregator: %s\n", store.status().message().c_str());
      return 1;
    }
    if (data_dir.empty())
      Log(LogLevel::kWarning, "no data_dir: tenants, services, tokens and audit live in memory only");
    aggregator.UseControlStore(std::move(store).value());
    AuditRecord actor;
    actor.time_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    actor.actor = "bootstrap";
    actor.actor_role = "admin";
    const AggregatorConfig& c = aggregator.config();
    auto report = [](const Result<ApplySummary>& r, const std::string& from) {
      if (!r.ok()) {
        std::fprintf(stderr, "prescale-aggregator: %s\n", r.status().message().c_str());
        return false;
      }
      Log(LogLevel::kInfo, "bootstrap from " + from + ": " + std::to_string(r->created) + " created, " +
                               std::to_string(r->replaced) + " replaced, " + std::to_string(r->unchanged) +
                               " unchanged");
      return true;
    };
    if (!c.bootstrap_yaml.empty() &&
        !report(ApplyObjects(aggregator.control_store(), c.bootstrap_yaml, c.bootstrap_file, actor, false),
                c.bootstrap_file)) {
      return 2;
    }
    if (!c.bootstrap_dir.empty() &&
        !report(ApplyDirectory(aggregator.control_store(), c.bootstrap_dir, actor), c.bootstrap_dir)) {
      return 2;
    }
  }
  if (!data_dir.empty()) {
    auto loaded = LoadSnapshot(&aggregator.store(), &aggregator.demand(), data_dir);
    if (loaded.ok()) {
      Log(LogLevel::kInfo, "loaded " + std::to_string(loaded->series) + " series, " + std::to_string(loaded->samples) +
                               " samples from " + SnapshotPath(data_dir));
    } else {
      Log(LogLevel::kError, loaded.status().message());
    }
  }
  auto snapshot = [&] {
    if (data_dir.empty()) return;
    auto written = WriteSnapshot(aggregator.store(), &aggregator.demand(), data_dir);
    if (!written.ok()) {
      Log(LogLevel::kError, "snapshot failed: " + written.status().message());
    } else {
      Log(LogLevel::kDebug,
          "snapshot: " + std::to_string(written->series) + " series, " + std::to_string(written->bytes) + " bytes");
    }
  };
  if (aggregator.authenticator().open()) {
    Log(LogLevel::kWarning, "no tokens configured: /api/v1/write and /api/v1/ingest accept pushes from anyone");
  }
  auto server = http::HttpServer::Start(aggregator.ServerOptions(), aggregator.Routes());
  if (!server.ok()) {
    std::fprintf(stderr, "prescale-aggregator: %s\n", server.status().message().c_str());
    return 1;
  }
  Log(LogLevel::kInfo, "prescale-aggregator: max_series " + std::to_string(aggregator.config().max_series) +
                           ", raw retention " + std::to_string(aggregator.config().raw_retention.count()) +
                           "ms, serving on port " + std::to_string((*server)->port()));
  std::signal(SIGTERM, HandleSignal);
  std::signal(SIGINT, HandleSignal);
  // Backfill in the background: ingest serves meanwhile (it fills only open minutes).
  std::thread backfill;
  if (!aggregator.config().prometheus_url.empty() && aggregator.demand().empty()) {
    backfill = std::thread([&aggregator] {
      const std::string& url = aggregator.config().prometheus_url;
      Log(LogLevel::kInfo, "backfill: the demand history is empty, reading it from " + url);
      auto client = http::NewCurlHttpClient();
      auto done = BackfillFromPrometheus(url, &aggregator.demand(), SystemClock::Instance(), client.get());
      if (done.ok()) {
        Log(LogLevel::kInfo, "backfill: " + std::to_string(done->series) + " demand series, " +
                                 std::to_string(done->points) + " points from " + url);
      } else {
        Log(LogLevel::kError, "backfill from " + url + " failed: " + done.status().message());
      }
    });
  }

  // The scaling actions' deliveries, on their own thread: a slow receiver
  // never delays a tick. Woken when actions are queued; retries are due by time.
  std::thread dispatcher;
  if (ActionDispatcher* d = aggregator.dispatcher(); d != nullptr) {
    dispatcher = std::thread([d] {
      // The kubernetes executor's targets are read back every 30 s (someone may scale them by hand).
      auto next_refresh = std::chrono::steady_clock::now();
      while (!g_stop.load()) {
        d->RunOnce();
        if (std::chrono::steady_clock::now() >= next_refresh) {
          d->RefreshReplicas();
          next_refresh = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        }
        d->WaitForWork(std::chrono::milliseconds(500));
      }
    });
  }

  // Every tick (10 s by default): demand minutes become final, every demand
  // series is forecast and every service evaluated; triggers evaluate at once.
  const auto kSweepEvery = aggregator.config().tick_interval;
  auto next_sweep = std::chrono::steady_clock::now() + kSweepEvery;
  // Every minute: idle series expire (a walk over every series: 0.1 core every
  // 10 s for 2.5M series), then glibc hands the memory they and expired chunks
  // left back (about 9% less RSS on a 500k-series store).
  constexpr auto kExpireEvery = std::chrono::seconds(60);
  auto next_expire = std::chrono::steady_clock::now() + kExpireEvery;
  const auto snapshot_every = aggregator.config().snapshot_interval;
  auto next_snapshot = std::chrono::steady_clock::now() + snapshot_every;
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (std::chrono::steady_clock::now() >= next_sweep) {
      aggregator.Tick();
      next_sweep += kSweepEvery;
    } else {
      aggregator.EvaluateTriggers();
    }
    if (std::chrono::steady_clock::now() >= next_expire) {
      const size_t n = aggregator.ExpireIdle();
      if (n > 0) Log(LogLevel::kDebug, "expired " + std::to_string(n) + " idle series");
      ::malloc_trim(0);
      next_expire += kExpireEvery;
    }
    if (snapshot_every.count() > 0 && std::chrono::steady_clock::now() >= next_snapshot) {
      snapshot();
      next_snapshot = std::chrono::steady_clock::now() + snapshot_every;
    }
  }
  (*server)->Stop();
  if (dispatcher.joinable()) {
    aggregator.dispatcher()->Notify();
    dispatcher.join();
  }
  if (backfill.joinable()) backfill.join();
  snapshot();  // after the server stopped: nothing accepted is left out
  Log(LogLevel::kInfo, "prescale-aggregator stopped");
  return 0;
}
