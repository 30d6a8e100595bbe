// Scaling events and triggers on a real RabbitMQ (docs/events.md), started
// once for the suite on 127.0.0.1 (tests/support/rabbitmq.h):
//   - events recorded in the control store's outbox reach a durable queue
//     through the dispatcher and the RabbitMQ sink, with the broker stopped
//     and started again in the middle: every event arrives, once by its id,
//     in order per service;
//   - the built prescale-aggregator consumes a trigger message and evaluates
//     the service at once (the tick is an hour away), publishing the
//     trigger's event and the recommendation it brought; a message that
//     does not decode is rejected and counted, and the aggregator runs on.
// Skipped when rabbitmq-server is not installed; a node that does not
// start fails.
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "prescale/aggregator/actions/actions.h"
#include "prescale/aggregator/actions/events.h"
#include "prescale/aggregator/control/sqlite_store.h"
#include "prescale/aggregator/events/amqp_sink.h"
#include "prescale/base/clock.h"
#include "tests/integration/e2e_helpers.h"
#include "tests/support/curl.h"
#include "tests/support/rabbitmq.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using aggregator::ActionDispatcher;
using aggregator::AmqpEventSink;
using aggregator::AmqpOptions;
using aggregator::AuditRecord;
using aggregator::DispatcherOptions;
using aggregator::ScaleAction;
using aggregator::ScalingEvent;
using testing::NowMs;
using testing::RabbitMqServer;

amqp_bytes_t Bytes(const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }
std::string Text(const amqp_bytes_t& b) { return {static_cast<const char*>(b.bytes), b.len}; }

// A message as a consumer of the test received it.
struct Received {
  std::string routing_key, body, message_id, content_type, type;
  int delivery_mode = 0;
  uint64_t timestamp = 0;
  bool redelivered = false;
};

// A plain librabbitmq client of the test: consumes a durable queue bound to
// an exchange (acking each message once it is kept), and publishes. Broker
// errors close the connection; the next call reconnects, so it rides out a
// restart of the broker.
class TestClient {
 public:
  TestClient(int port, std::string exchange, std::string queue, std::string binding_key)
      : port_(port), exchange_(std::move(exchange)), queue_(std::move(queue)), binding_(std::move(binding_key)) {}
  ~TestClient() { Close(); }

