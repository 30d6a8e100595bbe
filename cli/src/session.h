// What every verb of prescalectl works with: the parsed command line, the
// environment, the streams, the output format, and the API client (made on
// first use from the config file, the flags and the environment). Private to
// cli_lib.
#pragma once

#include <memory>
#include <string>

#include "prescale/cli/args.h"
#include "prescale/cli/client.h"
#include "prescale/cli/commands.h"
#include "prescale/cli/config.h"
#include "prescale/cli/output.h"

namespace prescale::cli {

struct Session {
  Session(const Args& a, const Environment& e, const Streams& s, OutputFormat f) : args(a), env(e), io(s), format(f) {}

  const Args& args;
  const Environment& env;
  const Streams& io;
  OutputFormat format = OutputFormat::kTable;

  std::string ConfigFile() const { return ConfigPath(args.Get("config"), env.config, env.home); }
  // The API client; InvalidArgument for a bad config file or no URL.
  Result<ApiClient*> Api();

  void Print(const std::string& text) const { std::fputs(text.c_str(), io.out); }
  void Note(const std::string& text) const { std::fputs(text.c_str(), io.err); }

 private:
  std::unique_ptr<ApiClient> api_;
};

// Verbs: each returns OK or the failure whose code gives the exit status.
Status GetVerb(Session& s);
Status ApplyVerb(Session& s);
Status EditVerb(Session& s);
Status DeleteVerb(Session& s);
Status ExplainVerb(Session& s);
Status ApproveVerb(Session& s);
Status ActionsVerb(Session& s);
Status AuditVerb(Session& s);
Status TokensVerb(Session& s);
Status ConfigVerb(Session& s);

// An audit verify whose chain is broken: exit 1 without a usage hint.
inline constexpr const char* kBrokenChain = "audit log does not verify";

}  // namespace prescale::cli
