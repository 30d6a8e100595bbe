#include "prescale/aggregator/commands.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/aggregator/api/control_api.h"
#include "prescale/aggregator/config.h"
#include "prescale/aggregator/control/control_bootstrap.h"
#include "prescale/aggregator/control/postgres_store.h"
#include "prescale/aggregator/control/sqlite_store.h"
#include "prescale/base/duration.h"
#include "prescale/base/flags.h"
#include "prescale/base/yaml_config.h"

namespace prescale::aggregator {
namespace {

constexpr const char* kUsage =
    "usage: prescale-aggregator token create --role ROLE [--tenant T] [--expires D] [--name N] [STORE]\n"
    "       prescale-aggregator apply -f FILE [STORE]\n"
    "       prescale-aggregator audit verify [STORE]\n"
    "STORE: --config FILE (its control_store or data_dir), --data-dir DIR (the control store is\n"
    "       DIR/control.db) or --control-store postgres://USER@HOST:PORT/DB\n"
    "  token create   prints a new token once (only its SHA-256 is stored); ROLE is admin,\n"
    "                 operator, viewer or agent; operators and viewers need --tenant;\n"
    "                 --expires takes a duration such as 30d\n"
    "  apply -f FILE  creates or replaces the tenants, policies and services FILE lists (YAML)\n"
    "  audit verify   checks the audit log's hash chain; exit status 1 names the first bad record\n";

int Usage(std::FILE* err, const std::string& why) {
  std::fprintf(err, "prescale-aggregator: %s\n\n%s", why.c_str(), kUsage);
  return 2;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

AuditRecord CliActor() {
  AuditRecord a;
  a.time_ms = NowMs();
  a.actor = "cli";
  a.actor_role = "admin";
  return a;
}

// Exit status 1 for a failure that is not the caller's usage.
int Failed(std::FILE* err, const Status& status) {
  std::fprintf(err, "prescale-aggregator: %s\n", status.message().c_str());
  return 1;
}

// The value of --name; "" when it is not given.
std::string FlagValue(const ParsedFlags& flags, std::string_view name) {
  for (const auto& [k, v] : flags.values) {
    if (k == name) return v;
  }
  return "";
}

// The first flag a subcommand does not take, as "--name"; "" when there is none.
// Every subcommand takes --data-dir (and --config, which ParseFlags keeps apart).
std::string UnexpectedFlag(const ParsedFlags& flags, std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : flags.values) {
    if (k == "data-dir" || k == "control-store") continue;
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) return "--" + k;
  }
  return "";
}

// token create: prints the secret on `out` (the only time it is shown), what was created on `err`.
int CreateToken(ControlStore* store, const ParsedFlags& flags, std::FILE* out, std::FILE* err) {
  if (std::string bad = UnexpectedFlag(flags, {"role", "tenant", "expires", "name"}); !bad.empty()) {
    return Usage(err, "token create does not take " + bad);
  }
  TokenRequest request{FlagValue(flags, "name"), FlagValue(flags, "role"), FlagValue(flags, "tenant"), 0};
  if (request.role.empty()) return Usage(err, "token create needs --role");
  if (const std::string e = FlagValue(flags, "expires"); !e.empty()) {
    auto d = ParseDuration(e);
    if (!d.ok() || d->count() <= 0) return Usage(err, "--expires '" + e + "': expected a duration such as 30d");
    request.expires_in_ms = d->count();
  }
  auto issued = IssueToken(store, request, NowMs(), CliActor());
  if (!issued.ok()) {
    if (issued.status().code() == StatusCode::kInvalidArgument) return Usage(err, "--" + issued.status().message());
    return Failed(err, issued.status());
  }
  std::fprintf(out, "%s\n", issued->secret.c_str());
  std::fprintf(err, "token %s (role %s%s%s) created; the secret above is shown only once\n", issued->record.id.c_str(),
               issued->record.role.c_str(), issued->record.tenant.empty() ? "" : ", tenant ",
               issued->record.tenant.c_str());
  return 0;
}

// apply -f FILE
int ApplyFile(ControlStore* store, const ParsedFlags& flags, std::FILE* out, std::FILE* err) {
  if (std::string bad = UnexpectedFlag(flags, {"f"}); !bad.empty()) return Usage(err, "apply does not take " + bad);
  const std::string file = FlagValue(flags, "f");
  if (file.empty()) return Usage(err, "apply needs -f FILE");
  auto text = ReadConfigFile(file);
  if (!text.ok()) return Usage(err, text.status().message());
  auto applied = ApplyObjects(store, *text, file, CliActor(), false);
  if (!applied.ok()) return Failed(err, applied.status());
  std::fprintf(out, "%d created, %d replaced, %d unchanged\n", applied->created, applied->replaced, applied->unchanged);
  return 0;
}

// audit verify: the verification as JSON on `out`; exit status 1 when the chain is broken.
int VerifyAudit(ControlStore* store, const ParsedFlags& flags, std::FILE* out, std::FILE* err) {
  if (std::string bad = UnexpectedFlag(flags, {}); !bad.empty()) return Usage(err, "audit verify does not take " + bad);
  auto verified = store->VerifyAudit();
  if (!verified.ok()) return Failed(err, verified.status());
  std::fprintf(out, "%s\n", AuditVerificationJson(*verified).c_str());
  if (!verified->ok) {
    std::fprintf(err, "audit log: record %lld does not verify: %s\n", static_cast<long long>(verified->first_bad_seq),
                 verified->reason.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

std::string ControlStorePath(const std::string& data_dir) { return data_dir + "/control.db"; }

Result<std::unique_ptr<ControlStore>> OpenControlStore(const std::string& control_store, const std::string& data_dir) {
  if (!control_store.empty()) return OpenPostgresStore(control_store, PostgresStoreOptions{});
  return OpenSqliteStore(data_dir.empty() ? ":memory:" : ControlStorePath(data_dir), SqliteStoreOptions{});
}

bool IsCommand(int argc, const char* const* argv) {
  if (argc < 2) return false;
  const std::string_view c = argv[1];
  return c == "token" || c == "apply" || c == "audit";
}

int RunCommand(int argc, const char* const* argv, std::FILE* out, std::FILE* err) {
  const std::string_view command = argv[1];
  int skip = 2;  // "token create", "audit verify": two words; "apply": one
  if (command == "token" || command == "audit") {
    const char* want = command == "token" ? "create" : "verify";
    if (argc < 3 || std::strcmp(argv[2], want) != 0) {
      return Usage(err, std::string(command) + ": expected '" + std::string(command) + " " + want + "'");
    }
    skip = 3;
  }
  static constexpr std::string_view kSwitches[] = {"help"};
  static constexpr std::string_view kValues[] = {"config", "data-dir", "control-store", "role",
                                                 "tenant", "expires",  "name",          "f"};
  // ParseFlags reads argv[1..]: hand it the flags after the command words.
  std::vector<const char*> args = {argv[0]};
  for (int i = skip; i < argc; ++i) args.push_back(std::strcmp(argv[i], "-f") == 0 ? "--f" : argv[i]);
  auto flags = ParseFlags(static_cast<int>(args.size()), args.data(), kSwitches, kValues);
  if (!flags.ok()) return Usage(err, flags.status().message());
  if (flags->Has("help")) {
    std::fputs(kUsage, out);
    return 0;
  }
  std::string data_dir = FlagValue(*flags, "data-dir");
  std::string control_store = FlagValue(*flags, "control-store");
  if (data_dir.empty() && control_store.empty() && !flags->config_path.empty()) {
    auto config = LoadAggregatorConfig(flags->config_path);
    if (!config.ok()) return Usage(err, config.status().message());
    data_dir = config->data_dir;
    control_store = config->control_store;
  }
  if (!control_store.empty()) {
    if (Status s = CheckPostgresUrl(control_store); !s.ok()) return Usage(err, "--control-store: " + s.message());
  } else if (data_dir.empty()) {
    return Usage(err, "needs --data-dir DIR, --control-store URL or --config FILE with a data_dir or control_store");
  }
  auto store = OpenControlStore(control_store, data_dir);
  if (!store.ok()) return Failed(err, store.status());
  if (command == "token") return CreateToken(store->get(), *flags, out, err);
  if (command == "apply") return ApplyFile(store->get(), *flags, out, err);
  return VerifyAudit(store->get(), *flags, out, err);
}

}  // namespace prescale::aggregator
