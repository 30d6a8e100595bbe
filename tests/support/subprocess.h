// Subprocess: runs a program with arguments, capturing stdout and stderr to
// files, optionally placing it in cgroups before it runs (the child writes
// its own pid to each cgroup.procs before exec, so all its CPU is counted
// there). The destructor kills and reaps it, so no process outlives a test.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace prescale::testing {

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

class Subprocess {
 public:
  Subprocess() = default;
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Starts argv[0] (searched in PATH). cgroup_procs_files: "cgroup.procs"
  // paths the child joins first. Returns false when fork/exec fails.
  bool Start(const std::vector<std::string>& argv, const std::vector<std::string>& cgroup_procs_files = {});
  pid_t pid() const { return pid_; }
  bool running();
  // Sends a signal (SIGTERM by default).
  void Signal(int sig);
  // Waits for exit up to timeout; kills with SIGKILL after it. Fills usage.
  std::optional<int> Wait(std::chrono::milliseconds timeout, rusage* usage = nullptr);
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  std::string out_path_;
  std::string err_path_;
  int exit_code_ = -1;
};

// The port a prescale server logged as "serving on port N" on stderr, polled
// until `timeout`; 0 when it exited or never said (its stderr is in *log).
int WaitForServingPort(Subprocess& process, std::chrono::milliseconds timeout, std::string* log);

// Runs a command to completion (bounded by timeout) and returns its output.
RunResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                     const std::string& stdin_text = "");

}  // namespace prescale::testing
