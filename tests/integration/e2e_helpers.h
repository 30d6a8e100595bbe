// Helpers the end-to-end tests that run the built prescale-aggregator and
// prescale-agent share (scaling_e2e_test.cc, kubernetes_e2e_test.cc): the
// wall clock in ms, durations as printed in their [ figures ] lines, one
// sample read out of a /metrics text exposition, a log's tail, and a
// process stopped gracefully.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale::testing {

// Unix time in milliseconds, now.
inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Milliseconds as seconds with one decimal: "12.3 s".
inline std::string Seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

// The last `n` bytes of `text` (all of it when shorter).
inline std::string Tail(const std::string& text, size_t n) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

// SIGTERM to a running process (null or stopped: nothing), and a test failure
// naming `what` when it has not exited 20 s later.
inline void StopProcess(Subprocess* p, const char* what) {
  if (p == nullptr || !p->running()) return;
  p->Signal(SIGTERM);
  if (!p->Wait(std::chrono::seconds(20)).has_value()) {
    ADD_FAILURE() << "the " << what << " did not stop within 20 s of SIGTERM";
  }
}

}  // namespace prescale::testing
