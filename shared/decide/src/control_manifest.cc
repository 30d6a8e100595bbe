#include "prescale/decide/control_manifest.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <utility>

#include "prescale/base/numbers.h"

namespace prescale::aggregator {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

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
    if (path.empty()) break;
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

}  // namespace

std::string_view ManifestKindName(ManifestKind kind) {
  switch (kind) {
    case ManifestKind::kTenant: return "tenant";
    case ManifestKind::kPolicy: return "policy";
    case ManifestKind::kService: return "service";
  }
  return "unknown";
}

std::string ConfigNodeJson(const ConfigNode& node) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  ToJson(node, w);
  return {buf.GetString(), buf.GetSize()};
}

Result<Manifest> Manifest::Read(std::string_view yaml_text, std::string file_name, bool strict) {
  Manifest m(std::move(file_name));
  const YamlConfigReader& r = m.reader_;
  PRESCALE_ASSIGN_OR_RETURN(const ConfigNode root, r.Parse(yaml_text));
  if (root.IsNull()) return m;
  if (strict) PRESCALE_RETURN_IF_ERROR(r.CheckMap(root, "", {"tenants", "policies", "services"}));
  if (!root.IsMap()) return r.Error(root, "", "expected a map with tenants, policies and services");
  for (auto [key, kind] : {std::pair{"tenants", ManifestKind::kTenant},
                           {"policies", ManifestKind::kPolicy},
                           {"services", ManifestKind::kService}}) {
    const ConfigNode list = root[key];
    if (!list.IsDefined() || list.IsNull()) continue;
    PRESCALE_RETURN_IF_ERROR(r.CheckSequence(list, key));
    for (size_t i = 0; i < list.size(); ++i) {
      ManifestEntry e;
      e.kind = kind;
      e.path = IndexPath(key, i);
      e.node = list[i];
      e.json = ConfigNodeJson(e.node);
      if (kind == ManifestKind::kService && e.node.IsMap() && e.node["tenant"].IsScalar()) {
        e.tenant = e.node["tenant"].Scalar();
      }
      m.entries_.push_back(std::move(e));
    }
  }
  return m;
}

Status ObjectError(const YamlConfigReader& reader, const ConfigNode& node, std::string_view path,
                   const Status& status) {
  const std::string& field = status.field();
  return reader.Error(Locate(node, field), field.empty() ? std::string(path) : JoinPath(path, field), status.detail());
}

Status Manifest::Error(const ManifestEntry& entry, const Status& status) const {
  return ObjectError(reader_, entry.node, entry.path, status);
}

}  // namespace prescale::aggregator
