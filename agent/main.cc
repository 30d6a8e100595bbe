// prescale-agent: flags and wiring only; everything else lives in agent_lib.
#include <malloc.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "prescale/agent/agent.h"
#include "prescale/agent/config.h"
#include "prescale/agent/table_view.h"
#include "prescale/agent/web_config.h"
#include "prescale/base/build_info.h"
#include "prescale/base/log.h"
#include "prescale/http/http_server.h"

namespace {

prescale::agent::Agent* g_agent = nullptr;

void HandleSignal(int) {
  if (g_agent != nullptr) g_agent->Stop();
}

int Fail(const std::string& message, bool usage) {
  std::fprintf(stderr, "prescale-agent: %s\n", message.c_str());
  if (usage) std::fprintf(stderr, "\n%s", prescale::agent::AgentUsage().c_str());
  return 2;
}

// /metrics, /healthz and /readyz.
std::vector<prescale::http::Route> Routes(prescale::agent::Agent& a) {
  namespace http = prescale::http;
  std::vector<http::Route> routes;
  routes.push_back({"GET", "/metrics", [&a](const http::HttpRequest&) {
                      http::HttpResponse r;
                      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                      r.body_writer = [&a](const std::function<bool(std::string_view)>& write) {
                        a.WriteExposition(write);
                      };
                      return r;
                    }});
  routes.push_back({"GET", "/healthz", [](const http::HttpRequest&) {
                      http::HttpResponse r;
                      r.body = "ok\n";
                      return r;
                    }});
  routes.push_back({"GET", "/readyz", [&a](const http::HttpRequest&) {
                      if (a.ready()) {
                        http::HttpResponse r;
                        r.body = "ready\n";
                        return r;
                      }
                      return http::HttpResponse::JsonError(503, "not_ready", "the first collection has not finished");
                    }});
  return routes;
}

// After each cycle with --table: the per-service table, redrawn in place.
std::function<void()> TableRefresher(prescale::agent::Agent& a, prescale::agent::TableView& view, int port,
                                     const std::string& scheme) {
  return [&a, &view, port, scheme] {
    std::string screen = "\033[H\033[2J" + view.Render(a.table(), a.node_stats(), std::chrono::steady_clock::now());
    screen += "\n/metrics served at " + scheme + "://" + a.config().listen.substr(0, a.config().listen.rfind(':')) +
              ":" + std::to_string(port) + "/metrics   (Ctrl-C to stop)\n";
    std::fwrite(screen.data(), 1, screen.size(), stdout);
    std::fflush(stdout);
  };
}

}  // namespace

int main(int argc, char** argv) {
  // One malloc arena for all threads: the HTTP threads allocate little, and an arena each would
  // keep its own free pages resident (about 0.5 MiB on a node's worth of cgroups). The agent runs
  // on every node, so its memory counts more than the malloc lock's few contended moments.
  ::mallopt(M_ARENA_MAX, 1);
  using namespace prescale;
  using namespace prescale::agent;
  auto cli = ParseCommandLine(argc, argv);
  if (!cli.ok()) return Fail(cli.status().message(), true);
  if (cli->help) {
    std::fputs(AgentUsage().c_str(), stdout);
    return 0;
  }
  if (cli->version) {
    std::fputs(VersionText("prescale-agent").c_str(), stdout);
    return 0;
  }
  auto config =
      cli->config_path.empty() ? Result<AgentConfig>(DefaultAgentConfig()) : LoadAgentConfig(cli->config_path);
  if (!config.ok()) return Fail(config.status().message(), false);
  if (Status s = ApplyOverrides(*cli, &config.value()); !s.ok()) return Fail(s.message(), true);
  SetLogLevel(config->log_level);
  SetLogFormat(config->log_format);
  // Read before anything starts: a web config that is missing or wrong stops the agent here.
  WebConfig web;
  if (!config->web_config_file.empty()) {
    auto loaded = LoadWebConfig(config->web_config_file);
    if (!loaded.ok()) return Fail(loaded.status().message(), true);
    web = std::move(loaded).value();
    if (web.http2_requested) {
      Log(LogLevel::kInfo, "web config: http_server_config.http2 is ignored: prescale-agent serves HTTP/1.1 only");
    }
  }
  // --once prints one exposition: nothing to push, and no batch left behind in the spool.
  if (cli->once) {
    config->aggregator_url.clear();
    config->aggregator_urls.clear();
    config->directives = false;  // and no CPU cap applied
  }

  auto agent = Agent::Create(std::move(config).value(), SystemClock::Instance());
  if (!agent.ok()) {
    std::fprintf(stderr, "prescale-agent: %s\n", agent.status().message().c_str());
    return 1;
  }
  Agent& a = **agent;
  if (cli->once) {
    a.ScrapeTargetsOnce();
    a.CollectOnce();
    const std::string text = a.Exposition();
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }

  http::HttpServerOptions options;
  options.listen = a.config().listen;
  ApplyWebConfig(web, &options);
  auto server = http::HttpServer::Start(options, Routes(a));
  if (!server.ok()) {
    std::fprintf(stderr, "prescale-agent: %s\n", server.status().message().c_str());
    return 1;
  }
  Log(LogLevel::kInfo, "prescale-agent on node " + a.config().node + ": cgroup layout " +
                           std::string(CgroupLayoutKindName(a.layout().kind)) + ", collecting every " +
                           std::to_string(a.config().interval.count()) + "ms, serving /metrics on port " +
                           std::to_string((*server)->port()) + " over " + DescribeWebConfig(web));
  g_agent = &a;
  std::signal(SIGTERM, HandleSignal);
  std::signal(SIGINT, HandleSignal);

  TableView view;
  const int port = (*server)->port();
  std::function<void()> after_cycle;
  if (cli->table) after_cycle = TableRefresher(a, view, port, web.tls() ? "https" : "http");
  a.Run(after_cycle);
  (*server)->Stop();
  Log(LogLevel::kInfo, "prescale-agent stopped");
  return 0;
}
