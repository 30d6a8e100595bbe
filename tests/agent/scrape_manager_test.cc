#include "prescale/agent/scrape_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "prescale/agent/agent.h"
#include "prescale/http/http_client.h"
#include "prescale/http/http_server.h"
#include "prescale/remote_write/remote_write.h"
#include "tests/agent/agent_test_util.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using metrics::MetricFamily;
using metrics::MetricType;
using metrics::Sample;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ParsedExposition;

MetricFamily Family(const std::string& name, MetricType type, std::vector<Sample> samples,
                    const std::string& help = "") {
  return MetricFamily{name, help, type, std::move(samples)};
}

Sample S(const std::string& name, metrics::Labels labels, double value) {
  return Sample{name, std::move(labels), value, {}};
}

metrics::Labels Sorted(metrics::Labels labels) {
  std::sort(labels.begin(), labels.end());
  return labels;
}

// The label sets of every sample named `name`, each sorted: the whole set, so a label that
// should be absent shows.
std::vector<metrics::Labels> LabelSets(const ParsedExposition& e, const std::string& name) {
  std::vector<metrics::Labels> out;
  for (const Sample& s : e.Find(name)) out.push_back(Sorted(s.labels));
  return out;
}

// What a target claiming another tenant's identity exposes, and what the agent must make of it:
// its own tenant, service and node, no namespace, pod, container, job or instance of the
// target's choosing, and every claimed value kept under exported_<name>.
const metrics::Labels kSpoofing = {{"tenant", "other"}, {"service", "x"},   {"node", "n"}, {"namespace", "kube-system"},
                                   {"pod", "p"},        {"container", "c"}, {"job", "j"},  {"instance", "i:1"},
                                   {"code", "200"}};
metrics::Labels AsTheAgentExportsSpoofing(const std::string& tenant, const std::string& service,
                                          const std::string& node) {
  return Sorted({{"tenant", tenant},
                 {"service", service},
                 {"node", node},
                 {"exported_tenant", "other"},
                 {"exported_service", "x"},
                 {"exported_node", "n"},
                 {"exported_namespace", "kube-system"},
                 {"exported_pod", "p"},
                 {"exported_container", "c"},
                 {"exported_job", "j"},
                 {"exported_instance", "i:1"},
                 {"code", "200"}});
}

TEST(ScrapeManagerMerge, AddsTargetLabelsToEverySample) {
  const ScrapeTarget web{"http://x/metrics", "acme", "web"};
  std::vector<ScrapeManager::TargetFamilies> parts = {
      {&web,
       {Family("http_requests_total", MetricType::kCounter,
               {S("http_requests_total", {{"code", "200"}}, 10), S("http_requests_total", {{"code", "500"}}, 2)},
               "Requests served.")}}};
  std::string out;
  EXPECT_EQ(ScrapeManager::Merge(parts, "node-1", &out), 0u);
  const ParsedExposition e(out);
  ASSERT_EQ(e.error(), "") << out;
  EXPECT_EQ(
      e.Value("http_requests_total", {{"node", "node-1"}, {"service", "web"}, {"tenant", "acme"}, {"code", "200"}}),
      10);
  EXPECT_EQ(e.Value("http_requests_total", {{"code", "500"}, {"service", "web"}}), 2);
  EXPECT_EQ(e.HelpOf("http_requests_total"), "Requests served.");
  EXPECT_EQ(e.TypeOf("http_requests_total"), MetricType::kCounter);
}

TEST(ScrapeManagerMerge, ConflictingLabelsAreRenamedExported) {
  const ScrapeTarget web{"http://x/metrics", "acme", "web"};
  std::vector<ScrapeManager::TargetFamilies> parts = {
      {&web,
       {Family("jobs", MetricType::kGauge,
               {S("jobs", {{"tenant", "inner"}, {"service", "worker"}, {"node", "pod-3"}, {"queue", "q1"}}, 4)})}}};
  std::string out;
  ScrapeManager::Merge(parts, "node-1", &out);
  const ParsedExposition e(out);
  ASSERT_EQ(e.error(), "") << out;
  EXPECT_EQ(e.Value("jobs", {{"tenant", "acme"},
                             {"service", "web"},
                             {"node", "node-1"},
                             {"exported_tenant", "inner"},
                             {"exported_service", "worker"},
                             {"exported_node", "pod-3"},
                             {"queue", "q1"}}),
            4);
}

