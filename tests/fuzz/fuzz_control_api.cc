// The control API's request bodies: tenant, service and policy JSON (through
// BuildObject, as the API and the bootstrap files use it), JSON merge patches,
// and the audit chain's canonical form. Nothing may crash; a body that builds
// renders to canonical JSON that builds again to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "prescale/aggregator/api/control_api.h"
#include "prescale/aggregator/control/control_store.h"
#include "prescale/decide/control_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prescale::aggregator;
  if (size == 0) return 0;
  // The first byte picks the kind; the rest is the body.
  const auto kind = static_cast<ObjectKind>(data[0] % 3);
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto built = BuildObject(kind, body, {kind, "acme", ""});
  if (built.ok()) {
    auto again = BuildObject(kind, built->object.spec_json, {kind, "acme", ""});
    if (!again.ok() || again->object.spec_json != built->object.spec_json) std::abort();
  } else if (built.status().code() != prescale::StatusCode::kInvalidArgument &&
             built.status().code() != prescale::StatusCode::kUnprocessable) {
    std::abort();
  }
  // The body as a patch onto a valid service.
  auto merged = MergePatch(R"({"tenant":"acme","name":"web","replicas":{"min":1,"max":5}})", body);
  if (merged.ok()) (void)BuildObject(ObjectKind::kService, *merged, {ObjectKind::kService, "acme", "web"});
  AuditRecord record;
  record.message.assign(body);
  record.before_json.assign(body);
  if (AuditHash(record).size() != 64) std::abort();
  return 0;
}
