#include "prescale/aggregator/scaling/alertmanager.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace prescale::aggregator {
namespace {

// What Alertmanager 0.25 POSTs for a group with one firing and one resolved alert.
constexpr const char* kPayload = R"({
  "receiver": "prescale",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "CheckoutQueueBacklog", "tenant": "acme", "service": "checkout",
                 "prescale_action": "scale_up", "severity": "page"},
      "annotations": {"summary": "checkout queue above 500 for 5m"},
      "startsAt": "2026-11-28T03:00:00.123456789Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus:9090/graph?g0.expr=queue_depth+%3E+500\u0026g0.tab=1",
      "fingerprint": "3bf0fa6c1a1d4a6e"
    },
    {
      "status": "resolved",
      "labels": {"alertname": "CheckoutLatencyHigh", "tenant": "acme", "service": "checkout"},
      "annotations": {},
      "startsAt": "2026-11-28T04:10:00+02:00",
      "endsAt": "2026-11-28T02:25:30.5Z",
      "generatorURL": "http://prometheus:9090/graph",
      "fingerprint": "90c1b2c3d4e5f601"
    }
  ],
  "groupLabels": {"alertname": "CheckoutQueueBacklog"},
  "commonLabels": {"tenant": "acme", "service": "checkout"},
  "commonAnnotations": {},
  "externalURL": "http://alertmanager:9093",
  "version": "4",
  "groupKey": "{}:{alertname=\"CheckoutQueueBacklog\"}",
  "truncatedAlerts": 0
})";

TEST(AlertmanagerWebhook, DecodesFiringAndResolvedAlerts) {
  auto r = ParseAlertmanagerWebhook(kPayload);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  const AlertmanagerAlert& firing = (*r)[0];
  EXPECT_EQ(firing.status, "firing");
  EXPECT_EQ(firing.tenant, "acme");
  EXPECT_EQ(firing.service, "checkout");
  EXPECT_EQ(firing.action, "scale_up");
  EXPECT_EQ(firing.labels.at("alertname"), "CheckoutQueueBacklog");
  EXPECT_EQ(firing.labels.size(), 5u);
  EXPECT_EQ(firing.annotations.at("summary"), "checkout queue above 500 for 5m");
  EXPECT_EQ(firing.fingerprint, "3bf0fa6c1a1d4a6e");
  EXPECT_EQ(firing.starts_at_ms, 1'795'834'800'123);  // fraction beyond milliseconds dropped
  EXPECT_EQ(firing.ends_at_ms, 0);                    // Alertmanager's zero time: not ended

  const AlertmanagerAlert& resolved = (*r)[1];
  EXPECT_EQ(resolved.status, "resolved");
  EXPECT_EQ(resolved.tenant, "acme");
  EXPECT_EQ(resolved.service, "checkout");
  EXPECT_EQ(resolved.action, "");
  EXPECT_TRUE(resolved.annotations.empty());
  EXPECT_EQ(resolved.starts_at_ms, 1'795'831'800'000);  // 04:10+02:00 is 02:10Z
  EXPECT_EQ(resolved.ends_at_ms, 1'795'832'730'500);
}

TEST(AlertmanagerWebhook, AcceptsMinimalPayloadAndIgnoresUnknownFields) {
  auto r = ParseAlertmanagerWebhook(
      R"({"version":"4","orgId":1,"alerts":[{"status":"firing","labels":{},"startsAt":"2026-11-28T03:00:00Z",
          "silenceURL":"x"}]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].ends_at_ms, 0);
  EXPECT_EQ((*r)[0].tenant, "");
  auto empty = ParseAlertmanagerWebhook(R"({"version":"4","alerts":[]})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(AlertmanagerWebhook, ComputesFingerprintWhenMissing) {
  auto r = ParseAlertmanagerWebhook(
      R"({"version":"4","alerts":[{"status":"firing","labels":{"name":"garland, briggs",
          "fear":"love is not enough"},"startsAt":"2026-11-28T03:00:00Z","fingerprint":""}]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // Prometheus's common/model test vector for this label set: 5799056148416392346.
  EXPECT_EQ((*r)[0].fingerprint, "507a62d79ee76c9a");
  EXPECT_EQ(AlertFingerprint({}), "cbf29ce484222325");  // FNV-1a 64 offset basis
  // Label order in the payload does not matter; values do.
  EXPECT_EQ(AlertFingerprint({{"a", "1"}, {"b", "2"}}), AlertFingerprint({{"b", "2"}, {"a", "1"}}));
  EXPECT_NE(AlertFingerprint({{"a", "1"}, {"b", "2"}}), AlertFingerprint({{"a", "1"}, {"b", "3"}}));
  // The separator keeps "ab"="" apart from "a"="b".
  EXPECT_NE(AlertFingerprint({{"ab", ""}}), AlertFingerprint({{"a", "b"}}));
}

