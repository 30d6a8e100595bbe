// The ControlStore contract, run against both stores (ControlStoreTest:
// SQLite, and PostgreSQL started on loopback), and SqliteStore's own file
// handling (SqliteStoreTest). postgres_store_test.cc has PostgreSQL's own.
#include "prescale/aggregator/control/sqlite_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "prescale/aggregator/control/auth.h"
#include "tests/support/control_stores.h"
#include "tests/support/postgres.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;

ObjectKey Tenant(const std::string& name) { return {ObjectKind::kTenant, "", name}; }
ObjectKey Service(const std::string& tenant, const std::string& name) { return {ObjectKind::kService, tenant, name}; }
ObjectKey Policy(const std::string& name) { return {ObjectKind::kPolicy, "", name}; }

StoredObject Object(const ObjectKey& key, const std::string& spec_json, std::vector<ObjectKey> references = {}) {
  StoredObject object;
  object.key = key;
  object.owner = key.kind == ObjectKind::kTenant ? key.name : key.tenant;
  object.spec_json = spec_json;
  object.references = std::move(references);
  return object;
}

AuditRecord Audit(const std::string& action, const ObjectKey& key, int64_t time_ms) {
  AuditRecord audit;
  audit.time_ms = time_ms;
  audit.request_id = "req-" + std::to_string(time_ms);
  audit.actor = "tok_0123456789abcdef";
  audit.actor_role = "admin";
  audit.action = action;
  audit.kind = std::string(ObjectKindName(key.kind));
  audit.tenant = key.kind == ObjectKind::kTenant ? key.name : key.tenant;
  audit.name = key.name;
  audit.status = 200;
  audit.message = action + " " + key.name;
  return audit;
}

TokenRecord Token(const std::string& id, const std::string& secret) {
  return {id, "ci", "operator", "a", Sha256Hex(secret), 1000, 0, 0};
}

using testing::StoreBackend;

// SQLite in a file of a temporary directory; PostgreSQL in a database of its
// own on the process's shared server (skipped, saying why, where it is not installed).
class SqliteStoreTest : public ::testing::Test {
 protected:
  virtual StoreBackend backend() const { return StoreBackend::kSqlite; }

  void SetUp() override {
    stores_ = std::make_unique<testing::TestControlStores>(backend());
    path_ = stores_->NewLocation();
    if (path_.empty()) return;  // skipped, or failed saying why
    postgres_ = stores_->postgres();
    database_ = stores_->database();
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }

