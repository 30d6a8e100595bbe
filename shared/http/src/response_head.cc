#include "response_head.h"

#include <string>

namespace prescale::http {
namespace {

// The reason phrase of the statuses prescale answers with ("" for others).
const char* ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 201: return "Created";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

}  // namespace

std::string HeaderBlock(const HttpResponse& r, std::optional<size_t> length, bool chunked, bool keep_alive,
                        bool http10) {
  std::string h = "HTTP/1.1 " + std::to_string(r.status) + " " + ReasonPhrase(r.status) + "\r\n";
  h += "Content-Type: " + r.content_type + "\r\n";
  if (length.has_value()) {
    h += "Content-Length: " + std::to_string(*length) + "\r\n";
  } else if (chunked) {
    h += "Transfer-Encoding: chunked\r\n";
  }
  if (!keep_alive) {
    h += "Connection: close\r\n";
  } else if (http10) {
    h += "Connection: keep-alive\r\n";
  }
  for (const auto& [k, v] : r.headers) h += k + ": " + v + "\r\n";
  h += "\r\n";
  return h;
}

}  // namespace prescale::http
