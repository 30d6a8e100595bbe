// CgroupMapper: turns a cgroup path (relative to its hierarchy root, e.g.
// "/prescale/acme/web") into the labels prescale attaches to its series:
// always `tenant` and `service`, plus whatever the rule adds. Rules are tried
// in order; the first match wins. A Kubernetes container cgroup is joined to
// its pod's metadata (a PodIndex from the kubelet) and carries cAdvisor's
// labels: namespace, pod, container, image, name (the runtime's container
// id), with prescale's pod_uid, qos, workload_kind and workload beside them.
// Immutable after construction; thread-safe.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/metrics/types.h"

namespace prescale::agent {

class PodIndex;

struct MappingRule {
  enum class Kind { kRegex, kKubernetes, kSystemd };
  Kind kind = Kind::kRegex;
  std::string pattern;  // for kRegex, as written in the config
  std::regex regex;
  // Label templates: "$1".."$9" or "${1}" refer to capture groups; presets
  // also offer ${unit} (systemd) and, for kubernetes, ${pod_uid},
  // ${container_id}, ${qos} from the path and, once the pod is known,
  // ${namespace}, ${pod}, ${container}, ${image}, ${workload_kind},
  // ${workload} and ${label:<pod label>}. The kubernetes preset's tenant is
  // ${namespace} and its service ${workload}; while a pod is unknown (no pod
  // source, or not in its answer yet) a tenant or service that expands to
  // nothing is "kubernetes" and the pod UID, as before pod metadata.
  metrics::Labels labels;
};

// The preset rules, with their default labels.
MappingRule KubernetesPreset();
MappingRule SystemdPreset();
// The rule for prescale's own layout: /prescale/<tenant>/<service>.
MappingRule PrescaleLayoutRule();

class CgroupMapper {
 public:
  CgroupMapper(std::vector<MappingRule> rules, bool keep_unmatched)
      : rules_(std::move(rules)), keep_unmatched_(keep_unmatched) {}

  // Labels sorted by name, `tenant` and `service` always among them; nullopt
  // when no rule matches and unmatched cgroups are left out. `pods` (optional)
  // joins Kubernetes cgroups to their pod; *unknown_pod (optional) is set
  // when a Kubernetes cgroup's pod or container is not in it, so the caller
  // can ask the pod source for a fresher answer.
  std::optional<metrics::Labels> Map(std::string_view path, const PodIndex* pods = nullptr,
                                     bool* unknown_pod = nullptr) const;

 private:
  std::vector<MappingRule> rules_;
  bool keep_unmatched_;
};

// Expands $N / ${N} / ${name} in `tmpl`; unknown references expand to "".
std::string ExpandTemplate(std::string_view tmpl, const std::vector<std::string>& groups, const metrics::Labels& named);

}  // namespace prescale::agent