// Bodies Alertmanager 0.25 (Debian's prometheus-alertmanager) POSTed for one
// alert sent to its /api/v2/alerts, then resolved.
constexpr const char* kCapturedFiring =
    R"({"receiver":"prescale","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"CheckoutQueueBacklog","prescale_action":"scale_up","service":"checkout","tenant":"acme"},"annotations":{"summary":"x"},"startsAt":"2026-11-28T08:13:58.144353179Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"ba274d9fb35261eb"}],"groupLabels":{},"commonLabels":{"alertname":"CheckoutQueueBacklog","prescale_action":"scale_up","service":"checkout","tenant":"acme"},"commonAnnotations":{"summary":"x"},"externalURL":"http://vm:19572","version":"4","groupKey":"{}:{}","truncatedAlerts":0})";
constexpr const char* kCapturedResolved =
    R"({"receiver":"prescale","status":"resolved","alerts":[{"status":"resolved","labels":{"alertname":"CheckoutQueueBacklog","prescale_action":"scale_up","service":"checkout","tenant":"acme"},"annotations":{"summary":"x"},"startsAt":"2026-11-28T08:13:58.144353179Z","endsAt":"2026-11-28T08:14:00Z","generatorURL":"","fingerprint":"ba274d9fb35261eb"}],"groupLabels":{},"commonLabels":{"alertname":"CheckoutQueueBacklog","prescale_action":"scale_up","service":"checkout","tenant":"acme"},"commonAnnotations":{"summary":"x"},"externalURL":"http://vm:19572","version":"4","groupKey":"{}:{}","truncatedAlerts":0})";

TEST(AlertmanagerWebhook, DecodesBodiesCapturedFromAlertmanager) {
  auto firing = ParseAlertmanagerWebhook(kCapturedFiring);
  auto resolved = ParseAlertmanagerWebhook(kCapturedResolved);
  ASSERT_TRUE(firing.ok()) << firing.status().ToString();
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  ASSERT_EQ(firing->size(), 1u);
  ASSERT_EQ(resolved->size(), 1u);
  const AlertmanagerAlert& f = (*firing)[0];
  EXPECT_EQ(f.status, "firing");
  EXPECT_EQ(f.tenant, "acme");
  EXPECT_EQ(f.service, "checkout");
  EXPECT_EQ(f.action, "scale_up");
  EXPECT_EQ(f.starts_at_ms, 1'795'853'638'144);
  EXPECT_EQ(f.ends_at_ms, 0);
  // Our fingerprint of the labels is Alertmanager's.
  EXPECT_EQ(f.fingerprint, "ba274d9fb35261eb");
  EXPECT_EQ(AlertFingerprint(f.labels), f.fingerprint);
  const AlertmanagerAlert& r = (*resolved)[0];
  EXPECT_EQ(r.status, "resolved");
  EXPECT_EQ(r.fingerprint, f.fingerprint);
  EXPECT_EQ(r.ends_at_ms, 1'795'853'640'000);
  AlertDeduplicator dedup;
  EXPECT_TRUE(dedup.Observe(f));
  EXPECT_FALSE(dedup.Observe(f));
  EXPECT_TRUE(dedup.Observe(r));
}

struct BadPayload {
  const char* name;
  std::string body;
  std::string field;
};

std::string Alert(const std::string& fields) {
  return R"({"version":"4","alerts":[{"status":"firing","labels":{},"startsAt":"2026-11-28T03:00:00Z"},)"
         R"({"status":"firing","labels":{},"startsAt":"2026-11-28T03:00:00Z"},{)" +
         fields + "}]}";
}

