// prescalectl's command line: VERB [WORDS...] with flags anywhere after the
// program name, kubectl's way: --name VALUE, --name=VALUE, -x VALUE, -xVALUE,
// boolean --name, and `--` before words that start with '-'. Every flag is
// known in advance, and a verb refuses the flags it does not take, so a typo
// is a usage error (exit 2) instead of being ignored. Pure functions.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::cli {

struct FlagSpec {
  std::string_view name;   // long name, without "--"
  char short_name;         // 0: none
  bool takes_value;        // false: a switch
  std::string_view value;  // what the value is, for the usage ("FILE"); "" for switches
  std::string_view help;
};

// Every flag prescalectl knows, the global ones first.
std::span<const FlagSpec> Flags();
// The flags every verb takes: the connection, the output format, --help.
bool IsGlobalFlag(std::string_view name);

struct Args {
  std::vector<std::string> words;                          // the verb and its arguments, in order
  std::vector<std::pair<std::string, std::string>> flags;  // long name -> value ("" for switches), in order

  bool Has(std::string_view name) const;
  // The last value given for `name`; `fallback` when absent.
  std::string Get(std::string_view name, std::string_view fallback = "") const;
  // words[i], "" past the end.
  std::string Word(size_t i) const { return i < words.size() ? words[i] : std::string(); }
};

// An unknown flag, a missing value or a value given to a switch is
// InvalidArgument naming the flag ("unknown flag --colour").
Result<Args> ParseArgs(std::span<const std::string> argv);

// InvalidArgument naming the first flag of `args` that is neither global nor in
// `allowed` ("get does not take --dry-run").
Status CheckFlags(const Args& args, std::string_view verb, std::initializer_list<std::string_view> allowed);

}  // namespace prescale::cli
