// Fuzzes the Alertmanager webhook decoder (payload version 4): any body is
// either a list of well-formed alerts or an InvalidArgument naming the field;
// never a crash, a hang or an escaped exception. Decoded alerts then go through
// the deduplicator, whose first sight of each fingerprint must count as new.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "prescale/aggregator/scaling/alertmanager.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto alerts = prescale::aggregator::ParseAlertmanagerWebhook(body);
  if (!alerts.ok()) {
    const prescale::StatusCode code = alerts.status().code();
    if (code != prescale::StatusCode::kInvalidArgument && code != prescale::StatusCode::kUnprocessable) std::abort();
    return 0;
  }
  prescale::aggregator::AlertDeduplicator dedup(4);
  for (const auto& a : *alerts) {
    if (a.status != "firing" && a.status != "resolved") std::abort();
    if (a.fingerprint.empty() || a.starts_at_ms < 0 || a.ends_at_ms < 0) std::abort();
    if (prescale::aggregator::AlertFingerprint(a.labels).size() != 16) std::abort();
    const bool empty = dedup.size() == 0;
    if (!dedup.Observe(a) && empty) std::abort();
    if (dedup.Observe(a)) std::abort();  // the same alert twice in a row is a repeat
    if (dedup.size() > 4) std::abort();
  }
  return 0;
}
