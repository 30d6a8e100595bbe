// The control plane's objects as prescalectl handles them: which object a
// command line names (`tenant acme`, `service acme/web`, `policy fast`), its
// API paths, its canonical form (the aggregator's own: prescale_decide's
// Parse and Render, so a manifest and a GET compare equal exactly when the
// aggregator would store the same thing), and a diff of two canonical forms
// field by field. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/status.h"
#include "prescale/decide/control_manifest.h"

namespace prescale::cli {

using aggregator::ManifestKind;

struct ObjectRef {
  ManifestKind kind = ManifestKind::kTenant;
  std::string tenant;  // services only
  std::string name;

  // "/api/v1/tenants/acme", "/api/v1/tenants/acme/services/web", "/api/v1/policies/fast".
  std::string Path() const;
  // Where a new one is POSTed: "/api/v1/tenants", "/api/v1/tenants/acme/services", "/api/v1/policies".
  std::string CollectionPath() const;
  // "tenant acme", "service acme/web", "policy fast".
  std::string Describe() const;
};

// A resource word as kubectl takes them: tenant(s), service(s)/svc, policy/policies/pol.
std::optional<ManifestKind> ParseKindWord(std::string_view word);
// The object `kind_word name` names; a service as TENANT/NAME or NAME with
// `tenant` (-t). InvalidArgument for a missing or invalid name.
Result<ObjectRef> ParseObjectRef(std::string_view kind_word, std::string_view name, std::string_view tenant);

struct CanonicalObject {
  ObjectRef ref;
  std::string spec_json;           // canonical, without version and timestamps
  std::optional<int64_t> version;  // the version the JSON carried, if any
};

// Validates a JSON object of `kind` as the aggregator does and renders it
// canonically. Unprocessable naming the field (field() its path) when it does
// not hold; InvalidArgument... is mapped to Unprocessable too: both are the
// object's fault, not the command line's.
Result<CanonicalObject> Canonicalize(ManifestKind kind, std::string_view json);

// `spec_json` (a JSON object) with "version": N added, for a conditional write.
std::string WithVersion(std::string_view spec_json, int64_t version);

// Every leaf of a JSON object as (path, value as JSON): "replicas.max" -> "20",
// "labels.tier" -> "\"gold\"", "behavior.scaleUp.policies[0].type" -> "\"Pods\"";
// empty objects and arrays are leaves ("{}", "[]"). ParseError for text that is not JSON.
Result<std::vector<std::pair<std::string, std::string>>> FlattenJson(std::string_view json);

// A field-by-field diff of two JSON objects (`before` "" for an object that
// does not exist yet): "- path: old" and "+ path: new" lines, each ending in
// '\n', in the order of `after`'s fields then the removed ones, each line
// prefixed with `indent`. Empty when they are equal.
Result<std::string> DiffJson(std::string_view before, std::string_view after, std::string_view indent = "  ");

}  // namespace prescale::cli