TEST(ScrapeManagerMerge, OwnedLabelsAreAlwaysTheAgentsAndTheTargetsMoveToExported) {
  const ScrapeTarget web{"http://x/metrics", "acme", "web"};
  std::vector<ScrapeManager::TargetFamilies> parts = {
      {&web, {Family("app_jobs", MetricType::kGauge, {S("app_jobs", kSpoofing, 7)})}}};
  std::string out;
  ScrapeManager::Merge(parts, "node-1", &out);
  const ParsedExposition e(out);
  ASSERT_EQ(e.error(), "") << out;
  EXPECT_THAT(LabelSets(e, "app_jobs"), ::testing::ElementsAre(AsTheAgentExportsSpoofing("acme", "web", "node-1")))
      << out;
  EXPECT_EQ(e.Value("app_jobs"), 7);
}

TEST(ScrapeManagerMerge, EveryOwnedLabelIsGuarded) {
  // One sample per owned label, each claiming only that one.
  const ScrapeTarget web{"http://x/metrics", "acme", "web"};
  std::vector<Sample> samples;
  samples.reserve(ScrapeManager::kOwnedLabels.size());
  for (std::string_view owned : ScrapeManager::kOwnedLabels) {
    samples.push_back(S("claims", {{std::string(owned), "spoofed"}, {"which", std::string(owned)}}, 1));
  }
  std::vector<ScrapeManager::TargetFamilies> parts = {{&web, {Family("claims", MetricType::kGauge, samples)}}};
  std::string out;
  ScrapeManager::Merge(parts, "node-1", &out);
  const ParsedExposition e(out);
  ASSERT_EQ(e.error(), "") << out;
  for (std::string_view owned : ScrapeManager::kOwnedLabels) {
    SCOPED_TRACE(owned);
    const auto found = e.Find("claims", {{"which", std::string(owned)}});
    ASSERT_EQ(found.size(), 1u) << out;
    metrics::Labels want = {{"tenant", "acme"},
                            {"service", "web"},
                            {"node", "node-1"},
                            {"exported_" + std::string(owned), "spoofed"},
                            {"which", std::string(owned)}};
    EXPECT_EQ(Sorted(found[0].labels), Sorted(want));
  }
}

TEST(ScrapeManagerMerge, EmptyOwnedValuesAreNoClaimAndEmptyExportedLabelsAreFree) {
  // As in Prometheus, a label with an empty value is no label: tenant="" claims nothing (no
  // exported_tenant), and an empty exported_pod is taken over rather than written twice.
  const ScrapeTarget web{"http://x/metrics", "acme", "web"};
  std::vector<ScrapeManager::TargetFamilies> parts = {
      {&web,
       {Family("jobs", MetricType::kGauge, {S("jobs", {{"tenant", ""}, {"exported_pod", ""}, {"pod", "p"}}, 4)})}}};
  std::string out;
  ScrapeManager::Merge(parts, "node-1", &out);
  const ParsedExposition e(out);
  ASSERT_EQ(e.error(), "") << out;
  EXPECT_THAT(LabelSets(e, "jobs"),
              ::testing::ElementsAre(
                  Sorted({{"tenant", "acme"}, {"service", "web"}, {"node", "node-1"}, {"exported_pod", "p"}})))
      << out;
}

