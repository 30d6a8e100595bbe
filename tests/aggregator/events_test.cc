// Scaling events and the trigger source, without a broker (docs/events.md):
// routing keys, the event JSON, the trigger message decoder, the events.amqp
// config and its errors, the stores' RecordAndQueue and DropQueued, the
// dispatcher's event lanes (a scripted sink), and the decision loop queuing
// trigger, action and recommendation events in order. The stores and the
// wiring run on both control stores (Stores/.../sqlite, /postgres).
// tests/integration/amqp_events_test.cc runs them against a real RabbitMQ.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "prescale/aggregator/actions/actions.h"
#include "prescale/aggregator/actions/events.h"
#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/config.h"
#include "prescale/aggregator/control/objects.h"
#include "prescale/aggregator/events/amqp_options.h"
#include "prescale/aggregator/events/trigger_message.h"
#include "tests/support/aggregator/recording_executor.h"
#include "tests/support/control_stores.h"
#include "tests/support/fake_clock.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Outcome = ExecutionResult::Outcome;

// ---- routing keys and the event JSON ----------------------------------------------------------

TEST(EventRoutingKey, IsTenantServiceKindWithThreeWordsWhateverTheNames) {
  EXPECT_EQ(EventRoutingKey("acme", "web", "action"), "acme.web.action");
  // A topic exchange splits on '.' and matches '*' and '#': they never reach the key.
  EXPECT_EQ(EventRoutingKey("a.b", "c*d", "trigger"), "a_b.c_d.trigger");
  EXPECT_EQ(EventRoutingKey("#", "", "recommendation"), "_._.recommendation");
  EXPECT_EQ(RoutingKeyWord("web 1\t\xc3\xa9"), "web_1___");
  EXPECT_EQ(RoutingKeyWord("my-svc_2"), "my-svc_2");
}

ScaleAction Action() {
  ScaleAction a;
  a.id = "act_1";
  a.tenant = "acme";
  a.service = "web";
  a.from_replicas = 2;
  a.to_replicas = 5;
  a.reason = "cpu forecast 2.4 cores";
  a.trigger = "amqp:load";
  a.forecast = 2.4;
  a.created_ms = 1'700'000'000'123;
  return a;
}

TEST(EventJson, CarriesTheEnvelopeAndTheActionOrTheTrigger) {
  ScalingEvent e;
  e.id = "evt_1";
  e.kind = "action";
  e.tenant = "acme";
  e.service = "web";
  e.time_ms = 1'700'000'000'123;
  e.replica = "prescale-0";
  e.action = Action();
  e.executor = "webhook";
  rapidjson::Document doc;
  const std::string json = EventJson(e);
  doc.Parse(json.c_str());
  ASSERT_TRUE(doc.IsObject()) << json;
  EXPECT_STREQ(doc["id"].GetString(), "evt_1");
  EXPECT_STREQ(doc["kind"].GetString(), "action");
  EXPECT_STREQ(doc["tenant"].GetString(), "acme");
  EXPECT_STREQ(doc["service"].GetString(), "web");
  EXPECT_STREQ(doc["timestamp"].GetString(), "2023-11-14T22:13:20.123Z");
  EXPECT_STREQ(doc["replica"].GetString(), "prescale-0");
  EXPECT_STREQ(doc["executor"].GetString(), "webhook");
  EXPECT_STREQ(doc["action"]["id"].GetString(), "act_1");
  EXPECT_EQ(doc["action"]["to_replicas"].GetInt64(), 5);
  EXPECT_DOUBLE_EQ(doc["action"]["forecast"].GetDouble(), 2.4);
  EXPECT_FALSE(doc.HasMember("trigger"));
  auto header = ParseEventHeader(json);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->id, "evt_1");
  EXPECT_EQ(header->kind, "action");

  ScalingEvent t;
  t.id = "evt_2";
  t.kind = "trigger";
  t.tenant = "acme";
  t.service = "web";
  t.trigger = EventTrigger{"amqp", "load", "scale_up", true};
  EXPECT_THAT(EventJson(t),
              HasSubstr(R"("trigger":{"source":"amqp","name":"load","action":"scale_up","resolved":true})"));
  EXPECT_THAT(EventJson(t), Not(HasSubstr("\"action\":{")));

  const OutboxEntry entry = EventOutboxEntry(e, "amqp");
  EXPECT_EQ(entry.action_id, "evt_1");
  EXPECT_EQ(entry.executor, "amqp");
  EXPECT_EQ(entry.payload_json, json);
  EXPECT_EQ(entry.next_attempt_ms, e.time_ms);
  EXPECT_FALSE(ParseEventHeader("[]").ok());
  EXPECT_FALSE(ParseEventHeader(R"({"id":"x"})").ok());
  EXPECT_FALSE(ParseEventHeader(R"({"id":1,"kind":"action"})").ok());
}

