// PostgresStore's own cases (the ControlStore contract runs on it in
// sqlite_store_test.cc): its URL, a server that goes away and comes back, a
// newer schema, and two stores (two replicas) sharing one database.
#include "prescale/aggregator/control/postgres_store.h"

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/postgres.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;

ObjectKey Tenant(const std::string& name) { return {ObjectKind::kTenant, "", name}; }

StoredObject TenantObject(const std::string& name) {
  StoredObject object;
  object.key = Tenant(name);
  object.owner = name;
  object.spec_json = R"({"name":")" + name + R"("})";
  return object;
}

AuditRecord Audit(const std::string& name, int64_t time_ms) {
  AuditRecord audit;
  audit.time_ms = time_ms;
  audit.actor = "test";
  audit.action = "create";
  audit.kind = "tenant";
  audit.tenant = name;
  audit.name = name;
  return audit;
}

Result<StoredObject> Create(ControlStore* store, const std::string& name, int64_t time_ms) {
  return store->Put(TenantObject(name), WriteMode::kCreate, std::nullopt, Audit(name, time_ms));
}

TEST(PostgresUrl, OnlyPostgresUrlsSelectIt) {
  EXPECT_TRUE(IsPostgresUrl("postgres://u@h/db"));
  EXPECT_TRUE(IsPostgresUrl("postgresql://u@h:5432/db?sslmode=require"));
  EXPECT_FALSE(IsPostgresUrl("/var/lib/prescale/control.db"));
  EXPECT_FALSE(IsPostgresUrl("host=h dbname=db"));
  EXPECT_FALSE(IsPostgresUrl("mysql://u@h/db"));
}

TEST(PostgresUrl, BadUrlsAreInvalidArgumentWithoutThePassword) {
  EXPECT_TRUE(CheckPostgresUrl("postgresql://prescale:s3cret@db.example:5432/prescale?sslmode=require").ok());
  const Status scheme = CheckPostgresUrl("http://db.example/prescale");
  EXPECT_EQ(scheme.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(scheme.message().find("postgres://"), std::string::npos) << scheme.message();
  for (const char* url : {"postgresql://prescale:s3cret@db.example/prescale?no_such_option=1",
                          "postgres://prescale:s3cret@[::1/prescale", "postgres://prescale:s3cret@h/db?sslmode"}) {
    const Status bad = CheckPostgresUrl(url);
    EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument) << url;
    EXPECT_EQ(bad.message().find("s3cret"), std::string::npos) << bad.message();
  }
}

TEST(PostgresStore, UnreachableDatabaseIsUnavailableNamingIt) {
  const int port = testing::FreeLoopbackPort();  // nothing listens there
  PostgresStoreOptions options;
  options.connect_timeout = 2s;
  const std::string url = "postgresql://prescale:s3cret@127.0.0.1:" + std::to_string(port) + "/control";
  Result<std::unique_ptr<ControlStore>> opened = OpenPostgresStore(url, options);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kUnavailable);
  const std::string& message = opened.status().message();
  EXPECT_NE(message.find("postgres database 127.0.0.1:" + std::to_string(port) + "/control: cannot connect: "),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
}

// A server of the test's own (the shared one must not be killed).
class PostgresServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::PostgresBinDir().empty()) {
      GTEST_SKIP() << "PostgreSQL 15's programs are not installed (Debian package postgresql)";
    }
    std::string error;
    ASSERT_TRUE(server_.Init(&error)) << error;
    ASSERT_TRUE(server_.CreateDatabase("control", &error)) << error;
  }

  std::unique_ptr<ControlStore> Open() {
    Result<std::unique_ptr<ControlStore>> opened = OpenPostgresStore(server_.Url("control"), PostgresStoreOptions{});
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  testing::PostgresServer server_;
};

