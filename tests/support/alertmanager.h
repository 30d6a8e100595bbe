// A real Alertmanager (Debian's prometheus-alertmanager, 0.25) for integration
// tests: started on a free 127.0.0.1 port with clustering off and its storage
// in the test's TempDir, retried when another process takes the port first,
// and ready (/-/ready) on return. The Subprocess stops it when it goes out of
// scope. Not thread-safe: one test thread starts it.
#pragma once

#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale::testing {

// The Alertmanager binary (prometheus-alertmanager, else alertmanager) in PATH; "" when missing.
std::string FindAlertmanager();

// A configuration with one route grouping by [tenant, service] (group_wait and
// group_interval as given, e.g. "1s") to one receiver whose webhook posts to
// `webhook_url` with send_resolved: true and, when `token_file` is set, the
// bearer token that file holds (http_config.authorization.credentials_file).
std::string AlertmanagerWebhookConfig(const std::string& webhook_url, const std::string& group_wait = "1s",
                                      const std::string& group_interval = "1s", const std::string& token_file = "");

struct AlertmanagerOptions {
  std::string config_yaml;
  std::vector<std::string> extra_flags;  // e.g. "--log.level=debug"
};

// False with *error saying why (the binary is missing, or it did not become ready).
bool StartAlertmanager(const TempDir& dir, const AlertmanagerOptions& options, Subprocess* alertmanager, int* port,
                       std::string* error);

}  // namespace prescale::testing
