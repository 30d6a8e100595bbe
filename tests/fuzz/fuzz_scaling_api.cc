// Fuzzes the aggregator's scaling inputs from outside: the first byte picks
//   0: the aggregator's YAML config (trigger rules included): parsed, or an error;
//   1: POST /api/v1/tenants/{t}/services/{s}/replicas bodies;
//   2: POST /api/v1/alerts/alertmanager bodies;
//   3: GET /api/v1/directives query strings;
//   4: a webhook action body as ParseActionJson reads it back from the outbox;
//   5: POST /api/v1/tenants/{t}/services/{s}/approve bodies.
// Never a crash, a hang or an escaped exception; HTTP answers are 2xx or a 4xx
// with a JSON reason.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "prescale/aggregator/actions/actions.h"
#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/api/control_api.h"
#include "prescale/aggregator/config.h"
#include "prescale/aggregator/control/sqlite_store.h"
#include "prescale/base/log.h"

namespace {

constexpr char kAdminToken[] = "fuzz-admin-token";

prescale::aggregator::Aggregator& Instance() {
  static prescale::aggregator::Aggregator* aggregator = [] {
    prescale::SetLogLevel(prescale::LogLevel::kError);
    // An admin token: every route needs one, and the inputs must reach the handlers.
    prescale::aggregator::AggregatorConfig config;
    config.tokens = {{"fuzz", prescale::aggregator::Sha256Hex(kAdminToken), "admin", ""}};
    config.api_requests_per_second = 0;
    auto* a = new prescale::aggregator::Aggregator(config, prescale::SystemClock::Instance());
    auto store = prescale::aggregator::OpenSqliteStore(":memory:", prescale::aggregator::SqliteStoreOptions{});
    if (!store.ok()) std::abort();
    a->UseControlStore(std::move(store).value());
    using prescale::aggregator::ObjectKind;
    for (auto [kind, json, tenant] :
         {std::tuple{ObjectKind::kTenant, R"({"name":"acme"})", ""},
          {ObjectKind::kService, R"({"name":"web","requests":{"cpu_cores":0.5}})", "acme"}}) {
      auto built = prescale::aggregator::BuildObject(kind, json, {kind, tenant, ""});
      if (!built.ok()) std::abort();
      prescale::aggregator::AuditRecord audit;
      audit.actor = "fuzz";
      if (!a->control_store()->Put(built->object, prescale::aggregator::WriteMode::kUpsert, std::nullopt, audit).ok()) {
        std::abort();
      }
    }
    return a;
  }();
  return *aggregator;
}

void CheckAnswer(const prescale::http::HttpResponse& r) {
  const bool ok = r.status == 200 || r.status == 202 || r.status == 204;
  const bool refused = r.status >= 400 && r.status < 500 && r.body.find("\"error\"") != std::string::npos;
  if (!ok && !refused) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  prescale::http::HttpRequest request;
  request.body = input;
  request.headers.emplace_back("Authorization", std::string("Bearer ") + kAdminToken);
  switch (data[0] % 6) {
    case 0: {
      auto config = prescale::aggregator::ParseAggregatorConfig(input, "fuzz.yaml");
      if (!config.ok() && config.status().message().find("fuzz.yaml") == std::string::npos) std::abort();
      break;
    }
    case 1:
      request.method = "POST";
      request.path_params = {{"tenant", "acme"}, {"service", "web"}};
      CheckAnswer(Instance().Handle("replicas_report", request));
      break;
    case 2:
      request.method = "POST";
      CheckAnswer(Instance().Handle("alerts_alertmanager", request));
      (void)Instance().triggers().Drain();
      break;
    case 3:
      request.method = "GET";
      request.body.clear();
      request.query = input;
      CheckAnswer(Instance().Handle("directives", request));
      break;
    case 4: (void)prescale::aggregator::ParseActionJson(input); break;
    default:
      request.method = "POST";
      request.path_params = {{"tenant", "acme"}, {"service", "web"}};
      CheckAnswer(Instance().Handle("approve", request));
      (void)Instance().triggers().Drain();
      break;
  }
  return 0;
}
