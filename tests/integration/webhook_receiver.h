// The webhook receiver of the end-to-end tests (scaling_e2e_test.cc,
// failover_test.cc): shared/http's server on 127.0.0.1, checking every
// signature and applying each action id once, as the documentation asks
// receivers to.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "prescale/aggregator/actions/webhook_signature.h"
#include "prescale/http/http_server.h"
#include "tests/integration/e2e_helpers.h"
#include "tests/support/test_env.h"

namespace prescale::testing {

using namespace std::chrono_literals;

// One webhook the receiver accepted: the first request carrying its action id.
struct Delivery {
  std::string id, tenant, service, trigger, reason;
  int64_t from_replicas = 0, to_replicas = 0;
  bool constrained = false;
  std::optional<double> throttle;
  std::string idempotency_key, timestamp_header;
  int64_t received_ms = 0;
};

// The webhook receiver: shared/http's server on 127.0.0.1. Checks each
// request's signature (401 when it does not verify, counted), answers
// {"replicas": to_replicas} as a deployer would, and keeps the first request
// of each action id (repeats are counted, not handled again). Thread-safe.
class WebhookReceiver {
 public:
  explicit WebhookReceiver(std::string secret) : secret_(std::move(secret)) {}
  ~WebhookReceiver() { Stop(); }

  // While held, requests wait (at most a minute) before they are handled, so
  // that a test can act with deliveries in flight (InFlight() counts them),
  // then let them through.
  void Hold(bool hold) {
    {
      std::lock_guard lock(mu_);
      hold_ = hold;
    }
    released_.notify_all();
  }
  size_t InFlight() const {
    std::lock_guard lock(mu_);
    return in_flight_;
  }

  // Serves on `port` (0: a free one); the error names what failed, "" on success.
  std::string Start(int port = 0) {
    http::HttpServerOptions options;
    options.listen = "127.0.0.1:" + std::to_string(port);
    std::vector<http::Route> routes;
    routes.push_back({"POST", "/hook", [this](const http::HttpRequest& r) { return Handle(r); }});
    auto server = http::HttpServer::Start(options, std::move(routes));
    if (!server.ok()) return server.status().ToString();
    std::lock_guard lock(mu_);
    server_ = std::move(server).value();
    port_ = server_->port();
    return "";
  }
  // The port again after Stop (rebinding can race the old socket's teardown: retried for a while).
  std::string Restart() {
    std::string error;
    PollUntil([&] { return (error = Start(port_)).empty(); }, 10s, 100ms);
    return error;
  }
  void Stop() {
    Hold(false);
    std::unique_ptr<http::HttpServer> server;
    {
      std::lock_guard lock(mu_);
      server = std::move(server_);
    }
    if (server != nullptr) server->Stop();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }

  std::vector<Delivery> Handled() const {
    std::lock_guard lock(mu_);
    return handled_;
  }
  // The first delivery for tenant/service that satisfies `match`, polled until `timeout`.
  template <typename Match>
  std::optional<Delivery> WaitFor(const std::string& tenant, const std::string& service, Match match,
                                  std::chrono::milliseconds timeout) const {
    std::optional<Delivery> found;
    PollUntil(
        [&] {
          for (const Delivery& d : Handled()) {
            if (d.tenant == tenant && d.service == service && match(d)) {
              found = d;
              return true;
            }
          }
          return false;
        },
        timeout, 50ms);
    return found;
  }
  size_t requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t repeats() const {
    std::lock_guard lock(mu_);
    return repeats_;
  }
  size_t bad_signatures() const {
    std::lock_guard lock(mu_);
    return bad_signatures_;
  }
  size_t bad_bodies() const {
    std::lock_guard lock(mu_);
    return bad_bodies_;
  }

 private:
  http::HttpResponse Handle(const http::HttpRequest& request) {
    std::unique_lock lock(mu_);
    ++in_flight_;
    released_.wait_for(lock, 60s, [this] { return !hold_; });
    --in_flight_;
    const int64_t received_ms = NowMs();
    ++requests_;
    if (!aggregator::VerifyWebhookSignature(secret_, request.body, request.Header("X-Prescale-Signature"))) {
      ++bad_signatures_;
      return http::HttpResponse::JsonError(401, "bad_signature", "X-Prescale-Signature does not verify");
    }
    rapidjson::Document doc;
    doc.Parse(request.body.data(), request.body.size());
    auto str = [&doc](const char* key) {
      return doc.IsObject() && doc.HasMember(key) && doc[key].IsString() ? std::string(doc[key].GetString()) : "";
    };
    auto integer = [&doc](const char* key) {
      return doc.IsObject() && doc.HasMember(key) && doc[key].IsInt64() ? doc[key].GetInt64() : -1;
    };
    Delivery d;
    d.id = str("id");
    d.tenant = str("tenant");
    d.service = str("service");
    d.trigger = str("trigger");
    d.reason = str("reason");
    d.from_replicas = integer("from_replicas");
    d.to_replicas = integer("to_replicas");
    if (doc.IsObject() && doc.HasMember("constrained") && doc["constrained"].IsBool()) {
      d.constrained = doc["constrained"].GetBool();
    }
    if (doc.IsObject() && doc.HasMember("throttle") && doc["throttle"].IsNumber()) {
      d.throttle = doc["throttle"].GetDouble();
    }
    d.idempotency_key = std::string(request.Header("Idempotency-Key"));
    d.timestamp_header = std::string(request.Header("X-Prescale-Timestamp"));
    d.received_ms = received_ms;
    if (d.id.empty() || d.tenant.empty() || d.service.empty() || d.to_replicas < 0 || str("timestamp").empty()) {
      ++bad_bodies_;
      return http::HttpResponse::JsonError(400, "bad_body", request.body);
    }
    http::HttpResponse response;
    response.content_type = "application/json";
    response.body = "{\"replicas\":" + std::to_string(d.to_replicas) + "}";
    // Applied once per idempotency key (the action id), as receivers are asked to.
    if (d.idempotency_key != d.id) ++bad_bodies_;
    if (!seen_.insert(d.id).second) {
      ++repeats_;  // at least once: a repeat is acknowledged and not applied again
      return response;
    }
    std::printf("[ webhook  ] %s %s/%s %lld -> %lld trigger=%s constrained=%d throttle=%s: %s\n", d.id.c_str(),
                d.tenant.c_str(), d.service.c_str(), static_cast<long long>(d.from_replicas),
                static_cast<long long>(d.to_replicas), d.trigger.c_str(), d.constrained ? 1 : 0,
                d.throttle ? std::to_string(*d.throttle).c_str() : "null", d.reason.c_str());
    std::fflush(stdout);
    handled_.push_back(std::move(d));
    return response;
  }

  const std::string secret_;
  mutable std::mutex mu_;
  std::condition_variable released_;
  bool hold_ = false;
  size_t in_flight_ = 0;
  std::unique_ptr<http::HttpServer> server_;
  int port_ = 0;
  std::set<std::string> seen_;
  std::vector<Delivery> handled_;
  size_t requests_ = 0, repeats_ = 0, bad_signatures_ = 0, bad_bodies_ = 0;
};

}  // namespace prescale::testing