  // Connected, and the exchange, queue and binding declared (durable).
  bool Connect(std::string* error) {
    if (conn_ != nullptr) return true;
    conn_ = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    timeval tv{2, 0};
    if (amqp_socket_open_noblock(socket, "127.0.0.1", port_, &tv) != AMQP_STATUS_OK) return Fail("connect", error);
    if (amqp_login(conn_, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest").reply_type !=
        AMQP_RESPONSE_NORMAL) {
      return Fail("login", error);
    }
    amqp_channel_open(conn_, 1);
    if (!Ok()) return Fail("channel.open", error);
    amqp_exchange_declare(conn_, 1, Bytes(exchange_), Bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
    if (!Ok()) return Fail("exchange.declare", error);
    amqp_queue_declare(conn_, 1, Bytes(queue_), 0, 1, 0, 0, amqp_empty_table);
    if (!Ok()) return Fail("queue.declare", error);
    amqp_queue_bind(conn_, 1, Bytes(queue_), Bytes(exchange_), Bytes(binding_), amqp_empty_table);
    if (!Ok()) return Fail("queue.bind", error);
    consuming_ = false;
    return true;
  }

  // Receives for up to `d` (reconnecting when needed); returns how many came.
  size_t Poll(std::chrono::milliseconds d) {
    const auto deadline = std::chrono::steady_clock::now() + d;
    size_t n = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string error;
      // While the broker is away: try again every 100 ms until it is back or the time is up.
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (!testing::PollUntil([&] { return Connect(&error); }, std::max(left, 1ms), 100ms)) break;
      if (!consuming_) {
        amqp_basic_consume(conn_, 1, Bytes(queue_), amqp_empty_bytes, 0, /*no_ack=*/0, 0, amqp_empty_table);
        if (!Ok()) {
          Close();
          continue;
        }
        consuming_ = true;
      }
      amqp_maybe_release_buffers(conn_);
      amqp_envelope_t env;
      timeval tv{0, 100'000};
      const amqp_rpc_reply_t r = amqp_consume_message(conn_, &env, &tv, 0);
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) continue;
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        Close();
        continue;
      }
      Received m;
      m.routing_key = Text(env.routing_key);
      m.body = Text(env.message.body);
      const amqp_basic_properties_t& p = env.message.properties;
      if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) m.message_id = Text(p.message_id);
      if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) m.content_type = Text(p.content_type);
      if (p._flags & AMQP_BASIC_TYPE_FLAG) m.type = Text(p.type);
      if (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) m.delivery_mode = p.delivery_mode;
      if (p._flags & AMQP_BASIC_TIMESTAMP_FLAG) m.timestamp = p.timestamp;
      m.redelivered = env.redelivered != 0;
      const uint64_t tag = env.delivery_tag;
      amqp_destroy_envelope(&env);
      received.push_back(std::move(m));
      ++n;
      if (amqp_basic_ack(conn_, 1, tag, 0) != AMQP_STATUS_OK) Close();
    }
    return n;
  }

  // Publishes `body` to the exchange (persistent); false when the broker did not take it.
  bool Publish(const std::string& routing_key, const std::string& body, std::string* error) {
    if (!Connect(error)) return false;
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    const std::string content_type = "application/json";
    props.content_type = Bytes(content_type);
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    if (amqp_basic_publish(conn_, 1, Bytes(exchange_), Bytes(routing_key), 0, 0, &props, Bytes(body)) !=
        AMQP_STATUS_OK) {
      return Fail("basic.publish", error);
    }
    return true;
  }

  std::vector<Received> received;

 private:
  bool Ok() { return amqp_get_rpc_reply(conn_).reply_type == AMQP_RESPONSE_NORMAL; }
  bool Fail(const char* what, std::string* error) {
    *error = std::string(what) + " failed";
    Close();
    return false;
  }
  void Close() {
    if (conn_ == nullptr) return;
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn_);
    conn_ = nullptr;
    consuming_ = false;
  }

  int port_;
  std::string exchange_, queue_, binding_;
  amqp_connection_state_t conn_ = nullptr;
  bool consuming_ = false;
};

class AmqpEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::RabbitMqServerProgram().empty()) {
      GTEST_SKIP() << "RabbitMQ is not installed (Debian package rabbitmq-server)";
    }
    std::string error;
    broker_ = testing::SharedRabbitMq(&error);
    ASSERT_NE(broker_, nullptr) << "RabbitMQ did not start: " << error;
    if (!broker_->running()) {
      ASSERT_TRUE(broker_->Start(&error)) << error;
    }
  }

  // A queue name of this test process.
  static std::string Queue(const std::string& name) { return name + "-" + std::to_string(::getpid()); }

  RabbitMqServer* broker_ = nullptr;
  testing::TempDir dir_{"prescale-amqp-test"};
};

// A scaling action's event, as the decision loop queues it: action `n` of a service sets n replicas.
ScalingEvent ActionEvent(const std::string& service, int n, int64_t now_ms) {
  ScaleAction a;
  a.id = "act_" + service + "_" + std::to_string(n);
  a.tenant = "acme";
  a.service = service;
  a.from_replicas = n - 1;
  a.to_replicas = n;
  a.reason = "test";
  a.trigger = "tick";
  a.created_ms = now_ms;
  ScalingEvent e;
  e.id = "evt_" + service + "_" + std::to_string(n);
  e.kind = "action";
  e.tenant = "acme";
  e.service = service;
  e.time_ms = now_ms;
  e.action = a;
  e.executor = "webhook";
  return e;
}

// Records the actions [from, to] of every service, interleaved, each event
// with its "scale" audit record in one transaction.
void RecordEvents(aggregator::ControlStore* store, const std::vector<std::string>& services, int from, int to) {
  for (int n = from; n <= to; ++n) {
    for (const std::string& s : services) {
      const ScalingEvent e = ActionEvent(s, n, NowMs());
      AuditRecord audit;
      audit.time_ms = e.time_ms;
      audit.request_id = e.action->id;
      audit.actor = "decision-engine";
      audit.action = "scale";
      audit.kind = "service";
      audit.tenant = "acme";
      audit.name = s;
      auto r = store->RecordAndQueue(audit, {aggregator::EventOutboxEntry(e, "amqp")}, n);
      ASSERT_TRUE(r.ok()) << r.status().message();
    }
  }
}