TEST(ScrapeManagerMerge, RenamingNeverDuplicatesALabel) {
  // The target already has exported_tenant: as Prometheus does, prefix again
  // rather than write a label twice (which would make the whole /metrics invalid).
  const ScrapeTarget web{"http://x/metrics", "acme", "web"};
  std::vector<ScrapeManager::TargetFamilies> parts = {
      {&web,
       {Family("jobs", MetricType::kGauge, {S("jobs", {{"exported_tenant", "older"}, {"tenant", "inner"}}, 4)})}}};
  std::string out;
  ScrapeManager::Merge(parts, "node-1", &out);
  const ParsedExposition e(out);
  ASSERT_EQ(e.error(), "") << out;
  EXPECT_EQ(e.Value("jobs", {{"tenant", "acme"}, {"exported_tenant", "older"}, {"exported_exported_tenant", "inner"}}),
            4);

  // Again while the next name is taken too, for every owned label alike.
  parts = {{&web,
            {Family("jobs", MetricType::kGauge,
                    {S("jobs",
                       {{"namespace", "ns"},
                        {"exported_namespace", "a"},
                        {"exported_exported_namespace", "b"},
                        {"job", "j"},
                        {"exported_job", "c"}},
                       5)})}}};
  out.clear();
  ScrapeManager::Merge(parts, "node-1", &out);
  const ParsedExposition again(out);
  ASSERT_EQ(again.error(), "") << out;
  EXPECT_THAT(LabelSets(again, "jobs"), ::testing::ElementsAre(Sorted({{"tenant", "acme"},
                                                                       {"service", "web"},
                                                                       {"node", "node-1"},
                                                                       {"exported_namespace", "a"},
                                                                       {"exported_exported_namespace", "b"},
                                                                       {"exported_exported_exported_namespace", "ns"},
                                                                       {"exported_job", "c"},
                                                                       {"exported_exported_job", "j"}})))
      << out;
}

TEST(ScrapeManagerMerge, FamiliesClashingWithAgentNamesAreDropped) {
  const ScrapeTarget web{"http://x/metrics", "acme", "web"};
  std::vector<ScrapeManager::TargetFamilies> parts = {
      {&web,
       {Family("node_load1", MetricType::kGauge, {S("node_load1", {}, 3)}),
        Family("container_cpu_usage_seconds_total", MetricType::kCounter,
               {S("container_cpu_usage_seconds_total", {}, 1)}),
        Family("prescale_agent_read_errors_total", MetricType::kCounter,
               {S("prescale_agent_read_errors_total", {}, 1)}),
        Family("app_up", MetricType::kGauge, {S("app_up", {}, 1)})}}};
  std::string out;
  EXPECT_EQ(ScrapeManager::Merge(parts, "n", &out), 3u);
  const ParsedExposition e(out);
  ASSERT_EQ(e.error(), "") << out;
  EXPECT_EQ(e.families().size(), 1u);
  EXPECT_EQ(e.Value("app_up"), 1);
  EXPECT_THAT(out, Not(HasSubstr("node_load1")));
}

TEST(ScrapeManagerMerge, SameFamilyFromTwoTargetsIsOneFamily) {
  const ScrapeTarget web{"http://a/metrics", "acme", "web"};
  const ScrapeTarget shop{"http://b/metrics", "acme", "shop"};
  std::vector<ScrapeManager::TargetFamilies> parts = {
      {&web, {Family("queue_depth", MetricType::kGauge, {S("queue_depth", {}, 1)})}},
      {&shop, {Family("queue_depth", MetricType::kGauge, {S("queue_depth", {}, 2)})}}};
  std::string out;
  EXPECT_EQ(ScrapeManager::Merge(parts, "n", &out), 0u);
  const ParsedExposition e(out);
  ASSERT_EQ(e.error(), "") << out;
  ASSERT_EQ(e.families().size(), 1u);
  EXPECT_EQ(e.Value("queue_depth", {{"service", "web"}}), 1);
  EXPECT_EQ(e.Value("queue_depth", {{"service", "shop"}}), 2);
}

TEST(ScrapeManagerMerge, TypeClashBetweenTargetsDropsTheLaterFamily) {
  const ScrapeTarget web{"http://a/metrics", "acme", "web"};
  const ScrapeTarget shop{"http://b/metrics", "acme", "shop"};
  std::vector<ScrapeManager::TargetFamilies> parts = {
      {&web, {Family("work", MetricType::kGauge, {S("work", {}, 1)})}},
      {&shop, {Family("work", MetricType::kCounter, {S("work", {}, 2)})}}};
  std::string out;
  EXPECT_EQ(ScrapeManager::Merge(parts, "n", &out), 1u);
  const ParsedExposition e(out);
  ASSERT_EQ(e.error(), "") << out;
  EXPECT_EQ(e.Value("work", {{"service", "web"}}), 1);
  EXPECT_TRUE(e.Find("work", {{"service", "shop"}}).empty());
}

