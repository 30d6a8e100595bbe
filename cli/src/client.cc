#include "prescale/cli/client.h"

#include <utility>

#include "prescale/base/json_depth.h"

namespace prescale::cli {
namespace {

StatusCode CodeOfHttp(long status) {
  switch (status) {
    case 400:
    case 413:
    case 422: return StatusCode::kUnprocessable;
    case 401: return StatusCode::kUnauthenticated;
    case 403: return StatusCode::kPermissionDenied;
    case 404: return StatusCode::kNotFound;
    case 409: return StatusCode::kConflict;
    case 429:
    case 502:
    case 503:
    case 504: return StatusCode::kUnavailable;
    default: return StatusCode::kInternal;
  }
}

std::string_view ReasonOf(long status) {
  switch (status) {
    case 400: return "bad request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 409: return "conflict";
    case 413: return "body too large";
    case 422: return "invalid";
    case 429: return "too many requests";
    case 503: return "unavailable";
    default: return status >= 500 ? "server error" : "error";
  }
}

std::string StringMember(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return "";
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsString()) return "";
  return {it->value.GetString(), it->value.GetStringLength()};
}

}  // namespace

int ExitCodeOf(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return kExitOk;
    case StatusCode::kInvalidArgument: return kExitUsage;
    case StatusCode::kConflict:
    case StatusCode::kAlreadyExists: return kExitConflict;
    case StatusCode::kNotFound: return kExitNotFound;
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied: return kExitDenied;
    case StatusCode::kUnprocessable:
    case StatusCode::kPayloadTooLarge: return kExitInvalid;
    default: return kExitError;
  }
}

Result<rapidjson::Document> ParseJson(std::string_view text, std::string_view what) {
  rapidjson::Document d;
  if (text.empty()) return d;  // null
  if (Status deep = CheckJsonDepth(text); !deep.ok()) {
    return Status::ParseError(std::string(what) + ": " + deep.message());
  }
  d.Parse(text.data(), text.size());
  if (d.HasParseError()) {
    return Status::ParseError(std::string(what) + ": not JSON (at byte " + std::to_string(d.GetErrorOffset()) + ")");
  }
  return d;
}

Status ApiError(long http_status, std::string_view body, std::string_view what, std::string_view token_source) {
  std::string message, field;
  rapidjson::Document d;
  if (CheckJsonDepth(body).ok()) d.Parse(body.data(), body.size());
  if (!d.HasParseError() && d.IsObject()) {
    message = StringMember(d, "message");
    field = StringMember(d, "field");
  }
  if (message.empty()) {
    message = std::string(body.substr(0, 300));
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
  }
  // Name the field once: the API's message may already start with it.
  if (!field.empty() && !message.starts_with(field + ": ")) message = field + ": " + message;
  std::string text = std::string(what) + ": " + std::to_string(http_status) + " " + std::string(ReasonOf(http_status));
  if (!message.empty()) text += ": " + message;
  if (http_status == 401) {
    text += token_source.empty()
                ? "\nhint: no token was sent; set token_file in the context, or give --token-file FILE or "
                  "$PRESCALE_TOKEN"
                : "\nhint: the token from " + std::string(token_source) + " was not accepted as a bearer token";
  } else if (http_status == 403) {
    const std::string source = token_source.empty() ? std::string("nowhere") : std::string(token_source);
    const bool bad_token = message.find("unknown token") != std::string::npos ||
                           message.find("expired") != std::string::npos || message.find("revoked") != std::string::npos;
    text += bad_token ? "\nhint: the token from " + source + " is unknown, expired or revoked; get a new one"
                      : "\nhint: the token from " + source +
                            " may not do this: operators and viewers are bound to one tenant, viewers only read, "
                            "tokens and audit verify are for admins";
  } else if (http_status == 409 && field == "version") {
    text += "\nhint: changed by someone else since it was read; run again";
  }
  Status s(CodeOfHttp(http_status), std::move(text));
  return std::move(s).WithField(field);
}

ApiClient::ApiClient(Connection connection, std::unique_ptr<http::HttpClient> http, std::chrono::milliseconds timeout)
    : connection_(std::move(connection)), http_(std::move(http)), timeout_(timeout) {}

Result<std::string> ApiClient::Call(std::string_view method, const std::string& path, std::string_view body) {
  const std::string url = connection_.url + path;
  std::vector<std::pair<std::string, std::string>> headers;
  if (!connection_.token.empty()) headers.emplace_back("Authorization", "Bearer " + connection_.token);
  Result<http::HttpClientResponse> r = Status::Internal("no request");
  if (method == "GET" && body.empty()) {
    http::GetOptions o;
    o.timeout = timeout_;
    o.max_body_bytes = 64 << 20;
    o.accept = "application/json";
    o.headers = std::move(headers);
    o.ca_file = connection_.ca_file;
    o.insecure_skip_verify = connection_.insecure_skip_verify;
    r = http_->Get(url, o);
  } else {
    http::PostOptions o;
    o.timeout = timeout_;
    o.max_response_bytes = 64 << 20;
    headers.emplace_back("Accept", "application/json");
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    o.headers = std::move(headers);
    o.ca_file = connection_.ca_file;
    o.insecure_skip_verify = connection_.insecure_skip_verify;
    r = http_->Send(std::string(method), url, body, o);
  }
  const std::string what = std::string(method) + " " + path;
  if (!r.ok()) {
    std::string where = connection_.url;
    if (!connection_.context.empty()) where += " (context " + connection_.context + ")";
    return Status(
        r.status().code() == StatusCode::kInvalidArgument ? StatusCode::kInvalidArgument : StatusCode::kUnavailable,
        what + ": cannot reach the aggregator at " + where + ": " + r.status().message());
  }
  if (r->status < 200 || r->status >= 300) return ApiError(r->status, r->body, what, connection_.token_source);
  return std::move(r->body);
}

Result<rapidjson::Document> ApiClient::CallJson(std::string_view method, const std::string& path,
                                                std::string_view body) {
  PRESCALE_ASSIGN_OR_RETURN(const std::string text, Call(method, path, body));
  return ParseJson(text, std::string(method) + " " + path);
}

Result<rapidjson::Document> ApiClient::ListAll(const std::string& path, size_t page_size, size_t max_items) {
  rapidjson::Document all(rapidjson::kArrayType);
  std::string token;
  const char sep = path.find('?') == std::string::npos ? '?' : '&';
  for (int pages = 0; pages < 1000000; ++pages) {
    std::string page_path = path + sep + "limit=" + std::to_string(page_size);
    if (!token.empty()) page_path += "&page_token=" + QueryEscape(token);
    PRESCALE_ASSIGN_OR_RETURN(rapidjson::Document page, CallJson("GET", page_path));
    if (!page.IsObject() || !page.HasMember("items") || !page["items"].IsArray()) {
      return Status::ParseError("GET " + page_path + ": the answer has no items list");
    }
    for (auto& item : page["items"].GetArray()) {
      all.PushBack(rapidjson::Value(item, all.GetAllocator()), all.GetAllocator());
      if (max_items > 0 && all.Size() >= max_items) return all;
    }
    const std::string next = StringMember(page, "next_page_token");
    if (next.empty() || next == token) break;
    token = next;
  }
  return all;
}

std::string QueryEscape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace prescale::cli