TEST_F(AmqpEventsTest, EventsArriveOnceByIdAndInOrderPerServiceAcrossABrokerRestart) {
  auto store = aggregator::OpenSqliteStore(dir_.path() + "/control.db", {});
  ASSERT_TRUE(store.ok()) << store.status().message();
  // The consumer's durable queue is bound before any event is published.
  TestClient consumer(broker_->port(), "prescale.events", Queue("test-events"), "acme.*.action");
  std::string error;
  ASSERT_TRUE(consumer.Connect(&error)) << error;

  AmqpOptions options;
  options.url = broker_->Url();
  options.timeout = 2s;
  ActionDispatcher dispatcher(store->get(), SystemClock::Instance(),
                              DispatcherOptions{.initial_backoff = 100ms, .max_backoff = 1s});
  dispatcher.AddEventSink("amqp", std::make_unique<AmqpEventSink>(options));
  std::atomic<bool> done{false};
  std::thread delivery([&] {
    while (!done) {
      dispatcher.RunOnce();
      dispatcher.WaitForWork(50ms);
    }
  });
  struct Joiner {
    std::atomic<bool>* done;
    std::thread* t;
    ~Joiner() {
      *done = true;
      t->join();
    }
  } joiner{&done, &delivery};

  const std::vector<std::string> services = {"web", "api", "db"};
  constexpr int kPerPhase = 30;
  const size_t total = services.size() * kPerPhase * 3;
  // Phase 1: the broker is up.
  ASSERT_NO_FATAL_FAILURE(RecordEvents(store->get(), services, 1, kPerPhase));
  dispatcher.Notify();
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        consumer.Poll(100ms);
        return consumer.received.size() >= services.size() * 10;
      },
      30s))
      << "events did not arrive: " << consumer.received.size();
  // Phase 2: more events, and the broker stopped while they are published.
  ASSERT_NO_FATAL_FAILURE(RecordEvents(store->get(), services, kPerPhase + 1, 2 * kPerPhase));
  dispatcher.Notify();
  const int64_t stopped_ms = NowMs();
  broker_->Stop();
  // Phase 3: recorded while the broker is down; they wait in the outbox.
  ASSERT_NO_FATAL_FAILURE(RecordEvents(store->get(), services, 2 * kPerPhase + 1, 3 * kPerPhase));
  dispatcher.Notify();
  std::string metrics;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        metrics.clear();
        dispatcher.AppendMetrics(&metrics);
        return testing::MetricValue(metrics, R"(prescale_events_published_total{result="error"})").value_or(0) >= 2;
      },
      20s))
      << metrics;
  auto backlog = (*store)->OutboxBacklog();
  ASSERT_TRUE(backlog.ok());
  EXPECT_GT(backlog->first, 0) << "events wait in the outbox while the broker is down";
  EXPECT_EQ(testing::MetricValue(metrics, "prescale_events_sink_connected"), 0.0) << metrics;
  const int64_t waiting = backlog->first;
  // The outage lasts until the dispatcher has failed again (it retries with backoff).
  const double errors = testing::MetricValue(metrics, R"(prescale_events_published_total{result="error"})").value_or(0);
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        metrics.clear();
        dispatcher.AppendMetrics(&metrics);
        return testing::MetricValue(metrics, R"(prescale_events_published_total{result="error"})").value_or(0) > errors;
      },
      20s))
      << metrics;
  ASSERT_TRUE(broker_->Start(&error)) << error;
  const int64_t restarted_ms = NowMs();

  std::set<std::string> ids;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        consumer.Poll(200ms);
        ids.clear();
        for (const Received& m : consumer.received) ids.insert(m.message_id);
        return ids.size() >= total;
      },
      90s))
      << "received " << ids.size() << " of " << total << " events";
  // Nothing more comes: the outbox is empty.
  consumer.Poll(500ms);
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        auto b = (*store)->OutboxBacklog();
        return b.ok() && b->first == 0;
      },
      10s));
  const int64_t drained_ms = NowMs();

  // Each event once by its id (repeats of an id are redeliveries, the same message),
  // and the first arrival of each in the order it was recorded, per service.
  std::map<std::string, std::vector<int64_t>> order;
  std::set<std::string> seen;
  size_t repeats = 0;
  for (const Received& m : consumer.received) {
    rapidjson::Document doc;
    doc.Parse(m.body.data(), m.body.size());
    ASSERT_TRUE(doc.IsObject()) << m.body;
    EXPECT_EQ(m.message_id, doc["id"].GetString());
    EXPECT_EQ(m.content_type, "application/json");
    EXPECT_EQ(m.type, "action");
    EXPECT_EQ(m.delivery_mode, 2) << "persistent";
    EXPECT_GT(m.timestamp, 0u);
    const std::string service = doc["service"].GetString();
    EXPECT_EQ(m.routing_key, "acme." + service + ".action");
    if (!seen.insert(m.message_id).second) {
      ++repeats;
      continue;
    }
    order[service].push_back(doc["action"]["to_replicas"].GetInt64());
  }
  EXPECT_EQ(seen.size(), total);
  for (const std::string& s : services) {
    std::vector<int64_t> expected;
    for (int n = 1; n <= 3 * kPerPhase; ++n) expected.push_back(n);
    EXPECT_EQ(order[s], expected) << "events of " << s << " out of order or missing";
  }
  for (const std::string& id : seen) EXPECT_TRUE(id.starts_with("evt_")) << id;
  metrics.clear();
  dispatcher.AppendMetrics(&metrics);
  std::printf(
      "[ figures ] %zu events of 3 services, broker down %s (%lld waiting in the outbox), all there %s after "
      "its restart; %zu repeated deliveries; published %g, errors %g, unconfirmed %g\n",
      total, testing::Seconds(restarted_ms - stopped_ms).c_str(), static_cast<long long>(waiting),
      testing::Seconds(drained_ms - restarted_ms).c_str(), repeats,
      testing::MetricValue(metrics, R"(prescale_events_published_total{result="published"})").value_or(-1),
      testing::MetricValue(metrics, R"(prescale_events_published_total{result="error"})").value_or(-1),
      testing::MetricValue(metrics, R"(prescale_events_published_total{result="unconfirmed"})").value_or(-1));
}

