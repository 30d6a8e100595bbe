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
  FieldError error;
  auto built = BuildObject(kind, body, {kind, "acme", ""}, &error);
  if (built) {
    FieldError again_error;
    auto again = BuildObject(kind, built->object.spec_json, {kind, "acme", ""}, &again_error);
    if (!again || again->object.spec_json != built->object.spec_json) std::abort();
  } else if (error.status != 400 && error.status != 422) {
    std::abort();
  }
  // The body as a patch onto a valid service.
  FieldError patch_error;
  auto merged = MergePatch(R"({"tenant":"acme","name":"web","replicas":{"min":1,"max":5}})", body, &patch_error);
  if (merged) (void)BuildObject(ObjectKind::kService, *merged, {ObjectKind::kService, "acme", "web"}, &patch_error);
  AuditRecord record;
  record.message.assign(body);
  record.before_json.assign(body);
  if (AuditHash(record).size() != 64) std::abort();
  return 0;
}
