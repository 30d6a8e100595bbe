#include "tests/support/postgres.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace prescale::testing {

using namespace std::chrono_literals;

namespace {

bool IsRoot() { return ::geteuid() == 0; }

}  // namespace

std::string PostgresBinDir() {
  const char* env = std::getenv("PRESCALE_PG_BIN");
  std::string dir = env != nullptr && *env != '\0' ? env : "/usr/lib/postgresql/15/bin";
  for (const char* program : {"initdb", "postgres", "pg_isready", "psql"}) {
    if (::access((dir + "/" + program).c_str(), X_OK) != 0) return "";
  }
  return dir;
}

PostgresServer::PostgresServer() = default;

PostgresServer::~PostgresServer() {
  if (server_ == nullptr) return;
  server_->Signal(SIGINT);  // fast shutdown: the backends end, the cluster is left clean
  server_->Wait(30s);       // SIGKILL past it
}

std::vector<std::string> PostgresServer::AsOwner(std::vector<std::string> argv) const {
  std::vector<std::string> out;
  if (IsRoot()) out = {"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"};
  // From the cluster's directory: the test's working directory may be closed to its owner.
  out.insert(out.end(), {"env", "-C", dir_.path()});
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

bool PostgresServer::Init(std::string* error) {
  bin_ = PostgresBinDir();
  if (bin_.empty()) {
    *error = "PostgreSQL 15's programs are not installed (Debian package postgresql; or set PRESCALE_PG_BIN)";
    return false;
  }
  if (IsRoot()) {
    const passwd* owner = ::getpwnam("postgres");
    if (owner == nullptr || ::chown(dir_.path().c_str(), owner->pw_uid, owner->pw_gid) != 0) {
      *error = "running as root, and the postgres user (which initdb needs) does not exist";
      return false;
    }
  }
  data_ = dir_.path() + "/data";
  // -N: no fsync; a test's cluster need not survive a power cut (a killed server
  // loses nothing: what it wrote is in the page cache).
  const RunResult initdb = RunCommand(
      AsOwner({bin_ + "/initdb", "-D", data_, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "-N"}),
      120s);
  if (initdb.exit_code != 0) {
    *error = "initdb failed: " + initdb.err;
    return false;
  }
  return Start(error);
}

bool PostgresServer::Start(std::string* error) {
  const bool keep_port = port_ != 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (!keep_port) port_ = FreeLoopbackPort();
    server_ = std::make_unique<Subprocess>();
    if (!server_->Start(AsOwner({bin_ + "/postgres", "-D", data_, "-k", dir_.path(), "-p", std::to_string(port_), "-c",
                                 "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=50"}))) {
      *error = "cannot run " + bin_ + "/postgres";
      return false;
    }
    const std::vector<std::string> ready = {bin_ + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", std::to_string(port_)};
    if (PollUntil([&] { return !server_->running() || RunCommand(ready, 5s).exit_code == 0; }, 60s, 50ms) &&
        server_->running()) {
      return true;
    }
    server_->Wait(5s);
    *error = "postgres on port " + std::to_string(port_) + " did not start: " + server_->Stderr();
  }
  return false;
}

namespace {

// The processes whose parent is `parent` (from /proc/PID/stat).
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // pid (comm) state ppid ...: comm may hold spaces, so read after its ')'.
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    if (rest >> state >> ppid && ppid == parent) children.push_back(std::stoi(name));
  }
  return children;
}

// True once `pid` is gone or a zombie.
bool Gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t close = line.rfind(')');
  return close == std::string::npos || line.substr(close + 2, 1) == "Z";
}

}  // namespace

void PostgresServer::Kill() {
  if (server_ == nullptr || !server_->running()) return;
  // The postmaster's children (backends, checkpointer, ...) each call setsid(): the
  // server's process group holds only the postmaster. A backend outlives it until it
  // notices, and could answer one more statement meanwhile: each is killed and awaited.
  const std::vector<pid_t> children = ChildrenOf(server_->pid());
  ::kill(-server_->pid(), SIGKILL);
  for (pid_t child : children) ::kill(child, SIGKILL);
  server_->Wait(30s);
  for (pid_t child : children) PollUntil([child] { return Gone(child); }, 30s, 10ms);
}

bool PostgresServer::running() { return server_ != nullptr && server_->running(); }

std::string PostgresServer::Url(const std::string& database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

RunResult PostgresServer::Psql(const std::string& database, const std::string& sql) {
  return RunCommand({bin_ + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                     std::to_string(port_), "-U", "postgres", "-d", database, "-c", sql},
                    60s);
}

bool PostgresServer::CreateDatabase(const std::string& name, std::string* error) {
  const RunResult r = Psql("postgres", "CREATE DATABASE \"" + name + "\"");
  if (r.exit_code == 0) return true;
  *error = "CREATE DATABASE " + name + " failed: " + r.err;
  return false;
}

bool PostgresServer::CopyDatabase(const std::string& source, const std::string& name, std::string* error) {
  // FILE_COPY copies the source's files (and checkpoints, cheap without
  // fsync); WAL_LOG, the default, would write every page of it to the WAL.
  const RunResult r =
      Psql("postgres", "CREATE DATABASE \"" + name + "\" TEMPLATE \"" + source + "\" STRATEGY FILE_COPY");
  if (r.exit_code == 0) return true;
  *error = "CREATE DATABASE " + name + " TEMPLATE " + source + " failed: " + r.err;
  return false;
}

PostgresServer* SharedPostgres(std::string* error) {
  // Destroyed at exit, which stops the server.
  static std::unique_ptr<PostgresServer> server;
  static std::string failure;
  if (server == nullptr && failure.empty()) {
    auto started = std::make_unique<PostgresServer>();
    if (started->Init(&failure)) server = std::move(started);
  }
  if (server == nullptr) *error = failure;
  return server.get();
}

}  // namespace prescale::testing
