#include "prescale/aggregator/control/control_bootstrap.h"

#include <dirent.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <vector>

#include "prescale/aggregator/control/objects.h"
#include "prescale/base/numbers.h"
#include "prescale/base/yaml_config.h"

namespace prescale::aggregator {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// YAML to JSON: quoted scalars are strings; plain ones are null, booleans or
// numbers when they read as such, strings otherwise.
void ToJson(const ConfigNode& n, Writer& w) {
  if (n.IsMap()) {
    w.StartObject();
    for (const ConfigNode::Entry& entry : n.Entries()) {
      w.Key(entry.key.c_str(), static_cast<rapidjson::SizeType>(entry.key.size()));
      ToJson(entry.value, w);
    }
    w.EndObject();
  } else if (n.IsSequence()) {
    w.StartArray();
    for (const ConfigNode& item : n.Items()) ToJson(item, w);
    w.EndArray();
  } else if (!n.IsDefined() || n.IsNull()) {
    w.Null();
  } else {
    const std::string& text = n.Scalar();
    int64_t i = 0;
    double d = 0;
    // A quoted scalar is text whatever it looks like; a plain one is a boolean or a number when
    // it reads as one, else text.
    if (!n.IsQuoted() && (text == "true" || text == "false")) {
      w.Bool(text == "true");
    } else if (!n.IsQuoted() && ParseI64(text, &i)) {
      w.Int64(i);
    } else if (!n.IsQuoted() && ParseDouble(text, &d)) {
      w.Double(d);
    } else {
      w.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
    }
  }
}

// The node a field path ("a.b[2].c") names, or the deepest that exists.
ConfigNode Locate(ConfigNode node, std::string_view path) {
  while (!path.empty()) {
    if (path.front() == '.') path.remove_prefix(1);
    if (path.front() == '[') {
      const size_t close = path.find(']');
      uint64_t index = 0;
      if (close == std::string_view::npos || !ParseU64(path.substr(1, close - 1), &index)) return node;
      if (!node.IsSequence() || index >= node.size()) return node;
      node = node[static_cast<size_t>(index)];
      path.remove_prefix(close + 1);
      continue;
    }
    const size_t end = path.find_first_of(".[");
    const std::string key(path.substr(0, end));
    if (!node.IsMap() || !node[key].IsDefined()) return node;
    node = node[key];
    path.remove_prefix(end == std::string_view::npos ? path.size() : end);
  }
  return node;
}

struct Pending {
  StoredObject object;
};

}  // namespace

Result<ApplySummary> ApplyObjects(ControlStore* store, std::string_view yaml_text, const std::string& file_name,
                                  const AuditRecord& actor, bool strict) {
  YamlConfigReader r(file_name);
  auto parsed = r.Parse(yaml_text);
  if (!parsed.ok()) return parsed.status();
  const ConfigNode root = *parsed;
  if (root.IsNull()) return ApplySummary{};
  if (strict) PRESCALE_RETURN_IF_ERROR(r.CheckMap(root, "", {"tenants", "policies", "services"}));
  if (!root.IsMap()) return r.Error(root, "", "expected a map with tenants, policies and services");
  std::vector<Pending> pending;
  for (auto [key, kind] : {std::pair{"tenants", ObjectKind::kTenant},
                           {"policies", ObjectKind::kPolicy},
                           {"services", ObjectKind::kService}}) {
    const ConfigNode list = root[key];
    if (!list.IsDefined() || list.IsNull()) continue;
    PRESCALE_RETURN_IF_ERROR(r.CheckSequence(list, key));
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string path = IndexPath(key, i);
      rapidjson::StringBuffer buf;
      Writer w(buf);
      ToJson(list[i], w);
      ObjectKey path_key{kind, "", ""};
      if (kind == ObjectKind::kService && list[i].IsMap() && list[i]["tenant"].IsScalar()) {
        path_key.tenant = list[i]["tenant"].Scalar();
      }
      auto built = BuildObject(kind, std::string_view(buf.GetString(), buf.GetSize()), path_key);
      if (!built.ok()) {
        const std::string& field = built.status().field();
        return r.Error(Locate(list[i], field), field.empty() ? path : JoinPath(path, field), built.status().detail());
      }
      pending.push_back({std::move(built->object)});
    }
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