// The admin token of the aggregator below (printf %s admin-token-0123456789 | sha256sum).
constexpr const char* kAdminToken = "admin-token-0123456789";
constexpr const char* kAdminTokenSha256 = "sha256:ca8d40e6ce4716b552f1c69863335b502f2afb57ffae171d6675fd56d91ca5b2";

TEST_F(AmqpEventsTest, TriggerMessageEvaluatesTheServiceAtOnce) {
  const std::string binary = testing::BinDir() + "/prescale-aggregator";
  ASSERT_EQ(::access(binary.c_str(), X_OK), 0) << binary << " is missing: build the prescale-aggregator target";
  if (testing::FindProgram("curl").empty()) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
  const std::string trigger_exchange = Queue("prescale.triggers");
  const std::string trigger_queue = Queue("test-triggers");
  const std::string events_exchange = Queue("prescale.events");
  // The events of acme/web, and the trigger queue declared and bound before anything is published.
  TestClient events(broker_->port(), events_exchange, Queue("test-web-events"), "acme.web.*");
  TestClient triggers(broker_->port(), trigger_exchange, trigger_queue, "#");
  std::string error;
  ASSERT_TRUE(events.Connect(&error)) << error;
  ASSERT_TRUE(triggers.Connect(&error)) << error;

  // The tick is an hour away: only a trigger evaluates the service.
  const std::string config = dir_.Write(
      "aggregator.yaml", "listen: 127.0.0.1:0\ntick_interval: 1h\ntokens:\n  - {name: admin, role: admin, sha256: \"" +
                             std::string(kAdminTokenSha256) + "\"}\n" + testing::kTestMonitorTokenYaml +
                             "events:\n  amqp:\n    url: \"" + broker_->Url() + "\"\n    exchange: " + events_exchange +
                             "\n    timeout: 2s\n    triggers:\n      exchange: " + trigger_exchange +
                             "\n      queue: " + trigger_queue +
                             "\n      prefetch: 5\n"
                             "tenants:\n  - name: acme\n    quotas: {cpu_cores: 64}\n"
                             "services:\n  - tenant: acme\n    name: web\n    priority: normal\n"
                             "    replicas: {current: 2, min: 1, max: 10}\n    requests: {cpu_cores: 0.5}\n"
                             "    executor: {type: recommend-only}\n");
  testing::Subprocess aggregator;
  ASSERT_TRUE(aggregator.Start({binary, "--config", config}));
  std::string log;
  const int port = testing::WaitForServingPort(aggregator, 20s, &log);
  ASSERT_NE(port, 0) << "the aggregator did not start: " << log;
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto metrics = [&] {
    return testing::Curl("GET", base + "/metrics", "",
                         {std::string("Authorization: Bearer ") + testing::kTestMonitorToken})
        .body;
  };
  ASSERT_TRUE(testing::PollUntil(
      [&] { return testing::MetricValue(metrics(), "prescale_events_source_connected") == 1.0; }, 20s))
      << metrics() << "\n"
      << aggregator.Stderr();

  // A message that does not decode: rejected (not requeued), counted, and the aggregator runs on.
  ASSERT_TRUE(triggers.Publish("acme.web", "{\"type\":\"evaluate\",\"tenant\":\"acme\"}", &error)) << error;
  ASSERT_TRUE(triggers.Publish("acme.web", "not json", &error)) << error;
  ASSERT_TRUE(testing::PollUntil(
      [&] { return testing::MetricValue(metrics(), R"(prescale_events_consumed_total{result="rejected"})") == 2.0; },
      10s))
      << metrics();

  const int64_t sent_ms = NowMs();
  ASSERT_TRUE(
      triggers.Publish("acme.web", R"({"type":"scale_up","tenant":"acme","service":"web","name":"load-test"})", &error))
      << error;
  // The decision names the trigger, and holds web one above what it ran.
  std::string decisions;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        decisions = testing::Curl("GET", base + "/api/v1/decisions?tenant=acme", "",
                                  {std::string("Authorization: Bearer ") + kAdminToken})
                        .body;
        return decisions.find("amqp:load-test") != std::string::npos;
      },
      10s))
      << decisions << "\n"
      << aggregator.Stderr();
  const int64_t decided_ms = NowMs();
  EXPECT_NE(decisions.find("\"to_replicas\":3"), std::string::npos) << decisions;
  // The trigger's event, then the recommendation it brought, in that order.
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        events.Poll(100ms);
        return events.received.size() >= 2;
      },
      20s))
      << events.received.size() << " events; " << aggregator.Stderr();
  const Received& first = events.received[0];
  const Received& second = events.received[1];
  EXPECT_EQ(first.routing_key, "acme.web.trigger");
  EXPECT_NE(first.body.find(R"("trigger":{"source":"amqp","name":"load-test","action":"scale_up","resolved":false})"),
            std::string::npos)
      << first.body;
  EXPECT_EQ(second.routing_key, "acme.web.recommendation");
  EXPECT_NE(second.body.find(R"("to_replicas":3)"), std::string::npos) << second.body;
  EXPECT_NE(second.body.find(R"("trigger":"amqp:load-test")"), std::string::npos) << second.body;
  const std::string m = metrics();
  EXPECT_EQ(testing::MetricValue(m, R"(prescale_events_consumed_total{result="triggered"})"), 1.0) << m;
  EXPECT_GE(testing::MetricValue(m, R"(prescale_triggers_total{source="amqp"})").value_or(0), 1.0) << m;
  EXPECT_EQ(testing::Curl("GET", base + "/healthz", "", {}).status, 200);
  std::printf("[ figures ] trigger message to decision %s; %zu events of acme/web: %s then %s\n",
              testing::Seconds(decided_ms - sent_ms).c_str(), events.received.size(), first.body.c_str(),
              second.body.c_str());
  testing::StopProcess(&aggregator, "aggregator");
}

}  // namespace
}  // namespace prescale
