// Command-line flags as prescale's binaries take them: --name VALUE,
// --name=VALUE and boolean --name. Pure function; thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/base/status.h"

namespace prescale {

struct ParsedFlags {
  std::string config_path;            // --config FILE
  std::vector<std::string> switches;  // boolean flags given
  // The other value flags, in command-line order: name (without --) -> value.
  std::vector<std::pair<std::string, std::string>> values;

  bool Has(std::string_view name) const;
};

// An unknown flag, a positional argument, a missing value, a value given to
// a boolean flag or an empty --config is InvalidArgument naming the flag.
// `value_flags` should include "config".
Result<ParsedFlags> ParseFlags(int argc, const char* const* argv, std::span<const std::string_view> switches,
                               std::span<const std::string_view> value_flags);

}  // namespace prescale
