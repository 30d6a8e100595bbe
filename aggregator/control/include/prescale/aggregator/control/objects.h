// The control plane's objects as the API and the bootstrap files write them:
// an object built from a request body (validated, canonical, with its owner
// and references), tokens issued with their audit record, and the audit log's
// records and verification as JSON. Pure functions over a ControlStore;
// thread-safe as the store is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "prescale/aggregator/control/auth.h"
#include "prescale/aggregator/control/control_store.h"
#include "prescale/base/status.h"
#include "prescale/decide/control_model.h"

namespace prescale::aggregator {

// A token to issue (by the API or `prescale-aggregator token create`).
struct TokenRequest {
  std::string name;
  std::string role;           // "admin", "operator", "viewer", "agent"
  std::string tenant;         // operators and viewers only (it must exist)
  int64_t expires_in_ms = 0;  // 0: never
};

struct IssuedToken {
  TokenRecord record;
  std::string secret;  // shown once; only its SHA-256 is stored
};

// Creates a random token and stores its hash, audited with `audit`'s actor.
// InvalidArgument names the field (Status::ForField: "role: ...", field() "role").
Result<IssuedToken> IssueToken(ControlStore* store, const TokenRequest& request, int64_t now_ms, AuditRecord audit);

// An object as the store keeps it, built from a request body (or a bootstrap
// file's entry): validated, canonical, with its owner and references. Names
// in path_key (empty ones are not set) fill in what the body leaves out; a
// body naming something else is a 422.
struct BuiltObject {
  StoredObject object;
  ObjectMeta meta;
};
// Errors as ParseTenant's: InvalidArgument for a body that is not a JSON
// object, Unprocessable naming the field.
Result<BuiltObject> BuildObject(ObjectKind kind, std::string_view body, const ObjectKey& path_key);

// An object as the API shows it: its spec with version and timestamps.
std::string ObjectJson(const StoredObject& o);
// A token as the API shows it; the secret only when given (once, at creation).
std::string TokenJson(const TokenRecord& t, const std::string& secret);
// An audit record as the API shows it (before/after as JSON objects, the hash included).
std::string AuditRecordJson(const AuditRecord& record);
// {"ok":..,"records":..,"first_bad_seq":..,"reason":..,"head_hash":..}
std::string AuditVerificationJson(const AuditVerification& v);

// Operators and viewers are bound to one tenant.
inline bool IsTenantBound(Role r) { return r == Role::kOperator || r == Role::kViewer; }

}  // namespace prescale::aggregator
