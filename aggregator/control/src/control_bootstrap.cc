#include "prescale/aggregator/control/control_bootstrap.h"

#include <dirent.h>

#include <algorithm>
#include <vector>

#include "prescale/aggregator/control/objects.h"
#include "prescale/base/yaml_config.h"
#include "prescale/decide/control_manifest.h"

namespace prescale::aggregator {
namespace {

struct Pending {
  StoredObject object;
};

}  // namespace

Result<ApplySummary> ApplyObjects(ControlStore* store, std::string_view yaml_text, const std::string& file_name,
                                  const AuditRecord& actor, bool strict) {
  PRESCALE_ASSIGN_OR_RETURN(const Manifest manifest, Manifest::Read(yaml_text, file_name, strict));
  std::vector<Pending> pending;
  for (const ManifestEntry& e : manifest.entries()) {
    const ObjectKind kind = e.kind == ManifestKind::kTenant   ? ObjectKind::kTenant
                            : e.kind == ManifestKind::kPolicy ? ObjectKind::kPolicy
                                                              : ObjectKind::kService;
    ObjectKey path_key{kind, "", ""};
    if (kind == ObjectKind::kService) path_key.tenant = e.tenant;
    auto built = BuildObject(kind, e.json, path_key);
    if (!built.ok()) return manifest.Error(e, built.status());
    pending.push_back({std::move(built->object)});
  }
  ApplySummary summary;
  if (store == nullptr) return summary;  // validation only
  for (Pending& p : pending) {
    auto stored = store->Get(p.object.key);
    if (stored.ok() && stored->spec_json == p.object.spec_json) {
      ++summary.unchanged;
      continue;
    }
    if (!stored.ok() && stored.status().code() != StatusCode::kNotFound) return stored.status();
    AuditRecord audit = actor;
    audit.action = stored.ok() ? "replace" : "create";
    audit.kind = std::string(ObjectKindName(p.object.key.kind));
    audit.tenant = p.object.owner;
    audit.name = p.object.key.name;
    audit.status = stored.ok() ? 200 : 201;
    const std::string what = audit.kind + " " + audit.name;
    auto put = store->Put(p.object, stored.ok() ? WriteMode::kReplace : WriteMode::kCreate,
                          stored.ok() ? std::optional<int64_t>(stored->version) : std::nullopt, std::move(audit));
    if (!put.ok()) return Status(put.status().code(), file_name + ": " + what + ": " + put.status().message());
    ++(stored.ok() ? summary.replaced : summary.created);
  }
  return summary;
}

Result<ApplySummary> ApplyDirectory(ControlStore* store, const std::string& dir, const AuditRecord& actor) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::InvalidArgument(dir + ": cannot read the bootstrap directory");
  std::vector<std::string> files;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.ends_with(".yaml") || name.ends_with(".yml")) files.push_back(dir + "/" + name);
  }
  ::closedir(d);
  std::sort(files.begin(), files.end());
  ApplySummary total;
  for (const std::string& f : files) {
    auto text = ReadConfigFile(f);
    if (!text.ok()) return text.status();
    auto s = ApplyObjects(store, *text, f, actor, true);
    if (!s.ok()) return s.status();
    total.created += s->created;
    total.replaced += s->replaced;
    total.unchanged += s->unchanged;
  }
  return total;
}

}  // namespace prescale::aggregator