  std::unique_ptr<ControlStore> Open() {
    Result<std::unique_ptr<ControlStore>> opened = stores_->Open(path_);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  Result<StoredObject> Put(const StoredObject& object, WriteMode mode, int64_t time_ms,
                           std::optional<int64_t> expected_version = std::nullopt) {
    return store_->Put(object, mode, expected_version, Audit("create", object.key, time_ms));
  }

  std::vector<AuditRecord> AllAudit() {
    AuditQuery query;
    query.limit = 1000;
    Result<Page<AuditRecord>> page = store_->ListAudit(query);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<AuditRecord>{};
  }

  // Runs SQL on the database with the sqlite3 command-line tool (or psql), as
  // someone with write access to the file (or the database) would tamper with it.
  void Tamper(const std::string& sql) {
    const testing::RunResult r =
        postgres_ != nullptr ? postgres_->Psql(database_, sql) : testing::RunCommand({sqlite3_, path_, sql}, 30s);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Five audited writes: tenant a created, replaced three times, then service a/web.
  void FiveRecords() {
    ASSERT_TRUE(Put(Object(Tenant("a"), R"({"name":"a"})"), WriteMode::kCreate, 1000).ok());
    for (int i = 1; i <= 3; ++i) {
      const std::string spec = R"({"name":"a","rev":")" + std::to_string(i) + R"("})";
      ASSERT_TRUE(Put(Object(Tenant("a"), spec), WriteMode::kReplace, 1000 + i).ok());
    }
    ASSERT_TRUE(Put(Object(Service("a", "web"), R"({"name":"web"})", {Tenant("a")}), WriteMode::kCreate, 2000).ok());
  }

  testing::TempDir dir_{"prescale-sqlite-store"};
  std::unique_ptr<testing::TestControlStores> stores_;
  std::string path_;  // the SQLite file, or the PostgreSQL URL
  std::string sqlite3_;
  testing::PostgresServer* postgres_ = nullptr;
  std::string database_;
  std::unique_ptr<ControlStore> store_;
};

// The same cases on each store.
class ControlStoreTest : public SqliteStoreTest, public ::testing::WithParamInterface<StoreBackend> {
 protected:
  StoreBackend backend() const override { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Stores, ControlStoreTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(ControlStoreTest, CreateGetReplaceIncrementVersion) {
  Result<StoredObject> created = Put(Object(Tenant("a"), R"({"name":"a"})"), WriteMode::kCreate, 1000);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->version, 1);
  EXPECT_EQ(created->created_ms, 1000);
  EXPECT_EQ(created->updated_ms, 1000);

  Result<StoredObject> got = store_->Get(Tenant("a"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->spec_json, R"({"name":"a"})");
  EXPECT_EQ(got->owner, "a");
  EXPECT_EQ(got->version, 1);

  Result<StoredObject> replaced = Put(Object(Tenant("a"), R"({"name":"a","x":"1"})"), WriteMode::kReplace, 2000, 1);
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  EXPECT_EQ(replaced->version, 2);
  EXPECT_EQ(replaced->created_ms, 1000);
  EXPECT_EQ(replaced->updated_ms, 2000);

  Result<StoredObject> upserted = Put(Object(Tenant("a"), R"({"name":"a","x":"2"})"), WriteMode::kUpsert, 3000);
  ASSERT_TRUE(upserted.ok()) << upserted.status().ToString();
  EXPECT_EQ(upserted->version, 3);
  got = store_->Get(Tenant("a"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->version, 3);
  EXPECT_EQ(got->spec_json, R"({"name":"a","x":"2"})");
  EXPECT_EQ(got->created_ms, 1000);
  EXPECT_EQ(got->updated_ms, 3000);
}

TEST_P(ControlStoreTest, CreateOfExistingKeyIsAlreadyExistsAndReplaceOfMissingIsNotFound) {
  ASSERT_TRUE(Put(Object(Tenant("a"), "{}"), WriteMode::kCreate, 1000).ok());
  Result<StoredObject> again = Put(Object(Tenant("a"), "{}"), WriteMode::kCreate, 2000);
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("tenant a"), std::string::npos) << again.status().message();

  EXPECT_EQ(Put(Object(Tenant("b"), "{}"), WriteMode::kReplace, 2000).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Get(Tenant("b")).status().code(), StatusCode::kNotFound);
  // Refused writes leave no audit record.
  EXPECT_EQ(AllAudit().size(), 1u);
}

TEST_P(ControlStoreTest, StaleExpectedVersionIsConflict) {
  ASSERT_TRUE(Put(Object(Tenant("a"), "{}"), WriteMode::kCreate, 1000).ok());
  ASSERT_TRUE(Put(Object(Tenant("a"), R"({"x":"1"})"), WriteMode::kReplace, 2000, 1).ok());
  Result<StoredObject> stale = Put(Object(Tenant("a"), R"({"x":"2"})"), WriteMode::kReplace, 3000, 1);
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);
  EXPECT_NE(stale.status().message().find("version 2"), std::string::npos) << stale.status().message();
  EXPECT_NE(stale.status().message().find("version 1"), std::string::npos) << stale.status().message();
  EXPECT_EQ(store_->Delete(Tenant("a"), 1, Audit("delete", Tenant("a"), 4000)).status().code(), StatusCode::kConflict);
  // An expected version of a missing object cannot hold either.
  EXPECT_EQ(Put(Object(Tenant("b"), "{}"), WriteMode::kUpsert, 3000, 1).status().code(), StatusCode::kConflict);
  Result<StoredObject> got = store_->Get(Tenant("a"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->spec_json, R"({"x":"1"})");
}

TEST_P(ControlStoreTest, MissingReferenceIsFailedPrecondition) {
  ASSERT_TRUE(Put(Object(Tenant("a"), "{}"), WriteMode::kCreate, 1000).ok());
  Result<StoredObject> put =
      Put(Object(Service("a", "web"), "{}", {Tenant("a"), Policy("gold")}), WriteMode::kCreate, 2000);
  EXPECT_EQ(put.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(put.status().message().find("policy gold"), std::string::npos) << put.status().message();
  EXPECT_EQ(store_->Get(Service("a", "web")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(AllAudit().size(), 1u);
}

TEST_P(ControlStoreTest, DeleteOfReferencedObjectFailsUntilTheReferrerIsDeleted) {
  ASSERT_TRUE(Put(Object(Tenant("a"), "{}"), WriteMode::kCreate, 1000).ok());
  ASSERT_TRUE(Put(Object(Policy("gold"), "{}"), WriteMode::kCreate, 1000).ok());
  ASSERT_TRUE(Put(Object(Service("a", "web"), "{}", {Tenant("a"), Policy("gold")}), WriteMode::kCreate, 2000).ok());
  Result<StoredObject> web = store_->Get(Service("a", "web"));
  ASSERT_TRUE(web.ok());
  EXPECT_EQ(web->references, (std::vector<ObjectKey>{Tenant("a"), Policy("gold")}));

  Result<StoredObject> refused = store_->Delete(Tenant("a"), std::nullopt, Audit("delete", Tenant("a"), 3000));
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("service a/web references it"), std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(store_->Get(Tenant("a")).ok());

  Result<StoredObject> deleted = store_->Delete(Service("a", "web"), 1, Audit("delete", Service("a", "web"), 4000));
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->key, Service("a", "web"));
  EXPECT_TRUE(store_->Delete(Tenant("a"), std::nullopt, Audit("delete", Tenant("a"), 5000)).ok());
  EXPECT_TRUE(store_->Delete(Policy("gold"), std::nullopt, Audit("delete", Policy("gold"), 5000)).ok());
  EXPECT_EQ(store_->Get(Tenant("a")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete(Tenant("a"), std::nullopt, Audit("delete", Tenant("a"), 6000)).status().code(),
            StatusCode::kNotFound);
}

std::vector<std::string> Names(const Result<Page<StoredObject>>& page) {
  std::vector<std::string> names;
  if (!page.ok()) return {"error: " + page.status().ToString()};
  for (const StoredObject& object : page->items) names.push_back(object.key.tenant + "/" + object.key.name);
  return names;
}

TEST_P(ControlStoreTest, ListFiltersByFieldLabelTenantAndOwner) {
  for (const char* tenant : {"a", "b"}) ASSERT_TRUE(Put(Object(Tenant(tenant), "{}"), WriteMode::kCreate, 1).ok());
  auto service = [&](const std::string& tenant, const std::string& name, const std::string& tier,
                     const std::string& app) {
    const std::string spec = R"({"name":")" + name + R"(","tier":")" + tier +
                             R"(","labels":{"app.kubernetes.io/name":")" + app + R"(","team":"x"}})";
    ASSERT_TRUE(Put(Object(Service(tenant, name), spec, {Tenant(tenant)}), WriteMode::kCreate, 2).ok());
  };
  service("a", "web", "front", "shop");
  service("a", "db", "back", "shop");
  service("b", "web", "front", "blog");

  ListQuery query;
  query.kind = ObjectKind::kService;
  EXPECT_EQ(Names(store_->List(query)), (std::vector<std::string>{"a/db", "a/web", "b/web"}));
  query.filters = {{"tier", "front"}};
  EXPECT_EQ(Names(store_->List(query)), (std::vector<std::string>{"a/web", "b/web"}));
  query.filters = {{"labels.app.kubernetes.io/name", "shop"}};
  EXPECT_EQ(Names(store_->List(query)), (std::vector<std::string>{"a/db", "a/web"}));
  query.filters = {{"labels.app.kubernetes.io/name", "shop"}, {"tier", "front"}};
  EXPECT_EQ(Names(store_->List(query)), (std::vector<std::string>{"a/web"}));
  query.filters = {{"labels.team", "y"}};
  EXPECT_TRUE(Names(store_->List(query)).empty());

  query.filters.clear();
  query.tenant = "b";
  EXPECT_EQ(Names(store_->List(query)), (std::vector<std::string>{"b/web"}));
  query.tenant.reset();
  query.owners = std::vector<std::string>{"a"};
  EXPECT_EQ(Names(store_->List(query)), (std::vector<std::string>{"a/db", "a/web"}));
  query.owners = std::vector<std::string>{"b", "c"};
  EXPECT_EQ(Names(store_->List(query)), (std::vector<std::string>{"b/web"}));
  query.owners = std::vector<std::string>{};
  EXPECT_TRUE(Names(store_->List(query)).empty());

  // A field name goes into a JSON path, so only plain names pass.
  query.owners.reset();
  for (const char* field : {"tier'", "", "labels.", "a\"b", "$.tier", "labels.team]"}) {
    query.filters = {{field, "front"}};
    EXPECT_EQ(store_->List(query).status().code(), StatusCode::kInvalidArgument) << field;
  }
}

TEST_P(ControlStoreTest, ListPagesVisitEveryObjectOnceInKeyOrder) {
  std::vector<std::string> names;
  names.reserve(25);
  for (int i = 0; i < 25; ++i) names.push_back("t" + std::string(i < 10 ? "0" : "") + std::to_string(i));
  std::vector<std::string> shuffled = names;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(7));
  for (const std::string& name : shuffled) ASSERT_TRUE(Put(Object(Tenant(name), "{}"), WriteMode::kCreate, 1).ok());

  ListQuery query;
  query.limit = 10;
  std::vector<std::string> seen;
  std::vector<size_t> sizes;
  for (int pages = 0; pages < 10; ++pages) {
    Result<Page<StoredObject>> page = store_->List(query);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    sizes.push_back(page->items.size());
    for (const StoredObject& object : page->items) seen.push_back(object.key.name);
    if (page->next_page_token.empty()) break;
    query.page_token = page->next_page_token;
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{10, 10, 5}));
  EXPECT_EQ(seen, names);

  query.page_token.clear();
  query.limit = 0;  // clamped to 1
  Result<Page<StoredObject>> one = store_->List(query);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->items.size(), 1u);
  query.limit = 5000;  // clamped to 1000
  Result<Page<StoredObject>> all = store_->List(query);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 25u);
  EXPECT_TRUE(all->next_page_token.empty());

