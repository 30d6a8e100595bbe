#include "prescale/agent/cgroup_mapper.h"
#include "prescale/agent/cgroup_table.h"
#include "prescale/agent/pod_metadata.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
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
              ElementsAre(Pair("name", kContainer), Pair("pod_uid", kUid), Pair("qos", "burstable"),
                          Pair("service", kUid), Pair("tenant", "kubernetes")))
      << "without pod metadata: tenant kubernetes, service the pod UID, name the container id (as cAdvisor's)";
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
              ElementsAre(Pair("name", kContainer), Pair("pod_uid", kUid), Pair("qos", "guaranteed"),
                          Pair("service", kUid), Pair("tenant", "kubernetes")));
}

TEST(CgroupMapper, KubernetesSystemdDriverRestoresDashesInPodUid) {
  const std::string path = std::string("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod") +
                           kUidUnderscores + ".slice/cri-containerd-" + kContainer + ".scope";
  EXPECT_THAT(Kubernetes().Map(path).value(),
              ElementsAre(Pair("name", kContainer), Pair("pod_uid", kUid), Pair("qos", "burstable"),
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
    EXPECT_THAT(*labels, ::testing::Contains(Pair("name", kContainer)));
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
              ElementsAre(Pair("name", kContainer), Pair("pod_uid", kUid), Pair("qos", "besteffort"),
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

// A pod of Deployment shop/web with one started container (kContainer) and
// one not started yet, as the kubelet's /pods would describe it.
PodIndex ShopWebIndex() {
  kube::PodInfo pod;
  pod.uid = kUid;
  pod.namespace_name = "shop";
  pod.name = "web-7d4b9c8f6-x2k9p";
  pod.qos_class = "Burstable";
  pod.labels = {{"app", "web"}, {"team", "checkout"}, {"pod-template-hash", "7d4b9c8f6"}};
  pod.workload_kind = "Deployment";
  pod.workload = "web";
  pod.containers = {{"app", "registry.example/shop/web:1.4", kContainer, "containerd"},
                    {"sidecar", "registry.example/proxy:2", "", ""}};
  std::vector<kube::PodInfo> pods;
  pods.push_back(std::move(pod));
  return PodIndex(std::move(pods), 1);
}

TEST(CgroupMapper, KubernetesJoinsTheContainerToItsPodWithCadvisorsLabels) {
  const PodIndex index = ShopWebIndex();
  const std::string path = std::string("/kubepods/burstable/pod") + kUid + "/" + kContainer;
  bool unknown = false;
  EXPECT_THAT(Kubernetes().Map(path, &index, &unknown).value(),
              ElementsAre(Pair("container", "app"), Pair("image", "registry.example/shop/web:1.4"),
                          Pair("name", kContainer), Pair("namespace", "shop"), Pair("pod", "web-7d4b9c8f6-x2k9p"),
                          Pair("pod_uid", kUid), Pair("qos", "burstable"), Pair("service", "web"),
                          Pair("tenant", "shop"), Pair("workload", "web"), Pair("workload_kind", "Deployment")));
  EXPECT_FALSE(unknown);
}

TEST(CgroupMapper, KubernetesUnknownPodKeepsUidLabelsAndAsksForARefresh) {
  const PodIndex index = ShopWebIndex();
  const std::string other = "0a0b0c0d-1111-2222-3333-444455556666";
  bool unknown = false;
  const auto labels = Kubernetes().Map(std::string("/kubepods/pod") + other + "/" + kContainer, &index, &unknown);
  ASSERT_TRUE(labels.has_value());
  EXPECT_TRUE(unknown);
  EXPECT_THAT(*labels, ::testing::Contains(Pair("tenant", "kubernetes")));
  EXPECT_THAT(*labels, ::testing::Contains(Pair("service", other)));
  EXPECT_THAT(*labels, ::testing::Not(::testing::Contains(::testing::Key("namespace"))));
}

TEST(CgroupMapper, KubernetesContainerNotStartedYetAsksForARefreshButKeepsThePod) {
  // A second container id in the pod's cgroup while the pod's status still lacks one: the
  // sidecar just started. The pod's labels apply; container and image come with the refresh.
  const PodIndex index = ShopWebIndex();
  const std::string sidecar(64, 'e');
  bool unknown = false;
  const auto labels = Kubernetes().Map(std::string("/kubepods/burstable/pod") + kUid + "/" + sidecar, &index, &unknown);
  ASSERT_TRUE(labels.has_value());
  EXPECT_TRUE(unknown);
  EXPECT_THAT(*labels, ::testing::Contains(Pair("namespace", "shop")));
  EXPECT_THAT(*labels, ::testing::Contains(Pair("service", "web")));
  EXPECT_THAT(*labels, ::testing::Not(::testing::Contains(::testing::Key("container"))));
}

TEST(CgroupMapper, KubernetesSandboxOfAFullyStartedPodIsNotUnknown) {
  // Every container of the pod has its id: another id under the pod is its sandbox ("pause"),
  // which no refresh would name; cAdvisor gives it no container or image label either.
  std::vector<kube::PodInfo> pods;
  kube::PodInfo pod;
  pod.uid = kUid;
  pod.namespace_name = "shop";
  pod.name = "db-0";
  pod.workload_kind = "StatefulSet";
  pod.workload = "db";
  pod.containers = {{"db", "postgres:15", kContainer, "containerd"}};
  pods.push_back(pod);
  const PodIndex index(std::move(pods), 3);
  bool unknown = false;
  const auto labels =
      Kubernetes().Map(std::string("/kubepods/pod") + kUid + "/" + std::string(64, 'a'), &index, &unknown);
  ASSERT_TRUE(labels.has_value());
  EXPECT_FALSE(unknown);
  EXPECT_THAT(*labels, ::testing::Contains(Pair("workload_kind", "StatefulSet")));
  EXPECT_THAT(*labels, ::testing::Not(::testing::Contains(::testing::Key("image"))));
}

TEST(CgroupMapper, KubernetesTemplatesMayNameAPodLabel) {
  MappingRule rule = KubernetesPreset();
  rule.labels = {{"tenant", "${label:team}"}, {"service", "${namespace}-${workload}"}};
  const CgroupMapper m({rule}, false);
  const PodIndex index = ShopWebIndex();
  const auto labels = m.Map(std::string("/kubepods/burstable/pod") + kUid + "/" + kContainer, &index);
  ASSERT_TRUE(labels.has_value());
  EXPECT_THAT(*labels, ::testing::Contains(Pair("tenant", "checkout")));
  EXPECT_THAT(*labels, ::testing::Contains(Pair("service", "shop-web")));
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

namespace prescale::agent {
namespace {

// One discovery cycle that walks `paths`.
void Discover(CgroupTable& table, const std::vector<std::string>& paths) {
  table.BeginCycle(true);
  for (const std::string& p : paths) ASSERT_NE(table.Touch(p), nullptr);
  table.EndCycle();
}

const metrics::Labels& LabelsOf(const CgroupTable& table, const std::string& path) {
  for (const TrackedCgroup* cg : table.included()) {
    if (cg->path == path) return cg->labels;
  }
  static const metrics::Labels kNone;
  ADD_FAILURE() << path << " is not included";
  return kNone;
}

TEST(CgroupTable, ANewPodIndexRelabelsKnownCgroupsAndOnlyNewCgroupsAskForARefresh) {
  const CgroupMapper mapper({KubernetesPreset()}, false);
  CgroupTable table(mapper, "node-1", 100);
  const std::string web = std::string("/kubepods/burstable/pod") + kUid + "/" + kContainer;
  Discover(table, {web});
  EXPECT_THAT(LabelsOf(table, web), ::testing::Contains(Pair("tenant", "kubernetes")));
  EXPECT_FALSE(table.TakeUnknownPod()) << "without a pod source nothing is asked for";

  // A first answer that lacks the pod: the known cgroup is mapped again but does not ask again
  // (it would after every read); a cgroup first seen now does.
  table.SetPods(std::make_shared<const PodIndex>(std::vector<kube::PodInfo>{}, 1));
  Discover(table, {web});
  EXPECT_FALSE(table.TakeUnknownPod());
  const std::string other = "/kubepods/pod0a0b0c0d-1111-2222-3333-444455556666/" + std::string(64, 'f');
  Discover(table, {web, other});
  EXPECT_TRUE(table.TakeUnknownPod());
  EXPECT_FALSE(table.TakeUnknownPod()) << "the flag resets";

  // The answer with the pod: its cgroup is relabelled at the next discovery.
  table.SetPods(std::make_shared<const PodIndex>(ShopWebIndex()));
  EXPECT_THAT(LabelsOf(table, web), ::testing::Contains(Pair("tenant", "kubernetes"))) << "not before discovery";
  Discover(table, {web, other});
  EXPECT_THAT(LabelsOf(table, web), ::testing::Contains(Pair("tenant", "shop")));
  EXPECT_THAT(LabelsOf(table, web), ::testing::Contains(Pair("pod", "web-7d4b9c8f6-x2k9p")));
  EXPECT_THAT(LabelsOf(table, other), ::testing::Contains(Pair("tenant", "kubernetes")));
}

}  // namespace
}  // namespace prescale::agent
