#include "prescale/agent/cgroup_mapper.h"

#include <algorithm>

namespace prescale::agent {
namespace {

// kubelet, cgroupfs driver: /kubepods[/<qos>]/pod<uid>/<container id>
const std::regex& KubeCgroupfsRegex() {
  static const std::regex kPattern(R"(^/kubepods(?:/(burstable|besteffort))?/pod([0-9a-fA-F-]+)/([0-9a-f]{64})$)");
  return kPattern;
}

// kubelet, systemd driver:
// /kubepods.slice[/kubepods-<qos>.slice]/kubepods[-<qos>]-pod<uid_>.slice/<runtime>-<id>.scope
const std::regex& KubeSystemdRegex() {
  static const std::regex kPattern(
      R"(^/kubepods\.slice(?:/kubepods-(burstable|besteffort)\.slice)?/kubepods(?:-(?:burstable|besteffort))?-pod([0-9a-fA-F_]+)\.slice/(?:cri-containerd|crio|docker)-([0-9a-f]{64})\.scope$)");
  return kPattern;
}

const std::regex& SystemdRegex() {
  static const std::regex kPattern(R"(^/system\.slice/(.+)\.service$)");
  return kPattern;
}

std::vector<std::string> Groups(const std::cmatch& m) {
  std::vector<std::string> groups;
  groups.reserve(m.size());
  for (const auto& group : m) groups.push_back(group.matched ? group.str() : std::string());
  return groups;
}

void SetLabel(metrics::Labels* labels, const std::string& name, std::string value) {
  for (auto& [k, v] : *labels) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  labels->emplace_back(name, std::move(value));
}

}  // namespace

std::string ExpandTemplate(std::string_view tmpl, const std::vector<std::string>& groups,
                           const metrics::Labels& named) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '$' || i + 1 >= tmpl.size()) {
      out += tmpl[i];
      continue;
    }
    std::string_view ref;
    if (tmpl[i + 1] == '{') {
      const size_t close = tmpl.find('}', i + 2);
      if (close == std::string_view::npos) {
        out += tmpl.substr(i);
        break;
      }
      ref = tmpl.substr(i + 2, close - i - 2);
      i = close;
    } else if (tmpl[i + 1] >= '0' && tmpl[i + 1] <= '9') {
      ref = tmpl.substr(i + 1, 1);
      i += 1;
    } else if (tmpl[i + 1] == '$') {
      out += '$';
      i += 1;
      continue;
    } else {
      out += '$';
      continue;
    }
    if (!ref.empty() && std::all_of(ref.begin(), ref.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      const size_t n = static_cast<size_t>(std::stoul(std::string(ref.substr(0, 3))));
      if (n < groups.size()) out += groups[n];
      continue;
    }
    for (const auto& [k, v] : named) {
      if (k == ref) out += v;
    }
  }
  return out;
}

MappingRule KubernetesPreset() {
  MappingRule r;
  r.kind = MappingRule::Kind::kKubernetes;
  r.pattern = "preset:kubernetes";
  r.labels = {{"tenant", "kubernetes"}, {"service", "${pod_uid}"}};
  return r;
}

MappingRule SystemdPreset() {
  MappingRule r;
  r.kind = MappingRule::Kind::kSystemd;
  r.pattern = "preset:systemd";
  r.labels = {{"tenant", "system"}, {"service", "${unit}"}};
  return r;
}

MappingRule PrescaleLayoutRule() {
  MappingRule r;
  r.kind = MappingRule::Kind::kRegex;
  r.pattern = "^/prescale/([^/]+)/([^/]+)$";
  r.regex = std::regex(r.pattern);
  r.labels = {{"tenant", "$1"}, {"service", "$2"}};
  return r;
}

std::optional<metrics::Labels> CgroupMapper::Map(std::string_view path) const {
  std::cmatch m;
  for (const MappingRule& rule : rules_) {
    metrics::Labels named;
    std::vector<std::string> groups;
    switch (rule.kind) {
      case MappingRule::Kind::kRegex:
        if (!std::regex_search(path.begin(), path.end(), m, rule.regex)) continue;
        groups = Groups(m);
        break;
      case MappingRule::Kind::kKubernetes: {
        bool systemd = false;
        if (!std::regex_match(path.begin(), path.end(), m, KubeCgroupfsRegex())) {
          if (!std::regex_match(path.begin(), path.end(), m, KubeSystemdRegex())) continue;
          systemd = true;
        }
        std::string uid = m[2].str();
        if (systemd) std::replace(uid.begin(), uid.end(), '_', '-');
        named = {{"container_id", m[3].str()}, {"pod_uid", uid}, {"qos", m[1].matched ? m[1].str() : "guaranteed"}};
        break;
      }
      case MappingRule::Kind::kSystemd:
        if (!std::regex_match(path.begin(), path.end(), m, SystemdRegex())) continue;
        named = {{"unit", m[1].str()}};
        break;
    }
    metrics::Labels out;
    if (rule.kind == MappingRule::Kind::kKubernetes) out = named;  // pod_uid, container_id, qos as labels
    for (const auto& [name, tmpl] : rule.labels) SetLabel(&out, name, ExpandTemplate(tmpl, groups, named));
    for (const char* required : {"tenant", "service"}) {
      if (std::none_of(out.begin(), out.end(), [&](const auto& l) { return l.first == required; })) {
        out.emplace_back(required, "");
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  if (!keep_unmatched_) return std::nullopt;
  return metrics::Labels{{"service", ""}, {"tenant", ""}};
}

}  // namespace prescale::agent
