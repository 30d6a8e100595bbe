// The agent library against real cgroups on this machine: processes with a
// known footprint (prescale-test-burner) run in a CgroupSandbox, the agent
// collects, and its exposition, parsed with the strict text parser, must agree
// with what the kernel told the processes themselves (getrusage, /proc).
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "prescale/agent/agent.h"
#include "prescale/agent/config.h"
#include "prescale/metrics/text_parser.h"
#include "tests/agent/kubelet_stand_in.h"
#include "tests/support/cgroup_sandbox.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using metrics::MetricFamily;
using metrics::Sample;
using ::prescale::testing::BinDir;
using ::prescale::testing::CgroupSandbox;
using ::prescale::testing::PollUntil;
using ::prescale::testing::Subprocess;
using namespace std::chrono_literals;
namespace testing_k8s = ::prescale::agent::testing;

constexpr uint64_t kMemBytes = 200ull << 20;
constexpr const char* kNetFamilies[] = {
    "container_network_receive_bytes_total",   "container_network_receive_packets_total",
    "container_network_receive_errors_total",  "container_network_receive_packets_dropped_total",
    "container_network_transmit_bytes_total",  "container_network_transmit_packets_total",
    "container_network_transmit_errors_total", "container_network_transmit_packets_dropped_total"};

double Seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

bool HasLabels(const Sample& s, const metrics::Labels& match) {
  for (const auto& [k, v] : match) {
    bool found = false;
    for (const auto& [sk, sv] : s.labels) found = found || (sk == k && sv == v);
    if (!found) return false;
  }
  return true;
}

// A parsed exposition with lookups by family name and labels.
struct Exposition {
  std::vector<MetricFamily> families;

  std::vector<const Sample*> Samples(std::string_view name, const metrics::Labels& match) const {
    std::vector<const Sample*> out;
    for (const MetricFamily& f : families) {
      if (f.name != name) continue;
      for (const Sample& s : f.samples) {
        if (HasLabels(s, match)) out.push_back(&s);
      }
    }
    return out;
  }
  // The value of the one sample of `name` carrying `match`; nullopt when there is none.
  std::optional<double> Value(std::string_view name, const metrics::Labels& match) const {
    const auto found = Samples(name, match);
    EXPECT_LE(found.size(), 1u) << name << " has several samples with the given labels";
    if (found.empty()) return std::nullopt;
    return found.front()->value;
  }
  // Samples of any family carrying label = value.
  size_t CountWithLabel(std::string_view label, std::string_view value) const {
    size_t n = 0;
    for (const MetricFamily& f : families) {
      for (const Sample& s : f.samples) n += HasLabels(s, {{std::string(label), std::string(value)}}) ? 1 : 0;
    }
    return n;
  }
};

size_t ThreadsOf(pid_t pid) {
  size_t n = 0;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.' ? 1 : 0;
    ::closedir(d);
  }
  return n;
}

class LiveCgroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string reason = CgroupSandbox::SkipReason();
    if (!reason.empty()) GTEST_SKIP() << "needs real cgroups: " << reason;
    burner_ = BinDir() + "/prescale-test-burner";
    ASSERT_EQ(::access(burner_.c_str(), X_OK), 0) << burner_ << " is missing: build the prescale-test-burner target";
    auto sandbox = CgroupSandbox::Create();
    ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
    sandbox_ = std::move(sandbox).value();

    AgentConfig config = DefaultAgentConfig();
    config.node = "live-test";
    // Walk the trees on every Collect(), so cgroups a test creates show at once.
    config.discovery_interval = std::chrono::milliseconds(0);
    MappingRule rule;
    rule.kind = MappingRule::Kind::kRegex;
    rule.pattern = sandbox_->MappingPattern();
    rule.regex = std::regex(rule.pattern);
    rule.labels = {{"tenant", "$1"}, {"service", "$2"}};
    config.mapping = {rule};
    auto agent = Agent::Create(std::move(config), SystemClock::Instance());
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agent_ = std::move(agent).value();
  }

  std::string MakeCgroup(const std::string& relative) {
    auto path = sandbox_->MakeCgroup(relative);
    EXPECT_TRUE(path.ok()) << path.status().ToString();
    return path.ok() ? *path : "";
  }

  // One collection cycle, its exposition parsed strictly.
  Exposition Collect() {
    agent_->CollectOnce();
    auto parsed = metrics::ParseTextExposition(agent_->Exposition());
    EXPECT_TRUE(parsed.ok()) << "the agent's exposition does not parse: " << parsed.status().ToString();
    return Exposition{parsed.ok() ? std::move(parsed).value() : std::vector<MetricFamily>{}};
  }

  // Starts the burner with `args` in `cgroup`, waiting for `ready` on its stdout when given.
  void StartBurner(Subprocess* p, const std::string& cgroup, const std::vector<std::string>& args,
                   const std::string& ready = "") {
    std::vector<std::string> argv{burner_};
    argv.insert(argv.end(), args.begin(), args.end());
    ASSERT_TRUE(p->Start(argv, sandbox_->ProcsFiles(cgroup)));
    if (!ready.empty()) {
      ASSERT_TRUE(PollUntil([&] { return p->Stdout().find(ready) != std::string::npos; }, 20s))
          << "burner printed no '" << ready << "': " << p->Stderr();
    }
  }

  std::unique_ptr<CgroupSandbox> sandbox_;  // destroyed last: it kills what the tests left running
  std::unique_ptr<Agent> agent_;
  std::string burner_;
};