TEST_F(PostgresServerTest, KilledServerIsUnavailableWithAReasonUntilItIsBack) {
  std::unique_ptr<ControlStore> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(Create(store.get(), "a", 1000).ok());

  server_.Kill();
  const std::string name = "postgres database 127.0.0.1:" + std::to_string(server_.port()) + "/control: ";
  // The connection dies under the first call, and no new one can be made for the next.
  Result<StoredObject> got = store->Get(Tenant("a"));
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status().ToString();
  EXPECT_NE(got.status().message().find(name), std::string::npos) << got.status().message();
  Result<StoredObject> put = Create(store.get(), "b", 2000);
  EXPECT_EQ(put.status().code(), StatusCode::kUnavailable) << put.status().ToString();
  EXPECT_NE(put.status().message().find(name + "cannot connect: "), std::string::npos) << put.status().message();
  EXPECT_EQ(store->VerifyAudit().status().code(), StatusCode::kUnavailable);
  // Each failed call is counted once, as the database's (not the caller's) failure.
  std::string metrics;
  store->AppendMetrics(&metrics);
  EXPECT_NE(metrics.find("prescale_control_store_errors_total{reason=\"unavailable\",store=\"postgresql\"} 3\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("prescale_control_store_errors_total{reason=\"io\",store=\"postgresql\"} 0\n"),
            std::string::npos)
      << metrics;
  // A caller's error (a missing object) is not the database's.
  std::string error;
  ASSERT_TRUE(server_.Start(&error)) << error;
  EXPECT_EQ(store->Get(Tenant("none")).status().code(), StatusCode::kNotFound);
  metrics.clear();
  store->AppendMetrics(&metrics);
  EXPECT_NE(metrics.find("prescale_control_store_errors_total{reason=\"unavailable\",store=\"postgresql\"} 3\n"),
            std::string::npos)
      << metrics;
  server_.Kill();

  // Back on the same data directory (after crash recovery): the next calls succeed.
  ASSERT_TRUE(server_.Start(&error)) << error;
  got = store->Get(Tenant("a"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->version, 1);
  ASSERT_TRUE(Create(store.get(), "b", 3000).ok());
  Result<AuditVerification> verified = store->VerifyAudit();
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_TRUE(verified->ok) << verified->reason;
  EXPECT_EQ(verified->records, 2);  // the refused write left nothing

  // A connection that died while idle (the server restarted between two calls)
  // is replaced at once: the call after the restart succeeds.
  server_.Kill();
  ASSERT_TRUE(server_.Start(&error)) << error;
  got = store->Get(Tenant("b"));
  EXPECT_TRUE(got.ok()) << got.status().ToString();
}

// A server that hangs rather than dies (frozen, cut off without a reset):
// here the backend serving the store's connection and the server's main
// process (which would accept a new connection), stopped with SIGSTOP. A call
// answers kUnavailable within query_timeout plus connect_timeout (the
// statement's answer never comes; the fresh connection BEGIN is retried on
// never opens), and once the server runs again the next call succeeds.
TEST_F(PostgresServerTest, HungServerCostsAtMostTheTimeouts) {
  PostgresStoreOptions options;
  options.query_timeout = 500ms;
  options.connect_timeout = 1s;
  Result<std::unique_ptr<ControlStore>> opened = OpenPostgresStore(server_.Url("control"), options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<ControlStore> store = std::move(opened).value();
  ASSERT_TRUE(Create(store.get(), "a", 1000).ok());
  const testing::RunResult backend =
      server_.Psql("control", "SELECT pid FROM pg_stat_activity WHERE application_name = 'prescale-aggregator'");
  ASSERT_EQ(backend.exit_code, 0) << backend.err;
  pid_t pid = 0;  // psql prints a header, the pid alone on its line, a row count
  std::istringstream lines(backend.out);
  for (std::string line; std::getline(lines, line) && pid == 0;) {
    line.erase(0, line.find_first_not_of(' '));
    if (!line.empty() && line.find_first_not_of("0123456789") == std::string::npos) pid = std::atoi(line.c_str());
  }
  ASSERT_GT(pid, 0) << backend.out;
  // /proc/PID/stat: "PID (comm) STATE PPID ...": the backend's parent is the server.
  const std::string stat = testing::ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/stat");
  const pid_t server = static_cast<pid_t>(std::atol(stat.c_str() + stat.rfind(')') + 4));
  ASSERT_GT(server, 1) << stat;

  ASSERT_EQ(::kill(server, SIGSTOP), 0);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  const auto started = std::chrono::steady_clock::now();
  Result<StoredObject> got = store->Get(Tenant("a"));
  const auto waited = std::chrono::steady_clock::now() - started;
  ::kill(pid, SIGCONT);
  ::kill(server, SIGCONT);
  ASSERT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status().ToString();
  EXPECT_NE(got.status().message().find("postgres database 127.0.0.1:"), std::string::npos) << got.status().message();
  EXPECT_GE(waited, 500ms);
  EXPECT_LT(waited, 5s) << "query_timeout 500 ms + connect_timeout 1 s";
  got = store->Get(Tenant("a"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->version, 1);
}

TEST_F(PostgresServerTest, SchemaFromANewerVersionIsRefused) {
  ASSERT_NE(Open(), nullptr);
  const testing::RunResult r = server_.Psql("control", "UPDATE schema_version SET version = 99");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Result<std::unique_ptr<ControlStore>> opened = OpenPostgresStore(server_.Url("control"), PostgresStoreOptions{});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition);
  const std::string& message = opened.status().message();
  EXPECT_NE(message.find("/control: schema version 99"), std::string::npos) << message;
  EXPECT_NE(message.find("(5)"), std::string::npos) << message;
}

// Two replicas: each sees the other's writes, and their appends share one gapless chain.
TEST_F(PostgresServerTest, StoresSharingADatabaseKeepOneChain) {
  std::unique_ptr<ControlStore> first = Open();
  std::unique_ptr<ControlStore> second = Open();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  Result<std::string> generation = second->ObjectsGeneration();
  ASSERT_TRUE(generation.ok()) << generation.status().ToString();
  ASSERT_TRUE(Create(first.get(), "a", 1000).ok());
  EXPECT_TRUE(second->Get(Tenant("a")).ok());
  Result<std::string> changed = second->ObjectsGeneration();
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(*changed, *generation);
  EXPECT_EQ(Create(second.get(), "a", 1000).status().code(), StatusCode::kAlreadyExists);

  constexpr int kEach = 40;
  std::vector<int> failures(2, 0);
  std::vector<std::thread> threads;
  threads.reserve(2);
  ControlStore* stores[] = {first.get(), second.get()};
  for (int s = 0; s < 2; ++s) {
    threads.emplace_back([&, s] {
      for (int i = 0; i < kEach; ++i) {
        if (!Create(stores[s], "t" + std::to_string(s) + "-" + std::to_string(i), 2000 + i).ok()) ++failures[s];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures, std::vector<int>(2, 0));
  Result<AuditVerification> verified = first->VerifyAudit();
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_TRUE(verified->ok) << verified->reason;
  EXPECT_EQ(verified->records, 1 + 2 * kEach);
}

// A token found by its hash is answered from memory for token_cache_ttl: a
// revocation through the same store counts at once, one through another
// store on the database (another replica) within the TTL; an unknown hash is
// never remembered (a token created elsewhere is found at once).
TEST_F(PostgresServerTest, TokenLookupsAreCachedForTheTtlAndRevocationsHereCountAtOnce) {
  PostgresStoreOptions options;
  options.token_cache_ttl = 300ms;
  Result<std::unique_ptr<ControlStore>> here = OpenPostgresStore(server_.Url("control"), options);
  Result<std::unique_ptr<ControlStore>> there = OpenPostgresStore(server_.Url("control"), options);
  ASSERT_TRUE(here.ok() && there.ok());
  auto token = [](const std::string& id, char hash) {
    return TokenRecord{id, id, "viewer", "", std::string(64, hash), 1000, 0, 0};
  };
  EXPECT_EQ((*here)->FindTokenByHash(std::string(64, 'a')).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE((*there)->CreateToken(token("tok-a", 'a'), Audit("a", 1000)).ok());
  ASSERT_TRUE((*there)->CreateToken(token("tok-b", 'b'), Audit("b", 1000)).ok());
  ASSERT_TRUE((*here)->FindTokenByHash(std::string(64, 'a')).ok());  // not cached as unknown
  ASSERT_TRUE((*here)->FindTokenByHash(std::string(64, 'b')).ok());

  // Revoked here: at once.
  ASSERT_TRUE((*here)->RevokeToken("tok-a", 2000, Audit("a", 2000)).ok());
  Result<TokenRecord> a = (*here)->FindTokenByHash(std::string(64, 'a'));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->revoked_ms, 2000);

  // Revoked there: the cached answer holds until the TTL ends, then the revocation shows.
  const auto revoked_at = std::chrono::steady_clock::now();
  ASSERT_TRUE((*there)->RevokeToken("tok-b", 3000, Audit("b", 3000)).ok());
  Result<TokenRecord> b = Status::Internal("not read");
  testing::PollUntil(
      [&] {
        b = (*here)->FindTokenByHash(std::string(64, 'b'));
        return !b.ok() || b->revoked_ms != 0;
      },
      5s, 10ms);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->revoked_ms, 3000);
  // Within the TTL (and a margin for a slow machine), not at the deadline.
  EXPECT_LT(std::chrono::steady_clock::now() - revoked_at, 2s);

  // A long TTL shows the cache at work: a revocation elsewhere is not seen yet.
  options.token_cache_ttl = std::chrono::hours(1);
  Result<std::unique_ptr<ControlStore>> cached = OpenPostgresStore(server_.Url("control"), options);
  ASSERT_TRUE(cached.ok());
  ASSERT_TRUE((*there)->CreateToken(token("tok-d", 'd'), Audit("d", 3500)).ok());
  ASSERT_EQ((*cached)->FindTokenByHash(std::string(64, 'd'))->revoked_ms, 0);
  ASSERT_TRUE((*there)->RevokeToken("tok-d", 3600, Audit("d", 3600)).ok());
  EXPECT_EQ((*cached)->FindTokenByHash(std::string(64, 'd'))->revoked_ms, 0);

  // token_cache_ttl 0: every lookup reads the database.
  options.token_cache_ttl = 0ms;
  Result<std::unique_ptr<ControlStore>> uncached = OpenPostgresStore(server_.Url("control"), options);
  ASSERT_TRUE(uncached.ok());
  ASSERT_TRUE((*there)->CreateToken(token("tok-c", 'c'), Audit("c", 4000)).ok());
  ASSERT_EQ((*uncached)->FindTokenByHash(std::string(64, 'c'))->revoked_ms, 0);
  ASSERT_TRUE((*there)->RevokeToken("tok-c", 5000, Audit("c", 5000)).ok());
  EXPECT_EQ((*uncached)->FindTokenByHash(std::string(64, 'c'))->revoked_ms, 5000);
}

// The subcommands work on the store --control-store names: audit verify of a
// chain PostgresStore wrote.
TEST_F(PostgresServerTest, AuditVerifyCommandReadsTheControlStoreUrl) {
  {
    std::unique_ptr<ControlStore> store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(Create(store.get(), "a", 1000).ok());
  }
  const testing::RunResult r = testing::RunCommand(
      {testing::BinDir() + "/prescale-aggregator", "audit", "verify", "--control-store", server_.Url("control")}, 30s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"ok\":true"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"records\":1"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace prescale::aggregator
