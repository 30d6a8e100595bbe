#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>

#include "tests/support/test_env.h"

namespace prescale::testing {
namespace {

std::string TempPath(const char* what) {
  char pattern[] = "/tmp/prescale-subprocess-XXXXXX";
  const int fd = ::mkstemp(pattern);  // reserves a unique name; the files used are NAME.out, NAME.err
  if (fd >= 0) {
    ::close(fd);
    ::unlink(pattern);
  }
  return std::string(pattern) + "." + what;
}

}  // namespace

Subprocess::~Subprocess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (!out_path_.empty()) ::unlink(out_path_.c_str());
  if (!err_path_.empty()) ::unlink(err_path_.c_str());
}

bool Subprocess::Start(const std::vector<std::string>& argv, const std::vector<std::string>& cgroup_procs_files) {
  out_path_ = TempPath("out");
  err_path_ = TempPath("err");
  // Everything the child needs is made before fork: in a child of a threaded
  // process only async-signal-safe calls are safe (a malloc there can wait
  // forever on a lock another thread held at the fork, as it did under ASan).
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::setpgid(0, 0);
    for (const std::string& procs : cgroup_procs_files) {
      const int fd = ::open(procs.c_str(), O_WRONLY);
      if (fd < 0 || ::write(fd, "0\n", 2) < 0) {  // "0" moves the writing process
        static constexpr char kCannotJoin[] = "cannot join a cgroup: ";
        (void)!::write(2, kCannotJoin, sizeof kCannotJoin - 1);
        (void)!::write(2, procs.c_str(), procs.size());
        ::_exit(126);
      }
      ::close(fd);
    }
    const int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int in = ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execvp(args[0], args.data());
    static constexpr char kCannotExec[] = "exec failed: ";
    (void)!::write(2, kCannotExec, sizeof kCannotExec - 1);
    (void)!::write(2, args[0], std::strlen(args[0]));
    ::_exit(127);
  }
  pid_ = pid;
  return true;
}

bool Subprocess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    pid_ = -1;
    return false;
  }
  return true;
}

void Subprocess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> Subprocess::Wait(std::chrono::milliseconds timeout, rusage* usage) {
  if (pid_ <= 0) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  rusage ru{};
  while (true) {
    const pid_t r = ::wait4(pid_, &status, WNOHANG, &ru);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::wait4(pid_, &status, 0, &ru);
      pid_ = -1;
      if (usage != nullptr) *usage = ru;
      return std::nullopt;
    }
    ::usleep(10'000);  // polling interval of a deadline-bound wait
  }
  pid_ = -1;
  if (usage != nullptr) *usage = ru;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return exit_code_;
}

std::string Subprocess::Stdout() const { return ReadFileOrEmpty(out_path_); }
std::string Subprocess::Stderr() const { return ReadFileOrEmpty(err_path_); }

RunResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                     const std::string& stdin_text) {
  RunResult result;
  std::vector<std::string> args = argv;
  TempDir dir("prescale-run");
  if (!stdin_text.empty()) {
    const std::string input = dir.Write("stdin", stdin_text);
    // Feed stdin through a shell redirection to keep Subprocess simple.
    std::string cmd;
    for (const std::string& a : argv) {
      cmd += "'";
      for (char c : a) cmd += c == '\'' ? std::string("'\\''") : std::string(1, c);
      cmd += "' ";
    }
    cmd += "< '" + input + "'";
    args = {"/bin/sh", "-c", cmd};
  }
  Subprocess p;
  if (!p.Start(args)) return result;
  const auto code = p.Wait(timeout);
  result.exit_code = code.value_or(-1);
  result.out = p.Stdout();
  result.err = p.Stderr();
  return result;
}

int WaitForServingPort(Subprocess& process, std::chrono::milliseconds timeout, std::string* log) {
  static const std::regex kPortLine("serving on port ([0-9]+)");
  int port = 0;
  PollUntil(
      [&] {
        *log = process.Stderr();
        std::smatch m;
        if (std::regex_search(*log, m, kPortLine)) port = std::stoi(m[1].str());
        return port != 0 || !process.running();
      },
      timeout);
  return process.running() ? port : 0;
}

}  // namespace prescale::testing