// ---- trigger messages --------------------------------------------------------------------------

TEST(TriggerMessage, DecodesEvaluateAndScaleUp) {
  auto m = ParseTriggerMessage(R"({"type":"evaluate","tenant":"acme","service":"web","extra":[1,2]})");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->type, "evaluate");
  EXPECT_EQ(m->tenant, "acme");
  EXPECT_EQ(m->service, "web");
  EXPECT_EQ(m->name, "trigger");
  EXPECT_FALSE(m->resolved);
  m = ParseTriggerMessage(
      R"({"type":"scale_up","tenant":"acme","service":"web","name":"black-friday","resolved":true})");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->type, "scale_up");
  EXPECT_EQ(m->name, "black-friday");
  EXPECT_TRUE(m->resolved);
}

TEST(TriggerMessage, RefusesWhatDoesNotDecodeNamingTheField) {
  struct Case {
    std::string body, field;
  };
  const std::vector<Case> cases = {
      {R"({"tenant":"acme","service":"web"})", "type"},
      {R"({"type":"scale_down","tenant":"acme","service":"web"})", "type"},
      {R"({"type":1,"tenant":"acme","service":"web"})", "type"},
      {R"({"type":"evaluate","service":"web"})", "tenant"},
      {R"({"type":"evaluate","tenant":"Acme","service":"web"})", "tenant"},
      {R"({"type":"evaluate","tenant":"acme","service":"a.b"})", "service"},
      {R"({"type":"evaluate","tenant":"acme","service":["web"]})", "service"},
      {R"({"type":"evaluate","tenant":"acme","service":"web","name":""})", "name"},
      {R"({"type":"evaluate","tenant":"acme","service":"web","name":"a b"})", "name"},
      {R"({"type":"evaluate","tenant":"acme","service":"web","name":")" + std::string(254, 'x') + "\"}", "name"},
      {R"({"type":"evaluate","tenant":"acme","service":"web","resolved":"yes"})", "resolved"},
  };
  for (const Case& c : cases) {
    auto m = ParseTriggerMessage(c.body);
    ASSERT_FALSE(m.ok()) << c.body;
    EXPECT_EQ(m.status().code(), StatusCode::kUnprocessable) << c.body;
    EXPECT_EQ(m.status().field(), c.field) << c.body << ": " << m.status().ToString();
  }
  // Not JSON, not an object, or text that is not UTF-8 (raw or as an escaped lone surrogate).
  for (const std::string body :
       {"", "not json", "[]", "\"evaluate\"", "{\"type\":", "null",
        R"({"type":"evaluate","tenant":"acme","service":"web","name":"x\udc00"})",
        "{\"type\":\"evaluate\",\"tenant\":\"acme\",\"service\":\"web\",\"name\":\"x\xff\"}"}) {
    auto m = ParseTriggerMessage(body);
    ASSERT_FALSE(m.ok()) << body;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument) << body;
  }
  // Deep nesting and a body over the limit: refused, no crash.
  EXPECT_FALSE(ParseTriggerMessage(std::string(100'000, '[') + std::string(100'000, ']')).ok());
  EXPECT_FALSE(ParseTriggerMessage(R"({"type":"evaluate","tenant":"acme","service":"web","pad":")" +
                                   std::string(kMaxTriggerMessageBytes, 'x') + "\"}")
                   .ok());
}

// ---- URLs and config ---------------------------------------------------------------------------

