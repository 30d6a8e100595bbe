// The aggregator's REST API as prescalectl calls it: one request at a time over
// prescale's HTTP client, the bearer token attached, JSON answers parsed
// (depth-bounded), lists followed through their page tokens, and every error
// turned into a Status whose code says the exit status and whose message
// names the request, the HTTP status, the field the API named and a hint for
// 401 and 403. Not thread-safe (one client, one thread).
#pragma once

#include <rapidjson/document.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "prescale/base/status.h"
#include "prescale/cli/config.h"
#include "prescale/http/http_client.h"

namespace prescale::cli {

// prescalectl's exit statuses (documented in its usage and docs/prescalectl.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;     // the aggregator is unreachable or failed (5xx), a broken audit chain
inline constexpr int kExitUsage = 2;     // an unknown verb or flag, a missing argument, a bad config file
inline constexpr int kExitConflict = 3;  // 409: changed by someone else since it was read; or it exists
inline constexpr int kExitNotFound = 4;  // 404
inline constexpr int kExitDenied = 5;    // 401, 403: no token, or the token may not do this
inline constexpr int kExitInvalid = 6;   // 400, 422, or a manifest that does not validate: the field is named

// The exit status for a failure.
int ExitCodeOf(const Status& status);

// The Status of an API answer with an error status: its code from the HTTP
// status; its message "WHAT: 422 invalid: FIELD: MESSAGE" (from the API's JSON
// envelope; the body itself when it is none), with a hint on 401 and 403
// naming where the token came from (`token_source`, "" when none was sent).
Status ApiError(long http_status, std::string_view body, std::string_view what, std::string_view token_source);

// Parses a JSON text (at most kMaxJsonDepth deep); InvalidArgument naming `what`.
Result<rapidjson::Document> ParseJson(std::string_view text, std::string_view what);

class ApiClient {
 public:
  ApiClient(Connection connection, std::unique_ptr<http::HttpClient> http, std::chrono::milliseconds timeout);

  // `method` `path` (with its query) and `body` (JSON; none when empty for GET
  // and DELETE). A 2xx answer's body; any other status is ApiError's Status. An
  // unreachable aggregator is Unavailable naming the URL and the context.
  Result<std::string> Call(std::string_view method, const std::string& path, std::string_view body = {});
  // Call, and the answer parsed (an empty body is null).
  Result<rapidjson::Document> CallJson(std::string_view method, const std::string& path, std::string_view body = {});
  // GETs a list ({"items": [...], "next_page_token": "..."}) page after page
  // (`page_size` a page), adding `path`'s query to each; all items in one
  // array. `max_items` > 0 stops after that many.
  Result<rapidjson::Document> ListAll(const std::string& path, size_t page_size = 500, size_t max_items = 0);

  const Connection& connection() const { return connection_; }

 private:
  Connection connection_;
  std::unique_ptr<http::HttpClient> http_;
  std::chrono::milliseconds timeout_;
};

// Percent-encodes a query parameter's value (RFC 3986 unreserved kept).
std::string QueryEscape(std::string_view value);

}  // namespace prescale::cli
