#include "prescale/aggregator/actions/kubernetes_executor.h"

#include <rapidjson/document.h>

#include <fstream>
#include <limits>
#include <sstream>

namespace prescale::aggregator {
namespace {

using Outcome = ExecutionResult::Outcome;

std::string_view View(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

// Iterative parsing: deep nesting in an answer cannot exhaust the stack.
bool ParseObject(std::string_view json, rapidjson::Document* doc) {
  doc->Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  return !doc->HasParseError() && doc->IsObject();
}

// A replicas field: an int32 that is not negative, as the API defines it.
bool ReadReplicas(const rapidjson::Value& v, int64_t* out) {
  if (!v.IsInt64()) return false;
  const int64_t n = v.GetInt64();
  if (n < 0 || n > std::numeric_limits<int32_t>::max()) return false;
  *out = n;
  return true;
}

std::string StringMember(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject() || !object.HasMember(key) || !object[key].IsString()) return {};
  return std::string(View(object[key]));
}

// RFC 1123 label: lower-case alphanumerics and '-', alphanumeric at both ends.
bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char ch : s) {
    if ((ch < 'a' || ch > 'z') && (ch < '0' || ch > '9') && ch != '-') return false;
  }
  return s.front() != '-' && s.back() != '-';
}

// RFC 1123 subdomain: dot-separated labels, at most 253 characters. Names
// that pass cannot step out of the URL path ("..", "/", "%", "?").
bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    if (!IsDnsLabel(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// A bearer token goes into a header line: no control characters or spaces.
bool IsHeaderSafeToken(std::string_view token) {
  for (char ch : token) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool Retryable(long status) { return status == 408 || status == 409 || status == 429 || status >= 500; }

std::string Target(const ExecutorSpec& e) {
  return (e.k8s_kind.empty() ? std::string("Deployment") : e.k8s_kind) + " " + e.k8s_namespace + "/" + e.k8s_name;
}

}  // namespace

Result<KubernetesScale> ParseKubernetesScale(std::string_view json) {
  rapidjson::Document doc;
  if (!ParseObject(json, &doc)) return Status::ParseError("the Scale answer is not a JSON object");
  const rapidjson::Value& o = doc;
  if (o.HasMember("kind") && (!o["kind"].IsString() || View(o["kind"]) != "Scale")) {
    return Status::ParseError("the answer's kind is not Scale");
  }
  KubernetesScale scale;
  if (o.HasMember("metadata")) {
    const rapidjson::Value& meta = o["metadata"];
    scale.name = StringMember(meta, "name");
    scale.namespace_ = StringMember(meta, "namespace");
  }
  if (!o.HasMember("spec") || !o["spec"].IsObject()) return Status::ParseError("the Scale has no spec object");
  const rapidjson::Value& spec = o["spec"];
  if (spec.HasMember("replicas") && !ReadReplicas(spec["replicas"], &scale.spec_replicas)) {
    return Status::ParseError("the Scale's spec.replicas is not an integer in [0, 2^31)");
  }
  if (o.HasMember("status") && o["status"].IsObject()) {
    const rapidjson::Value& status = o["status"];
    if (status.HasMember("replicas")) {
      int64_t replicas = 0;
      if (!ReadReplicas(status["replicas"], &replicas)) {
        return Status::ParseError("the Scale's status.replicas is not an integer in [0, 2^31)");
      }
      scale.status_replicas = replicas;
    }
    scale.selector = StringMember(status, "selector");
  }
  return scale;
}

std::string KubernetesStatusMessage(std::string_view body) {
  rapidjson::Document doc;
  if (ParseObject(body, &doc)) {
    const rapidjson::Value& o = doc;
    std::string message = StringMember(o, "message");
    if (!message.empty()) return message;
    std::string reason = StringMember(o, "reason");
    if (!reason.empty()) return reason;
  }
  return std::string(body.substr(0, 200));
}

Result<std::string> KubernetesScalePath(const ExecutorSpec& e) {
  std::string resource;
  if (e.k8s_kind.empty() || e.k8s_kind == "Deployment") {
    resource = "deployments";
  } else if (e.k8s_kind == "StatefulSet") {
    resource = "statefulsets";
  } else {
    return Status::InvalidArgument("executor.kind \"" + e.k8s_kind + "\" is neither Deployment nor StatefulSet");
  }
  if (!IsDnsLabel(e.k8s_namespace)) {
    return Status::InvalidArgument("executor.namespace \"" + e.k8s_namespace + "\" is not a DNS label");
  }
  if (!IsDnsSubdomain(e.k8s_name)) {
    return Status::InvalidArgument("executor.name \"" + e.k8s_name + "\" is not a DNS subdomain name");
  }
  return "/apis/apps/v1/namespaces/" + e.k8s_namespace + "/" + resource + "/" + e.k8s_name + "/scale";
}

KubernetesExecutor::KubernetesExecutor(std::unique_ptr<http::HttpClient> client, KubernetesOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
  while (!options_.api_server.empty() && options_.api_server.back() == '/') options_.api_server.pop_back();
}

Result<std::string> KubernetesExecutor::ReadToken() const {
  std::ifstream in(options_.token_file, std::ios::binary);
  if (!in) return Status::NotFound("cannot read the service account token file " + options_.token_file);
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty())
    return Status::FailedPrecondition("the service account token file " + options_.token_file + " is empty");
  if (!IsHeaderSafeToken(token)) {
    return Status::FailedPrecondition("the service account token file " + options_.token_file +
                                      " holds spaces or control characters");
  }
  return token;
}

ExecutionResult KubernetesExecutor::Execute(const Service& spec, const ScaleAction& action) {
  ExecutionResult r;
  auto path = KubernetesScalePath(spec.executor);
  if (!path.ok()) {
    r.message = path.status().message();
    return r;
  }
  if (action.to_replicas < 0 || action.to_replicas > std::numeric_limits<int32_t>::max()) {
    r.message = "to_replicas " + std::to_string(action.to_replicas) + " is outside a Kubernetes replica count";
    return r;
  }
  auto token = ReadToken();
  if (!token.ok()) {
    // A token is mounted, and rotated, by the kubelet: worth another try.
    r.outcome = Outcome::kRetry;
    r.message = token.status().message();
    return r;
  }
  const std::string what = "PATCH " + Target(spec.executor) + " scale";
  http::PostOptions patch;
  patch.timeout = options_.timeout;
  patch.ca_file = options_.ca_file;
  patch.headers = {
      {"Content-Type", "application/merge-patch+json"},
      {"Accept", "application/json"},
      {"Authorization", "Bearer " + *token},
  };
  const std::string body = R"({"spec":{"replicas":)" + std::to_string(action.to_replicas) + "}}";
  Result<http::HttpClientResponse> response = Status::Internal("not sent");
  {
    std::lock_guard lock(mu_);
    response = client_->Send("PATCH", options_.api_server + *path, body, patch);
  }
  if (!response.ok()) {
    r.outcome = Outcome::kRetry;
    r.message = what + ": " + response.status().message();
    return r;
  }
  r.http_status = response->status;
  if (response->status >= 200 && response->status < 300) {
    r.outcome = Outcome::kDone;
    r.message = "set " + Target(spec.executor) + " to " + std::to_string(action.to_replicas) + " replicas";
    auto scale = ParseKubernetesScale(response->body);
    if (scale.ok()) {
      r.current_replicas = scale->status_replicas;
    } else {
      r.message += " (" + scale.status().message() + ")";
    }
    return r;
  }
  r.outcome = Retryable(response->status) ? Outcome::kRetry : Outcome::kFailed;
  r.message = what + ": " + std::to_string(response->status) + " " + KubernetesStatusMessage(response->body);
  return r;
}

std::optional<int64_t> KubernetesExecutor::CurrentReplicas(const Service& spec, std::string* error) {
  auto fail = [error](std::string message) -> std::optional<int64_t> {
    if (error != nullptr) *error = std::move(message);
    return std::nullopt;
  };
  auto path = KubernetesScalePath(spec.executor);
  if (!path.ok()) return fail(path.status().message());
  auto token = ReadToken();
  if (!token.ok()) return fail(token.status().message());
  const std::string what = "GET " + Target(spec.executor) + " scale";
  http::GetOptions get;
  get.timeout = options_.timeout;
  get.ca_file = options_.ca_file;
  get.accept = "application/json";
  get.headers = {{"Authorization", "Bearer " + *token}};
  Result<http::HttpClientResponse> response = Status::Internal("not sent");
  {
    std::lock_guard lock(mu_);
    response = client_->Get(options_.api_server + *path, get);
  }
  if (!response.ok()) return fail(what + ": " + response.status().message());
  if (response->status < 200 || response->status >= 300) {
    return fail(what + ": " + std::to_string(response->status) + " " + KubernetesStatusMessage(response->body));
  }
  auto scale = ParseKubernetesScale(response->body);
  if (!scale.ok()) return fail(what + ": " + scale.status().message());
  return scale->spec_replicas;
}

}  // namespace prescale::aggregator
