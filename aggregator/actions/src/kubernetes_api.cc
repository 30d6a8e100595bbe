#include "prescale/aggregator/actions/kubernetes_api.h"

#include <rapidjson/document.h>

#include <fstream>
#include <sstream>

namespace prescale::aggregator {
namespace {

// A bearer token goes into a header line: no control characters or spaces.
bool IsHeaderSafeToken(std::string_view token) {
  for (char ch : token) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

std::string KubernetesStatusMessage(std::string_view body) {
  rapidjson::Document doc;
  // Iterative parsing: deep nesting in an answer cannot exhaust the stack.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    const rapidjson::Value& o = doc;
    for (const char* key : {"message", "reason"}) {
      auto it = o.FindMember(key);
      if (it != o.MemberEnd() && it->value.IsString() && it->value.GetStringLength() > 0) {
        return std::string(it->value.GetString(), it->value.GetStringLength());
      }
    }
  }
  return std::string(body.substr(0, 200));
}

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char ch : s) {
    if ((ch < 'a' || ch > 'z') && (ch < '0' || ch > '9') && ch != '-') return false;
  }
  return s.front() != '-' && s.back() != '-';
}

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

KubernetesApi::KubernetesApi(std::unique_ptr<http::HttpClient> client, KubernetesOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
  while (!options_.api_server.empty() && options_.api_server.back() == '/') options_.api_server.pop_back();
}

Result<std::string> KubernetesApi::ReadToken() const {
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

Result<http::HttpClientResponse> KubernetesApi::Get(const std::string& path, size_t max_body_bytes) {
  PRESCALE_ASSIGN_OR_RETURN(std::string token, ReadToken());
  http::GetOptions get;
  get.timeout = options_.timeout;
  get.ca_file = options_.ca_file;
  get.accept = "application/json";
  get.max_body_bytes = max_body_bytes;
  get.headers = {{"Authorization", "Bearer " + token}};
  std::lock_guard lock(mu_);
  return client_->Get(options_.api_server + path, get);
}

Result<http::HttpClientResponse> KubernetesApi::Patch(const std::string& path, std::string_view merge_patch) {
  PRESCALE_ASSIGN_OR_RETURN(std::string token, ReadToken());
  http::PostOptions patch;
  patch.timeout = options_.timeout;
  patch.ca_file = options_.ca_file;
  patch.headers = {
      {"Content-Type", "application/merge-patch+json"},
      {"Accept", "application/json"},
      {"Authorization", "Bearer " + token},
  };
  std::lock_guard lock(mu_);
  return client_->Send("PATCH", options_.api_server + path, merge_patch, patch);
}

}  // namespace prescale::aggregator
