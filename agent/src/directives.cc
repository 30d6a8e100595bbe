#include "prescale/agent/directives.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <utility>

#include "prescale/base/json_depth.h"

namespace prescale::agent {
namespace {

std::string_view View(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

Status Fail(const std::string& field, const std::string& why) {
  return Status::ParseError("directives response: " + (field.empty() ? why : field + ": " + why));
}

// Members are looked up through const references: RapidJSON's mutable member
// iterators cannot be compared under C++20 with clang (the fuzz build).
const rapidjson::Value* Member(const rapidjson::Value& object, const char* name) {
  const auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

Status RequiredString(const rapidjson::Value& object, const char* name, const std::string& path, std::string* out) {
  const rapidjson::Value* v = Member(object, name);
  if (v == nullptr) return Fail(path, "required field is missing");
  if (!v->IsString()) return Fail(path, "expected a string");
  if (v->GetStringLength() == 0) return Fail(path, "must not be empty");
  *out = std::string(View(*v));
  return Status::Ok();
}

// A finite number in (0, max].
Status RequiredPositive(const rapidjson::Value& object, const char* name, const std::string& path, double max,
                        double* out) {
  const rapidjson::Value* v = Member(object, name);
  if (v == nullptr) return Fail(path, "required field is missing");
  if (!v->IsNumber()) return Fail(path, "expected a number");
  const double d = v->GetDouble();
  if (!std::isfinite(d) || !(d > 0) || d > max) {
    char limit[32];
    std::snprintf(limit, sizeof limit, "%g", max);
    return Fail(path, std::string("expected a number > 0 and at most ") + limit);
  }
  *out = d;
  return Status::Ok();
}

Result<Directive> DecodeDirective(const rapidjson::Value& item, const std::string& path) {
  if (!item.IsObject()) return Fail(path, "expected an object {\"tenant\", \"service\", \"cpu_cores\"}");
  Directive d;
  PRESCALE_RETURN_IF_ERROR(RequiredString(item, "tenant", path + ".tenant", &d.tenant));
  PRESCALE_RETURN_IF_ERROR(RequiredString(item, "service", path + ".service", &d.service));
  PRESCALE_RETURN_IF_ERROR(RequiredPositive(item, "cpu_cores", path + ".cpu_cores", kMaxCpuCores, &d.cpu_cores));
  return d;
}

}  // namespace

Result<DirectiveSet> ParseDirectives(std::string_view body, std::string_view expected_node) {
  if (Status s = CheckJsonEscapes(body); !s.ok()) return Fail("", s.message());
  rapidjson::Document doc;
  // Iterative parsing: deep nesting cannot exhaust the stack.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
  if (doc.HasParseError()) {
    return Fail("", "invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                        rapidjson::GetParseError_En(doc.GetParseError()));
  }
  const rapidjson::Value& root = doc;
  if (!root.IsObject()) return Fail("", "expected an object {\"node\", \"lease_seconds\", \"directives\"}");
  DirectiveSet out;
  PRESCALE_RETURN_IF_ERROR(RequiredString(root, "node", "node", &out.node));
  if (!expected_node.empty() && out.node != expected_node) {
    return Fail("node",
                "the answer is for node '" + out.node + "', not for this node '" + std::string(expected_node) + "'");
  }
  double lease_seconds = 0;
  PRESCALE_RETURN_IF_ERROR(RequiredPositive(root, "lease_seconds", "lease_seconds", kMaxLeaseSeconds, &lease_seconds));
  out.lease = std::max(std::chrono::milliseconds(1),
                       std::chrono::milliseconds(static_cast<int64_t>(std::llround(lease_seconds * 1000))));
  const rapidjson::Value* list = Member(root, "directives");
  if (list == nullptr) return Fail("directives", "required field is missing");
  if (!list->IsArray()) return Fail("directives", "expected an array");
  std::set<std::pair<std::string, std::string>> seen;
  out.directives.reserve(list->Size());
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const std::string path = "directives[" + std::to_string(i) + "]";
    auto d = DecodeDirective((*list)[i], path);
    if (!d.ok()) return d.status();
    if (!seen.emplace(d->tenant, d->service).second) {
      return Fail(path, "a second directive for tenant '" + d->tenant + "' service '" + d->service + "'");
    }
    out.directives.push_back(std::move(d).value());
  }
  return out;
}

std::string DescribeDirectiveError(long http_status, std::string_view body) {
  std::string out = "HTTP " + std::to_string(http_status);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
  const rapidjson::Value& root = doc;
  if (!doc.HasParseError() && root.IsObject()) {
    const rapidjson::Value* error = Member(root, "error");
    const rapidjson::Value* message = Member(root, "message");
    const rapidjson::Value* field = Member(root, "field");
    if (error != nullptr && error->IsString()) out += " " + std::string(View(*error));
    if (message != nullptr && message->IsString()) out += ": " + std::string(View(*message));
    if (field != nullptr && field->IsString() && field->GetStringLength() > 0) {
      out += " (field " + std::string(View(*field)) + ")";
    }
    if (error != nullptr || message != nullptr) return out;
  }
  constexpr size_t kMaxEcho = 200;
  if (!body.empty()) {
    std::string excerpt(body.substr(0, kMaxEcho));
    for (char& c : excerpt) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    out += ": " + excerpt + (body.size() > kMaxEcho ? "..." : "");
  }
  return out;
}

}  // namespace prescale::agent
