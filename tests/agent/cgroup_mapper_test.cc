#include "prescale/agent/cgroup_mapper.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace prescale::agent {
namespace {

using metrics::Labels;
using ::testing::ElementsAre;
using ::testing::Pair;

constexpr char kUid[] = "2f9ae3c1-5b7e-4c0a-9d1e-0123456789ab";
constexpr char kUidUnderscores[] = "2f9ae3c1_5b7e_4c0a_9d1e_0123456789ab";
constexpr char kContainer[] = "4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170655e4d";

MappingRule RegexRule(const std::string& pattern, Labels labels) {
  MappingRule r;
  r.kind = MappingRule::Kind::kRegex;
  r.pattern = pattern;
  r.regex = std::regex(pattern);
  r.labels = std::move(labels);
  return r;
}

CgroupMapper Kubernetes() { return CgroupMapper({KubernetesPreset()}, false); }

TEST(CgroupMapper, PrescaleLayoutMapsTenantAndService) {
  CgroupMapper m({PrescaleLayoutRule()}, false);
  EXPECT_THAT(m.Map("/prescale/acme/web").value(), ElementsAre(Pair("service", "web"), Pair("tenant", "acme")));
  EXPECT_FALSE(m.Map("/prescale/acme").has_value());
  EXPECT_FALSE(m.Map("/prescale/acme/web/worker").has_value());
  EXPECT_FALSE(m.Map("/other/acme/web").has_value());
  EXPECT_FALSE(m.Map("/").has_value());
}

TEST(CgroupMapper, RegexRuleExpandsCaptureGroups) {
  CgroupMapper m({RegexRule(R"(^/tenants/([a-z]+)/apps/([a-z]+)-(\d+)$)",
                            {{"tenant", "t-$1"}, {"service", "${2}"}, {"replica", "$3"}, {"price", "$$5"}})},
                 false);
  EXPECT_THAT(
      m.Map("/tenants/acme/apps/shop-3").value(),
      ElementsAre(Pair("price", "$5"), Pair("replica", "3"), Pair("service", "shop"), Pair("tenant", "t-acme")));
  EXPECT_FALSE(m.Map("/tenants/ACME/apps/shop-3").has_value());
}

TEST(CgroupMapper, RegexRuleWithoutTenantOrServiceStillHasBoth) {
  CgroupMapper m({RegexRule("^/jobs/(.+)$", {{"job", "$1"}})}, false);
  EXPECT_THAT(m.Map("/jobs/nightly").value(),
              ElementsAre(Pair("job", "nightly"), Pair("service", ""), Pair("tenant", "")));
}

TEST(CgroupMapper, RegexRuleSearchesAnywhereInThePath) {
  // Unanchored patterns match a part of the path (std::regex_search), as the config documents.
  CgroupMapper m({RegexRule("svc-([a-z]+)", {{"tenant", "t"}, {"service", "$1"}})}, false);
  EXPECT_THAT(m.Map("/a/b/svc-cart/c").value(), ElementsAre(Pair("service", "cart"), Pair("tenant", "t")));
}

TEST(CgroupMapper, FirstMatchingRuleWins) {
  CgroupMapper m({RegexRule("^/prescale/special/(.+)$", {{"tenant", "vip"}, {"service", "$1"}}), PrescaleLayoutRule()},
                 false);
  EXPECT_THAT(m.Map("/prescale/special/api").value(), ElementsAre(Pair("service", "api"), Pair("tenant", "vip")));
  EXPECT_THAT(m.Map("/prescale/acme/api").value(), ElementsAre(Pair("service", "api"), Pair("tenant", "acme")));
}

TEST(CgroupMapper, KubernetesCgroupfsBurstableContainer) {
  const std::string path = std::string("/kubepods/burstable/pod") + kUid + "/" + kContainer;
  EXPECT_THAT(Kubernetes().Map(path).value(),
              ElementsAre(Pair("container_id", kContainer), Pair("pod_uid", kUid), Pair("qos", "burstable"),
                          Pair("service", kUid), Pair("tenant", "kubernetes")));
}

TEST(CgroupMapper, KubernetesCgroupfsBestEffortContainer) {
  const std::string path = std::string("/kubepods/besteffort/pod") + kUid + "/" + kContainer;
  const auto labels = Kubernetes().Map(path);
  ASSERT_TRUE(labels.has_value());
  EXPECT_THAT(*labels, ::testing::Contains(Pair("qos", "besteffort")));
}

TEST(CgroupMapper, KubernetesCgroupfsGuaranteedPodSitsUnderKubepods) {
  const std::string path = std::string("/kubepods/pod") + kUid + "/" + kContainer;
  EXPECT_THAT(Kubernetes().Map(path).value(),
              ElementsAre(Pair("container_id", kContainer), Pair("pod_uid", kUid), Pair("qos", "guaranteed"),
                          Pair("service", kUid), Pair("tenant", "kubernetes")));
}

TEST(CgroupMapper, KubernetesSystemdDriverRestoresDashesInPodUid) {
  const std::string path = std::string("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod") +
                           kUidUnderscores + ".slice/cri-containerd-" + kContainer + ".scope";
  EXPECT_THAT(Kubernetes().Map(path).value(),
              ElementsAre(Pair("container_id", kContainer), Pair("pod_uid", kUid), Pair("qos", "burstable"),
                          Pair("service", kUid), Pair("tenant", "kubernetes")));
}

TEST(CgroupMapper, KubernetesSystemdDriverGuaranteedPod) {
  const std::string path =
      std::string("/kubepods.slice/kubepods-pod") + kUidUnderscores + ".slice/cri-containerd-" + kContainer + ".scope";
  const auto labels = Kubernetes().Map(path);
  ASSERT_TRUE(labels.has_value());
  EXPECT_THAT(*labels, ::testing::Contains(Pair("qos", "guaranteed")));
  EXPECT_THAT(*labels, ::testing::Contains(Pair("pod_uid", kUid)));
}

TEST(CgroupMapper, KubernetesSystemdDriverAcceptsCrioAndDockerScopes) {
  for (const std::string runtime : {"crio-", "docker-"}) {
    const std::string path = std::string("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod") +
                             kUidUnderscores + ".slice/" + runtime + kContainer + ".scope";
    const auto labels = Kubernetes().Map(path);
    ASSERT_TRUE(labels.has_value()) << path;
    EXPECT_THAT(*labels, ::testing::Contains(Pair("container_id", kContainer)));
    EXPECT_THAT(*labels, ::testing::Contains(Pair("qos", "besteffort")));
  }
}

TEST(CgroupMapper, KubernetesSkipsCrioConmonScopes) {
  const std::string path = std::string("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod") +
                           kUidUnderscores + ".slice/crio-conmon-" + kContainer + ".scope";
  EXPECT_FALSE(Kubernetes().Map(path).has_value());
}

TEST(CgroupMapper, KubernetesSkipsPodLevelAndMalformedContainerCgroups) {
  const CgroupMapper m = Kubernetes();
  EXPECT_FALSE(m.Map(std::string("/kubepods/burstable/pod") + kUid).has_value()) << "pod level, no container";
  EXPECT_FALSE(m.Map("/kubepods/burstable").has_value());
  EXPECT_FALSE(m.Map(std::string("/kubepods/burstable/pod") + kUid + "/abc123").has_value()) << "short id";
  EXPECT_FALSE(m.Map(std::string("/kubepods/guaranteed/pod") + kUid + "/" + kContainer).has_value())
      << "no such qos class";
  EXPECT_FALSE(m.Map(std::string("/kubepods/burstable/pod") + kUid + "/" + kContainer + "/extra").has_value());
  EXPECT_FALSE(
      m.Map(std::string("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod") + kUidUnderscores + ".slice")
          .has_value());
}

TEST(CgroupMapper, KubernetesPresetLabelsCanBeOverridden) {
  MappingRule rule = KubernetesPreset();
  rule.labels = {{"tenant", "k8s-${qos}"}, {"service", "${container_id}"}};
  CgroupMapper m({rule}, false);
  const std::string path = std::string("/kubepods/besteffort/pod") + kUid + "/" + kContainer;
  EXPECT_THAT(m.Map(path).value(),
              ElementsAre(Pair("container_id", kContainer), Pair("pod_uid", kUid), Pair("qos", "besteffort"),
                          Pair("service", kContainer), Pair("tenant", "k8s-besteffort")));
}

TEST(CgroupMapper, SystemdPresetMapsServiceUnits) {
  CgroupMapper m({SystemdPreset()}, false);
  EXPECT_THAT(m.Map("/system.slice/nginx.service").value(),
              ElementsAre(Pair("service", "nginx"), Pair("tenant", "system")));
  EXPECT_THAT(m.Map("/system.slice/getty@tty1.service").value(),
              ElementsAre(Pair("service", "getty@tty1"), Pair("tenant", "system")));
  EXPECT_FALSE(m.Map("/system.slice").has_value());
  EXPECT_FALSE(m.Map("/system.slice/session-1.scope").has_value());
  EXPECT_FALSE(m.Map("/user.slice/user-1000.slice/user@1000.service").has_value());
}

TEST(CgroupMapper, UnmatchedCgroupsAreDroppedUnlessKept) {
  EXPECT_FALSE(CgroupMapper({PrescaleLayoutRule()}, false).Map("/init.scope").has_value());
  EXPECT_THAT(CgroupMapper({PrescaleLayoutRule()}, true).Map("/init.scope").value(),
              ElementsAre(Pair("service", ""), Pair("tenant", "")));
  EXPECT_THAT(CgroupMapper({}, true).Map("/").value(), ElementsAre(Pair("service", ""), Pair("tenant", "")));
  // A matching rule still wins when unmatched cgroups are kept.
  EXPECT_THAT(CgroupMapper({PrescaleLayoutRule()}, true).Map("/prescale/a/b").value(),
              ElementsAre(Pair("service", "b"), Pair("tenant", "a")));
}

TEST(CgroupMapper, DefaultRulesCoverAllThreeLayouts) {
  CgroupMapper m({PrescaleLayoutRule(), KubernetesPreset(), SystemdPreset()}, false);
  EXPECT_TRUE(m.Map("/prescale/acme/web").has_value());
  EXPECT_TRUE(m.Map(std::string("/kubepods/pod") + kUid + "/" + kContainer).has_value());
  EXPECT_TRUE(m.Map("/system.slice/sshd.service").has_value());
  EXPECT_FALSE(m.Map("/user.slice").has_value());
}

TEST(CgroupMapper, LabelsAreSortedByName) {
  CgroupMapper m({RegexRule("^/(.)/(.)/(.)$", {{"zeta", "$1"}, {"tenant", "$2"}, {"alpha", "$3"}})}, false);
  const Labels labels = m.Map("/a/b/c").value();
  EXPECT_TRUE(std::is_sorted(labels.begin(), labels.end()));
  EXPECT_THAT(labels, ElementsAre(Pair("alpha", "c"), Pair("service", ""), Pair("tenant", "b"), Pair("zeta", "a")));
}

TEST(ExpandTemplate, ReplacesNumberedAndNamedReferences) {
  const std::vector<std::string> groups = {"whole", "one", "two"};
  const Labels named = {{"unit", "nginx"}};
  EXPECT_EQ(ExpandTemplate("$1-${2}", groups, named), "one-two");
  EXPECT_EQ(ExpandTemplate("${unit}.service", groups, named), "nginx.service");
  EXPECT_EQ(ExpandTemplate("$0", groups, named), "whole");
  EXPECT_EQ(ExpandTemplate("plain", groups, named), "plain");
}

TEST(ExpandTemplate, UnknownReferencesExpandToEmpty) {
  const std::vector<std::string> groups = {"whole", "one"};
  EXPECT_EQ(ExpandTemplate("[$7]", groups, {}), "[]");
  EXPECT_EQ(ExpandTemplate("[${nope}]", groups, {}), "[]");
  EXPECT_EQ(ExpandTemplate("[${99999999999999999999}]", groups, {}), "[]");
}

TEST(ExpandTemplate, KeepsLiteralDollars) {
  EXPECT_EQ(ExpandTemplate("$$1", {"w", "one"}, {}), "$1");
  EXPECT_EQ(ExpandTemplate("cost $x", {}, {}), "cost $x");
  EXPECT_EQ(ExpandTemplate("end$", {}, {}), "end$");
  EXPECT_EQ(ExpandTemplate("open ${1", {"w", "one"}, {}), "open ${1");
}

}  // namespace
}  // namespace prescale::agent
