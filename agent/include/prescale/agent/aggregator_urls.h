// The aggregator URLs the agent pushes to and polls (issue 17: several
// aggregator replicas): splitting a flag's list, the API base a push URL
// implies, the URL as it may be shown (logs, labels), and the stable name a
// push URL's spool directory and metrics go by. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace prescale::agent {

// A flag value holding one URL or several separated by commas: a comma
// followed by "http://" or "https://" separates two URLs, any other comma
// belongs to the URL (so every single URL reads as it always did).
std::vector<std::string> SplitUrlList(std::string_view value);

// scheme://host:port of a URL (its user info kept); "" when it has no "://".
std::string ApiBaseOf(std::string_view url);

// The URL with the password of its user info replaced by "xxxxx" (as Go's
// url.URL.Redacted(), which Prometheus's remote-write `url` label uses).
std::string RedactUrl(std::string_view url);
// `text` (an error message) with every occurrence of `url` redacted as above.
std::string RedactUrlIn(std::string text, std::string_view url);

// The name of a push URL when the agent pushes to several: its spool is
// <data_dir>/spool-<name> and its metrics carry remote_name="<name>".
// "<host>_<port>-<8 hex digits>": host and port from the URL (the scheme's
// default port when it has none; user info left out; characters other than
// letters, digits, '.' and '-' made '_'; the host cut at 64 characters), and
// the low 32 bits of the FNV-1a 64-bit hash of the whole URL, so that two URLs
// of one host:port differ. E.g. "aggregator-0.prescale.svc_9570-97084f36".
std::string PushTargetName(std::string_view url);

}  // namespace prescale::agent