  for (const char* token : {"zz", "not-a-token", "7430.3x", "743"}) {
    query.page_token = token;
    Result<Page<StoredObject>> bad = store_->List(query);
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << token;
    EXPECT_EQ(bad.status().message(), "invalid page_token");
  }
}

TEST_P(ControlStoreTest, AuditRecordsEveryWriteWithBeforeAndAfter) {
  ASSERT_TRUE(Put(Object(Tenant("a"), R"({"v":"1"})"), WriteMode::kCreate, 1000).ok());
  ASSERT_TRUE(Put(Object(Tenant("a"), R"({"v":"2"})"), WriteMode::kReplace, 2000).ok());
  ASSERT_TRUE(store_->Delete(Tenant("a"), 2, Audit("delete", Tenant("a"), 3000)).ok());
  AuditRecord refused = Audit("create", Service("b", "web"), 4000);
  refused.status = 403;
  Result<AuditRecord> appended = store_->AppendAudit(refused);
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  EXPECT_EQ(appended->seq, 4);

  const std::vector<AuditRecord> records = AllAudit();
  ASSERT_EQ(records.size(), 4u);
  std::string prev_hash;
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].seq, static_cast<int64_t>(i + 1));
    EXPECT_EQ(records[i].prev_hash, prev_hash);
    EXPECT_EQ(records[i].hash, AuditHash(records[i]));
    prev_hash = records[i].hash;
  }
  EXPECT_EQ(records[0].before_json, "null");
  EXPECT_EQ(records[0].after_json, R"({"v":"1"})");
  EXPECT_EQ(records[1].before_json, R"({"v":"1"})");
  EXPECT_EQ(records[1].after_json, R"({"v":"2"})");
  EXPECT_EQ(records[2].before_json, R"({"v":"2"})");
  EXPECT_EQ(records[2].after_json, "null");
  EXPECT_EQ(records[2].time_ms, 3000);
  EXPECT_EQ(records[2].action, "delete");
  EXPECT_EQ(records[3].status, 403);
  EXPECT_EQ(records[3].hash, appended->hash);

  Result<AuditVerification> verified = store_->VerifyAudit();
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_TRUE(verified->ok) << verified->reason;
  EXPECT_EQ(verified->records, 4);
  EXPECT_EQ(verified->head_hash, records[3].hash);

  // Filters and pages: after_seq continues where next_page_token says.
  AuditQuery query;
  query.tenant = "a";
  query.limit = 2;
  Result<Page<AuditRecord>> page = store_->ListAudit(query);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->next_page_token, "2");
  query.after_seq = 2;
  page = store_->ListAudit(query);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].seq, 3);
  EXPECT_TRUE(page->next_page_token.empty());
  query = AuditQuery();
  query.kind = "service";
  page = store_->ListAudit(query);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].seq, 4);
}