TEST_F(LiveCgroupsTest, CpuUsageMatchesGetrusageOfTheBurner) {
  const std::string cg = MakeCgroup("acme/cpu");
  Subprocess burner;
  StartBurner(&burner, cg, {"cpu", "2", "2.0"});
  rusage ru{};
  ASSERT_EQ(burner.Wait(60s, &ru), 0) << burner.Stderr();
  const double user_s = Seconds(ru.ru_utime);
  const double system_s = Seconds(ru.ru_stime);
  const double total_s = user_s + system_s;
  ASSERT_GE(total_s, 2.0) << burner.Stdout();

  const Exposition e = Collect();
  const metrics::Labels id{{"id", cg}, {"tenant", "acme"}, {"service", "cpu"}, {"node", "live-test"}};
  const auto usage = e.Value("container_cpu_usage_seconds_total", id);
  const auto user = e.Value("container_cpu_user_seconds_total", id);
  const auto system = e.Value("container_cpu_system_seconds_total", id);
  ASSERT_TRUE(usage && user && system) << "no CPU series for " << cg;
  std::printf("measured: agent cpu %.4fs (user %.3f system %.3f), getrusage %.4fs (user %.3f system %.3f)\n", *usage,
              *user, *system, total_s, user_s, system_s);
  EXPECT_NEAR(*usage, total_s, 0.10 * total_s);
  // user and system come from tick-sampled cpuacct.stat (v1) or cpu.stat (v2): looser.
  EXPECT_NEAR(*user, user_s, 0.25 * user_s + 0.05);
  EXPECT_NEAR(*system, system_s, 0.25 * system_s + 0.10);
  EXPECT_NEAR(*user + *system, total_s, 0.15 * total_s);
}

TEST_F(LiveCgroupsTest, MemoryWorkingSetMatchesTouchedBytes) {
  const std::string cg = MakeCgroup("acme/mem");
  Subprocess burner;
  StartBurner(&burner, cg, {"mem", std::to_string(kMemBytes)}, "touched");

  const Exposition e = Collect();
  const metrics::Labels id{{"id", cg}, {"service", "mem"}};
  const auto working_set = e.Value("container_memory_working_set_bytes", id);
  const auto rss = e.Value("container_memory_rss", id);
  const auto usage = e.Value("container_memory_usage_bytes", id);
  ASSERT_TRUE(working_set && rss && usage) << "no memory series for " << cg;
  std::printf("measured: working set %.0f, rss %.0f, usage %.0f bytes; touched %llu\n", *working_set, *rss, *usage,
              static_cast<unsigned long long>(kMemBytes));
  const double expected = static_cast<double>(kMemBytes);
  EXPECT_NEAR(*working_set, expected, 0.10 * expected);
  EXPECT_NEAR(*rss, expected, 0.10 * expected);
  EXPECT_GE(*usage, *working_set);
  EXPECT_EQ(e.Value("container_spec_memory_limit_bytes", id), 0.0);  // no limit set
}

