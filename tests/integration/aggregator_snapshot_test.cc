// Durable history through the real binary: what the aggregator acknowledged
// comes back after kill -9 (the last snapshot, then the write-ahead log
// replayed) and after SIGTERM (all of it in the last snapshot).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <optional>
#include <string>

#include "prescale/aggregator/history/snapshot.h"
#include "prescale/base/clock.h"
#include "prescale/http/http_client.h"
#include "prescale/remote_write/remote_write.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using testing::PollUntil;
using testing::Subprocess;

class AggregatorSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.Write("aggregator.yaml", std::string("snapshot_interval: 1s\nlog_level: debug\n") +
                                                "tokens:\n  - {name: pusher, sha256: \"" + testing::kTestTokenSha256 +
                                                "\"}\n");
    data_dir_ = dir_.path() + "/data";
  }

  // Starts the binary and returns its base URL ("" on failure).
  std::string Start(Subprocess* p) {
    if (!p->Start({testing::BinDir() + "/prescale-aggregator", "--config", config_, "--listen", "127.0.0.1:0",
                   "--data-dir", data_dir_})) {
      return "";
    }
    std::string log;
    const int port = testing::WaitForServingPort(*p, 10s, &log);
    return port != 0 ? "http://127.0.0.1:" + std::to_string(port) : "";
  }

  long Push(const std::string& base, std::vector<remote_write::Sample> samples) {
    remote_write::WriteRequest r;
    r.timeseries.push_back({{{"__name__", "queue_depth"}, {"tenant", "a"}}, std::move(samples)});
    http::PostOptions options;
    options.headers = {{"Content-Encoding", "snappy"},
                       {"Content-Type", "application/x-protobuf"},
                       {"Authorization", std::string("Bearer ") + testing::kTestToken}};
    auto resp = client_->Post(base + "/api/v1/write", remote_write::Encode(r), options);
    return resp.ok() ? resp->status : -1;
  }

  // The timestamps the running aggregator holds for queue_depth{tenant="a"}.
  std::string Raw(const std::string& base) {
    http::GetOptions options;
    options.headers = {{"Authorization", std::string("Bearer ") + testing::kTestToken}};
    auto resp = client_->Get(base + "/api/v1/raw?match=queue_depth&tenant=a", options);
    return resp.ok() ? resp->body : resp.status().ToString();
  }

  // Samples in the snapshot file now on disk.
  size_t SamplesOnDisk() {
    aggregator::SeriesStore store(aggregator::SeriesStoreOptions{}, SystemClock::Instance());
    auto loaded = aggregator::LoadSnapshot(&store, nullptr, data_dir_);
    return loaded.ok() ? loaded->samples : 0;
  }

  testing::TempDir dir_{"prescale-agg-snapshot"};
  std::string config_;
  std::string data_dir_;
  std::unique_ptr<http::HttpClient> client_ = http::NewCurlHttpClient();
};

TEST_F(AggregatorSnapshotTest, EveryAcknowledgedPushSurvivesKillNineAndSigterm) {
  {
    Subprocess first;
    const std::string base = Start(&first);
    ASSERT_FALSE(base.empty()) << first.Stderr();
    ASSERT_EQ(Push(base, {{1, 1000}, {2, 2000}}), 204);
    // The periodic snapshot (every second) takes the two samples to disk; the
    // third comes after it, kept only by the write-ahead log.
    ASSERT_TRUE(PollUntil([&] { return SamplesOnDisk() == 2; }, 15s)) << first.Stderr();
    ASSERT_EQ(Push(base, {{2.5, 2500}}), 204);
    first.Signal(SIGKILL);
    first.Wait(10s);
  }
  {
    Subprocess second;
    const std::string base = Start(&second);
    ASSERT_FALSE(base.empty()) << second.Stderr();
    const std::string raw = Raw(base);
    EXPECT_NE(raw.find("[1000,\"1\"]"), std::string::npos) << raw;
    EXPECT_NE(raw.find("[2000,\"2\"]"), std::string::npos) << raw;
    EXPECT_NE(raw.find("[2500,\"2.5\"]"), std::string::npos) << raw;
    ASSERT_EQ(Push(base, {{3, 3000}}), 204);
    second.Signal(SIGTERM);
    const auto code = second.Wait(20s);
    ASSERT_TRUE(code.has_value()) << "no clean exit on SIGTERM: " << second.Stderr();
    EXPECT_EQ(*code, 0);
  }
  EXPECT_EQ(SamplesOnDisk(), 4u) << "SIGTERM writes a last snapshot";
  Subprocess third;
  const std::string base = Start(&third);
  ASSERT_FALSE(base.empty()) << third.Stderr();
  const std::string raw = Raw(base);
  EXPECT_NE(raw.find("[3000,\"3\"]"), std::string::npos) << raw;
  EXPECT_NE(third.Stderr().find("loaded 1 series, 4 samples"), std::string::npos) << third.Stderr();
  EXPECT_NE(third.Stderr().find("replayed 0 records"), std::string::npos) << "the last snapshot held everything";
}

}  // namespace
}  // namespace prescale
