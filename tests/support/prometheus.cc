#include "tests/support/prometheus.h"

#include <chrono>

namespace prescale::testing {

using namespace std::chrono_literals;

bool StartPrometheus(const TempDir& dir, const PrometheusOptions& options, Subprocess* prometheus, int* port,
                     std::string* error) {
  const std::string binary = FindProgram("prometheus");
  if (binary.empty()) {
    *error = "prometheus is not installed (Debian package prometheus)";
    return false;
  }
  const std::string config = dir.Write("prometheus.yml", options.config_yaml);
  for (int attempt = 0; attempt < 3; ++attempt) {
    *port = FreeLoopbackPort();
    const std::string tsdb =
        options.tsdb_path.empty() ? dir.path() + "/tsdb-" + std::to_string(attempt) : options.tsdb_path;
    std::vector<std::string> argv = {binary, "--config.file=" + config, "--storage.tsdb.path=" + tsdb,
                                     "--web.listen-address=127.0.0.1:" + std::to_string(*port), "--log.level=warn"};
    argv.insert(argv.end(), options.extra_flags.begin(), options.extra_flags.end());
    if (!prometheus->Start(argv)) {
      *error = "cannot run " + binary;
      return false;
    }
    const std::string ready_url = "http://127.0.0.1:" + std::to_string(*port) + "/-/ready";
    auto ready = [&] { return RunCommand({"curl", "-fsS", "-o", "/dev/null", ready_url}, 5s).exit_code == 0; };
    if (PollUntil([&] { return !prometheus->running() || ready(); }, 30s, 100ms) && prometheus->running()) return true;
    prometheus->Wait(5s);
    *error = "prometheus on port " + std::to_string(*port) + " did not start: " + prometheus->Stderr();
  }
  return false;
}

}  // namespace prescale::testing
