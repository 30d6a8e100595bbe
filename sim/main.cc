// prescale-sim: flags and wiring only; everything else lives in sim_lib.
#include <csignal>
#include <cstdio>
#include <cstring>

#include "prescale/base/build_info.h"
#include "prescale/sim/forecast_command.h"
#include "prescale/sim/replay_command.h"

namespace {

constexpr const char* kUsage =
    "usage: prescale-sim COMMAND [flags]\n"
    "commands:\n"
    "  forecast   rolling-origin evaluation of the forecasting models on a trace\n"
    "  replay     replay a scenario of traces through prescale's decision engine, HPA, KEDA and static\n"
    "run 'prescale-sim COMMAND --help' for its flags, 'prescale-sim --version' for the version\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace prescale::sim;
  // python3 (for --plot x.png) may exit early; a write to its pipe must not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  if (argc >= 2 && std::strcmp(argv[1], "--version") == 0) {
    std::fputs(prescale::VersionText("prescale-sim").c_str(), stdout);
    return 0;
  }
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "replay") == 0) {
    auto replay = ParseReplayCommandLine(argc - 1, argv + 1);
    if (!replay.ok()) {
      std::fprintf(stderr, "prescale-sim replay: %s\n\n%s", replay.status().message().c_str(), ReplayUsage().c_str());
      return 2;
    }
    if (replay->help) {
      std::fputs(ReplayUsage().c_str(), stdout);
      return 0;
    }
    return RunReplayCommand(*replay, stdout, stderr);
  }
  if (std::strcmp(argv[1], "forecast") != 0) {
    std::fprintf(stderr, "prescale-sim: unknown command '%s'\n\n%s", argv[1], kUsage);
    return 2;
  }
  auto command = ParseForecastCommandLine(argc - 1, argv + 1, AllModelNames());
  if (!command.ok()) {
    std::fprintf(stderr, "prescale-sim forecast: %s\n\n%s", command.status().message().c_str(),
                 ForecastUsage().c_str());
    return 2;
  }
  if (command->help) {
    std::fputs(ForecastUsage().c_str(), stdout);
    return 0;
  }
  return RunForecast(*command, stdout, stderr);
}
