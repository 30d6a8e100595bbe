#include "tests/support/logfmt.h"

namespace prescale::testing {
namespace {

bool IsBareByte(unsigned char c) { return c > ' ' && c != '=' && c != '"' && c != 0x7f; }

void AppendUtf8(unsigned cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

std::optional<LogfmtPairs> ParseLogfmt(std::string_view line) {
  LogfmtPairs out;
  size_t i = 0;
  while (i < line.size()) {
    if (!out.empty()) {
      if (line[i] != ' ') return std::nullopt;
      ++i;
    }
    const size_t key_start = i;
    while (i < line.size() && IsBareByte(static_cast<unsigned char>(line[i]))) ++i;
    if (i == key_start || i >= line.size() || line[i] != '=') return std::nullopt;
    std::string key(line.substr(key_start, i - key_start));
    ++i;  // '='
    std::string value;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        const char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;  // raw control bytes must be escaped
        if (c != '\\') {
          value += c;
          continue;
        }
        if (i >= line.size()) return std::nullopt;
        const char e = line[i++];
        switch (e) {
          case '\\': value += '\\'; break;
          case '"': value += '"'; break;
          case 'n': value += '\n'; break;
          case 'r': value += '\r'; break;
          case 't': value += '\t'; break;
          case 'u': {
            if (i + 4 > line.size()) return std::nullopt;
            unsigned cp = 0;
            for (int k = 0; k < 4; ++k) {
              const char h = line[i++];
              cp <<= 4;
              if (h >= '0' && h <= '9') {
                cp |= static_cast<unsigned>(h - '0');
              } else if (h >= 'a' && h <= 'f') {
                cp |= static_cast<unsigned>(h - 'a' + 10);
              } else {
                return std::nullopt;
              }
            }
            AppendUtf8(cp, &value);
            break;
          }
          default: return std::nullopt;
        }
      }
      if (!closed) return std::nullopt;
    } else {
      const size_t value_start = i;
      while (i < line.size() && IsBareByte(static_cast<unsigned char>(line[i]))) ++i;
      value = std::string(line.substr(value_start, i - value_start));
      if (value.empty()) return std::nullopt;  // an empty value is written ""
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

}  // namespace prescale::testing
