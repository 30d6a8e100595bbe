// A real Prometheus (Debian's prometheus package) for integration tests:
// started on a free 127.0.0.1 port with the given configuration, retried when
// another process takes the port first, and ready (/-/ready) on return. The
// Subprocess stops it when it goes out of scope.
#pragma once

#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale::testing {

struct PrometheusOptions {
  std::string config_yaml = "global:\n  scrape_interval: 15s\n";
  // Empty: a fresh directory in the test's TempDir for each attempt.
  std::string tsdb_path;
  std::vector<std::string> extra_flags;  // e.g. "--web.enable-remote-write-receiver"
};

// False with *error saying why (the binary is missing, or it did not become ready).
bool StartPrometheus(const TempDir& dir, const PrometheusOptions& options, Subprocess* prometheus, int* port,
                     std::string* error);

}  // namespace prescale::testing