TEST_F(LiveCgroupsTest, ThreadsCountTheBurnersThreads) {
  const std::string cg = MakeCgroup("acme/threads");
  // Three busy threads: keep them to a tenth of a CPU so parallel tests keep theirs.
  ASSERT_TRUE(sandbox_->SetCpuQuota(cg, 10'000, 100'000).ok());
  Subprocess burner;
  StartBurner(&burner, cg, {"cpu", "3", "0"});
  ASSERT_TRUE(PollUntil([&] { return ThreadsOf(burner.pid()) == 4; }, 10s)) << "the burner did not start 3 threads";

  std::optional<double> threads;
  PollUntil(
      [&] {
        threads = Collect().Value("container_threads", {{"id", cg}});
        return threads == 4.0;
      },
      10s);
  EXPECT_EQ(threads, 4.0) << "main thread + 3 burning threads";
  EXPECT_EQ(ThreadsOf(burner.pid()), 4u);
}

TEST_F(LiveCgroupsTest, CgroupAppearsAndDisappearsBetweenCollections) {
  const std::string stays = MakeCgroup("acme/stays");
  const std::string cg = MakeCgroup("acme/ephemeral");
  {
    const Exposition e = Collect();
    EXPECT_TRUE(e.Value("container_cpu_usage_seconds_total", {{"id", cg}, {"service", "ephemeral"}}).has_value());
    EXPECT_TRUE(e.Value("container_memory_usage_bytes", {{"id", cg}}).has_value());
    EXPECT_EQ(e.Value("container_threads", {{"id", cg}}), 0.0);
    EXPECT_TRUE(e.Value("container_cpu_usage_seconds_total", {{"id", stays}}).has_value());
  }
  ASSERT_TRUE(sandbox_->RemoveCgroup(cg).ok());
  const Exposition e = Collect();
  EXPECT_EQ(e.CountWithLabel("id", cg), 0u) << cg << " was removed but still has series";
  EXPECT_EQ(e.CountWithLabel("service", "ephemeral"), 0u);
  EXPECT_TRUE(e.Value("container_cpu_usage_seconds_total", {{"id", stays}}).has_value());
}

TEST_F(LiveCgroupsTest, CfsQuotaIsReportedAndThrottlingRises) {
  const std::string cg = MakeCgroup("acme/throttled");
  constexpr int64_t kQuotaUs = 20'000, kPeriodUs = 100'000;  // 0.2 CPU
  const Status quota = sandbox_->SetCpuQuota(cg, kQuotaUs, kPeriodUs);
  ASSERT_TRUE(quota.ok()) << quota.ToString();
  Subprocess burner;
  StartBurner(&burner, cg, {"cpu", "2", "0"});

  const metrics::Labels id{{"id", cg}};
  const Exposition first = Collect();
  EXPECT_EQ(first.Value("container_spec_cpu_quota", id), static_cast<double>(kQuotaUs));
  EXPECT_EQ(first.Value("container_spec_cpu_period", id), static_cast<double>(kPeriodUs));
  const auto periods0 = first.Value("container_cpu_cfs_periods_total", id);
  const auto throttled0 = first.Value("container_cpu_cfs_throttled_periods_total", id);
  const auto throttled_s0 = first.Value("container_cpu_cfs_throttled_seconds_total", id);
  const auto usage0 = first.Value("container_cpu_usage_seconds_total", id);
  ASSERT_TRUE(periods0 && throttled0 && throttled_s0 && usage0) << "no CFS series for " << cg;

  // Twenty enforcement periods (two seconds) of a burner asking for two CPUs.
  Exposition later;
  ASSERT_TRUE(PollUntil(
      [&] {
        later = Collect();
        return later.Value("container_cpu_cfs_periods_total", id).value_or(0) >= *periods0 + 20;
      },
      20s, 100ms));
  const double periods = *later.Value("container_cpu_cfs_periods_total", id) - *periods0;
  const double throttled = *later.Value("container_cpu_cfs_throttled_periods_total", id) - *throttled0;
  const double throttled_s = *later.Value("container_cpu_cfs_throttled_seconds_total", id) - *throttled_s0;
  const double used_s = *later.Value("container_cpu_usage_seconds_total", id) - *usage0;
  const double allowed_s = periods * kQuotaUs / 1e6;
  std::printf("measured: %.0f periods, %.0f throttled, throttled %.3fs, used %.3fs of %.3fs allowed\n", periods,
              throttled, throttled_s, used_s, allowed_s);
  EXPECT_GE(throttled, periods * 0.7) << "a burner asking for 2 CPUs under 0.2 is throttled nearly every period";
  EXPECT_GT(throttled_s, 0.0);
  EXPECT_NEAR(used_s, allowed_s, 0.3 * allowed_s);
}

