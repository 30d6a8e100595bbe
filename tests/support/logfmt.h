// A strict reader of logfmt lines, the grammar of go-logfmt (which Loki's
// `| logfmt` and Prometheus's tooling share), for tests that check what
// prescale logs: key=value pairs separated by one space; a key and a bare
// value are bytes > ' ' other than '=', '"' and DEL; a quoted value knows
// \\ \" \n \r \t \uXXXX and nothing else; an empty value is written "".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prescale::testing {

using LogfmtPairs = std::vector<std::pair<std::string, std::string>>;

// The pairs of one line (without its newline), in order; nullopt on anything
// else (a stray quote, a key without '=', a bad escape, a raw control byte).
std::optional<LogfmtPairs> ParseLogfmt(std::string_view line);

}  // namespace prescale::testing
