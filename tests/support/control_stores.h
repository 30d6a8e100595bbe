// Control stores for suites that run against both implementations of
// aggregator::ControlStore (issue 17): SQLite, in a file of a temporary
// directory, and PostgreSQL, in a database of its own on the process's shared
// server (tests/support/postgres.h). A suite takes the backend as its
// parameter:
//
//   class FooTest : public ::testing::TestWithParam<testing::StoreBackend> {
//     void SetUp() override {
//       store_ = stores_.OpenNew();
//       if (store_ == nullptr) return;  // skipped (PostgreSQL not installed) or failed, saying why
//     }
//     testing::TestControlStores stores_{GetParam()};
//   };
//   INSTANTIATE_TEST_SUITE_P(Stores, FooTest, testing::AllStoreBackends(), testing::StoreBackendName);
//
// which names the tests Stores/FooTest.Bar/sqlite and Stores/FooTest.Bar/postgres.
// A PostgreSQL test is skipped (GTEST_SKIP, saying why) only when PostgreSQL's
// programs are not installed; installed but failing to start fails the test.
// Each new PostgreSQL database is a copy of one the store migrated from empty
// once per process (as a first start does), which keeps a database per test cheap.
// Not thread-safe: the test's thread uses it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "prescale/aggregator/control/control_store.h"
#include "prescale/base/status.h"
#include "tests/support/postgres.h"
#include "tests/support/test_env.h"

namespace prescale::testing {

enum class StoreBackend { kSqlite, kPostgres };

// Both backends, for INSTANTIATE_TEST_SUITE_P.
inline auto AllStoreBackends() { return ::testing::Values(StoreBackend::kSqlite, StoreBackend::kPostgres); }

// "sqlite" or "postgres".
std::string_view StoreBackendLabel(StoreBackend backend);
// The same as the name of a parameterised test (the part after the last '/'),
// for INSTANTIATE_TEST_SUITE_P (one function, not an overload set, so it can be passed).
std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info);

// The control stores of one test, all of one backend.
class TestControlStores {
 public:
  explicit TestControlStores(StoreBackend backend);
  TestControlStores(const TestControlStores&) = delete;
  TestControlStores& operator=(const TestControlStores&) = delete;

  StoreBackend backend() const { return backend_; }

  // A new, empty place for a store: the path of a file `name`.db in this
  // object's temporary directory, or the URL of a new database on the shared
  // PostgreSQL server. "" after skipping the test (PostgreSQL is not
  // installed) or failing it fatally (it is, but does not start; the database
  // cannot be made): callers return when it is "".
  std::string NewLocation(const std::string& name = "control");
  // Opens the store at a location NewLocation made (again: a reopened store
  // keeps what was written), with the backend's default options.
  Result<std::unique_ptr<aggregator::ControlStore>> Open(const std::string& location) const;
  // NewLocation, then Open: a fresh, empty store; null after a skip or a
  // fatal failure that says why.
  std::unique_ptr<aggregator::ControlStore> OpenNew(const std::string& name = "control");

  // The shared server and the database NewLocation made last (PostgreSQL
  // only: null and "" for SQLite), for tests that edit it with psql.
  PostgresServer* postgres() const { return postgres_; }
  const std::string& database() const { return database_; }

 private:
  StoreBackend backend_;
  TempDir dir_{"prescale-control-store"};
  PostgresServer* postgres_ = nullptr;
  std::string database_;
};

// A webhook action of tenant "a" for the outbox, due at once: {"id": ID} as its payload.
aggregator::OutboxEntry TestOutboxEntry(const std::string& id, const std::string& service, int64_t created_ms);

}  // namespace prescale::testing
