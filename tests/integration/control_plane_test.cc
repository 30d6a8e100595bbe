// The control plane through the real prescale-aggregator binary: tokens made
// with `token create`, objects applied from YAML at start and with `apply -f`,
// the audit log edited behind the aggregator's back with the sqlite3 tool and
// caught by `audit verify` (CLI and API), writes surviving kill -9, and HTTPS.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "tests/support/curl.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using testing::BinDir;
using testing::Curl;
using testing::CurlReply;
using testing::FindProgram;
using testing::PollUntil;
using testing::RunCommand;
using testing::Subprocess;
using testing::TempDir;

constexpr const char* kObjects = R"(tenants:
  - name: acme
    quotas: {cpu_cores: 64, memory_bytes: 137438953472, replicas: 200}
    weight: 2
    labels: {tier: gold}
policies:
  - name: fast
    tenant: acme
    horizon: 15m
    behavior:
      scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 4, periodSeconds: 15}]}
services:
  - tenant: acme
    name: web
    priority: critical
    replicas: {current: 3, min: 2, max: 20}
    requests: {cpu_cores: 0.5, memory_bytes: 536870912}
    target_utilization: {cpu: 0.7}
    policy: fast
)";

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (FindProgram("curl").empty()) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
    bin_ = BinDir() + "/prescale-aggregator";
    ASSERT_EQ(::access(bin_.c_str(), X_OK), 0) << bin_ << " is missing: build it";
    data_dir_ = dir_.path() + "/data";
  }

  testing::RunResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), bin_);
    return RunCommand(args, 60s);
  }

  // A new admin token through the CLI (the secret is its only stdout line).
  std::string AdminToken() {
    const auto r = Cli({"token", "create", "--role", "admin", "--name", "test", "--data-dir", data_dir_});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string secret = r.out;
    while (!secret.empty() && secret.back() == '\n') secret.pop_back();
    return secret;
  }

  void Start(std::vector<std::string> extra = {}, const std::string& scheme = "http") {
    std::vector<std::string> argv = {bin_, "--listen", "127.0.0.1:0", "--data-dir", data_dir_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ASSERT_TRUE(aggregator_.Start(argv));
    std::string log;
    const int port = testing::WaitForServingPort(aggregator_, 20s, &log);
    ASSERT_NE(port, 0) << "the aggregator did not start: " << log;
    base_ = scheme + "://127.0.0.1:" + std::to_string(port);
  }

  CurlReply Call(const std::string& method, const std::string& path, const std::string& body = "",
                 const std::vector<std::string>& extra = {}) {
    return Curl(method, base_ + path, body, {"Authorization: Bearer " + token_, "Content-Type: application/json"},
                extra);
  }

  TempDir dir_{"prescale-control-plane"};
  std::string bin_, data_dir_, base_, token_;
  Subprocess aggregator_;
};

