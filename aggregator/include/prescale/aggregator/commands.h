// prescale-aggregator's subcommands, which work on the control store file of
// a data directory (also while an aggregator serves it: SQLite's WAL lets
// both write):
//   token create --role ROLE [--tenant T] [--expires D] [--name N]
//   apply -f FILE
//   audit verify
// each with [--config FILE | --data-dir DIR]. Not thread-safe (a CLI).
#pragma once

#include <cstdio>
#include <string>

namespace prescale::aggregator {

// Whether argv[1] names a subcommand.
bool IsCommand(int argc, const char* const* argv);
// Runs it; the exit status: 0 done, 1 failed (audit verify: the chain is
// broken), 2 bad usage (with the usage on `err`).
int RunCommand(int argc, const char* const* argv, std::FILE* out, std::FILE* err);

// Where a data directory keeps the control store.
std::string ControlStorePath(const std::string& data_dir);

}  // namespace prescale::aggregator
