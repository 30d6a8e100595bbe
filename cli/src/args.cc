#include "prescale/cli/args.h"

#include <algorithm>
#include <array>
#include <optional>

namespace prescale::cli {
namespace {

constexpr std::array kFlags = {
    // global
    FlagSpec{"context", 0, true, "NAME", "use this context of the config file instead of its current_context"},
    FlagSpec{"url", 0, true, "URL", "the aggregator's URL (overrides the context's)"},
    FlagSpec{"token-file", 0, true, "FILE",
             "read the bearer token from FILE (overrides $PRESCALE_TOKEN and the context)"},
    FlagSpec{"ca-file", 0, true, "FILE", "trust this PEM CA bundle for https (overrides the context's)"},
    FlagSpec{"insecure-skip-verify", 0, false, "", "accept any https certificate (only for tests)"},
    FlagSpec{"config", 0, true, "FILE",
             "the config file (default $PRESCALECTL_CONFIG, else ~/.config/prescale/prescalectl.yaml)"},
    FlagSpec{"output", 'o', true, "FORMAT", "table (default), json, yaml or name"},
    FlagSpec{"timeout", 0, true, "DURATION", "per request (default 30s)"},
    FlagSpec{"help", 'h', false, "", "show the usage"},
    FlagSpec{"version", 0, false, "", "show the version"},
    // per verb
    FlagSpec{"tenant", 't', true, "TENANT",
             "only this tenant (get services, edit/delete service, actions, audit, tokens create)"},
    FlagSpec{"selector", 'l', true, "KEY=VALUE", "only objects with this label (get)"},
    FlagSpec{"filename", 'f', true, "FILE", "the manifest to apply, '-' for standard input (apply)"},
    FlagSpec{"dry-run", 0, false, "", "show the diff, write nothing (apply)"},
    FlagSpec{"service", 0, true, "SERVICE", "only this service (actions)"},
    FlagSpec{"kind", 0, true, "KIND", "only records of this kind: tenant, service, policy, token (audit)"},
    FlagSpec{"limit", 0, true, "N", "at most N records, the newest (actions, audit)"},
    FlagSpec{"after", 0, true, "SEQ", "only records after this sequence number (audit)"},
    FlagSpec{"role", 0, true, "ROLE", "admin, operator, viewer, agent or monitor (tokens create)"},
    FlagSpec{"expires", 0, true, "DURATION", "the token expires after this long, e.g. 30d (tokens create)"},
    FlagSpec{"name", 0, true, "NAME", "a name for the token (tokens create)"},
    FlagSpec{"replicas", 0, true, "N", "the recommendation approved, as the decision shows it (approve)"},
};
constexpr size_t kGlobalFlags = 10;

const FlagSpec* FindLong(std::string_view name) {
  for (const FlagSpec& f : kFlags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const FlagSpec* FindShort(char c) {
  for (const FlagSpec& f : kFlags) {
    if (f.short_name != 0 && f.short_name == c) return &f;
  }
  return nullptr;
}

}  // namespace

std::span<const FlagSpec> Flags() { return kFlags; }

bool IsGlobalFlag(std::string_view name) {
  for (size_t i = 0; i < kGlobalFlags; ++i) {
    if (kFlags[i].name == name) return true;
  }
  return false;
}

bool Args::Has(std::string_view name) const {
  return std::any_of(flags.begin(), flags.end(), [name](const auto& f) { return f.first == name; });
}

std::string Args::Get(std::string_view name, std::string_view fallback) const {
  for (auto it = flags.rbegin(); it != flags.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return std::string(fallback);
}

Result<Args> ParseArgs(std::span<const std::string> argv) {
  Args args;
  bool words_only = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (words_only || a == "-" || a.size() < 2 || a[0] != '-') {
      args.words.push_back(a);
      continue;
    }
    if (a == "--") {
      words_only = true;
      continue;
    }
    const FlagSpec* spec = nullptr;
    std::string shown;
    std::optional<std::string> inline_value;
    if (a[1] == '-') {
      const size_t eq = a.find('=');
      const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      shown = "--" + name;
      spec = FindLong(name);
      if (eq != std::string::npos) inline_value = a.substr(eq + 1);
    } else {
      shown = a.substr(0, 2);
      spec = FindShort(a[1]);
      if (a.size() > 2) inline_value = a.substr(a[2] == '=' ? 3 : 2);
    }
    if (spec == nullptr) return Status::InvalidArgument("unknown flag " + shown).WithField(shown);
    if (!spec->takes_value) {
      if (inline_value) return Status::InvalidArgument(shown + " takes no value").WithField(shown);
      args.flags.emplace_back(spec->name, "");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argv.size()) {
        return Status::InvalidArgument(shown + " needs a value (" + std::string(spec->value) + ")").WithField(shown);
      }
      inline_value = argv[++i];
    }
    args.flags.emplace_back(spec->name, *inline_value);
  }
  return args;
}

Status CheckFlags(const Args& args, std::string_view verb, std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, value] : args.flags) {
    if (IsGlobalFlag(name) || std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    return Status::InvalidArgument(std::string(verb) + " does not take --" + name).WithField("--" + name);
  }
  return Status::Ok();
}

}  // namespace prescale::cli
