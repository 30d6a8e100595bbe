#include "tests/support/control_stores.h"

#include <memory>
#include <string>
#include <utility>

#include "prescale/aggregator/control/postgres_store.h"
#include "prescale/aggregator/control/sqlite_store.h"

namespace prescale::testing {

std::string_view StoreBackendLabel(StoreBackend backend) {
  return backend == StoreBackend::kPostgres ? "postgres" : "sqlite";
}

std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return std::string(StoreBackendLabel(info.param));
}

namespace {

constexpr const char* kTemplate = "control_template";

// Once per process: a database the store has migrated (from empty, as on a
// first start), which every test's database then copies: cheaper than a new
// database and its migrations each time. "" on success, else why not.
const std::string& MigratedTemplate(PostgresServer* server) {
  static const std::string kFailure = [server]() -> std::string {
    std::string error;
    if (!server->CreateDatabase(kTemplate, &error)) return error;
    // Closed at once: nobody may be connected to a database being copied.
    Result<std::unique_ptr<aggregator::ControlStore>> migrated =
        aggregator::OpenPostgresStore(server->Url(kTemplate), {});
    if (!migrated.ok()) return "cannot migrate the template database: " + migrated.status().ToString();
    return "";
  }();
  return kFailure;
}

}  // namespace

TestControlStores::TestControlStores(StoreBackend backend) : backend_(backend) {}

std::string TestControlStores::NewLocation(const std::string& name) {
  if (backend_ == StoreBackend::kSqlite) return dir_.path() + "/" + name + ".db";
  std::string error;
  postgres_ = SharedPostgres(&error);
  // GTEST_SKIP and FAIL return from the function they are in: a lambda here.
  if (postgres_ == nullptr && PostgresBinDir().empty()) {
    [&] { GTEST_SKIP() << error; }();
    return "";
  }
  if (postgres_ == nullptr) {
    [&] { FAIL() << "PostgreSQL is installed but did not start: " << error; }();
    return "";
  }
  if (const std::string& failure = MigratedTemplate(postgres_); !failure.empty()) {
    [&] { FAIL() << failure; }();
    return "";
  }
  // Unique in the process (the server is shared by every test of it).
  static int databases = 0;
  database_ = "t" + std::to_string(++databases) + "_" + name;
  if (!postgres_->CopyDatabase(kTemplate, database_, &error)) {
    [&] { FAIL() << error; }();
    return "";
  }
  return postgres_->Url(database_);
}

Result<std::unique_ptr<aggregator::ControlStore>> TestControlStores::Open(const std::string& location) const {
  return backend_ == StoreBackend::kPostgres ? aggregator::OpenPostgresStore(location, {})
                                             : aggregator::OpenSqliteStore(location, {});
}

std::unique_ptr<aggregator::ControlStore> TestControlStores::OpenNew(const std::string& name) {
  const std::string location = NewLocation(name);
  if (location.empty()) return nullptr;
  Result<std::unique_ptr<aggregator::ControlStore>> opened = Open(location);
  if (!opened.ok()) {
    [&] { FAIL() << "cannot open the " << StoreBackendLabel(backend_) << " store: " << opened.status().ToString(); }();
    return nullptr;
  }
  return std::move(opened).value();
}

aggregator::OutboxEntry TestOutboxEntry(const std::string& id, const std::string& service, int64_t created_ms) {
  aggregator::OutboxEntry entry;
  entry.action_id = id;
  entry.tenant = "a";
  entry.service = service;
  entry.executor = "webhook";
  entry.payload_json = R"({"id":")" + id + R"("})";
  entry.created_ms = created_ms;
  entry.next_attempt_ms = created_ms;
  return entry;
}

}  // namespace prescale::testing