TEST(AlertmanagerWebhook, RejectsBadPayloadsNamingTheField) {
  const std::string ok_alert = R"("status":"firing","labels":{"tenant":"a"},"startsAt":"2026-11-28T03:00:00Z")";
  const std::vector<BadPayload> cases = {
      {"not JSON", "alerts: firing", ""},
      {"truncated JSON", R"({"version":"4","alerts":[)", ""},
      {"not an object", R"(["4"])", ""},
      {"version missing", R"({"alerts":[]})", "version"},
      {"wrong version", R"({"version":"3","alerts":[]})", "version"},
      {"version as a number", R"({"version":4,"alerts":[]})", "version"},
      {"alerts missing", R"({"version":"4"})", "alerts"},
      {"alerts not an array", R"({"version":"4","alerts":{"status":"firing"}})", "alerts"},
      {"alert not an object", R"({"version":"4","alerts":["firing"]})", "alerts[0]"},
      {"label value not a string",
       Alert(R"("status":"firing","labels":{"tenant":7},"startsAt":"2026-11-28T03:00:00Z")"),
       "alerts[2].labels.tenant"},
      {"labels not an object", Alert(R"("status":"firing","labels":[],"startsAt":"2026-11-28T03:00:00Z")"),
       "alerts[2].labels"},
      {"labels missing", Alert(R"("status":"firing","startsAt":"2026-11-28T03:00:00Z")"), "alerts[2].labels"},
      {"annotation value not a string", Alert(ok_alert + R"(,"annotations":{"summary":null})"),
       "alerts[2].annotations.summary"},
      {"unknown alert status", Alert(R"("status":"pending","labels":{},"startsAt":"2026-11-28T03:00:00Z")"),
       "alerts[2].status"},
      {"alert status missing", Alert(R"("labels":{},"startsAt":"2026-11-28T03:00:00Z")"), "alerts[2].status"},
      {"bad startsAt", Alert(R"("status":"firing","labels":{},"startsAt":"2026-11-28 3am")"), "alerts[2].startsAt"},
      {"startsAt as Unix seconds", Alert(R"("status":"firing","labels":{},"startsAt":"1764298800")"),
       "alerts[2].startsAt"},
      {"startsAt as a number", Alert(R"("status":"firing","labels":{},"startsAt":1764298800)"), "alerts[2].startsAt"},
      {"startsAt missing", Alert(R"("status":"firing","labels":{})"), "alerts[2].startsAt"},
      {"endsAt without zone", Alert(ok_alert + R"(,"endsAt":"2026-11-28T03:00:00")"), "alerts[2].endsAt"},
      {"endsAt before 1970", Alert(ok_alert + R"(,"endsAt":"1969-12-31T23:59:59Z")"), "alerts[2].endsAt"},
      {"fingerprint not a string", Alert(ok_alert + R"(,"fingerprint":12)"), "alerts[2].fingerprint"},
      {"generatorURL not a string", Alert(ok_alert + R"(,"generatorURL":false)"), "alerts[2].generatorURL"},
      {"group status unknown", R"({"version":"4","status":"ok","alerts":[]})", "status"},
      {"truncatedAlerts negative", R"({"version":"4","truncatedAlerts":-1,"alerts":[]})", "truncatedAlerts"},
      {"groupKey not a string", R"({"version":"4","groupKey":{},"alerts":[]})", "groupKey"},
      {"commonLabels value not a string", R"({"version":"4","commonLabels":{"tenant":["a"]},"alerts":[]})",
       "commonLabels.tenant"},
      {"invalid UTF-8", "{\"version\":\"4\",\"alerts\":[],\"receiver\":\"\xff\"}", ""},
      {"escaped lone surrogate", R"({"version":"4","alerts":[],"receiver":"\udc00"})", ""},
  };
  for (const auto& c : cases) {
    auto r = ParseAlertmanagerWebhook(c.body);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), c.field.empty() ? StatusCode::kInvalidArgument : StatusCode::kUnprocessable) << c.name;
    EXPECT_EQ(r.status().field(), c.field) << c.name << ": " << r.status().message();
    if (!c.field.empty()) {
      EXPECT_EQ(r.status().message().rfind(c.field + ": ", 0), 0u) << c.name << ": " << r.status().message();
    }
  }
}

AlertmanagerAlert MakeAlert(const std::string& fingerprint, const std::string& status, int64_t starts_at_ms = 1000) {
  AlertmanagerAlert a;
  a.fingerprint = fingerprint;
  a.status = status;
  a.starts_at_ms = starts_at_ms;
  return a;
}

