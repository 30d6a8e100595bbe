// WebhookExecutor: carries out a scaling action by POSTing it (ActionJson) to
// the service's webhook, signed with the service's secret. Thread-compatible:
// the dispatcher calls it from its one thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "prescale/aggregator/actions/executor.h"
#include "prescale/base/clock.h"
#include "prescale/http/http_client.h"

namespace prescale::aggregator {

struct WebhookOptions {
  std::chrono::milliseconds timeout{5000};
  std::string ca_file;  // for https receivers: a CA bundle instead of the system's
};

// POSTs ActionJson with X-Prescale-Signature (HMAC-SHA256 of the body with the
// content of the service's secret_file, trailing newlines removed),
// X-Prescale-Timestamp (Unix seconds), Idempotency-Key (the action id). A 2xx
// answer may carry {"replicas": N}: the replicas the target runs now.
class WebhookExecutor final : public Executor {
 public:
  WebhookExecutor(std::unique_ptr<http::HttpClient> client, const Clock& clock, WebhookOptions options)
      : client_(std::move(client)), clock_(clock), options_(std::move(options)) {}
  ExecutionResult Execute(const Service& spec, const ScaleAction& action) override;

 private:
  std::unique_ptr<http::HttpClient> client_;
  const Clock& clock_;
  WebhookOptions options_;
};

}  // namespace prescale::aggregator
