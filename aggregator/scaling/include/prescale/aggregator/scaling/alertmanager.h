// Alertmanager's webhook notifications (webhook_config, payload version "4";
// docs/control-plane.md): the decoder of the JSON body Alertmanager POSTs, and a
// deduplicator that lets through only what changed, not the copies Alertmanager
// sends again every repeat_interval. ParseAlertmanagerWebhook is a pure function
// (thread-safe); AlertDeduplicator is thread-safe. RapidJSON stays behind this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::aggregator {

struct AlertmanagerAlert {
  std::string status;  // "firing" or "resolved"
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  // Alertmanager's fingerprint of the labels. When the payload has none (senders
  // older than Alertmanager 0.19), AlertFingerprint(labels): the same hash.
  std::string fingerprint;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;  // 0 for Alertmanager's zero time "0001-01-01T00:00:00Z" (still firing)
  // From the labels tenant, service and prescale_action; empty when absent.
  std::string tenant;
  std::string service;
  std::string action;
};

// Decodes a webhook body: only "version": "4" is accepted; every known field must
// have its documented type (unknown fields are ignored, as Alertmanager adds some
// over time); alerts[].status is "firing" or "resolved"; startsAt and endsAt are
// RFC 3339 (fractions and zone offsets allowed). A body that is not JSON at all is
// InvalidArgument; a wrong field is Unprocessable naming it in the message and in
// Status::field(), e.g. "alerts[2].labels.tenant".
Result<std::vector<AlertmanagerAlert>> ParseAlertmanagerWebhook(std::string_view body);

// The fingerprint Prometheus's common/model computes for a label set (FNV-1a 64
// over the labels sorted by name, each name and value followed by a 0xff byte),
// as 16 lowercase hex digits: what Alertmanager sends as "fingerprint".
std::string AlertFingerprint(const std::map<std::string, std::string>& labels);

// Remembers the last status of each alert (by fingerprint). Observe returns true
// for an alert not seen before, one whose status changed (firing -> resolved,
// resolved -> firing) and a firing alert with a new startsAt (a new episode: with
// send_resolved: false no resolution is ever sent); false for repeats. At most
// max_entries alerts are kept: past that, the least recently observed resolved
// alert is forgotten first, then the least recently observed firing one (whose
// next repeat then counts as new). Thread-safe; non-copyable.
class AlertDeduplicator {
 public:
  explicit AlertDeduplicator(size_t max_entries = 10'000);
  AlertDeduplicator(const AlertDeduplicator&) = delete;
  AlertDeduplicator& operator=(const AlertDeduplicator&) = delete;

  bool Observe(const AlertmanagerAlert& alert);
  size_t size() const;

 private:
  struct Entry {
    bool resolved = false;
    int64_t starts_at_ms = 0;
    std::list<std::string>::iterator position;  // in resolved_ or firing_
  };
  void EvictOneLocked();

  const size_t max_entries_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  // Fingerprints by status, least recently observed first.
  std::list<std::string> resolved_;
  std::list<std::string> firing_;
};

}  // namespace prescale::aggregator
