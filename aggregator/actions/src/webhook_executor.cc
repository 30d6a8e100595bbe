#include "prescale/aggregator/actions/webhook_executor.h"

#include <rapidjson/document.h>

#include <fstream>
#include <sstream>

#include "prescale/aggregator/actions/actions.h"
#include "prescale/aggregator/actions/webhook_signature.h"

namespace prescale::aggregator {
namespace {

bool Retryable(long status) { return status == 408 || status == 429 || status >= 500; }

// The secret: the file's content less trailing newlines (files written by `echo` end with one).
Result<std::string> ReadSecret(const std::string& path) {
  if (path.empty()) return Status::FailedPrecondition("the service's executor has no secret_file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read secret_file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return Status::FailedPrecondition("secret_file " + path + " is empty");
  return secret;
}

}  // namespace

ExecutionResult WebhookExecutor::Execute(const Service& spec, const ScaleAction& action) {
  ExecutionResult r;
  if (spec.executor.url.empty()) {
    r.message = "the service's webhook executor has no url";
    return r;
  }
  auto secret = ReadSecret(spec.executor.secret_file);
  if (!secret.ok()) {
    // A Secret may be mounted late: worth another try.
    r.outcome = ExecutionResult::Outcome::kRetry;
    r.message = secret.status().message();
    return r;
  }
  const std::string body = ActionJson(action);
  http::PostOptions post;
  post.timeout = options_.timeout;
  post.ca_file = options_.ca_file;
  post.headers = {
      {"Content-Type", "application/json"},
      {"X-Prescale-Signature", SignWebhook(*secret, body)},
      {"X-Prescale-Timestamp", std::to_string(ToUnixMillis(clock_.Now()) / 1000)},
      {"Idempotency-Key", action.id},
  };
  auto response = client_->Post(spec.executor.url, body, post);
  if (!response.ok()) {
    r.outcome = ExecutionResult::Outcome::kRetry;
    r.message = response.status().message();
    return r;
  }
  r.http_status = response->status;
  if (response->status >= 200 && response->status < 300) {
    r.outcome = ExecutionResult::Outcome::kDone;
    r.message = "delivered to " + spec.executor.url;
    rapidjson::Document doc;
    // Iterative: a receiver's deeply nested answer cannot exhaust the stack.
    doc.Parse<rapidjson::kParseIterativeFlag>(response->body.data(), response->body.size());
    if (!doc.HasParseError() && doc.IsObject()) {
      const rapidjson::Value& o = doc;
      if (o.HasMember("replicas") && o["replicas"].IsInt64() && o["replicas"].GetInt64() >= 0) {
        r.current_replicas = o["replicas"].GetInt64();
      }
    }
    return r;
  }
  r.outcome = Retryable(response->status) ? ExecutionResult::Outcome::kRetry : ExecutionResult::Outcome::kFailed;
  r.message = spec.executor.url + " answered " + std::to_string(response->status);
  if (!response->body.empty()) r.message += ": " + response->body.substr(0, 200);
  return r;
}

}  // namespace prescale::aggregator
