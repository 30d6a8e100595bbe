#include "route_match.h"

#include <string>
#include <utility>
#include <vector>

#include "prescale/http/http_server.h"

namespace prescale::http {
namespace {

// The parameter name of a {name} segment, or empty for a literal one.
std::string_view ParamName(std::string_view segment) {
  if (segment.size() < 3 || segment.front() != '{' || segment.back() != '}') return {};
  return segment.substr(1, segment.size() - 2);
}

// Splits off the next segment of a path positioned after a '/'.
std::string_view NextSegment(std::string_view* rest) {
  const size_t slash = rest->find('/');
  std::string_view segment = rest->substr(0, slash);
  *rest = slash == std::string_view::npos ? std::string_view() : rest->substr(slash + 1);
  return segment;
}

}  // namespace

bool MatchRoutePath(std::string_view pattern, std::string_view path,
                    std::vector<std::pair<std::string, std::string>>* params) {
  if (pattern.empty() || path.empty() || pattern.front() != '/' || path.front() != '/') return false;
  std::string_view pattern_rest = pattern.substr(1);
  std::string_view path_rest = path.substr(1);
  std::vector<std::pair<std::string, std::string>> found;
  // Both run out of segments together on a match: count them as we go.
  bool pattern_done = false;
  bool path_done = false;
  while (!pattern_done && !path_done) {
    pattern_done = pattern_rest.find('/') == std::string_view::npos;
    path_done = path_rest.find('/') == std::string_view::npos;
    const std::string_view want = NextSegment(&pattern_rest);
    const std::string_view got = NextSegment(&path_rest);
    const std::string_view name = ParamName(want);
    if (name.empty()) {
      if (got != want) return false;
    } else {
      if (got.empty() || got == "." || got == "..") return false;  // path steps, never names
      found.emplace_back(std::string(name), std::string(got));
    }
  }
  if (pattern_done != path_done) return false;
  if (params != nullptr) *params = std::move(found);
  return true;
}

bool IsRoutePattern(std::string_view path) {
  std::string_view rest = path.empty() ? path : path.substr(1);
  while (!rest.empty()) {
    if (!ParamName(NextSegment(&rest)).empty()) return true;
  }
  return false;
}

Status ValidateRoutePath(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return Status::InvalidArgument("route path \"" + std::string(path) + "\" does not start with '/'");
  }
  std::vector<std::string_view> names;
  std::string_view rest = path.substr(1);
  while (!rest.empty()) {
    const std::string_view segment = NextSegment(&rest);
    if (segment.find_first_of("{}") == std::string_view::npos) continue;
    const std::string_view name = ParamName(segment);
    if (name.empty() || name.find_first_of("{}") != std::string_view::npos) {
      return Status::InvalidArgument("route path \"" + std::string(path) + "\": segment \"" + std::string(segment) +
                                     "\" is neither literal nor a whole {name}");
    }
    for (std::string_view seen : names) {
      if (seen == name) {
        return Status::InvalidArgument("route path \"" + std::string(path) + "\" uses {" + std::string(name) +
                                       "} twice");
      }
    }
    names.push_back(name);
  }
  return Status::Ok();
}

}  // namespace prescale::http