TEST(AmqpUrl, IsCheckedAndLoggedWithoutItsPassword) {
  EXPECT_TRUE(CheckAmqpUrl("amqp://prescale:s3cret@rabbit.internal:5672/%2f").ok());
  EXPECT_TRUE(CheckAmqpUrl("amqp://rabbit").ok());
  EXPECT_FALSE(CheckAmqpUrl("http://rabbit:5672/").ok());
  EXPECT_THAT(CheckAmqpUrl("amqps://rabbit/").message(), HasSubstr("amqps:// (TLS) is not supported"));
  EXPECT_FALSE(CheckAmqpUrl("amqp://rabbit:notaport/").ok());
  EXPECT_EQ(RedactAmqpUrl("amqp://prescale:s3cret@rabbit.internal:5672/%2f"), "amqp://prescale@rabbit.internal:5672/");
  EXPECT_EQ(RedactAmqpUrl("amqp://u:p@h/events"), "amqp://u@h:5672/events");
  EXPECT_EQ(RedactAmqpUrl("amqp://h"), "amqp://guest@h:5672/");
}

TEST(EventsConfig, ReadsTheSinkAndTheTriggerSource) {
  auto c = ParseAggregatorConfig(R"(
events:
  amqp:
    url: amqp://prescale:s3cret@rabbit:5672/%2f
    password_file: /etc/prescale/amqp-password
    exchange: scaling.events
    exchange_type: fanout
    timeout: 3s
    triggers:
      exchange: scaling.triggers
      queue: prescale-triggers
      binding_key: "acme.#"
      prefetch: 20
)",
                                 "agg.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->events_amqp.has_value());
  const AmqpOptions& o = *c->events_amqp;
  EXPECT_EQ(o.url, "amqp://prescale:s3cret@rabbit:5672/%2f");
  EXPECT_EQ(o.password_file, "/etc/prescale/amqp-password");
  EXPECT_EQ(o.exchange, "scaling.events");
  EXPECT_EQ(o.exchange_type, "fanout");
  EXPECT_EQ(o.timeout, 3s);
  ASSERT_TRUE(o.triggers.has_value());
  EXPECT_EQ(o.triggers->exchange, "scaling.triggers");
  EXPECT_EQ(o.triggers->queue, "prescale-triggers");
  EXPECT_EQ(o.triggers->binding_key, "acme.#");
  EXPECT_EQ(o.triggers->prefetch, 20);

  auto defaults = ParseAggregatorConfig("events:\n  amqp:\n    url: amqp://rabbit\n    triggers:\n", "agg.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_EQ(defaults->events_amqp->exchange, "prescale.events");
  EXPECT_EQ(defaults->events_amqp->exchange_type, "topic");
  EXPECT_EQ(defaults->events_amqp->timeout, 5s);
  ASSERT_TRUE(defaults->events_amqp->triggers.has_value());
  EXPECT_EQ(defaults->events_amqp->triggers->queue, "prescale.triggers");
  EXPECT_EQ(defaults->events_amqp->triggers->prefetch, 10);
  auto none = ParseAggregatorConfig("events: {}\n", "agg.yaml");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->events_amqp.has_value());
}

TEST(EventsConfig, ErrorsNameTheKeyAndTheLineAndNeverThePassword) {
  struct Case {
    std::string yaml, error;
  };
  const std::string head = "events:\n  amqp:\n";
  const std::string url = "    url: amqp://prescale:s3cret@rabbit/\n";
  const std::vector<Case> cases = {
      {head + "    exchange: x\n", "agg.yaml:3: events.amqp.url: missing"},
      {head + "    url: http://prescale:s3cret@rabbit/\n", "agg.yaml:3: events.amqp.url: expected an amqp://"},
      {head + "    url: amqps://prescale:s3cret@rabbit/\n", "agg.yaml:3: events.amqp.url: amqps:// (TLS)"},
      {head + "    url: amqp://prescale:s3cret@rabbit:port/\n", "agg.yaml:3: events.amqp.url: not a valid"},
      {head + url + "    exchange_type: queue\n", "agg.yaml:4: events.amqp.exchange_type: expected topic"},
      {head + url + "    exchange: amq.topic\n", "agg.yaml:4: events.amqp.exchange: names starting with"},
      {head + url + "    exchange: \"a b\"\n", "agg.yaml:4: events.amqp.exchange: may hold only"},
      {head + url + "    timeout: 10ms\n", "agg.yaml:4: events.amqp.timeout: must be at least 100ms"},
      {head + url + "    timeout: soon\n", "agg.yaml:4: events.amqp.timeout"},
      {head + url + "    user: x\n", "agg.yaml:4"},
      {head + url + "    triggers: {prefetch: 0}\n",
       "agg.yaml:4: events.amqp.triggers.prefetch: expected a whole number"},
      {head + url + "    triggers: {queue: \"\"}\n", "agg.yaml:4: events.amqp.triggers.queue: must not be empty"},
      {head + url + "    triggers: {exchange: prescale.events}\n",
       "agg.yaml:4: events.amqp.triggers.exchange: must differ"},
      {head + url + "    triggers: {shovel: on}\n", "agg.yaml:4"},
      {"events:\n  kafka: {}\n", "agg.yaml:2"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseAggregatorConfig(c.yaml, "agg.yaml");
    ASSERT_FALSE(parsed.ok()) << c.yaml;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.error)) << c.yaml;
    EXPECT_THAT(parsed.status().message(), Not(HasSubstr("s3cret"))) << c.yaml;
  }
}