// Edits the database behind the store's back with the sqlite3 command-line
// tool (or psql, which the PostgreSQL server's package brings).
class ControlStoreTamperTest : public ControlStoreTest {
 protected:
  void SetUp() override {
    ControlStoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure() || backend() == StoreBackend::kPostgres) return;
    sqlite3_ = testing::FindProgram("sqlite3");
    if (sqlite3_.empty()) GTEST_SKIP() << "the sqlite3 command-line tool is not installed (Debian package sqlite3)";
  }
};

INSTANTIATE_TEST_SUITE_P(Stores, ControlStoreTamperTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(ControlStoreTamperTest, TamperedRecordFailsVerificationAtThatRecord) {
  FiveRecords();
  Tamper("UPDATE audit SET message = 'nothing happened' WHERE seq = 3;");
  Result<AuditVerification> verified = store_->VerifyAudit();
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_FALSE(verified->ok);
  EXPECT_EQ(verified->first_bad_seq, 3);
  EXPECT_EQ(verified->records, 2);
  EXPECT_NE(verified->reason.find("hash mismatch"), std::string::npos) << verified->reason;
}

TEST_P(ControlStoreTamperTest, DeletedRecordFailsVerificationAtItsSuccessor) {
  FiveRecords();
  Tamper("DELETE FROM audit WHERE seq = 3;");
  Result<AuditVerification> verified = store_->VerifyAudit();
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_FALSE(verified->ok);
  // Record 4 now follows record 2: the gap is found at 4.
  EXPECT_EQ(verified->first_bad_seq, 4);
  EXPECT_NE(verified->reason.find("sequence gap"), std::string::npos) << verified->reason;
}

TEST_P(ControlStoreTamperTest, InsertedRecordFailsVerification) {
  FiveRecords();
  // seq is the primary key, so a forged record cannot sit between two real
  // ones without renumbering them. (a) Renumbering 4 and 5 up to make room for
  // a forged 4 breaks the chain at the forged record: its prev_hash is right
  // (copied from 3) but its hash was not computed over its own fields.
  Tamper(
      "UPDATE audit SET seq = -seq WHERE seq >= 4; UPDATE audit SET seq = 1 - seq WHERE seq < 0; "
      "INSERT INTO audit SELECT 4, time_ms, 'forged', actor, actor_role, actor_tenant, 'delete', kind, tenant, "
      "name, before_json, after_json, status, 'forged', hash, hash FROM audit WHERE seq = 3;");
  Result<AuditVerification> verified = store_->VerifyAudit();
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_FALSE(verified->ok);
  EXPECT_EQ(verified->first_bad_seq, 4);
  EXPECT_EQ(verified->records, 3);

  // (b) A forged record appended at the tail with a made-up hash fails at itself.
  Tamper(
      "DELETE FROM audit WHERE seq = 4; UPDATE audit SET seq = -seq WHERE seq >= 5; "
      "UPDATE audit SET seq = -seq - 1 WHERE seq < 0;");
  verified = store_->VerifyAudit();
  ASSERT_TRUE(verified.ok());
  ASSERT_TRUE(verified->ok) << verified->reason;  // the original five again
  Tamper(
      "INSERT INTO audit SELECT 6, time_ms, 'forged', actor, actor_role, actor_tenant, 'delete', kind, tenant, "
      "name, before_json, after_json, status, 'forged', hash, 'deadbeef' FROM audit WHERE seq = 5;");
  verified = store_->VerifyAudit();
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_FALSE(verified->ok);
  EXPECT_EQ(verified->first_bad_seq, 6);
  EXPECT_EQ(verified->records, 5);
  // A forger who also recomputes the hash extends the chain undetectably; only a
  // head_hash anchored elsewhere (AuditVerification::head_hash) catches that.
}

TEST_P(ControlStoreTest, ReopeningKeepsDataAndContinuesTheChain) {
  ASSERT_TRUE(Put(Object(Tenant("a"), R"({"v":"1"})"), WriteMode::kCreate, 1000).ok());
  store_.reset();
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  Result<StoredObject> got = store_->Get(Tenant("a"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->spec_json, R"({"v":"1"})");
  ASSERT_TRUE(Put(Object(Tenant("b"), "{}"), WriteMode::kCreate, 2000).ok());
  Result<AuditVerification> verified = store_->VerifyAudit();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->reason;
  EXPECT_EQ(verified->records, 2);
}

TEST_F(SqliteStoreTest, DatabaseFromANewerVersionIsRefused) {
  store_.reset();  // the last connection checkpoints the WAL into the file and removes it
  {
    // PRAGMA user_version is the big-endian 32-bit integer at offset 60 of the header.
    std::fstream file(path_, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(file.good());
    file.seekp(60);
    const char version[4] = {0, 0, 0, 99};
    file.write(version, sizeof version);
  }
  Result<std::unique_ptr<ControlStore>> opened = OpenSqliteStore(path_, SqliteStoreOptions{});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition);
  const std::string& message = opened.status().message();
  EXPECT_NE(message.find(path_), std::string::npos) << message;
  EXPECT_NE(message.find("version 99"), std::string::npos) << message;
  // The schema this build knows: 1 (objects, tokens, audit), 2 (outbox, service status), 3 (lease, caps),
  // 4 (the audit indexed by digest on PostgreSQL), 5 (approvals).
  EXPECT_NE(message.find("(5)"), std::string::npos) << message;
}

TEST_F(SqliteStoreTest, FileThatIsNotADatabaseIsAnErrorNamingIt) {
  const std::string garbage(4096, 'x');
  const std::string path = dir_.Write("garbage.db", garbage);
  Result<std::unique_ptr<ControlStore>> opened = OpenSqliteStore(path, SqliteStoreOptions{});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(opened.status().message().find(path + " is damaged (file is not a database)"), std::string::npos)
      << opened.status().message();
  EXPECT_EQ(testing::ReadFileOrEmpty(path), garbage) << "left as it was";
  const Result<std::unique_ptr<ControlStore>> missing =
      OpenSqliteStore(dir_.path() + "/missing-dir/control.db", SqliteStoreOptions{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
}

// A file whose pages are damaged opens in SQLite and fails only when they are read: it is
// refused at open (PRAGMA quick_check), before anything is written to it.
TEST_F(SqliteStoreTest, DamagedPagesAreRefusedAtOpenAndTheFileIsLeftAsItWas) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(Put(Object(Tenant("t" + std::to_string(i)), R"({"name":"t"})"), WriteMode::kCreate, 1000 + i).ok());
  }
  store_.reset();  // the last connection checkpoints the WAL into the file and removes it
  std::string bytes = testing::ReadFileOrEmpty(path_);
  const size_t page = (static_cast<unsigned char>(bytes[16]) << 8) | static_cast<unsigned char>(bytes[17]);
  ASSERT_GE(bytes.size(), 3 * page);
  for (size_t at = page; at + 16 <= bytes.size(); at += page) std::fill_n(bytes.begin() + at, 16, '\xee');
  ASSERT_TRUE(testing::WriteFile(path_, bytes));
  Result<std::unique_ptr<ControlStore>> opened = OpenSqliteStore(path_, SqliteStoreOptions{});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(opened.status().message().find(path_ + " is damaged ("), std::string::npos) << opened.status().message();
  EXPECT_EQ(testing::ReadFileOrEmpty(path_), bytes);
}

TEST_P(ControlStoreTest, TokensAreFoundByHashAndRevokedOnce) {
  const ObjectKey key = Tenant("a");
  ASSERT_TRUE(store_->CreateToken(Token("tok_1", "secret-1"), Audit("token.create", key, 1000)).ok());
  ASSERT_TRUE(store_->CreateToken(Token("tok_2", "secret-2"), Audit("token.create", key, 1000)).ok());
  EXPECT_EQ(store_->CreateToken(Token("tok_3", "secret-1"), Audit("token.create", key, 1000)).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->CreateToken(Token("tok_1", "secret-3"), Audit("token.create", key, 1000)).code(),
            StatusCode::kAlreadyExists);

  Result<TokenRecord> found = store_->FindTokenByHash(Sha256Hex("secret-2"));
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->id, "tok_2");
  EXPECT_EQ(found->role, "operator");
  EXPECT_EQ(found->tenant, "a");
  EXPECT_EQ(store_->FindTokenByHash(Sha256Hex("secret-9")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetToken("tok_9").status().code(), StatusCode::kNotFound);

  Result<TokenRecord> revoked = store_->RevokeToken("tok_1", 5000, Audit("token.revoke", key, 5000));
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(revoked->revoked_ms, 5000);
  revoked = store_->RevokeToken("tok_1", 6000, Audit("token.revoke", key, 6000));
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(revoked->revoked_ms, 5000);
  Result<TokenRecord> got = store_->GetToken("tok_1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->revoked_ms, 5000);
  EXPECT_EQ(store_->RevokeToken("tok_9", 6000, Audit("token.revoke", key, 6000)).status().code(),
            StatusCode::kNotFound);

  Result<Page<TokenRecord>> page = store_->ListTokens("", 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, "tok_1");
  page = store_->ListTokens(page->next_page_token, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, "tok_2");
  EXPECT_TRUE(page->next_page_token.empty());
  EXPECT_EQ(store_->ListTokens("xyz", 1).status().code(), StatusCode::kInvalidArgument);

  // Two creates and two revokes audited; the refused ones not.
  const std::vector<AuditRecord> records = AllAudit();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[3].action, "token.revoke");
}

TEST_P(ControlStoreTest, ConcurrentWritersKeepTheChainWhole) {
  constexpr int kThreads = 4;
  constexpr int kPutsEach = 50;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kPutsEach; ++i) {
        const ObjectKey key = Tenant("t" + std::to_string(t) + "-" + std::to_string(i));
        if (!store_->Put(Object(key, "{}"), WriteMode::kCreate, std::nullopt, Audit("create", key, 1000 + i)).ok()) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(kThreads, 0));

  Result<AuditVerification> verified = store_->VerifyAudit();
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_TRUE(verified->ok) << verified->reason;
  EXPECT_EQ(verified->records, kThreads * kPutsEach);
  ListQuery query;
  query.limit = 1000;
  Result<Page<StoredObject>> all = store_->List(query);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), static_cast<size_t>(kThreads * kPutsEach));
}

