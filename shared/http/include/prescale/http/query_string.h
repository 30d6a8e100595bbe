// URL query strings as HTTP requests carry them. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::http {

// Decodes %XX and '+' in a query-string component; false when malformed.
bool UrlDecode(std::string_view in, std::string* out);
// Splits "a=1&b=2" into decoded (name, value) pairs, in order; InvalidArgument
// naming the pair when its percent-encoding is malformed.
Result<std::vector<std::pair<std::string, std::string>>> ParseQueryString(std::string_view query_string);

}  // namespace prescale::http
