// RecordingExecutor: an Executor for tests that records every call and
// answers as scripted. Execute answers with the queued outcomes in order,
// then with the default one (kDone, no replicas, unless set); CurrentReplicas
// answers with the replicas set (nullopt by default, with the error set).
// Thread-safe; an ActionDispatcher owns it, so tests keep a raw pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "prescale/aggregator/actions/executor.h"

namespace prescale::testing {

class RecordingExecutor final : public aggregator::Executor {
 public:
  struct Call {
    aggregator::Service spec;
    aggregator::ScaleAction action;
  };

  // The answer to the next Execute not yet answered (queued in order).
  void Answer(aggregator::ExecutionResult result);
  // Shorthands: kDone with the replicas it reports; kRetry / kFailed with a message and status.
  void AnswerDone(std::optional<int64_t> current_replicas = std::nullopt);
  void AnswerRetry(std::string message = "503 from the target", long http_status = 503);
  void AnswerFailed(std::string message = "400 from the target", long http_status = 400);
  // The answer once the queue is empty.
  void SetDefault(aggregator::ExecutionResult result);
  // What CurrentReplicas answers (nullopt: it cannot tell; `error` says why).
  void SetCurrentReplicas(std::optional<int64_t> replicas, std::string error = "");

  std::vector<Call> calls() const;
  // The ids of the actions executed, in order.
  std::vector<std::string> action_ids() const;
  // The services CurrentReplicas was asked about ("tenant/name"), in order.
  std::vector<std::string> replica_reads() const;

  aggregator::ExecutionResult Execute(const aggregator::Service& spec, const aggregator::ScaleAction& action) override;
  std::optional<int64_t> CurrentReplicas(const aggregator::Service& spec, std::string* error) override;

 private:
  mutable std::mutex mu_;
  std::deque<aggregator::ExecutionResult> answers_;
  aggregator::ExecutionResult default_{aggregator::ExecutionResult::Outcome::kDone, 200, "ok", std::nullopt};
  std::optional<int64_t> current_replicas_;
  std::string current_error_;
  std::vector<Call> calls_;
  std::vector<std::string> replica_reads_;
};

}  // namespace prescale::testing
