// prescale-aggregator's subcommands, which work on the control store file of
// a data directory (also while an aggregator serves it: SQLite's WAL lets
// both write), or on a PostgreSQL control store:
//   token create --role ROLE [--tenant T] [--expires D] [--name N]
//   apply -f FILE
//   audit verify
// each with [--config FILE | --data-dir DIR | --control-store URL]. Not thread-safe (a CLI).
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "prescale/aggregator/control/control_store.h"
#include "prescale/base/status.h"

namespace prescale::aggregator {

// Whether argv[1] names a subcommand.
bool IsCommand(int argc, const char* const* argv);
// Runs it; the exit status: 0 done, 1 failed (audit verify: the chain is
// broken), 2 bad usage (with the usage on `err`).
int RunCommand(int argc, const char* const* argv, std::FILE* out, std::FILE* err);

// Where a data directory keeps the control store.
std::string ControlStorePath(const std::string& data_dir);

// The control store a configuration names: PostgreSQL for a postgres:// URL
// in control_store, else SQLite in data_dir (in memory when that is empty too).
Result<std::unique_ptr<ControlStore>> OpenControlStore(const std::string& control_store, const std::string& data_dir);

}  // namespace prescale::aggregator
