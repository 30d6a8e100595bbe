#include "prescale/base/flags.h"

#include <algorithm>

namespace prescale {

bool ParsedFlags::Has(std::string_view name) const {
  return std::find(switches.begin(), switches.end(), name) != switches.end();
}

Result<ParsedFlags> ParseFlags(int argc, const char* const* argv, std::span<const std::string_view> switches,
                               std::span<const std::string_view> value_flags) {
  auto is_one_of = [](std::span<const std::string_view> names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  ParsedFlags flags;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with("--")) return Status::InvalidArgument("unexpected argument '" + std::string(arg) + "'");
    arg.remove_prefix(2);
    std::string_view value;
    bool has_value = false;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    const std::string name(arg);
    if (is_one_of(switches, arg)) {
      if (has_value) return Status::InvalidArgument("--" + name + " takes no value");
      flags.switches.push_back(name);
      continue;
    }
    if (!is_one_of(value_flags, arg)) return Status::InvalidArgument("unknown flag --" + name);
    if (!has_value) {
      if (i + 1 >= argc) return Status::InvalidArgument("--" + name + " needs a value");
      value = argv[++i];
    }
    if (name == "config") {
      if (value.empty()) return Status::InvalidArgument("--config needs a file name");
      flags.config_path = std::string(value);
    } else {
      flags.values.emplace_back(name, std::string(value));
    }
  }
  return flags;
}

}  // namespace prescale