TEST_F(ControlPlaneTest, ConfigObjectsApplyOnceAndApplyFileUpdatesThem) {
  ASSERT_EQ(::mkdir(data_dir_.c_str(), 0750), 0);
  token_ = AdminToken();
  const std::string config = dir_.Write("aggregator.yaml", std::string(kObjects));
  ASSERT_NO_FATAL_FAILURE(Start({"--config", config}));
  CurlReply r = Call("GET", "/api/v1/tenants/acme/services/web");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("priority":"critical")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("version":1)"), std::string::npos) << r.body;
  // A restart with the same config changes nothing: no new versions, no new audit records.
  r = Call("GET", "/api/v1/audit/verify");
  const std::string before = r.body;
  aggregator_.Signal(SIGTERM);
  ASSERT_TRUE(aggregator_.Wait(20s).has_value());
  ASSERT_NO_FATAL_FAILURE(Start({"--config", config}));
  EXPECT_EQ(Call("GET", "/api/v1/audit/verify").body, before);
  EXPECT_NE(Call("GET", "/api/v1/tenants/acme/services/web").body.find(R"("version":1)"), std::string::npos);
  // apply -f against the running store: the changed service is replaced, the rest left alone.
  std::string changed = kObjects;
  changed.replace(changed.find("priority: critical"), 18, "priority: high");
  const std::string file = dir_.Write("objects.yaml", changed);
  auto applied = Cli({"apply", "-f", file, "--data-dir", data_dir_});
  EXPECT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_EQ(applied.out, "0 created, 1 replaced, 2 unchanged\n");
  r = Call("GET", "/api/v1/tenants/acme/services/web");
  EXPECT_NE(r.body.find(R"("priority":"high")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("version":2)"), std::string::npos) << r.body;
  // A bad file names its line and field, and changes nothing.
  std::string bad = changed;
  bad.replace(bad.find("priority: high"), 14, "priority: urgent");
  applied = Cli({"apply", "-f", dir_.Write("bad.yaml", bad), "--data-dir", data_dir_});
  EXPECT_EQ(applied.exit_code, 1);
  EXPECT_NE(applied.err.find("bad.yaml:15: services[0].priority: must be one of"), std::string::npos) << applied.err;
  // So does a bad config at start: exit 2.
  aggregator_.Signal(SIGTERM);
  ASSERT_TRUE(aggregator_.Wait(20s).has_value());
  const auto bad_start =
      Cli({"--config", dir_.Write("bad-config.yaml", bad), "--listen", "127.0.0.1:0", "--data-dir", data_dir_});
  EXPECT_EQ(bad_start.exit_code, 2);
  EXPECT_NE(bad_start.err.find("bad-config.yaml:15: services[0].priority"), std::string::npos) << bad_start.err;
}

TEST_F(ControlPlaneTest, TokenCreateChecksItsArguments) {
  ASSERT_EQ(::mkdir(data_dir_.c_str(), 0750), 0);
  auto r = Cli({"token", "create", "--role", "root", "--data-dir", data_dir_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("role"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("usage:"), std::string::npos) << r.err;
  r = Cli({"token", "create", "--role", "viewer", "--data-dir", data_dir_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("tenant"), std::string::npos) << r.err;
  r = Cli({"token", "create", "--role", "admin"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--data-dir"), std::string::npos) << r.err;
  r = Cli({"token", "remove"});
  EXPECT_EQ(r.exit_code, 2);
  // An expiring viewer token of an existing tenant works until it expires.
  token_ = AdminToken();
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_EQ(Call("POST", "/api/v1/tenants", R"({"name":"acme"})").status, 201);
  r = Cli({"token", "create", "--role", "viewer", "--tenant", "acme", "--expires", "1h", "--data-dir", data_dir_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  token_ = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(Call("GET", "/api/v1/tenants/acme").status, 200);
  EXPECT_EQ(Call("DELETE", "/api/v1/tenants/acme").status, 403);
}

TEST_F(ControlPlaneTest, AuditVerifyNamesTheRecordEditedWithSqlite3) {
  const std::string sqlite3 = FindProgram("sqlite3");
  if (sqlite3.empty()) GTEST_SKIP() << "the sqlite3 program is missing (Debian package sqlite3)";
  ASSERT_EQ(::mkdir(data_dir_.c_str(), 0750), 0);
  token_ = AdminToken();  // record 1
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_EQ(Call("POST", "/api/v1/tenants", R"({"name":"acme"})").status, 201);               // 2
  ASSERT_EQ(Call("PATCH", "/api/v1/tenants/acme", R"({"weight":3})").status, 200);            // 3
  ASSERT_EQ(Call("POST", "/api/v1/tenants/acme/services", R"({"name":"web"})").status, 201);  // 4
  auto verify = Cli({"audit", "verify", "--data-dir", data_dir_});
  ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find(R"("records":4)"), std::string::npos) << verify.out;
  // Someone with the database file raises the patched weight in the record, by hand.
  const std::string db = data_dir_ + "/control.db";
  auto edit = RunCommand({sqlite3, db,
                          "UPDATE audit SET after_json = replace(after_json, '\"weight\":3.0', "
                          "'\"weight\":30.0') WHERE seq = 3"},
                         30s);
  ASSERT_EQ(edit.exit_code, 0) << edit.err;
  auto changed = RunCommand({sqlite3, db, "SELECT after_json FROM audit WHERE seq = 3"}, 30s);
  ASSERT_NE(changed.out.find("30.0"), std::string::npos) << changed.out;
  verify = Cli({"audit", "verify", "--data-dir", data_dir_});
  EXPECT_EQ(verify.exit_code, 1);
  EXPECT_NE(verify.err.find("record 3 does not verify"), std::string::npos) << verify.err;
  const CurlReply r = Call("GET", "/api/v1/audit/verify");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("ok":false)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("first_bad_seq":3)"), std::string::npos) << r.body;
  // Deleting a record instead is caught at the one after it.
  ASSERT_EQ(RunCommand({sqlite3, db,
                        "UPDATE audit SET after_json = replace(after_json, '\"weight\":30.0', "
                        "'\"weight\":3.0') WHERE seq = 3; DELETE FROM audit WHERE seq = 2"},
                       30s)
                .exit_code,
            0);
  verify = Cli({"audit", "verify", "--data-dir", data_dir_});
  EXPECT_EQ(verify.exit_code, 1);
  EXPECT_NE(verify.err.find("record 3 does not verify"), std::string::npos) << verify.err;
}

TEST_F(ControlPlaneTest, EveryAcknowledgedWriteSurvivesKill9AndTheChainVerifies) {
  ASSERT_EQ(::mkdir(data_dir_.c_str(), 0750), 0);
  token_ = AdminToken();
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_EQ(Call("POST", "/api/v1/tenants", R"({"name":"acme"})").status, 201);
  // Four writers create services as fast as they can; kill -9 lands mid-burst.
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop.load(); ++i) {
        const std::string name = "w" + std::to_string(w) + "-" + std::to_string(i);
        const CurlReply r = Call("PUT", "/api/v1/tenants/acme/services/" + name, R"({"priority":"high"})");
        if (r.status == 201) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.push_back(name);
        }
        if (r.status == 0) return;  // the aggregator is gone
      }
    });
  }
  ASSERT_TRUE(PollUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return acknowledged.size() >= 40;
      },
      60s));
  aggregator_.Signal(SIGKILL);
  ASSERT_TRUE(aggregator_.Wait(20s).has_value());
  stop = true;
  for (std::thread& t : writers) t.join();
  ASSERT_NO_FATAL_FAILURE(Start());
  for (const std::string& name : acknowledged) {
    EXPECT_EQ(Call("GET", "/api/v1/tenants/acme/services/" + name).status, 200) << name << " was acknowledged";
  }
  const CurlReply r = Call("GET", "/api/v1/audit/verify");
  EXPECT_NE(r.body.find(R"("ok":true)"), std::string::npos) << r.body;
  const auto verify = Cli({"audit", "verify", "--data-dir", data_dir_});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  RecordProperty("acknowledged_writes", static_cast<int>(acknowledged.size()));
}

