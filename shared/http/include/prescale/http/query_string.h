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
// A request line's target ("/a/../b%20c?x=1", or absolute-form
// "http://host/b?x=1") into the path routes see (percent-decoded, '+' kept,
// dot segments removed) and the raw query. False when the target is not a
// path: empty, not starting with '/' ("*", "example.com:443"), a malformed
// escape, or %00.
bool SplitRequestTarget(std::string_view target, std::string* path, std::string* query);
// Splits "a=1&b=2" into decoded (name, value) pairs, in order; InvalidArgument
// naming the pair when its percent-encoding is malformed.
Result<std::vector<std::pair<std::string, std::string>>> ParseQueryString(std::string_view query_string);

}  // namespace prescale::http
