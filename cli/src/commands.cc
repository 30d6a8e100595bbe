#include "prescale/cli/commands.h"

#include <string_view>
#include <vector>

#include "prescale/base/build_info.h"
#include "prescale/base/duration.h"
#include "session.h"

namespace prescale::cli {
namespace {

constexpr const char* kUsageHead =
    "usage: prescalectl [FLAGS] VERB [ARGS]\n"
    "\n"
    "A client of the prescale aggregator's REST API (docs/prescalectl.md).\n"
    "\n"
    "Objects (RESOURCE: tenant(s), service(s) or svc, policy/policies; a service is TENANT/NAME):\n"
    "  get RESOURCE [NAME...] [-t TENANT] [-l KEY=VALUE]   list or read objects\n"
    "  apply -f FILE|- [--dry-run]              create or change what a manifest lists (tenants:, policies:,\n"
    "                                           services:), showing the diff; unchanged objects are not written\n"
    "  edit RESOURCE NAME                       edit an object in $PRESCALE_EDITOR, $VISUAL or $EDITOR (vi)\n"
    "  delete RESOURCE NAME...                  delete objects\n"
    "Decisions and records:\n"
    "  explain TENANT/SERVICE                   the current decision: use, forecast, desired, limits, granted, cap\n"
    "  approve TENANT/SERVICE --replicas N      have a recommend-only service's pending recommendation N acted\n"
    "                                           on once (admins, the tenant's operators)\n"
    "  actions [-t TENANT [--service S]] [--limit N]   scaling actions and their delivery (from the audit log)\n"
    "  audit [--tenant T] [--kind K] [--after SEQ] [--limit N]   the audit log\n"
    "  audit verify                             check the audit log's hash chain (admins)\n"
    "  tokens list | create --role ROLE [--tenant T] [--expires D] [--name N] | revoke ID...   (admins)\n"
    "Setup:\n"
    "  config get-contexts | current-context | use-context NAME | delete-context NAME | view\n"
    "  config set-context NAME [--url URL] [--token-file FILE] [--ca-file FILE] [--insecure-skip-verify]\n"
    "  completion bash                          print a bash completion script\n"
    "  version                                  print the version\n"
    "\n"
    "Flags:\n";

constexpr const char* kUsageTail =
    "\n"
    "The token is read from --token-file, else $PRESCALE_TOKEN, else the context's token_file; it is never\n"
    "taken on the command line.\n"
    "\n"
    "Exit status: 0 ok; 1 the aggregator is unreachable or failed, or the audit chain is broken; 2 usage\n"
    "(unknown verb or flag, missing argument, bad config file); 3 conflict (409: changed by someone else\n"
    "since it was read, or it already exists); 4 not found (404); 5 denied (401, 403); 6 invalid (400,\n"
    "422, or a manifest that does not validate; the message names the field).\n";

Status Dispatch(Session& s) {
  const std::string verb = s.args.Word(0);
  if (verb == "get") return GetVerb(s);
  if (verb == "apply") return ApplyVerb(s);
  if (verb == "edit") return EditVerb(s);
  if (verb == "delete") return DeleteVerb(s);
  if (verb == "explain") return ExplainVerb(s);
  if (verb == "approve") return ApproveVerb(s);
  if (verb == "actions") return ActionsVerb(s);
  if (verb == "audit") return AuditVerb(s);
  if (verb == "tokens" || verb == "token") return TokensVerb(s);
  if (verb == "config") return ConfigVerb(s);
  return Status::InvalidArgument("unknown verb '" + verb + "'");
}

}  // namespace

std::string UsageText() {
  std::string out = kUsageHead;
  for (const FlagSpec& f : Flags()) {
    std::string left = "  ";
    if (f.short_name != 0) {
      left += std::string("-") + f.short_name + ", ";
    } else {
      left += "    ";
    }
    left += "--" + std::string(f.name);
    if (f.takes_value) left += " " + std::string(f.value);
    if (left.size() < 34) left += std::string(34 - left.size(), ' ');
    out += left + " " + std::string(f.help) + "\n";
  }
  return out + kUsageTail;
}

Result<ApiClient*> Session::Api() {
  if (api_) return api_.get();
  const std::string path = ConfigFile();
  auto config = LoadCliConfig(path);
  if (!config.ok()) return Status::InvalidArgument(config.status().message());
  ConnectionFlags flags{args.Get("context"), args.Get("url"), args.Get("token-file"), args.Get("ca-file"),
                        args.Has("insecure-skip-verify")};
  PRESCALE_ASSIGN_OR_RETURN(Connection c, ResolveConnection(*config, flags, env.token, path, env.home));
  std::chrono::milliseconds timeout(30000);
  if (const std::string t = args.Get("timeout"); !t.empty()) {
    auto d = ParseDuration(t);
    if (!d.ok() || d->count() <= 0) {
      return Status::InvalidArgument("--timeout " + t + ": expected a duration such as 30s").WithField("--timeout");
    }
    timeout = *d;
  }
  api_ = std::make_unique<ApiClient>(std::move(c), http::NewBeastHttpClient(), timeout);
  return api_.get();
}

Status ConfigVerb(Session& s) {
  PRESCALE_RETURN_IF_ERROR(CheckFlags(s.args, "config", {}));
  const std::string sub = s.args.Word(1);
  const std::string path = s.ConfigFile();
  auto loaded = LoadCliConfig(path);
  if (!loaded.ok()) return Status::InvalidArgument(loaded.status().message());
  CliConfig& config = *loaded;
  const std::string name = s.args.Word(2);
  auto want_name = [&](std::string_view what) -> Status {
    if (name.empty() || s.args.words.size() > 3) {
      return Status::InvalidArgument("config " + std::string(what) + " needs one context name");
    }
    return Status::Ok();
  };
  if (sub == "get-contexts") {
    Table t;
    t.header = {"CURRENT", "NAME", "URL", "TOKEN FILE", "CA FILE"};
    for (const Context& c : config.contexts) {
      t.rows.push_back({c.name == config.current_context ? "*" : "", c.name, c.url.empty() ? "-" : c.url,
                        c.token_file.empty() ? "-" : c.token_file,
                        c.insecure_skip_verify ? "(insecure)"
                        : c.ca_file.empty()    ? "-"
                                               : c.ca_file});
    }
    if (s.format == OutputFormat::kName) {
      for (const Context& c : config.contexts) s.Print(c.name + "\n");
    } else {
      s.Print(t.Render());
    }
    return Status::Ok();
  }
  if (sub == "current-context") {
    if (config.current_context.empty()) return Status::NotFound("no current context in " + path);
    s.Print(config.current_context + "\n");
    return Status::Ok();
  }
  if (sub == "view") {
    s.Print(RenderCliConfig(config));
    return Status::Ok();
  }
  if (sub == "use-context") {
    PRESCALE_RETURN_IF_ERROR(want_name(sub));
    if (config.Find(name) == nullptr) return Status::NotFound("no context " + name + " in " + path);
    config.current_context = name;
    PRESCALE_RETURN_IF_ERROR(SaveCliConfig(config, path));
    s.Print("switched to context " + name + "\n");
    return Status::Ok();
  }
  if (sub == "delete-context") {
    PRESCALE_RETURN_IF_ERROR(want_name(sub));
    if (config.Find(name) == nullptr) return Status::NotFound("no context " + name + " in " + path);
    std::erase_if(config.contexts, [&name](const Context& c) { return c.name == name; });
    if (config.current_context == name) config.current_context.clear();
    PRESCALE_RETURN_IF_ERROR(SaveCliConfig(config, path));
    s.Print("deleted context " + name + "\n");
    return Status::Ok();
  }
  if (sub == "set-context") {
    PRESCALE_RETURN_IF_ERROR(want_name(sub));
    Context* c = config.Find(name);
    const bool created = c == nullptr;
    if (created) {
      config.contexts.push_back(Context{name, "", "", "", false});
      c = &config.contexts.back();
    }
    if (s.args.Has("url")) c->url = s.args.Get("url");
    if (!c->url.empty() && !c->url.starts_with("http://") && !c->url.starts_with("https://")) {
      return Status::InvalidArgument("--url " + c->url + ": must start with http:// or https://").WithField("--url");
    }
    if (s.args.Has("token-file")) c->token_file = s.args.Get("token-file");
    if (s.args.Has("ca-file")) c->ca_file = s.args.Get("ca-file");
    if (s.args.Has("insecure-skip-verify")) c->insecure_skip_verify = true;
    if (config.current_context.empty()) config.current_context = name;
    PRESCALE_RETURN_IF_ERROR(SaveCliConfig(config, path));
    s.Print(std::string(created ? "created" : "changed") + " context " + name + " in " + path +
            (config.current_context == name ? " (current)" : "") + "\n");
    return Status::Ok();
  }
  return Status::InvalidArgument("config: unknown subcommand '" + sub +
                                 "': expected get-contexts, current-context, use-context, set-context, "
                                 "delete-context or view");
}

int Run(std::span<const std::string> argv, const Environment& env, const Streams& io) {
  auto usage_error = [&io](const std::string& why) {
    std::fprintf(io.err, "prescalectl: %s\nrun 'prescalectl --help' for the verbs and flags\n", why.c_str());
    return kExitUsage;
  };
  auto args = ParseArgs(argv);
  if (!args.ok()) return usage_error(args.status().message());
  if (args->Has("version") || args->Word(0) == "version") {
    std::fputs(VersionText("prescalectl").c_str(), io.out);
    return kExitOk;
  }
  if (args->Has("help") || args->Word(0) == "help") {
    std::fputs(UsageText().c_str(), io.out);
    return kExitOk;
  }
  if (args->words.empty()) {
    std::fputs(UsageText().c_str(), io.err);
    return kExitUsage;
  }
  if (args->Word(0) == "completion") {
    if (args->Word(1) != "bash" || args->words.size() != 2) {
      return usage_error("completion needs a shell: completion bash");
    }
    std::fputs(BashCompletion().c_str(), io.out);
    return kExitOk;
  }
  auto format = ParseOutputFormat(args->Get("output"));
  if (!format.ok()) return usage_error(format.status().message());
  Session session{*args, env, io, *format};
  const Status s = Dispatch(session);
  if (s.ok()) return kExitOk;
  if (s.code() == StatusCode::kInvalidArgument) return usage_error(s.message());
  std::fprintf(io.err, "prescalectl: %s\n", s.message().c_str());
  return ExitCodeOf(s);
}

}  // namespace prescale::cli
