// Declarative control-plane objects: applied idempotently from YAML text and
// from a directory of files, with errors naming the file, line and field and
// nothing written when any object is invalid. On both control stores
// (Stores/ControlBootstrapTest.*/sqlite, /postgres).
#include "prescale/aggregator/control/control_bootstrap.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/control_stores.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using ::testing::HasSubstr;

class ControlBootstrapTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    store_ = stores_.OpenNew();
    if (store_ == nullptr) return;  // skipped, or failed saying why
    actor_.time_ms = 1'700'000'000'000;
    actor_.actor = "bootstrap";
    actor_.actor_role = "admin";
  }
  int64_t AuditRecords() {
    auto v = store_->VerifyAudit();
    EXPECT_TRUE(v.ok() && v->ok);
    return v.ok() ? v->records : -1;
  }

  testing::TestControlStores stores_{GetParam()};
  std::unique_ptr<ControlStore> store_;
  AuditRecord actor_;
};

INSTANTIATE_TEST_SUITE_P(Stores, ControlBootstrapTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(ControlBootstrapTest, DirectoryFilesApplyInNameOrderAndOnlyOnce) {
  testing::TempDir objects("prescale-bootstrap-objects");
  objects.Write("10-tenants.yaml", "tenants:\n  - name: acme\n    quotas: {cpu_cores: 8}\n");
  objects.Write("20-services.yml",
                "policies:\n  - {name: fast, tenant: acme, horizon: 5m}\nservices:\n"
                "  - {tenant: acme, name: web, priority: high, policy: fast}\n");
  objects.Write("README.txt", "not an object file\n");
  auto first = ApplyDirectory(store_.get(), objects.path(), actor_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->created, 3);
  const int64_t records = AuditRecords();
  EXPECT_EQ(records, 3);
  auto again = ApplyDirectory(store_.get(), objects.path(), actor_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->unchanged, 3);
  EXPECT_EQ(again->created + again->replaced, 0);
  EXPECT_EQ(AuditRecords(), records);  // nothing changed, nothing audited
  auto web = store_->Get({ObjectKind::kService, "acme", "web"});
  ASSERT_TRUE(web.ok());
  EXPECT_THAT(web->spec_json, HasSubstr(R"("priority":"high")"));
  // A directory file holds objects only.
  objects.Write("30-extra.yaml", "listen: 0.0.0.0:1\n");
  auto strict = ApplyDirectory(store_.get(), objects.path(), actor_);
  ASSERT_FALSE(strict.ok());
  EXPECT_THAT(strict.status().message(), HasSubstr("30-extra.yaml:1"));
}

TEST_P(ControlBootstrapTest, AnInvalidObjectNamesItsLineAndWritesNothing) {
  const std::string yaml =
      "tenants:\n"
      "  - name: acme\n"
      "services:\n"
      "  - tenant: acme\n"
      "    name: web\n"
      "    replicas:\n"
      "      min: 5\n"
      "      max: 2\n";
  auto applied = ApplyObjects(store_.get(), yaml, "objects.yaml", actor_, false);
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(applied.status().message(), HasSubstr("objects.yaml:7: services[0].replicas.min: must not exceed"));
  EXPECT_EQ(store_->Get({ObjectKind::kTenant, "", "acme"}).status().code(), StatusCode::kNotFound);
  // Quoted scalars stay strings: a numeric-looking label value is not a number.
  applied = ApplyObjects(store_.get(), "tenants:\n  - {name: acme, labels: {cost-center: \"0042\"}}\n", "t.yaml",
                         actor_, false);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  auto acme = store_->Get({ObjectKind::kTenant, "", "acme"});
  ASSERT_TRUE(acme.ok());
  EXPECT_THAT(acme->spec_json, HasSubstr(R"("cost-center":"0042")"));
}

}  // namespace
}  // namespace prescale::aggregator