TEST(AlertDeduplicator, PassesNewAlertsAndStatusChangesButNotRepeats) {
  AlertDeduplicator dedup;
  EXPECT_TRUE(dedup.Observe(MakeAlert("a", "firing")));
  EXPECT_FALSE(dedup.Observe(MakeAlert("a", "firing")));  // repeat_interval
  EXPECT_FALSE(dedup.Observe(MakeAlert("a", "firing")));
  EXPECT_TRUE(dedup.Observe(MakeAlert("b", "firing")));  // another alert
  EXPECT_TRUE(dedup.Observe(MakeAlert("a", "resolved")));
  EXPECT_FALSE(dedup.Observe(MakeAlert("a", "resolved")));  // resolved repeated in the group's next notification
  EXPECT_TRUE(dedup.Observe(MakeAlert("a", "firing")));     // fires again
  EXPECT_FALSE(dedup.Observe(MakeAlert("a", "firing")));
  EXPECT_EQ(dedup.size(), 2u);
}

TEST(AlertDeduplicator, FiringWithNewStartIsANewEpisode) {
  // With send_resolved: false Alertmanager never says the first episode ended.
  AlertDeduplicator dedup;
  EXPECT_TRUE(dedup.Observe(MakeAlert("a", "firing", 1000)));
  EXPECT_FALSE(dedup.Observe(MakeAlert("a", "firing", 1000)));
  EXPECT_TRUE(dedup.Observe(MakeAlert("a", "firing", 9000)));
  EXPECT_FALSE(dedup.Observe(MakeAlert("a", "firing", 9000)));
  // A resolved alert is one resolution whatever its start.
  EXPECT_TRUE(dedup.Observe(MakeAlert("a", "resolved", 9000)));
  EXPECT_FALSE(dedup.Observe(MakeAlert("a", "resolved", 9000)));
}

TEST(AlertDeduplicator, ForgetsOldestResolvedFirstWhenFull) {
  AlertDeduplicator dedup(3);
  EXPECT_TRUE(dedup.Observe(MakeAlert("r1", "resolved")));
  EXPECT_TRUE(dedup.Observe(MakeAlert("f1", "firing")));
  EXPECT_TRUE(dedup.Observe(MakeAlert("r2", "resolved")));
  EXPECT_FALSE(dedup.Observe(MakeAlert("r1", "resolved")));  // r1 now observed more recently than r2
  EXPECT_TRUE(dedup.Observe(MakeAlert("f2", "firing")));     // full: forgets r2, the oldest resolved
  EXPECT_EQ(dedup.size(), 3u);
  EXPECT_FALSE(dedup.Observe(MakeAlert("f1", "firing")));
  EXPECT_FALSE(dedup.Observe(MakeAlert("r1", "resolved")));
  EXPECT_TRUE(dedup.Observe(MakeAlert("f3", "firing")));  // forgets r1, the only resolved one
  EXPECT_FALSE(dedup.Observe(MakeAlert("f1", "firing")));
  EXPECT_FALSE(dedup.Observe(MakeAlert("f2", "firing")));
  // No resolved left: the least recently observed firing alert (f3) goes.
  EXPECT_TRUE(dedup.Observe(MakeAlert("f4", "firing")));
  EXPECT_EQ(dedup.size(), 3u);
  EXPECT_FALSE(dedup.Observe(MakeAlert("f1", "firing")));
  EXPECT_FALSE(dedup.Observe(MakeAlert("f2", "firing")));
  EXPECT_FALSE(dedup.Observe(MakeAlert("f4", "firing")));
  EXPECT_TRUE(dedup.Observe(MakeAlert("f3", "firing")));  // forgotten, so new again
  // A resolution moves an alert to the resolved side: it is then the first to go.
  EXPECT_TRUE(dedup.Observe(MakeAlert("f2", "resolved")));
  EXPECT_TRUE(dedup.Observe(MakeAlert("f5", "firing")));
  EXPECT_TRUE(dedup.Observe(MakeAlert("f2", "resolved")));  // forgotten
}

TEST(AlertDeduplicator, CountsEachChangeOnceAcrossThreads) {
  AlertDeduplicator dedup(100'000);
  constexpr int kThreads = 4;
  constexpr int kAlerts = 2000;
  std::vector<int> passed(kThreads, 0);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAlerts; ++i) passed[t] += dedup.Observe(MakeAlert("fp" + std::to_string(i), "firing"));
    });
  }
  for (auto& th : threads) th.join();
  int total = 0;
  for (int p : passed) total += p;
  EXPECT_EQ(total, kAlerts);  // every alert let through exactly once, whichever thread saw it first
  EXPECT_EQ(dedup.size(), static_cast<size_t>(kAlerts));
}

}  // namespace
}  // namespace prescale::aggregator
