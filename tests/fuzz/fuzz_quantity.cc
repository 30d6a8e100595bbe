// Fuzzes the Kubernetes resource quantity parsers: any text is either a
// finite value or an InvalidArgument with a message; the request parsers
// never return a negative value, one an int64 cannot hold (so the caller's
// cast is defined), or a fraction of a byte; and they agree with
// ParseQuantity, whose grammar they share. Never a crash, a hang or an
// escaped exception.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "prescale/kube/quantity.h"

namespace {

// A failed parse must be InvalidArgument with a message; a value must be finite.
bool Checked(const prescale::Result<double>& r) {
  if (!r.ok()) {
    if (r.status().code() != prescale::StatusCode::kInvalidArgument || r.status().message().empty()) std::abort();
    return false;
  }
  if (!std::isfinite(*r)) std::abort();
  return true;
}

// A request value: not negative (not even -0), below 2^63.
void CheckRequest(double v) {
  if (!(v >= 0) || std::signbit(v) || v >= 0x1p63) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto quantity = prescale::kube::ParseQuantity(text);
  const bool any_ok = Checked(quantity);
  const auto cpu = prescale::kube::ParseCpuQuantity(text);
  if (Checked(cpu)) {
    CheckRequest(*cpu);
    // Same grammar: a CPU value is the quantity, short of the clamp below 2^63.
    if (!any_ok || (*cpu != *quantity && *quantity < 0x1p63 - 1024)) std::abort();
  }
  const auto memory = prescale::kube::ParseMemoryQuantity(text);
  if (Checked(memory)) {
    CheckRequest(*memory);
    // A whole number of bytes, never below the quantity (short of the clamp).
    if (!any_ok || *memory != std::ceil(*memory) || (*memory < *quantity && *quantity < 0x1p63 - 1024)) std::abort();
  }
  return 0;
}
