// `prescale-sim replay`: its flags, its reports and its run. Parsing and
// formatting are pure; running reads the scenario and the traces, replays,
// prints the table and writes the summary files and plots. Single-threaded.
#pragma once

#include <cstdio>
#include <string>

#include "prescale/base/status.h"
#include "prescale/sim/replay.h"

namespace prescale::sim {

struct ReplayCommand {
  bool help = false;
  bool quiet = false;  // no progress on stderr
  std::string scenario_path;
  std::string output_dir;  // "" : no files
  std::string traces_dir = "../shared/traces";
  std::string plot_format = "svg";  // or "png" (python3 with matplotlib)
};

std::string ReplayUsage();

// argv[0] is "replay". InvalidArgument naming the flag.
Result<ReplayCommand> ParseReplayCommandLine(int argc, const char* const* argv);

// The table people read: one row per policy (under-provisioned minutes by
// priority, core-hours, actions, throttled minutes, inversions).
std::string FormatReplayTable(const Scenario& scenario, const ReplayResult& result);
// summary.csv: one row per policy and service (service "*" for the totals).
Status WriteReplayCsv(const std::string& path, const ReplayResult& result);
// summary.json: the same figures, with the scenario's name.
Status WriteReplayJson(const std::string& path, const Scenario& scenario, const ReplayResult& result);

// 0 done, 2 bad input (the message names the key, flag or file), 1 another failure.
int RunReplayCommand(const ReplayCommand& command, std::FILE* out, std::FILE* err);

}  // namespace prescale::sim
