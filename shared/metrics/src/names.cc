#include "prescale/metrics/names.h"

namespace prescale::metrics {
namespace {
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  if (!IsAlpha(name[0]) && name[0] != ':') return false;
  for (char c : name.substr(1)) {
    if (!IsAlpha(c) && !IsDigit(c) && c != ':') return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || !IsAlpha(name[0])) return false;
  for (char c : name.substr(1)) {
    if (!IsAlpha(c) && !IsDigit(c)) return false;
  }
  return true;
}

}  // namespace prescale::metrics
