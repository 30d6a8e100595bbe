#include "prescale/base/json_depth.h"

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

}  // namespace prescale