// ---- the stores --------------------------------------------------------------------------------

OutboxEntry Entry(const std::string& id, const std::string& service, const std::string& sink, int64_t now_ms) {
  return OutboxEntry{id, "acme", service, sink, R"({"id":")" + id + R"(","kind":"action"})", now_ms, now_ms, 0, ""};
}

AuditRecord ScaleAudit(const std::string& service, int64_t now_ms) {
  AuditRecord audit;
  audit.time_ms = now_ms;
  audit.request_id = "act_" + service;
  audit.actor = "decision-engine";
  audit.action = "scale";
  audit.kind = "service";
  audit.tenant = "acme";
  audit.name = service;
  return audit;
}

// A sink answering as scripted (then kDone), recording what it was given.
class ScriptedSink final : public EventSink {
 public:
  void Answer(Outcome outcome) {
    std::lock_guard lock(mu_);
    answers_.push_back(outcome);
  }
  std::vector<std::string> published() const {
    std::lock_guard lock(mu_);
    return published_;
  }
  ExecutionResult Publish(const OutboxEntry& entry) override {
    std::lock_guard lock(mu_);
    published_.push_back(entry.action_id);
    Outcome o = Outcome::kDone;
    if (!answers_.empty()) {
      o = answers_.front();
      answers_.pop_front();
    }
    return {o, 0, o == Outcome::kDone ? "published" : "broker down", std::nullopt};
  }

 private:
  mutable std::mutex mu_;
  std::deque<Outcome> answers_;
  std::vector<std::string> published_;
};

class EventStoreTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    store_ = stores_.OpenNew();
    if (store_ == nullptr) return;  // skipped, or failed saying why
    MakeDispatcher(100);
    for (const auto& [kind, json, tenant] :
         {std::tuple{ObjectKind::kTenant, std::string(R"({"name":"acme"})"), std::string()},
          {ObjectKind::kService, R"({"name":"web","executor":{"type":"webhook","url":"http://127.0.0.1:9/"}})", "acme"},
          {ObjectKind::kService, R"({"name":"api","executor":{"type":"webhook","url":"http://127.0.0.1:9/"}})",
           "acme"}}) {
      auto built = BuildObject(kind, json, {kind, tenant, ""});
      ASSERT_TRUE(built.ok()) << built.status().ToString();
      AuditRecord a;
      a.actor = "test";
      ASSERT_TRUE(store_->Put(built->object, WriteMode::kUpsert, std::nullopt, a).ok());
    }
  }
  // A dispatcher reading `batch` entries per kind a round, with the scripted sink and a webhook executor.
  void MakeDispatcher(size_t batch) {
    dispatcher_ = std::make_unique<ActionDispatcher>(
        store_.get(), clock_,
        DispatcherOptions{.initial_backoff = 1000ms, .max_backoff = 4000ms, .give_up_after = 10s, .batch = batch});
    auto sink = std::make_unique<ScriptedSink>();
    sink_ = sink.get();
    dispatcher_->AddEventSink("amqp", std::move(sink));
    auto executor = std::make_unique<testing::RecordingExecutor>();
    webhook_ = executor.get();
    dispatcher_->AddExecutor("webhook", std::move(executor));
  }
  int64_t Now() const { return ToUnixMillis(clock_.Now()); }
  std::vector<std::string> Outbox() {
    auto queued = store_->QueuedActions(100);
    EXPECT_TRUE(queued.ok()) << queued.status().ToString();
    std::vector<std::string> ids;
    if (queued.ok()) {
      for (const OutboxEntry& e : *queued) ids.push_back(e.action_id);
    }
    return ids;
  }
  std::vector<AuditRecord> Audit(const std::string& action) {
    auto page = store_->ListAudit({.tenant = std::nullopt, .kind = std::nullopt, .after_seq = 0, .limit = 1000});
    std::vector<AuditRecord> out;
    if (!page.ok()) return out;
    for (AuditRecord& a : page->items) {
      if (a.action == action) out.push_back(std::move(a));
    }
    return out;
  }
  // An action of `service` with its event, as the decision loop records them.
  void QueueActionWithEvent(const std::string& service, const std::string& n) {
    ScaleAction a = Action();
    a.id = "act_" + service + n;
    a.service = service;
    a.created_ms = Now();
    OutboxEntry action{a.id, "acme", service, "webhook", ActionJson(a), Now(), Now(), 0, ""};
    auto r = store_->RecordAndQueue(ScaleAudit(service, Now()),
                                    {action, Entry("evt_" + service + n, service, "amqp", Now())}, 5);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  testing::TestControlStores stores_{GetParam()};
  testing::FakeClock clock_;
  std::unique_ptr<ControlStore> store_;
  std::unique_ptr<ActionDispatcher> dispatcher_;
  ScriptedSink* sink_ = nullptr;
  testing::RecordingExecutor* webhook_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Stores, EventStoreTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(EventStoreTest, RecordAndQueueWritesEntriesAuditAndTargetInOneTransaction) {
  auto r = store_->RecordAndQueue(ScaleAudit("web", Now()),
                                  {Entry("act_1", "web", "webhook", Now()), Entry("evt_1", "web", "amqp", Now())}, 7);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->has_value());
  EXPECT_GT((*r)->seq, 0);
  EXPECT_THAT(Outbox(), ElementsAre("act_1", "evt_1"));
  auto statuses = store_->ServiceStatuses();
  ASSERT_TRUE(statuses.ok());
  ASSERT_EQ(statuses->size(), 1u);
  EXPECT_EQ((*statuses)[0].target, 7);
  // Without an audit record (a trigger's event): queued, nothing audited, no target.
  const size_t records = Audit("scale").size();
  r = store_->RecordAndQueue(std::nullopt, {Entry("evt_2", "api", "amqp", Now())}, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(Audit("scale").size(), records);
  EXPECT_THAT(Outbox(), ElementsAre("act_1", "evt_1", "evt_2"));
  // A reused id: nothing of the call is written.
  r = store_->RecordAndQueue(ScaleAudit("web", Now()),
                             {Entry("evt_3", "web", "amqp", Now()), Entry("evt_1", "web", "amqp", Now())}, 9);
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(Outbox(), ElementsAre("act_1", "evt_1", "evt_2"));
  EXPECT_EQ(Audit("scale").size(), records);
  EXPECT_EQ(store_->RecordAndQueue(std::nullopt, {}, 3).status().code(), StatusCode::kInvalidArgument);
  // DropQueued takes one out without an audit record.
  const size_t all =
      store_->ListAudit({.tenant = std::nullopt, .kind = std::nullopt, .after_seq = 0, .limit = 1000})->items.size();
  EXPECT_TRUE(store_->DropQueued("evt_1").ok());
  EXPECT_EQ(store_->DropQueued("evt_1").code(), StatusCode::kNotFound);
  EXPECT_THAT(Outbox(), ElementsAre("act_1", "evt_2"));
  EXPECT_EQ(
      store_->ListAudit({.tenant = std::nullopt, .kind = std::nullopt, .after_seq = 0, .limit = 1000})->items.size(),
      all);
  auto verified = store_->VerifyAudit();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->reason;
}

TEST_P(EventStoreTest, EventsArePublishedInOrderPerServiceOnALaneOfTheirOwn) {
  QueueActionWithEvent("web", "1");
  QueueActionWithEvent("api", "1");
  QueueActionWithEvent("web", "2");
  // The broker is down for web's first event: web's later event waits behind
  // it, api's goes, and the actions go whatever the sink says.
  sink_->Answer(Outcome::kRetry);
  EXPECT_EQ(dispatcher_->RunOnce(), 5u);
  EXPECT_THAT(sink_->published(), ElementsAre("evt_web1", "evt_api1"));
  EXPECT_THAT(webhook_->action_ids(), ElementsAre("act_web1", "act_api1", "act_web2"));
  EXPECT_THAT(Outbox(), ElementsAre("evt_web1", "evt_web2"));
  // Published events leave no audit record; delivered actions do.
  EXPECT_EQ(Audit("scale.delivered").size(), 3u);
  EXPECT_TRUE(Audit("event.failed").empty());
  // Past give_up_after, an event is still retried (never dropped), in order.
  clock_.Advance(20s);
  sink_->Answer(Outcome::kRetry);
  EXPECT_EQ(dispatcher_->RunOnce(), 1u);
  EXPECT_THAT(Outbox(), ElementsAre("evt_web1", "evt_web2"));
  clock_.Advance(3s);
  EXPECT_EQ(dispatcher_->RunOnce(), 2u);
  EXPECT_THAT(sink_->published(), ElementsAre("evt_web1", "evt_api1", "evt_web1", "evt_web1", "evt_web2"));
  EXPECT_TRUE(Outbox().empty());
  std::string metrics;
  dispatcher_->AppendMetrics(&metrics);
  EXPECT_THAT(metrics, HasSubstr(R"(prescale_action_deliveries_total{executor="amqp",result="retry"} 2)"));
  EXPECT_THAT(metrics, HasSubstr(R"(prescale_action_deliveries_total{executor="amqp",result="delivered"} 3)"));
}

TEST_P(EventStoreTest, ABacklogOfEventsNeverHidesTheActions) {
  // Rounds of two entries per kind: more events wait (the broker is down) than a round reads.
  MakeDispatcher(2);
  std::vector<OutboxEntry> events;
  events.reserve(5);
  for (int i = 0; i < 5; ++i) events.push_back(Entry("evt_" + std::to_string(i), "web", "amqp", Now()));
  ASSERT_TRUE(store_->RecordAndQueue(std::nullopt, events, std::nullopt).ok());
  QueueActionWithEvent("api", "1");
  sink_->Answer(Outcome::kRetry);
  dispatcher_->RunOnce();
  EXPECT_THAT(webhook_->action_ids(), ElementsAre("act_api1"));
  EXPECT_THAT(sink_->published(), ElementsAre("evt_0"));  // web's lane waits for its retry
  auto others = store_->QueuedFor({"amqp"}, false, 100);
  ASSERT_TRUE(others.ok()) << others.status().ToString();
  EXPECT_TRUE(others->empty());
  auto queued = store_->QueuedFor({"amqp"}, true, 3);
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 3u);
  EXPECT_EQ((*queued)[0].action_id, "evt_0");
  EXPECT_EQ((*queued)[2].action_id, "evt_2");
  clock_.Advance(2s);
  for (int round = 0; round < 4; ++round) dispatcher_->RunOnce();
  EXPECT_THAT(sink_->published(), ElementsAre("evt_0", "evt_0", "evt_1", "evt_2", "evt_3", "evt_4", "evt_api1"));
  EXPECT_TRUE(Outbox().empty());
}