TEST(ScrapeManagerMerge, HistogramSamplesKeepTheirSuffixes) {
  const ScrapeTarget web{"http://a/metrics", "acme", "web"};
  std::vector<ScrapeManager::TargetFamilies> parts = {
      {&web,
       {Family("latency_seconds", MetricType::kHistogram,
               {S("latency_seconds_bucket", {{"le", "0.1"}}, 3), S("latency_seconds_bucket", {{"le", "+Inf"}}, 5),
                S("latency_seconds_sum", {}, 0.7), S("latency_seconds_count", {}, 5)})}}};
  std::string out;
  ScrapeManager::Merge(parts, "n", &out);
  const ParsedExposition e(out);
  ASSERT_EQ(e.error(), "") << out;
  EXPECT_EQ(e.Value("latency_seconds_bucket", {{"le", "+Inf"}, {"service", "web"}}), 5);
  EXPECT_EQ(e.Value("latency_seconds_sum"), 0.7);
  EXPECT_EQ(e.Value("latency_seconds_count"), 5);
}

TEST(ScrapeManagerMerge, NothingScrapedIsEmpty) {
  std::string out;
  EXPECT_EQ(ScrapeManager::Merge({}, "n", &out), 0u);
  EXPECT_EQ(out, "");
}

// One local HTTP server for the suite, with a
// route per kind of target; /flaky fails until the test lets it recover.
class ScrapeServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto text = [](int status, const std::string& body) {
      return [status, body](const http::HttpRequest&) {
        http::HttpResponse r;
        r.status = status;
        r.content_type = "text/plain; version=0.0.4";
        r.body = body;
        return r;
      };
    };
    std::string big = "# TYPE big_gauge gauge\n";
    while (big.size() < 8192) big += "big_gauge{i=\"" + std::to_string(big.size()) + "\"} 1\n";
    std::vector<http::Route> routes = {
        {"GET", "/good", text(200, kGood)},
        {"GET", "/invalid", text(200, "this is not { an exposition\n")},
        {"GET", "/error", text(500, "boom\n")},
        {"GET", "/big", text(200, big)},
        {"GET", "/spoof", text(200, kSpoof)},
        {"POST", "/write",
         [](const http::HttpRequest& r) {
           http::HttpResponse resp;
           auto decoded = remote_write::Decode(r.body);
           if (!decoded.ok()) return http::HttpResponse::JsonError(400, "bad_request", decoded.status().message());
           std::lock_guard<std::mutex> lock(writes_mu);
           writes.push_back(std::move(decoded).value());
           resp.status = 204;
           return resp;
         }},
        {"GET", "/flaky",
         [](const http::HttpRequest&) {
           http::HttpResponse r;
           r.status = flaky_healthy.load() ? 200 : 503;
           r.body = "# TYPE app_up gauge\napp_up 1\n";
           return r;
         }},
    };
    auto started = http::HttpServer::Start(http::HttpServerOptions{}, std::move(routes));
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server = std::move(started).value().release();
  }
  static void TearDownTestSuite() {
    delete server;
    server = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server, nullptr);
    flaky_healthy = false;
  }

  static std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(server->port()) + path;
  }
  static AgentConfig Config() {
    AgentConfig c = DefaultAgentConfig();
    c.node = "node-s";
    c.scrape_max_body_bytes = 4096;
    c.scrape_targets = {{Url("/good"), "acme", "web"},
                        {Url("/invalid"), "acme", "broken"},
                        {Url("/error"), "acme", "failing"},
                        {Url("/big"), "acme", "big"},
                        {"http://127.0.0.1:1/metrics", "acme", "down"}};
    return c;
  }

  static constexpr const char* kGood =
      "# HELP app_requests_total Requests.\n"
      "# TYPE app_requests_total counter\n"
      "app_requests_total{code=\"200\",tenant=\"inner\"} 42\n"
      "# TYPE node_load1 gauge\n"
      "node_load1 99\n"
      "# TYPE app_temperature gauge\n"
      "app_temperature 21.5\n";
  // A service claiming another tenant's identity with every label the agent owns.
  static constexpr const char* kSpoof =
      "# TYPE app_jobs gauge\n"
      "app_jobs{tenant=\"other\",service=\"x\",node=\"n\",namespace=\"kube-system\",pod=\"p\",container=\"c\","
      "job=\"j\",instance=\"i:1\",code=\"200\"} 7\n";
  static inline std::mutex writes_mu;
  static inline std::vector<remote_write::WriteRequest> writes;  // what /write received
  static inline http::HttpServer* server = nullptr;
  static inline std::atomic<bool> flaky_healthy{false};
  ::prescale::testing::FakeClock clock_;
};