TEST_P(ControlStoreTest, ActionsAreQueuedInOrderRetriedAndFinishedWithTheirAudit) {
  AuditRecord scale = Audit("scale", Service("a", "web"), 1000);
  ASSERT_TRUE(store_->RecordAction(scale, testing::TestOutboxEntry("act-1", "web", 1000), 3).ok());
  scale.time_ms = 1100;
  ASSERT_TRUE(store_->RecordAction(scale, testing::TestOutboxEntry("act-2", "web", 1100), 4).ok());
  // A recommendation: audited and the target set, nothing queued.
  AuditRecord recommend = Audit("scale", Service("a", "db"), 1200);
  ASSERT_TRUE(store_->RecordAction(recommend, std::nullopt, 2).ok());
  Result<AuditRecord> reused = store_->RecordAction(scale, testing::TestOutboxEntry("act-1", "web", 1300), 5);
  EXPECT_EQ(reused.status().code(), StatusCode::kAlreadyExists) << reused.status().ToString();

  Result<std::vector<OutboxEntry>> queued = store_->QueuedActions(10);
  ASSERT_TRUE(queued.ok()) << queued.status().ToString();
  ASSERT_EQ(queued->size(), 2u);
  EXPECT_EQ((*queued)[0].action_id, "act-1");
  EXPECT_EQ((*queued)[0].payload_json, R"({"id":"act-1"})");
  EXPECT_EQ((*queued)[1].action_id, "act-2");
  Result<std::pair<int64_t, int64_t>> backlog = store_->OutboxBacklog();
  ASSERT_TRUE(backlog.ok());
  EXPECT_EQ(*backlog, std::make_pair(int64_t{2}, int64_t{1000}));

  ASSERT_TRUE(store_->RetryAction("act-1", 5000, "HTTP 503").ok());
  EXPECT_EQ(store_->RetryAction("act-9", 5000, "x").code(), StatusCode::kNotFound);
  queued = store_->QueuedActions(1);
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 1u);
  EXPECT_EQ((*queued)[0].attempts, 1);
  EXPECT_EQ((*queued)[0].next_attempt_ms, 5000);
  EXPECT_EQ((*queued)[0].last_error, "HTTP 503");
  // A receiver's answer cut inside a character, or holding a NUL, is kept as UTF-8 (PostgreSQL
  // refused it, and the action was retried at once without its attempt counted).
  ASSERT_TRUE(store_->RetryAction("act-1", 7000, std::string("HTTP 502: caf\xc3\0!", 16)).ok());
  queued = store_->QueuedActions(1);
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 1u);
  EXPECT_EQ((*queued)[0].attempts, 2);
  EXPECT_EQ((*queued)[0].next_attempt_ms, 7000);
  EXPECT_EQ((*queued)[0].last_error, "HTTP 502: caf\xef\xbf\xbd\xef\xbf\xbd!");

  Result<AuditRecord> finished = store_->FinishAction("act-1", Audit("delivered", Service("a", "web"), 6000));
  ASSERT_TRUE(finished.ok()) << finished.status().ToString();
  EXPECT_EQ(finished->seq, 4);
  EXPECT_EQ(store_->FinishAction("act-1", Audit("delivered", Service("a", "web"), 6000)).status().code(),
            StatusCode::kNotFound);
  backlog = store_->OutboxBacklog();
  ASSERT_TRUE(backlog.ok());
  EXPECT_EQ(*backlog, std::make_pair(int64_t{1}, int64_t{1100}));

  ASSERT_TRUE(store_->SetCurrentReplicas("a", "db", 6, "report", 7000).ok());
  Result<std::vector<ServiceStatus>> statuses = store_->ServiceStatuses();
  ASSERT_TRUE(statuses.ok()) << statuses.status().ToString();
  ASSERT_EQ(statuses->size(), 2u);
  std::sort(statuses->begin(), statuses->end(),
            [](const ServiceStatus& x, const ServiceStatus& y) { return x.service < y.service; });
  EXPECT_EQ((*statuses)[0].service, "db");
  EXPECT_EQ((*statuses)[0].target, 6);
  EXPECT_EQ((*statuses)[0].current, 6);
  EXPECT_EQ((*statuses)[0].current_source, "report");
  EXPECT_EQ((*statuses)[1].service, "web");
  EXPECT_EQ((*statuses)[1].target, 4);
  EXPECT_FALSE((*statuses)[1].current.has_value());

  Result<AuditVerification> verified = store_->VerifyAudit();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->reason;
  EXPECT_EQ(verified->records, 4);  // three actions and one delivery; the refused one left none
}

TEST_P(ControlStoreTest, ObjectsGenerationChangesWithEveryWrite) {
  Result<std::string> before = store_->ObjectsGeneration();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  Result<std::string> again = store_->ObjectsGeneration();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*before, *again);
  ASSERT_TRUE(Put(Object(Tenant("a"), "{}"), WriteMode::kCreate, 1000).ok());
  Result<std::string> after = store_->ObjectsGeneration();
  ASSERT_TRUE(after.ok());
  EXPECT_NE(*after, *before);
  ASSERT_TRUE(store_->Delete(Tenant("a"), std::nullopt, Audit("delete", Tenant("a"), 2000)).ok());
  Result<std::string> deleted = store_->ObjectsGeneration();
  ASSERT_TRUE(deleted.ok());
  EXPECT_NE(*deleted, *after);
}

}  // namespace
}  // namespace prescale::aggregator
