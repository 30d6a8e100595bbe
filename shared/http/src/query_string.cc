#include "prescale/http/query_string.h"

#include <strings.h>

#include <vector>

namespace prescale::http {

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded, and '+' as a space when `plus_is_space` (query strings, not paths).
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+' && plus_is_space) {
      *out += ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexDigit(in[i + 1]);
      const int lo = HexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      *out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      *out += c;
    }
  }
  return true;
}

}  // namespace

bool UrlDecode(std::string_view in, std::string* out) { return PercentDecode(in, true, out); }

Result<std::vector<std::pair<std::string, std::string>>> ParseQueryString(std::string_view query_string) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query_string.empty()) {
    const size_t amp = query_string.find('&');
    const std::string_view pair = query_string.substr(0, amp);
    query_string = amp == std::string_view::npos ? std::string_view() : query_string.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string name, value;
    if (!UrlDecode(pair.substr(0, eq), &name) ||
        !UrlDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), &value)) {
      return Status::InvalidArgument("malformed percent-encoding in '" + std::string(pair) + "'");
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

namespace {

// %XX decoded ('+' stays), dot segments removed (RFC 3986 5.2.4). False when
// an escape is malformed or decodes to NUL. `raw` starts with '/'.
bool DecodePath(std::string_view raw, std::string* out) {
  std::string decoded;
  if (!PercentDecode(raw, false, &decoded) || decoded.find('\0') != std::string::npos) return false;
  std::vector<std::string_view> segments;
  std::string_view rest(decoded);
  rest.remove_prefix(1);  // the leading '/'
  for (;;) {
    const size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (segment != ".") {
      segments.push_back(segment);
    }
    if (slash == std::string_view::npos) {
      // "/a/.." and "/a/." name the directory: keep the trailing slash.
      if (segment == "." || segment == "..") segments.emplace_back();
      break;
    }
    rest.remove_prefix(slash + 1);
  }
  out->clear();
  for (std::string_view segment : segments) {
    *out += '/';
    out->append(segment);
  }
  if (out->empty()) *out = "/";
  return true;
}

}  // namespace

bool SplitRequestTarget(std::string_view target, std::string* path, std::string* query) {
  bool absolute = false;
  for (std::string_view scheme : {"http://", "https://"}) {  // absolute-form: the authority is not routed on
    if (target.size() > scheme.size() && strncasecmp(target.data(), scheme.data(), scheme.size()) == 0) {
      target.remove_prefix(scheme.size());
      const size_t end = target.find_first_of("/?");
      target = end == std::string_view::npos ? std::string_view() : target.substr(end);
      absolute = true;
      break;
    }
  }
  const size_t question = target.find('?');
  std::string_view raw_path = target.substr(0, question);
  if (absolute && raw_path.empty()) raw_path = "/";  // "http://host" and "http://host?q" ask for "/"
  query->assign(question == std::string_view::npos ? std::string_view() : target.substr(question + 1));
  return !raw_path.empty() && raw_path.front() == '/' && DecodePath(raw_path, path);
}

}  // namespace prescale::http