std::string Serialize(prometheus::Registry& registry) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry.Collect());
  return out.str();
}

TEST_F(ScrapeServerTest, ScrapesGoodTargetsAndMarksBrokenOnesDown) {
  prometheus::Registry registry;
  ScrapeManager scrapes(Config(), http::NewBeastHttpClient(), &registry, clock_);
  EXPECT_EQ(scrapes.target_count(), 5u);
  EXPECT_EQ(*scrapes.Latest(), "") << "nothing before the first scrape";
  scrapes.ScrapeAll();

  const ParsedExposition merged(*scrapes.Latest());
  ASSERT_EQ(merged.error(), "") << *scrapes.Latest();
  EXPECT_EQ(
      merged.Value(
          "app_requests_total",
          {{"node", "node-s"}, {"tenant", "acme"}, {"service", "web"}, {"exported_tenant", "inner"}, {"code", "200"}}),
      42);
  EXPECT_EQ(merged.Value("app_temperature", {{"service", "web"}}), 21.5);
  EXPECT_TRUE(merged.Find("node_load1").empty()) << "clashes with the agent's own family";
  EXPECT_TRUE(merged.Find("big_gauge").empty());

  const ParsedExposition self(Serialize(registry));
  ASSERT_EQ(self.error(), "");
  auto up = [&](const std::string& service) {
    return self.Value("prescale_agent_scrape_target_up", {{"service", service}}).value_or(-1);
  };
  EXPECT_EQ(up("web"), 1);
  EXPECT_EQ(up("broken"), 0) << "invalid exposition";
  EXPECT_EQ(up("failing"), 0) << "HTTP 500";
  EXPECT_EQ(up("big"), 0) << "body over scrape_max_body_bytes";
  EXPECT_EQ(up("down"), 0) << "connection refused";
  EXPECT_EQ(self.Value("prescale_agent_scrape_target_samples", {{"service", "web"}}), 3);
  EXPECT_EQ(self.Value("prescale_agent_scrape_families_dropped_total"), 1);
  EXPECT_EQ(self.Value("prescale_agent_scrape_target_up", {{"service", "web"}, {"url", Url("/good")}}), 1);
}

TEST_F(ScrapeServerTest, TargetThatRecoversComesBackUp) {
  prometheus::Registry registry;
  AgentConfig c = Config();
  c.scrape_targets = {{Url("/flaky"), "acme", "web"}};
  ScrapeManager scrapes(c, http::NewBeastHttpClient(), &registry, clock_);
  scrapes.ScrapeAll();
  EXPECT_EQ(ParsedExposition(Serialize(registry)).Value("prescale_agent_scrape_target_up"), 0) << "HTTP 503";
  EXPECT_EQ(*scrapes.Latest(), "");
  flaky_healthy = true;
  scrapes.ScrapeAll();
  EXPECT_EQ(ParsedExposition(Serialize(registry)).Value("prescale_agent_scrape_target_up"), 1);
  EXPECT_EQ(ParsedExposition(*scrapes.Latest()).Value("app_up", {{"service", "web"}}), 1);
  flaky_healthy = false;
  scrapes.ScrapeAll();
  EXPECT_EQ(ParsedExposition(Serialize(registry)).Value("prescale_agent_scrape_target_up"), 0);
  EXPECT_EQ(*scrapes.Latest(), "") << "a failed target's old samples are not served";
}

