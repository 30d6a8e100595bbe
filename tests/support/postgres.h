// A real PostgreSQL (Debian's postgresql package, 15) for tests: a cluster
// made by initdb in a temporary directory, served on a free 127.0.0.1 port
// (and a unix socket in the same directory), ready (pg_isready) when Start
// returns. initdb refuses to run as root, so as root the cluster belongs to
// the postgres user and its programs run as that user (setpriv). Trust
// authentication on loopback only. Stopped (fast shutdown) on destruction.
// Not thread-safe: one test thread drives it.
#pragma once

#include <memory>
#include <string>

#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale::testing {

// Where initdb, postgres, pg_isready and psql are ($PRESCALE_PG_BIN, else
// /usr/lib/postgresql/15/bin); "" when they are not installed.
std::string PostgresBinDir();

class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // initdb, then Start. False with *error saying why (the binaries are
  // missing: "... is not installed (Debian package postgresql)").
  bool Init(std::string* error);
  // Starts the server on the cluster (on the same port as before after a first
  // start) and waits until it accepts connections (crash recovery included).
  bool Start(std::string* error);
  // SIGKILL to the server and every process of its group, as a crash of its
  // machine; returns once the server is reaped.
  void Kill();
  bool running();

  // postgresql://postgres@127.0.0.1:PORT/DATABASE
  std::string Url(const std::string& database) const;
  // A new, empty database; false with *error.
  bool CreateDatabase(const std::string& name, std::string* error);
  // A new database, a copy of `source` (to which nobody may be connected: the
  // copy waits up to 5 s for its last sessions to end); false with *error.
  // Copied file by file, cheaper than a new empty database for small ones.
  bool CopyDatabase(const std::string& source, const std::string& name, std::string* error);
  // Runs SQL with psql on `database` (stops at the first error).
  RunResult Psql(const std::string& database, const std::string& sql);
  int port() const { return port_; }

 private:
  // argv run as the cluster's owner, from its directory.
  std::vector<std::string> AsOwner(std::vector<std::string> argv) const;

  TempDir dir_{"prescale-pg"};
  std::string bin_;
  std::string data_;
  std::unique_ptr<Subprocess> server_;
  int port_ = 0;
};

// One server for every test of the process, started on first use (each test
// takes a database of its own); null with *error when it cannot start.
PostgresServer* SharedPostgres(std::string* error);

}  // namespace prescale::testing
