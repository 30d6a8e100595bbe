#include "prescale/agent/cgroup_mapper.h"

#include <algorithm>

#include "prescale/agent/pod_metadata.h"

namespace prescale::agent {
namespace {

// kubelet, cgroupfs driver: [<parent>]/kubepods[/<qos>]/pod<uid>/<container id>. The parent is
// there on nested clusters (a kubelet whose cgroup root is not "/", such as kind's nodes).
const std::regex& KubeCgroupfsRegex() {
  static const std::regex kPattern(
      R"(^(?:/.*)?/kubepods(?:/(burstable|besteffort))?/pod([0-9a-fA-F-]+)/([0-9a-f]{64})$)");
  return kPattern;
}

// kubelet, systemd driver:
// [<parent>]/kubepods.slice[/kubepods-<qos>.slice]/kubepods[-<qos>]-pod<uid_>.slice/<runtime>-<id>.scope
const std::regex& KubeSystemdRegex() {
  static const std::regex kPattern(
      R"(^(?:/.*)?/kubepods\.slice(?:/kubepods-(burstable|besteffort)\.slice)?/kubepods(?:-(?:burstable|besteffort))?-pod([0-9a-fA-F_]+)\.slice/(?:cri-containerd|crio|docker)-([0-9a-f]{64})\.scope$)");
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

const std::string& Named(const metrics::Labels& named, std::string_view name) {
  static const std::string kEmpty;
  for (const auto& [k, v] : named) {
    if (k == name) return v;
  }
  return kEmpty;
}

// The template values of a Kubernetes container cgroup: what its path says,
// and what its pod's metadata adds when `pods` knows the pod. Returns whether
// it does; *unknown_pod is set when the pod, or this container of it, is not
// in `pods` (a container's id appears in the pod's status once it started).
bool JoinPod(const PodIndex* pods, const std::string& uid, const std::string& container_id, const std::string& qos,
             metrics::Labels* named, bool* unknown_pod) {
  *named = {{"container_id", container_id}, {"pod_uid", uid}, {"qos", qos}};
  const kube::PodInfo* pod = pods != nullptr ? pods->Find(uid) : nullptr;
  if (pod == nullptr) {
    if (pods != nullptr && unknown_pod != nullptr) *unknown_pod = true;
    return false;
  }
  const kube::ContainerInfo* container = PodIndex::FindContainer(*pod, container_id);
  // An id the status lacks is a container not started yet only while some container of the pod
  // has no id; otherwise it is the pod's sandbox ("pause"), which no status names, and asking
  // for a fresher list would not help.
  if (container == nullptr && unknown_pod != nullptr && !pod->containers.empty() &&
      std::any_of(pod->containers.begin(), pod->containers.end(), [](const auto& c) { return c.id.empty(); })) {
    *unknown_pod = true;
  }
  named->emplace_back("namespace", pod->namespace_name);
  named->emplace_back("pod", pod->name);
  named->emplace_back("container", container != nullptr ? container->name : "");
  named->emplace_back("image", container != nullptr ? container->image : "");
  named->emplace_back("workload_kind", pod->workload_kind);
  named->emplace_back("workload", pod->workload);
  for (const auto& [k, v] : pod->labels) named->emplace_back("label:" + k, v);
  return true;
}

// The labels every Kubernetes container series carries: cAdvisor's schema
// (namespace, pod, container, image; `name` is the runtime's container id, as
// cAdvisor's) and prescale's own beside them. Empty values are left out of
// the exposition, as cAdvisor leaves out what it does not know.
metrics::Labels KubernetesLabels(const metrics::Labels& named) {
  metrics::Labels out = {
      {"name", Named(named, "container_id")}, {"pod_uid", Named(named, "pod_uid")}, {"qos", Named(named, "qos")}};
  for (const char* key : {"namespace", "pod", "container", "image", "workload_kind", "workload"}) {
    const std::string& v = Named(named, key);
    if (!v.empty()) out.emplace_back(key, v);
  }
  return out;
}

// A pod the index does not know yet still gets a tenant and a service of its
// own, so its use is neither lost nor merged with other unknown pods'.
void KeepUnknownPodsApart(metrics::Labels* out, const metrics::Labels& named) {
  for (auto& [k, v] : *out) {
    if (k == "tenant" && v.empty()) v = "kubernetes";
    if (k == "service" && v.empty()) v = Named(named, "pod_uid");
  }
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
  r.labels = {{"tenant", "${namespace}"}, {"service", "${workload}"}};
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

std::optional<metrics::Labels> CgroupMapper::Map(std::string_view path, const PodIndex* pods, bool* unknown_pod) const {
  std::cmatch m;
  for (const MappingRule& rule : rules_) {
    metrics::Labels named;
    bool pod_known = false;
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
        pod_known = JoinPod(pods, uid, m[3].str(), m[1].matched ? m[1].str() : "guaranteed", &named, unknown_pod);
        break;
      }
      case MappingRule::Kind::kSystemd:
        if (!std::regex_match(path.begin(), path.end(), m, SystemdRegex())) continue;
        named = {{"unit", m[1].str()}};
        break;
    }
    metrics::Labels out;
    if (rule.kind == MappingRule::Kind::kKubernetes) out = KubernetesLabels(named);
    for (const auto& [name, tmpl] : rule.labels) SetLabel(&out, name, ExpandTemplate(tmpl, groups, named));
    if (rule.kind == MappingRule::Kind::kKubernetes && !pod_known) KeepUnknownPodsApart(&out, named);
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
