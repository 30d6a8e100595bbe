// The declarative manifest of control-plane objects: `tenants:`, `policies:`
// and `services:` lists in YAML (JSON is YAML too), as the aggregator's config,
// its bootstrap_dir files, `prescale-aggregator apply -f` and `prescalectl
// apply -f` take them. Reading gives each entry as a JSON object, in apply
// order (tenants, policies, services), with its place in the file so that an
// error found later names the file, the line and the field path
// ("objects.yaml:15: services[0].priority: must be one of: ..."). No store and
// no I/O but the text given; thread-compatible.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/status.h"
#include "prescale/base/yaml_config.h"

namespace prescale::aggregator {

enum class ManifestKind { kTenant, kPolicy, kService };  // apply order
// "tenant", "policy", "service".
std::string_view ManifestKindName(ManifestKind kind);

struct ManifestEntry {
  ManifestKind kind = ManifestKind::kTenant;
  std::string path;    // "services[0]"
  std::string json;    // the entry as JSON (a plain scalar that reads as a number or boolean is one)
  std::string tenant;  // a service's `tenant` as written; "" when absent or not a scalar
  ConfigNode node;     // where it is in the file, for errors
};

class Manifest {
 public:
  // Parses `yaml_text` (named `file_name` in errors). Other top-level keys are
  // ignored unless `strict`. An empty document is an empty manifest.
  static Result<Manifest> Read(std::string_view yaml_text, std::string file_name, bool strict);

  const std::vector<ManifestEntry>& entries() const { return entries_; }

  // An error of `entry`'s object ("field: what", field() naming its path in
  // the object, as ParseService gives them) as "FILE:LINE: services[0].field:
  // what", the line that of the field when it is in the file.
  Status Error(const ManifestEntry& entry, const Status& status) const;

 private:
  explicit Manifest(std::string file_name) : reader_(std::move(file_name)) {}

  YamlConfigReader reader_;
  std::vector<ManifestEntry> entries_;
};

// An error of the object at `node` (a Status naming its field, as
// ParseService gives them) as reader.Error at that field's line:
// "FILE:LINE: PATH.field: what" (PATH "" for a document that is the object).
Status ObjectError(const YamlConfigReader& reader, const ConfigNode& node, std::string_view path, const Status& status);

// A YAML node as JSON: quoted scalars are strings; plain ones are null,
// booleans or numbers when they read as such, strings otherwise.
std::string ConfigNodeJson(const ConfigNode& node);

}  // namespace prescale::aggregator
