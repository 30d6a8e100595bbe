// Declarative control-plane objects: `tenants:`, `policies:` and `services:`
// lists in YAML (the aggregator's config, a file for `prescale-aggregator
// apply -f`, or every *.yaml of a directory), applied idempotently: missing
// objects are created, changed ones replaced, equal ones left alone (and not
// audited). Errors name the file, the line and the field path. Not
// thread-safe per call; the store serialises concurrent writers.
#pragma once

#include <string>
#include <string_view>

#include "prescale/aggregator/control/control_store.h"
#include "prescale/base/status.h"

namespace prescale::aggregator {

struct ApplySummary {
  int created = 0;
  int replaced = 0;
  int unchanged = 0;
};

// Validates every object first (nothing is written when one is invalid), then
// applies tenants, policies, services in that order. `actor` is the audit
// identity ("bootstrap", "cli") with the time in actor.time_ms. Other top-level
// keys are ignored unless `strict` (a bootstrap_dir file holds objects only).
// A null `store` only validates (a reload checks the new file before applying
// anything): the same errors, nothing written, an empty summary.
Result<ApplySummary> ApplyObjects(ControlStore* store, std::string_view yaml_text, const std::string& file_name,
                                  const AuditRecord& actor, bool strict);
// Every *.yaml and *.yml file of `dir`, in name order, strictly (a null `store`: validation only).
Result<ApplySummary> ApplyDirectory(ControlStore* store, const std::string& dir, const AuditRecord& actor);

}  // namespace prescale::aggregator
