// prescalectl: a command-line client of the prescale aggregator's REST API
// (docs/prescalectl.md). The verbs live in cli_lib; this reads the environment.
#include <cstdlib>
#include <string>
#include <vector>

#include "prescale/cli/commands.h"

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  prescale::cli::Environment env;
  env.home = Env("HOME");
  env.config = Env("PRESCALECTL_CONFIG");
  env.token = Env("PRESCALE_TOKEN");
  for (const char* name : {"PRESCALE_EDITOR", "VISUAL", "EDITOR"}) {
    env.editor = Env(name);
    if (!env.editor.empty()) break;
  }
  if (const std::string tmp = Env("TMPDIR"); !tmp.empty()) env.tmpdir = tmp;
  return prescale::cli::Run(args, env, prescale::cli::Streams{});
}
