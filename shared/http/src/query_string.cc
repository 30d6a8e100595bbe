#include "prescale/http/query_string.h"

namespace prescale::http {

bool UrlDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      *out += ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int v = 0;
      for (size_t k = 1; k <= 2; ++k) {
        const char h = in[i + k];
        v <<= 4;
        if (h >= '0' && h <= '9') {
          v |= h - '0';
        } else if (h >= 'a' && h <= 'f') {
          v |= h - 'a' + 10;
        } else if (h >= 'A' && h <= 'F') {
          v |= h - 'A' + 10;
        } else {
          return false;
        }
      }
      *out += static_cast<char>(v);
      i += 2;
    } else {
      *out += c;
    }
  }
  return true;
}

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

}  // namespace prescale::http
