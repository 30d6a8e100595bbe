#include "prescale/agent/aggregator_urls.h"

#include <cstdint>
#include <cstdio>

namespace prescale::agent {
namespace {

constexpr size_t kMaxHostChars = 64;  // keeps the directory name far below NAME_MAX

// The authority (user info, host, port) of a URL and where it starts; npos when there is no "://".
struct Authority {
  size_t begin = std::string_view::npos;
  std::string_view text;
};

Authority AuthorityOf(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  const size_t begin = scheme_end + 3;
  const std::string_view rest = url.substr(begin);
  return {begin, rest.substr(0, rest.find_first_of("/?#"))};
}

bool StartsWithHttpScheme(std::string_view text) { return text.starts_with("http://") || text.starts_with("https://"); }

}  // namespace

std::vector<std::string> SplitUrlList(std::string_view value) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t comma = value.find(','); comma != std::string_view::npos; comma = value.find(',', comma + 1)) {
    if (!StartsWithHttpScheme(value.substr(comma + 1))) continue;
    out.emplace_back(value.substr(start, comma - start));
    start = comma + 1;
  }
  out.emplace_back(value.substr(start));
  return out;
}

std::string ApiBaseOf(std::string_view url) {
  const Authority a = AuthorityOf(url);
  if (a.begin == std::string_view::npos) return "";
  return std::string(url.substr(0, a.begin + a.text.size()));
}

std::string RedactUrl(std::string_view url) {
  const Authority a = AuthorityOf(url);
  const size_t at = a.text.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  const size_t colon = a.text.substr(0, at).find(':');
  if (colon == std::string_view::npos) return std::string(url);  // a user name alone is no secret
  return std::string(url.substr(0, a.begin + colon + 1)) + "xxxxx" + std::string(url.substr(a.begin + at));
}

std::string RedactUrlIn(std::string text, std::string_view url) {
  const std::string shown = RedactUrl(url);
  if (url.empty() || shown == url) return text;
  for (size_t at = text.find(url); at != std::string::npos; at = text.find(url, at + shown.size())) {
    text.replace(at, url.size(), shown);
  }
  return text;
}

std::string PushTargetName(std::string_view url) {
  const bool https = url.starts_with("https://");
  std::string_view authority = AuthorityOf(url).text;
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  // The port follows the last ':' unless that is inside an IPv6 literal's brackets.
  std::string_view host = authority;
  std::string_view port = https ? "443" : "80";
  if (const size_t colon = authority.rfind(':');
      colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    host = authority.substr(0, colon);
    if (colon + 1 < authority.size()) port = authority.substr(colon + 1);
  }
  std::string name;
  for (const char ch : host.substr(0, kMaxHostChars)) {
    const bool keep =
        (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
    name += keep ? ch : '_';
  }
  if (name.empty()) name = "_";
  name += '_';
  for (const char ch : port.substr(0, 5)) name += (ch >= '0' && ch <= '9') ? ch : '_';
  uint64_t hash = 14695981039346656037ull;  // FNV-1a 64
  for (const char ch : url) {
    hash ^= static_cast<unsigned char>(ch);
    hash *= 1099511628211ull;
  }
  char suffix[10];
  std::snprintf(suffix, sizeof suffix, "-%08x", static_cast<unsigned>(hash & 0xffffffffu));
  return name + suffix;
}

}  // namespace prescale::agent