TEST_F(ScrapeServerTest, AgentExpositionIncludesScrapedSamples) {
  AgentConfig c = Config();
  c.cgroup_root = testing::Fixture("cgroup_v2");
  c.proc_root = testing::Fixture("proc");
  auto agent = Agent::Create(c, clock_);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  (*agent)->ScrapeTargetsOnce();
  (*agent)->CollectOnce();
  const std::string text = (*agent)->Exposition();
  const ParsedExposition e(text);
  ASSERT_EQ(e.error(), "") << text;
  EXPECT_EQ(e.Value("app_temperature", {{"tenant", "acme"}, {"service", "web"}, {"node", "node-s"}}), 21.5);
  EXPECT_EQ(e.Value("prescale_agent_scrape_target_up", {{"service", "web"}}), 1);
  EXPECT_EQ(e.Value("prescale_agent_scrape_target_up", {{"service", "failing"}}), 0);
  EXPECT_FALSE(e.Find("container_cpu_usage_seconds_total").empty());
  // node_load1 appears once: the agent's own, not the scraped 99.
  ASSERT_EQ(e.Find("node_load1").size(), 1u);
  EXPECT_NE(e.Value("node_load1"), 99);
}

TEST_F(ScrapeServerTest, SpoofingTargetGetsTheAgentsLabelsOnMetricsAndIsNeverPushed) {
  ::prescale::testing::TempDir dir("prescale-scrape-push");
  AgentConfig c = Config();
  c.cgroup_root = testing::Fixture("cgroup_v2");
  c.proc_root = testing::Fixture("proc");
  c.scrape_targets = {{Url("/spoof"), "acme", "web"}};
  c.aggregator_url = Url("/write");
  c.data_dir = dir.path();
  {
    std::lock_guard<std::mutex> lock(writes_mu);
    writes.clear();
  }
  auto agent = Agent::Create(c, clock_);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  (*agent)->ScrapeTargetsOnce();
  (*agent)->CollectOnce();  // queues this cycle's batch

  // /metrics: the agent's tenant, service and node; the claims under exported_<name>.
  const std::string text = (*agent)->Exposition();
  const ParsedExposition e(text);
  ASSERT_EQ(e.error(), "") << text;
  EXPECT_THAT(LabelSets(e, "app_jobs"), ::testing::ElementsAre(AsTheAgentExportsSpoofing("acme", "web", "node-s")))
      << text;

  // Remote write carries the agent's own series only: no scraped series, so no claim, reaches
  // the aggregator (docs/configuration.md, "Pushing to the aggregator").
  (*agent)->pusher()->Start();
  const bool received = ::prescale::testing::PollUntil(
      [] {
        std::lock_guard<std::mutex> lock(writes_mu);
        return !writes.empty();
      },
      std::chrono::seconds(20));
  (*agent)->pusher()->Stop();
  ASSERT_TRUE(received) << "the agent pushed nothing to " << c.aggregator_url;
  std::lock_guard<std::mutex> lock(writes_mu);
  size_t series = 0, cpu_series = 0;
  for (const remote_write::WriteRequest& request : writes) {
    for (const remote_write::TimeSeries& ts : request.timeseries) {
      ++series;
      for (const remote_write::Label& l : ts.labels) {
        EXPECT_NE(l.value, "app_jobs") << "a scraped series was pushed";
        EXPECT_FALSE(l.name.starts_with("exported_")) << l.name << "=" << l.value;
        if (l.name == "__name__" && l.value == "container_cpu_usage_seconds_total") ++cpu_series;
        if (l.name == "tenant") {
          EXPECT_NE(l.value, "other");
        }
      }
    }
  }
  EXPECT_GT(series, 0u);
  EXPECT_GT(cpu_series, 0u) << "the agent's own cgroup series are pushed";
}

}  // namespace
}  // namespace prescale::agent
