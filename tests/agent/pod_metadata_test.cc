// PodWatcher against a stand-in kubelet (tests/agent/kubelet_stand_in.h: no
// kubelet or API server can run on this machine, so a real HTTP server on
// 127.0.0.1 answers with PodList JSON shaped as the Kubernetes API
// reference's). The watcher's HTTP client is the agent's real one (Beast).
#include "prescale/agent/pod_metadata.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "prescale/http/http_client.h"
#include "tests/agent/kubelet_stand_in.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using namespace std::chrono_literals;

using testing::KubeletStandIn;
using testing::PodListJson;
using testing::TestPod;

constexpr char kWebUid[] = "6f1c9a52-3e1b-4d5e-9c1a-7b2d8e4f0a11";
constexpr char kWebContainer[] = "8c2f4e6a1b3d5f7092a4c6e8f0b2d4f6a8c0e2f4b6d8fa0c2e4f6a8b0c2d4e6f";

// One pod of Deployment shop/web on node-1, as the kubelet's /pods lists it.
std::string WebPodList() {
  return PodListJson({TestPod{kWebUid, "shop", "web-7d4b9c8f6-x2k9p", "web", "7d4b9c8f6", "app",
                              "registry.example/shop/web:1.4", kWebContainer}});
}

class PodWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kubelet_.Start();
    kubelet_.Answer(200, WebPodList());
    token_file_ = dir_.path() + "/token";
    prescale::testing::WriteFile(token_file_, "sa-token-1\n");
  }

  std::unique_ptr<PodWatcher> MakeWatcher(PodSourceOptions::Kind kind, std::string url) {
    PodSourceOptions o;
    o.kind = kind;
    o.url = std::move(url);
    o.token_file = token_file_;
    o.timeout = 2s;
    return std::make_unique<PodWatcher>(o, "node-1", clock_, http::NewBeastHttpClient(), &registry_);
  }

  std::string Metrics() {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry_.Collect());
    return out.str();
  }
  bool HasLine(const std::string& line) { return Metrics().find(line + "\n") != std::string::npos; }

  prescale::testing::TempDir dir_{"prescale-pod-metadata"};
  prescale::testing::FakeClock clock_;
  prometheus::Registry registry_;
  KubeletStandIn kubelet_;
  std::string token_file_;
};

TEST_F(PodWatcherTest, ReadsTheKubeletsPodsWithTheServiceAccountToken) {
  auto watcher = MakeWatcher(PodSourceOptions::Kind::kKubelet, kubelet_.base() + "/pods");
  EXPECT_EQ(watcher->Snapshot()->version(), 0u);
  ASSERT_TRUE(watcher->RefreshOnce().ok());
  EXPECT_EQ(kubelet_.authorization(), "Bearer sa-token-1");
  const auto index = watcher->Snapshot();
  EXPECT_EQ(index->version(), 1u);
  const kube::PodInfo* pod = index->Find(kWebUid);
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->namespace_name, "shop");
  EXPECT_EQ(pod->workload_kind, "Deployment");
  EXPECT_EQ(pod->workload, "web");
  const kube::ContainerInfo* c = PodIndex::FindContainer(*pod, kWebContainer);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->name, "app");
  EXPECT_EQ(c->image, "registry.example/shop/web:1.4");
  EXPECT_TRUE(HasLine(R"(prescale_agent_pod_metadata_refreshes_total{result="success"} 1)"));
  EXPECT_TRUE(HasLine("prescale_agent_pod_metadata_pods 1"));

  // Projected tokens rotate: each read takes the file's current token.
  prescale::testing::WriteFile(token_file_, "sa-token-2");
  ASSERT_TRUE(watcher->RefreshOnce().ok());
  EXPECT_EQ(kubelet_.authorization(), "Bearer sa-token-2");
}

TEST_F(PodWatcherTest, FailuresKeepTheLastGoodAnswerAndSayWhy) {
  auto watcher = MakeWatcher(PodSourceOptions::Kind::kKubelet, kubelet_.base() + "/pods");
  ASSERT_TRUE(watcher->RefreshOnce().ok());

  kubelet_.Answer(401, "Unauthorized");
  Status s = watcher->RefreshOnce();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("HTTP 401"), std::string::npos) << s.ToString();

  kubelet_.Answer(200, "<html>not json</html>");
  s = watcher->RefreshOnce();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("/pods"), std::string::npos) << s.ToString();

  kubelet_.Answer(200, R"({"kind":"Status","apiVersion":"v1","status":"Failure","code":403})");
  EXPECT_FALSE(watcher->RefreshOnce().ok());

  kubelet_.Stop();
  s = watcher->RefreshOnce();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();

  const auto index = watcher->Snapshot();
  EXPECT_EQ(index->version(), 1u);
  EXPECT_NE(index->Find(kWebUid), nullptr) << "the last good answer is still served";
  EXPECT_TRUE(HasLine(R"(prescale_agent_pod_metadata_refreshes_total{result="error"} 4)"));
}