TEST_P(EventStoreTest, AnEventTheSinkFailsForGoodIsAudited) {
  QueueActionWithEvent("web", "1");
  sink_->Answer(Outcome::kFailed);
  dispatcher_->RunOnce();
  const std::vector<AuditRecord> failed = Audit("event.failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].request_id, "evt_web1");
  EXPECT_EQ(failed[0].after_json, R"({"event_id":"evt_web1","attempts":1,"sink":"amqp"})");
  EXPECT_TRUE(Outbox().empty());
}

// ---- the decision loop with a sink (the aggregator's wiring) ----------------------------------

class EventWiringTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    AggregatorConfig config;
    AmqpOptions amqp;
    amqp.url = "amqp://127.0.0.1:9/";  // never connected to: nothing is dispatched here
    config.events_amqp = amqp;
    aggregator_ = std::make_unique<Aggregator>(config, clock_);
    std::unique_ptr<ControlStore> store = stores_.OpenNew();
    if (store == nullptr) return;  // skipped, or failed saying why
    aggregator_->UseControlStore(std::move(store));
    Seed(ObjectKind::kTenant, R"({"name":"acme"})");
    Seed(ObjectKind::kService,
         R"({"name":"web","replicas":{"current":2,"min":1,"max":10},"requests":{"cpu_cores":0.5},)"
         R"("executor":{"type":"webhook","url":"http://127.0.0.1:9/"}})",
         "acme");
    Seed(ObjectKind::kService,
         R"({"name":"api","replicas":{"current":2,"min":1,"max":10},"requests":{"cpu_cores":0.5},)"
         R"("executor":{"type":"recommend-only"}})",
         "acme");
  }
  void Seed(ObjectKind kind, const std::string& json, const std::string& tenant = "") {
    auto built = BuildObject(kind, json, {kind, tenant, ""});
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    AuditRecord a;
    a.actor = "test";
    ASSERT_TRUE(aggregator_->control_store()->Put(built->object, WriteMode::kUpsert, std::nullopt, a).ok());
  }

  testing::TestControlStores stores_{GetParam()};
  testing::FakeClock clock_;
  std::unique_ptr<Aggregator> aggregator_;
};