// Two pods of Deployment shop/web, each burning CPU in its container's cgroup
// in the kubelet's cgroupfs layout (nested under the sandbox, as on a kind
// node), plus the first pod's sandbox ("pause") cgroup; a stand-in kubelet
// (tests/agent/kubelet_stand_in.h) lists the pods. Each container's series
// carry cAdvisor's labels and the workload, and agree with the burner's own CPU.
TEST_F(LiveCgroupsTest, KubernetesPodsCarryCadvisorsLabelsFromTheKubelet) {
  const std::vector<testing_k8s::TestPod> pods = {
      {"3b1f0c2e-8a4d-4e6b-9f1a-2c3d4e5f6a7b", "shop", "web-5f7c9d8b4-abcde", "web", "5f7c9d8b4", "app",
       "registry.example/shop/web:1.4", std::string(63, 'a') + "1"},
      {"9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", "shop", "web-5f7c9d8b4-fghij", "web", "5f7c9d8b4", "app",
       "registry.example/shop/web:1.4", std::string(63, 'b') + "2"}};
  testing_k8s::KubeletStandIn kubelet;
  kubelet.Start();
  kubelet.Answer(200, testing_k8s::PodListJson(pods));

  std::vector<std::string> cgroups;
  cgroups.reserve(pods.size());
  for (const auto& p : pods) cgroups.push_back(MakeCgroup("kubepods/burstable/pod" + p.uid + "/" + p.container_id));
  const std::string pause = MakeCgroup("kubepods/burstable/pod" + pods[0].uid + "/" + std::string(64, 'c'));
  std::vector<std::unique_ptr<Subprocess>> burners;
  for (const std::string& cg : cgroups) {
    burners.push_back(std::make_unique<Subprocess>());
    StartBurner(burners.back().get(), cg, {"cpu", "1", "1.0"});
  }
  std::vector<double> used_s;
  for (auto& b : burners) {
    rusage ru{};
    ASSERT_EQ(b->Wait(60s, &ru), 0) << b->Stderr();
    used_s.push_back(Seconds(ru.ru_utime) + Seconds(ru.ru_stime));
  }

  AgentConfig config = DefaultAgentConfig();  // the kubernetes preset among the default rules
  config.node = "live-test";
  config.pods.kind = PodSourceOptions::Kind::kKubeletReadOnly;
  config.pods.url = kubelet.base() + "/pods";
  auto agent = Agent::Create(std::move(config), SystemClock::Instance());
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  agent_ = std::move(agent).value();
  const Exposition e = Collect();

  for (size_t i = 0; i < pods.size(); ++i) {
    const metrics::Labels labels{{"id", cgroups[i]},
                                 {"namespace", "shop"},
                                 {"pod", pods[i].name},
                                 {"container", "app"},
                                 {"image", "registry.example/shop/web:1.4"},
                                 {"name", pods[i].container_id},
                                 {"workload_kind", "Deployment"},
                                 {"workload", "web"},
                                 {"tenant", "shop"},
                                 {"service", "web"},
                                 {"qos", "burstable"}};
    const auto usage = e.Value("container_cpu_usage_seconds_total", labels);
    ASSERT_TRUE(usage.has_value()) << "no CPU series with the pod's labels for " << cgroups[i];
    std::printf("measured: %s cpu %.3fs by the agent, %.3fs by getrusage\n", pods[i].name.c_str(), *usage, used_s[i]);
    EXPECT_NEAR(*usage, used_s[i], 0.10 * used_s[i]);
  }
  // The sandbox belongs to the pod but is no container of it: no container or image label, so the
  // kubernetes-mixin's `container!=""`/`image!=""` selectors leave it out, as with cAdvisor.
  const auto sandbox = e.Samples("container_cpu_usage_seconds_total", {{"id", pause}, {"pod", pods[0].name}});
  ASSERT_EQ(sandbox.size(), 1u);
  for (const auto& [k, v] : sandbox.front()->labels) EXPECT_TRUE(k != "container" && k != "image") << k << "=" << v;
  EXPECT_GE(kubelet.requests(), 1);
}