TEST_F(PodWatcherTest, ASlowSourceTimesOutAndTheLastGoodAnswerStays) {
  PodSourceOptions o;
  o.kind = PodSourceOptions::Kind::kKubeletReadOnly;
  o.url = kubelet_.base() + "/pods";
  o.timeout = 300ms;
  PodWatcher watcher(o, "node-1", clock_, http::NewBeastHttpClient(), nullptr);
  ASSERT_TRUE(watcher.RefreshOnce().ok());
  kubelet_.Hold();
  const Status s = watcher.RefreshOnce();
  kubelet_.Release();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(watcher.Snapshot()->Find(kWebUid), nullptr);
}

TEST_F(PodWatcherTest, AMissingTokenFileIsAnErrorThatNamesIt) {
  PodSourceOptions o;
  o.kind = PodSourceOptions::Kind::kKubelet;
  o.url = kubelet_.base() + "/pods";
  o.token_file = dir_.path() + "/no-such-token";
  PodWatcher watcher(o, "node-1", clock_, http::NewBeastHttpClient(), nullptr);
  const Status s = watcher.RefreshOnce();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no-such-token"), std::string::npos) << s.ToString();
  EXPECT_EQ(kubelet_.requests(), 0);
}

TEST_F(PodWatcherTest, ReadOnlyPortTakesNoTokenAndApiServerSelectsTheNode) {
  auto read_only = MakeWatcher(PodSourceOptions::Kind::kKubeletReadOnly, kubelet_.base() + "/pods");
  ASSERT_TRUE(read_only->RefreshOnce().ok());
  EXPECT_EQ(kubelet_.authorization(), "");

  auto api = MakeWatcher(PodSourceOptions::Kind::kApiServer, kubelet_.base() + "/");
  ASSERT_TRUE(api->RefreshOnce().ok());
  EXPECT_EQ(kubelet_.target(), "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1");
  EXPECT_EQ(kubelet_.authorization(), "Bearer sa-token-1");
}

TEST_F(PodWatcherTest, AnUnknownPodBringsAReadAfterTheLeastInterval) {
  PodSourceOptions o;
  o.kind = PodSourceOptions::Kind::kKubeletReadOnly;
  o.url = kubelet_.base() + "/pods";
  o.refresh_interval = 60s;
  o.min_refresh_interval = 5s;
  PodWatcher watcher(o, "node-1", clock_, http::NewBeastHttpClient(), nullptr);
  watcher.Start();
  ASSERT_TRUE(prescale::testing::PollUntil([&] { return kubelet_.requests() == 1; }, 10s));
  ASSERT_TRUE(clock_.AwaitWaiters(1));  // waiting for the 60 s refresh

  watcher.RequestRefresh();  // wakes it, but not before 5 s after the last read
  ASSERT_TRUE(clock_.AwaitWaiters(1));
  clock_.Advance(4s);
  EXPECT_EQ(kubelet_.requests(), 1);
  clock_.Advance(1s);
  EXPECT_TRUE(prescale::testing::PollUntil([&] { return kubelet_.requests() == 2; }, 10s));

  // Without a request, the next read comes at the refresh interval.
  ASSERT_TRUE(clock_.AwaitWaiters(1));
  clock_.Advance(30s);
  EXPECT_EQ(kubelet_.requests(), 2);
  clock_.Advance(30s);
  EXPECT_TRUE(prescale::testing::PollUntil([&] { return kubelet_.requests() == 3; }, 10s));
  watcher.Stop();
}

TEST(PodSource, KindsParseAndUrlsDefault) {
  EXPECT_EQ(ParsePodSourceKind("kubelet").value(), PodSourceOptions::Kind::kKubelet);
  EXPECT_EQ(ParsePodSourceKind("apiserver").value(), PodSourceOptions::Kind::kApiServer);
  const Status bad = ParsePodSourceKind("kubectl").status();
  EXPECT_NE(bad.message().find("none, kubelet, kubelet-read-only, apiserver"), std::string::npos);
  PodSourceOptions o;
  o.kind = PodSourceOptions::Kind::kKubelet;
  EXPECT_EQ(PodSourceUrl(o, "n"), "https://127.0.0.1:10250/pods");
  o.kind = PodSourceOptions::Kind::kApiServer;
  EXPECT_EQ(PodSourceUrl(o, "node-7"),
            "https://kubernetes.default.svc/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-7");
}

}  // namespace
}  // namespace prescale::agent
