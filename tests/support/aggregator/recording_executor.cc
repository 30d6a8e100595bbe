#include "tests/support/aggregator/recording_executor.h"

#include <utility>

namespace prescale::testing {

using aggregator::ExecutionResult;

void RecordingExecutor::Answer(ExecutionResult result) {
  std::lock_guard lock(mu_);
  answers_.push_back(std::move(result));
}

void RecordingExecutor::AnswerDone(std::optional<int64_t> current_replicas) {
  Answer({ExecutionResult::Outcome::kDone, 200, "ok", current_replicas});
}

void RecordingExecutor::AnswerRetry(std::string message, long http_status) {
  Answer({ExecutionResult::Outcome::kRetry, http_status, std::move(message), std::nullopt});
}

void RecordingExecutor::AnswerFailed(std::string message, long http_status) {
  Answer({ExecutionResult::Outcome::kFailed, http_status, std::move(message), std::nullopt});
}

void RecordingExecutor::SetDefault(ExecutionResult result) {
  std::lock_guard lock(mu_);
  default_ = std::move(result);
}

void RecordingExecutor::SetCurrentReplicas(std::optional<int64_t> replicas, std::string error) {
  std::lock_guard lock(mu_);
  current_replicas_ = replicas;
  current_error_ = std::move(error);
}

std::vector<RecordingExecutor::Call> RecordingExecutor::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

std::vector<std::string> RecordingExecutor::action_ids() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const Call& c : calls_) out.push_back(c.action.id);
  return out;
}

std::vector<std::string> RecordingExecutor::replica_reads() const {
  std::lock_guard lock(mu_);
  return replica_reads_;
}

ExecutionResult RecordingExecutor::Execute(const aggregator::Service& spec, const aggregator::ScaleAction& action) {
  std::lock_guard lock(mu_);
  calls_.push_back({spec, action});
  if (answers_.empty()) return default_;
  ExecutionResult r = std::move(answers_.front());
  answers_.pop_front();
  return r;
}

std::optional<int64_t> RecordingExecutor::CurrentReplicas(const aggregator::Service& spec, std::string* error) {
  std::lock_guard lock(mu_);
  replica_reads_.push_back(spec.tenant + "/" + spec.name);
  if (!current_replicas_ && error != nullptr) *error = current_error_;
  return current_replicas_;
}

}  // namespace prescale::testing