class LiveNetworkTest : public LiveCgroupsTest {};

// A process in its own network namespace, with a veth pair p0/p1 over which
// five 100-byte UDP datagrams were sent (142 bytes each with UDP, IP and
// Ethernet headers): the namespace is reported for its cgroup, once.
TEST_F(LiveNetworkTest, NamespaceCountedOnceAndHostNamespaceNotAttributed) {
  const std::string owner = MakeCgroup("acme/net-a");   // the namespace's first cgroup in path order
  const std::string joiner = MakeCgroup("acme/net-b");  // a process that joined the same namespace
  const std::string host = MakeCgroup("acme/net-c");    // a process in the host's namespace
  const std::string script = R"(
    set -e
    export PATH="$PATH:/usr/sbin:/sbin"
    for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do
      if [ -w "$f" ]; then echo 1 > "$f"; fi  # no IPv6 autoconfiguration traffic
    done
    ip link add p0 type veth peer name p1
    ip addr add 10.213.0.1/24 dev p0
    ip link set p1 up
    ip link set p0 up
    ip neigh add 10.213.0.9 lladdr 02:00:00:00:00:09 dev p0 nud permanent
    for i in 1 2 3 4 5; do printf '%100s' x > /dev/udp/10.213.0.9/9; done
    exec "$1" mem 4096
  )";
  Subprocess a;
  ASSERT_TRUE(a.Start({"unshare", "--net", "--", "bash", "-c", script, "netns", burner_}, sandbox_->ProcsFiles(owner)));
  const bool ready = PollUntil([&] { return a.Stdout().find("touched") != std::string::npos || !a.running(); }, 20s);
  if (!ready || !a.running()) {
    GTEST_SKIP() << "cannot set up a network namespace with a veth pair (unshare, iproute2 and bash needed): "
                 << a.Stderr();
  }
  Subprocess b;
  ASSERT_TRUE(b.Start({"nsenter", "--net=/proc/" + std::to_string(a.pid()) + "/ns/net", "--", burner_, "mem", "4096"},
                      sandbox_->ProcsFiles(joiner)));
  ASSERT_TRUE(PollUntil([&] { return b.Stdout().find("touched") != std::string::npos; }, 20s)) << b.Stderr();
  Subprocess c;
  StartBurner(&c, host, {"mem", "4096"}, "touched");

  const Exposition e = Collect();
  for (const char* family : kNetFamilies) {
    std::set<std::string> interfaces;
    for (const Sample* s : e.Samples(family, {{"id", owner}})) {
      for (const auto& [k, v] : s->labels) {
        if (k == "interface") interfaces.insert(v);
      }
    }
    EXPECT_EQ(interfaces, (std::set<std::string>{"p0", "p1"})) << family << ": lo is skipped";
    EXPECT_TRUE(e.Samples(family, {{"id", joiner}}).empty()) << family << ": the shared namespace is counted twice";
    EXPECT_TRUE(e.Samples(family, {{"id", host}}).empty())
        << family << ": the host namespace is attributed to " << host;
    EXPECT_TRUE(e.Samples(family, {{"interface", "lo"}}).empty()) << family;
  }
  const metrics::Labels p0{{"id", owner}, {"interface", "p0"}, {"service", "net-a"}};
  const metrics::Labels p1{{"id", owner}, {"interface", "p1"}};
  EXPECT_EQ(e.Value("container_network_transmit_packets_total", p0), 5.0);
  EXPECT_EQ(e.Value("container_network_transmit_bytes_total", p0), 5 * 142.0);
  EXPECT_EQ(e.Value("container_network_receive_packets_total", p0), 0.0);
  EXPECT_EQ(e.Value("container_network_receive_packets_total", p1), 5.0);
  EXPECT_EQ(e.Value("container_network_receive_bytes_total", p1), 5 * 142.0);
  EXPECT_EQ(e.Value("container_network_transmit_packets_total", p1), 0.0);
  // Counted once across the whole exposition.
  EXPECT_EQ(e.Samples("container_network_transmit_bytes_total", {{"interface", "p0"}}).size(), 1u);
}

}  // namespace
}  // namespace prescale::agent