INSTANTIATE_TEST_SUITE_P(Stores, EventWiringTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(EventWiringTest, ATriggerQueuesItsEventThenTheActionAndRecommendationEvents) {
  for (const char* service : {"web", "api"}) {
    TriggerEvent t;
    t.source = "amqp";
    t.name = "load";
    t.tenant = "acme";
    t.service = service;
    t.action = "scale_up";
    ASSERT_TRUE(aggregator_->triggers().Publish(t));
  }
  ASSERT_TRUE(aggregator_->EvaluateTriggers());
  auto queued = aggregator_->control_store()->QueuedActions(100);
  ASSERT_TRUE(queued.ok()) << queued.status().ToString();
  // Per service: the trigger's event first, then what it brought.
  std::map<std::string, std::vector<std::string>> lanes;  // "service executor:kind"
  for (const OutboxEntry& e : *queued) {
    std::string kind = "action";
    if (e.executor == "amqp") {
      auto header = ParseEventHeader(e.payload_json);
      ASSERT_TRUE(header.ok()) << e.payload_json;
      kind = header->kind;
      EXPECT_TRUE(e.action_id.starts_with("evt_")) << e.action_id;
      EXPECT_EQ(header->id, e.action_id);
    }
    lanes[e.service].push_back(e.executor + ":" + kind);
  }
  EXPECT_THAT(lanes["web"], ElementsAre("amqp:trigger", "webhook:action", "amqp:action"));
  EXPECT_THAT(lanes["api"], ElementsAre("amqp:trigger", "amqp:recommendation"));
  for (const OutboxEntry& e : *queued) {
    if (e.executor == "amqp" && e.service == "api" && e.payload_json.find("recommendation") != std::string::npos) {
      EXPECT_THAT(e.payload_json, HasSubstr(R"("executor":"recommend-only")"));
      EXPECT_THAT(e.payload_json, HasSubstr(R"("to_replicas":3)"));
      EXPECT_THAT(e.payload_json, HasSubstr(R"("trigger":"amqp:load")"));
    }
  }
  // The recommendation's audit record went in with its event.
  auto audit = aggregator_->control_store()->ListAudit(
      {.tenant = std::nullopt, .kind = std::nullopt, .after_seq = 0, .limit = 1000});
  ASSERT_TRUE(audit.ok());
  int recommend = 0, scale = 0;
  for (const AuditRecord& a : audit->items) {
    recommend += a.action == "recommend" ? 1 : 0;
    scale += a.action == "scale" ? 1 : 0;
  }
  EXPECT_EQ(recommend, 1);
  EXPECT_EQ(scale, 1);
}

}  // namespace
}  // namespace prescale::aggregator
