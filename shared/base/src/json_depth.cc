#include "prescale/base/json_depth.h"

#include <charconv>
#include <string>

namespace prescale {

Status CheckJsonDepth(std::string_view json, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > max_depth) {
          return Status::InvalidArgument("JSON nested more than " + std::to_string(max_depth) +
                                         " levels deep at byte " + std::to_string(i));
        }
        break;
      case ']':
      case '}':
        // Unbalanced closers are the parser's to report; never wrap below zero.
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return Status::Ok();
}

namespace {

// The value of the four hex digits at json[at..at+4), or -1.
int Hex4(std::string_view json, size_t at) {
  if (at + 4 > json.size()) return -1;
  unsigned value = 0;
  const char* end = json.data() + at + 4;
  const auto [ptr, ec] = std::from_chars(json.data() + at, end, value, 16);
  return ec == std::errc() && ptr == end ? static_cast<int>(value) : -1;
}

}  // namespace

Status CheckJsonEscapes(std::string_view json) {
  bool in_string = false;
  size_t after_high = std::string_view::npos;  // the byte after the last high surrogate's escape
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (!in_string) {
      in_string = c == '"';
      continue;
    }
    if (c == '"') {
      in_string = false;
    } else if (c == '\\' && i + 1 < json.size()) {
      if (json[i + 1] == 'u') {
        const int unit = Hex4(json, i + 2);
        if (unit >= 0xD800 && unit <= 0xDBFF) after_high = i + 6;
        if (unit >= 0xDC00 && unit <= 0xDFFF && after_high != i) {
          return Status::InvalidArgument("JSON escape \\u" + std::string(json.substr(i + 2, 4)) + " at byte " +
                                         std::to_string(i) + " is a lone surrogate, not a character");
        }
      }
      ++i;  // the escaped character (or the 'u' of \uXXXX: its digits are plain characters)
    }
  }
  return Status::Ok();
}

}  // namespace prescale