TEST_F(ControlPlaneTest, ServesHttpsWithTheGivenCertificate) {
  if (FindProgram("openssl").empty()) GTEST_SKIP() << "the openssl program is missing (Debian package openssl)";
  ASSERT_EQ(::mkdir(data_dir_.c_str(), 0750), 0);
  const std::string cert = dir_.path() + "/cert.pem", key = dir_.path() + "/key.pem";
  const auto made = RunCommand(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
       "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
      60s);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  token_ = AdminToken();
  ASSERT_NO_FATAL_FAILURE(Start({"--tls-cert", cert, "--tls-key", key}, "https"));
  CurlReply r = Call("POST", "/api/v1/tenants", R"({"name":"acme"})", {"--cacert", cert});
  EXPECT_EQ(r.status, 201) << r.body << r.error;
  r = Call("GET", "/api/v1/tenants/acme", "", {"--cacert", cert});
  EXPECT_EQ(r.status, 200) << r.body << r.error;
  // Without trusting the certificate, curl refuses; plain HTTP gets no answer.
  EXPECT_EQ(Call("GET", "/api/v1/tenants/acme").status, 0);
  const std::string plain = "http" + base_.substr(5);
  EXPECT_NE(Curl("GET", plain + "/healthz", "", {}).status, 200);
  // A key that is not the certificate's: a clear error at start.
  const std::string other_key = dir_.path() + "/other.pem";
  ASSERT_EQ(
      RunCommand({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", other_key},
                 60s)
          .exit_code,
      0);
  const auto bad = Cli({"--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", other_key});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find(other_key), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace prescale
