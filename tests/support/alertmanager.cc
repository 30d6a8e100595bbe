#include "tests/support/alertmanager.h"

#include <chrono>

namespace prescale::testing {

using namespace std::chrono_literals;

std::string FindAlertmanager() {
  for (const char* name : {"prometheus-alertmanager", "alertmanager"}) {
    std::string path = FindProgram(name);
    if (!path.empty()) return path;
  }
  return "";
}

std::string AlertmanagerWebhookConfig(const std::string& webhook_url, const std::string& group_wait,
                                      const std::string& group_interval, const std::string& token_file) {
  const std::string authorization = token_file.empty()
                                        ? ""
                                        : "        http_config:\n          authorization:\n            type: Bearer\n"
                                          "            credentials_file: \"" +
                                              token_file + "\"\n";
  return "route:\n"
         "  receiver: prescale\n"
         "  group_by: [tenant, service]\n"
         "  group_wait: " +
         group_wait +
         "\n"
         "  group_interval: " +
         group_interval +
         "\n"
         "  repeat_interval: 1h\n"
         "receivers:\n"
         "  - name: prescale\n"
         "    webhook_configs:\n"
         "      - url: \"" +
         webhook_url +
         "\"\n"
         "        send_resolved: true\n" +
         authorization;
}

bool StartAlertmanager(const TempDir& dir, const AlertmanagerOptions& options, Subprocess* alertmanager, int* port,
                       std::string* error) {
  const std::string binary = FindAlertmanager();
  if (binary.empty()) {
    *error = "Alertmanager is not installed (Debian package prometheus-alertmanager)";
    return false;
  }
  const std::string config = dir.Write("alertmanager.yml", options.config_yaml);
  for (int attempt = 0; attempt < 3; ++attempt) {
    *port = FreeLoopbackPort();
    // An empty --cluster.listen-address turns clustering (and its gossip port) off.
    std::vector<std::string> argv = {binary,
                                     "--config.file=" + config,
                                     "--storage.path=" + dir.path() + "/alertmanager-" + std::to_string(attempt),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(*port),
                                     "--cluster.listen-address=",
                                     "--log.level=warn"};
    argv.insert(argv.end(), options.extra_flags.begin(), options.extra_flags.end());
    if (!alertmanager->Start(argv)) {
      *error = "cannot run " + binary;
      return false;
    }
    const std::string ready_url = "http://127.0.0.1:" + std::to_string(*port) + "/-/ready";
    auto ready = [&] { return RunCommand({"curl", "-fsS", "-o", "/dev/null", ready_url}, 5s).exit_code == 0; };
    if (PollUntil([&] { return !alertmanager->running() || ready(); }, 30s, 100ms) && alertmanager->running()) {
      return true;
    }
    alertmanager->Wait(5s);
    *error = "alertmanager on port " + std::to_string(*port) + " did not start: " + alertmanager->Stderr();
  }
  return false;
}

}  // namespace prescale::testing
