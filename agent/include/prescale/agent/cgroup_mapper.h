// CgroupMapper: turns a cgroup path (relative to its hierarchy root, e.g.
// "/prescale/acme/web") into the labels prescale attaches to its series:
// always `tenant` and `service`, plus whatever the rule adds (`pod_uid`,
// `container_id`, `qos`, ...). Rules are tried in order; the first match wins.
// Immutable after construction; thread-safe.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/metrics/types.h"

namespace prescale::agent {

struct MappingRule {
  enum class Kind { kRegex, kKubernetes, kSystemd };
  Kind kind = Kind::kRegex;
  std::string pattern;  // for kRegex, as written in the config
  std::regex regex;
  // Label templates: "$1".."$9" or "${1}" refer to capture groups; presets
  // also offer ${pod_uid}, ${container_id}, ${qos} (kubernetes) and ${unit} (systemd).
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
  // when no rule matches and unmatched cgroups are left out.
  std::optional<metrics::Labels> Map(std::string_view path) const;

 private:
  std::vector<MappingRule> rules_;
  bool keep_unmatched_;
};

// Expands $N / ${N} / ${name} in `tmpl`; unknown references expand to "".
std::string ExpandTemplate(std::string_view tmpl, const std::vector<std::string>& groups, const metrics::Labels& named);

}  // namespace prescale::agent
