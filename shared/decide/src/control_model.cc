#include "prescale/decide/control_model.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <functional>
#include <set>

#include "prescale/base/duration.h"
#include "prescale/base/json_depth.h"
#include "prescale/forecast/forecaster.h"

namespace prescale::aggregator {
namespace {

using rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr int64_t kMaxReplicas = 100'000;
constexpr int64_t kMaxSeconds = 366LL * 24 * 3600;

// Reads the members of one JSON object, naming each by its path; the first
// problem is kept in *error and every later call is a no-op returning false.
class Fields {
 public:
  Fields(const Value& object, std::string path, Status* error)
      : object_(object), path_(std::move(path)), error_(error) {
    if (!object_.IsObject()) Fail(path_, "must be an object");
  }

  bool ok() const { return error_->ok(); }
  std::string Path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  bool Fail(const std::string& field, std::string_view message) {
    if (ok()) *error_ = Status::ForField(StatusCode::kUnprocessable, field, message);
    return false;
  }

  // The member, marked as known; null when absent (or JSON null).
  const Value* Get(const char* key) {
    known_.insert(key);
    if (!ok() || !object_.IsObject()) return nullptr;
    auto it = object_.FindMember(key);
    if (it == object_.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }

  bool String(const char* key, std::string* out, bool required = false) {
    const Value* v = Get(key);
    if (v == nullptr) return required ? Fail(Path(key), "is required") : ok();
    if (!v->IsString()) return Fail(Path(key), "must be a string");
    out->assign(v->GetString(), v->GetStringLength());
    if (out->size() > 1024) return Fail(Path(key), "is longer than 1024 bytes");
    return true;
  }

  bool Name(const char* key, std::string* out, bool required) {
    const std::string before = *out;
    if (!String(key, out, required)) return false;
    if (required && out->empty()) return Fail(Path(key), "is required");
    if (*out != before && !IsValidObjectName(*out)) {
      return Fail(Path(key),
                  "must be a DNS label: lowercase letters, digits and '-', 1-63 characters, "
                  "starting and ending with a letter or digit");
    }
    return true;
  }

  bool OneOf(const char* key, std::string* out, std::initializer_list<std::string_view> allowed) {
    if (!String(key, out)) return false;
    for (std::string_view a : allowed) {
      if (*out == a) return true;
    }
    std::string list;
    for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    return Fail(Path(key), "must be one of: " + list);
  }

  bool Number(const char* key, double* out, double min, double max, bool min_exclusive = false) {
    const Value* v = Get(key);
    if (v == nullptr) return ok();
    if (!v->IsNumber()) return Fail(Path(key), "must be a number");
    const double d = v->GetDouble();
    if (!std::isfinite(d) || d < min || d > max || (min_exclusive && d == min)) {
      return Fail(Path(key), "must be " + std::string(min_exclusive ? "> " : ">= ") + FormatNumber(min) +
                                 " and <= " + FormatNumber(max));
    }
    *out = d;
    return true;
  }

  bool OptionalNumber(const char* key, std::optional<double>* out, double max) {
    if (Get(key) == nullptr) return ok();
    double d = 0;
    if (!Number(key, &d, 0, max)) return false;
    *out = d;
    return true;
  }

  bool Integer(const char* key, int64_t* out, int64_t min, int64_t max) {
    const Value* v = Get(key);
    if (v == nullptr) return ok();
    if (!v->IsInt64()) return Fail(Path(key), "must be an integer");
    if (v->GetInt64() < min || v->GetInt64() > max) {
      return Fail(Path(key), "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    *out = v->GetInt64();
    return true;
  }

  // A duration as text ("15m") or a number of seconds.
  bool Seconds(const char* key, int64_t* out, int64_t min, int64_t max) {
    const Value* v = Get(key);
    if (v == nullptr || !v->IsString()) return Integer(key, out, min, max);
    auto d = ParseDuration(std::string_view(v->GetString(), v->GetStringLength()));
    if (!d.ok()) return Fail(Path(key), "must be a duration such as \"15m\" or a number of seconds");
    const int64_t s = std::chrono::duration_cast<std::chrono::seconds>(*d).count();
    if (s < min || s > max) {
      return Fail(Path(key), "must be between " + std::to_string(min) + "s and " + std::to_string(max) + "s");
    }
    *out = s;
    return true;
  }

  bool StringMap(const char* key, std::map<std::string, std::string>* out) {
    const Value* v = Get(key);
    if (v == nullptr) return ok();
    if (!v->IsObject()) return Fail(Path(key), "must be an object of strings");
    if (v->MemberCount() > 64) return Fail(Path(key), "has more than 64 entries");
    out->clear();
    for (const auto& m : v->GetObject()) {
      const std::string name(m.name.GetString(), m.name.GetStringLength());
      if (!m.value.IsString()) return Fail(Path(key) + "." + name, "must be a string");
      if (name.empty() || name.size() > 128) return Fail(Path(key) + "." + name, "names must be 1-128 bytes");
      (*out)[name] = std::string(m.value.GetString(), m.value.GetStringLength());
    }
    return true;
  }

  // Calls fn(Fields&) for a nested object member; absent is fine unless required.
  bool Object(const char* key, const std::function<void(Fields&)>& fn) {
    const Value* v = Get(key);
    if (v == nullptr) return ok();
    Fields nested(*v, Path(key), error_);
    if (!nested.ok()) return false;
    fn(nested);
    return nested.Done();
  }

  // Unknown members are errors (a typo must not pass silently).
  bool Done() {
    if (!ok() || !object_.IsObject()) return ok();
    for (const auto& m : object_.GetObject()) {
      const std::string name(m.name.GetString(), m.name.GetStringLength());
      if (known_.count(name) == 0) return Fail(Path(name), "is not a known field");
    }
    return true;
  }

  Status* error() const { return error_; }

 private:
  static std::string FormatNumber(double d) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", d);
    return buf;
  }

  const Value& object_;
  std::string path_;
  Status* error_;
  std::set<std::string, std::less<>> known_;
};

Status ParseDocument(std::string_view json, rapidjson::Document* doc) {
  // The merge patch, CopyFrom and Accept recurse once per level: bound the depth
  // first, and parse iteratively so the parser itself never recurses.
  PRESCALE_RETURN_IF_ERROR(CheckJsonDepth(json));
  PRESCALE_RETURN_IF_ERROR(CheckJsonEscapes(json));
  // Anything but whitespace after the value is a parse error too (a single root);
  // so are strings that are not UTF-8 (every store keeps text as UTF-8).
  doc->Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  if (doc->HasParseError()) {
    return Status::InvalidArgument(std::string("malformed JSON at byte ") + std::to_string(doc->GetErrorOffset()) +
                                   ": " + rapidjson::GetParseError_En(doc->GetParseError()));
  }
  if (!doc->IsObject()) return Status::InvalidArgument("the body must be a JSON object");
  return Status::Ok();
}

void ReadMeta(Fields& f, ObjectMeta* meta) {
  int64_t version = -1;
  f.Integer("version", &version, 0, INT64_MAX);
  if (version >= 0 && meta != nullptr) meta->version = version;
  std::string ignored;
  f.String("created_at", &ignored);
  f.String("updated_at", &ignored);
}

void Str(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void StrMap(Writer& w, const char* key, const std::map<std::string, std::string>& m) {
  w.Key(key);
  w.StartObject();
  for (const auto& [k, v] : m) Str(w, k.c_str(), v);
  w.EndObject();
}

std::string Done(const rapidjson::StringBuffer& buf) { return {buf.GetString(), buf.GetSize()}; }

void ReadRules(Fields& f, HpaScalingRules* rules) {
  int64_t window = -1;
  f.Integer("stabilizationWindowSeconds", &window, 0, 3600);
  if (window >= 0) rules->stabilization_window_seconds = window;
  f.OneOf("selectPolicy", &rules->select_policy, {"Max", "Min", "Disabled"});
  const Value* list = f.Get("policies");
  if (list == nullptr || !f.ok()) return;
  if (!list->IsArray()) {
    f.Fail(f.Path("policies"), "must be an array");
    return;
  }
  if (list->Size() > 10) {
    f.Fail(f.Path("policies"), "has more than 10 policies");
    return;
  }
  rules->policies.clear();
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    Fields p((*list)[i], f.Path("policies") + "[" + std::to_string(i) + "]", f.error());
    HpaScalingPolicy policy;
    p.OneOf("type", &policy.type, {"Pods", "Percent"});
    if (p.ok() && policy.type.empty()) p.Fail(p.Path("type"), "is required");
    p.Integer("value", &policy.value, 1, kMaxReplicas);
    if (p.ok() && policy.value == 0) p.Fail(p.Path("value"), "is required (> 0)");
    p.Integer("periodSeconds", &policy.period_seconds, 1, 1800);
    if (!p.Done()) return;
    rules->policies.push_back(policy);
  }
}

void WriteRules(Writer& w, const char* key, const HpaScalingRules& r) {
  w.Key(key);
  w.StartObject();
  if (r.stabilization_window_seconds) {
    w.Key("stabilizationWindowSeconds");
    w.Int64(*r.stabilization_window_seconds);
  }
  Str(w, "selectPolicy", r.select_policy);
  w.Key("policies");
  w.StartArray();
  for (const HpaScalingPolicy& p : r.policies) {
    w.StartObject();
    Str(w, "type", p.type);
    w.Key("value");
    w.Int64(p.value);
    w.Key("periodSeconds");
    w.Int64(p.period_seconds);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

}  // namespace

std::string FormatRfc3339(int64_t ms) {
  const time_t secs = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

namespace {

template <typename T>
Result<T> Finish(Fields& f, T value) {
  if (!f.Done()) return *f.error();
  return value;
}

}  // namespace

std::string_view PriorityName(Priority p) {
  switch (p) {
    case Priority::kCritical: return "critical";
    case Priority::kHigh: return "high";
    case Priority::kNormal: return "normal";
    case Priority::kLow: return "low";
    case Priority::kBestEffort: return "best-effort";
  }
  return "normal";
}

std::string_view PolicyModeName(PolicyMode m) {
  switch (m) {
    case PolicyMode::kPredictive: return "predictive";
    case PolicyMode::kReactive: return "reactive";
    case PolicyMode::kRecommendOnly: return "recommend-only";
    case PolicyMode::kOff: return "off";
  }
  return "off";
}

bool IsValidObjectName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return name.front() != '-' && name.back() != '-';
}

Result<Tenant> ParseTenant(std::string_view json, ObjectMeta* meta) {
  rapidjson::Document doc;
  PRESCALE_RETURN_IF_ERROR(ParseDocument(json, &doc));
  Status error;
  Fields f(doc, "", &error);
  Tenant t;
  ReadMeta(f, meta);
  f.Name("name", &t.name, true);
  f.String("display_name", &t.display_name);
  f.Object("quotas", [&](Fields& q) {
    q.OptionalNumber("cpu_cores", &t.quotas.cpu_cores, 1e7);
    q.OptionalNumber("memory_bytes", &t.quotas.memory_bytes, 1e18);
    if (q.Get("replicas") != nullptr) {
      int64_t r = 0;
      if (q.Integer("replicas", &r, 0, kMaxReplicas * 100)) t.quotas.replicas = r;
    }
  });
  f.Number("weight", &t.weight, 0, 1e6, true);
  f.StringMap("labels", &t.labels);
  return Finish(f, std::move(t));
}

std::string RenderTenant(const Tenant& t) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Str(w, "name", t.name);
  Str(w, "display_name", t.display_name);
  w.Key("quotas");
  w.StartObject();
  if (t.quotas.cpu_cores) {
    w.Key("cpu_cores");
    w.Double(*t.quotas.cpu_cores);
  }
  if (t.quotas.memory_bytes) {
    w.Key("memory_bytes");
    w.Double(*t.quotas.memory_bytes);
  }
  if (t.quotas.replicas) {
    w.Key("replicas");
    w.Int64(*t.quotas.replicas);
  }
  w.EndObject();
  w.Key("weight");
  w.Double(t.weight);
  StrMap(w, "labels", t.labels);
  w.EndObject();
  return Done(buf);
}

Result<Service> ParseService(std::string_view json, ObjectMeta* meta) {
  rapidjson::Document doc;
  PRESCALE_RETURN_IF_ERROR(ParseDocument(json, &doc));
  Status error;
  Fields f(doc, "", &error);
  Service s;
  ReadMeta(f, meta);
  f.Name("tenant", &s.tenant, true);
  f.Name("name", &s.name, true);
  std::string priority = "normal";
  f.OneOf("priority", &priority, {"critical", "high", "normal", "low", "best-effort"});
  for (Priority p : {Priority::kCritical, Priority::kHigh, Priority::kNormal, Priority::kLow, Priority::kBestEffort}) {
    if (PriorityName(p) == priority) s.priority = p;
  }
  f.StringMap("selector", &s.selector);
  f.Object("replicas", [&](Fields& r) {
    r.Integer("current", &s.replicas.current, 0, kMaxReplicas);
    r.Integer("min", &s.replicas.min, 0, kMaxReplicas);
    r.Integer("max", &s.replicas.max, 1, kMaxReplicas);
    if (r.ok() && s.replicas.min > s.replicas.max) r.Fail(r.Path("min"), "must not exceed replicas.max");
  });
  f.Object("requests", [&](Fields& r) {
    r.Number("cpu_cores", &s.request_cpu_cores, 0, 1e5);
    r.Number("memory_bytes", &s.request_memory_bytes, 0, 1e15);
  });
  if (const Value* targets = f.Get("target_utilization"); targets != nullptr && f.ok()) {
    Fields t(*targets, "target_utilization", &error);
    if (t.ok()) {
      for (const auto& m : targets->GetObject()) {
        const std::string resource(m.name.GetString(), m.name.GetStringLength());
        double v = 0;
        if (!IsValidObjectName(resource)) {
          t.Fail(t.Path(resource), "resource names are DNS labels (cpu, memory, network, ...)");
        } else if (t.Number(resource.c_str(), &v, 0, 1, true)) {
          s.target_utilization[resource] = v;
        }
      }
    }
  }
  f.Name("policy", &s.policy, false);
  f.Object("executor", [&](Fields& e) {
    e.OneOf("type", &s.executor.type, {"webhook", "kubernetes", "recommend-only"});
    e.OneOf("mode", &s.executor.mode, {"act", "recommend-only", "off"});
    e.String("url", &s.executor.url);
    e.String("secret_file", &s.executor.secret_file);
    e.String("namespace", &s.executor.k8s_namespace);
    e.OneOf("kind", &s.executor.k8s_kind, {"Deployment", "StatefulSet"});
    e.String("name", &s.executor.k8s_name);
    if (!e.ok()) return;
    const ExecutorSpec& x = s.executor;
    if (x.type == "webhook" && x.url.rfind("http://", 0) != 0 && x.url.rfind("https://", 0) != 0) {
      e.Fail(e.Path("url"), "a webhook executor needs an http:// or https:// url");
    } else if (x.type == "kubernetes" && (x.k8s_namespace.empty() || x.k8s_name.empty())) {
      e.Fail(e.Path(x.k8s_namespace.empty() ? "namespace" : "name"), "a kubernetes executor needs namespace and name");
    }
  });
  f.StringMap("labels", &s.labels);
  if (f.ok() && s.selector.empty()) s.selector = {{"service", s.name}, {"tenant", s.tenant}};
  return Finish(f, std::move(s));
}

std::string RenderService(const Service& s) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Str(w, "tenant", s.tenant);
  Str(w, "name", s.name);
  Str(w, "priority", std::string(PriorityName(s.priority)));
  StrMap(w, "selector", s.selector);
  w.Key("replicas");
  w.StartObject();
  w.Key("current");
  w.Int64(s.replicas.current);
  w.Key("min");
  w.Int64(s.replicas.min);
  w.Key("max");
  w.Int64(s.replicas.max);
  w.EndObject();
  w.Key("requests");
  w.StartObject();
  w.Key("cpu_cores");
  w.Double(s.request_cpu_cores);
  w.Key("memory_bytes");
  w.Double(s.request_memory_bytes);
  w.EndObject();
  w.Key("target_utilization");
  w.StartObject();
  for (const auto& [k, v] : s.target_utilization) {
    w.Key(k.c_str());
    w.Double(v);
  }
  w.EndObject();
  Str(w, "policy", s.policy);
  w.Key("executor");
  w.StartObject();
  Str(w, "type", s.executor.type);
  // Written only when not the default, so that specs stored before the field
  // existed render as before (no rewrite of every stored service on upgrade).
  if (s.executor.mode != "act") Str(w, "mode", s.executor.mode);
  if (s.executor.type == "webhook") {
    Str(w, "url", s.executor.url);
    Str(w, "secret_file", s.executor.secret_file);
  } else if (s.executor.type == "kubernetes") {
    Str(w, "namespace", s.executor.k8s_namespace);
    Str(w, "kind", s.executor.k8s_kind);
    Str(w, "name", s.executor.k8s_name);
  }
  w.EndObject();
  StrMap(w, "labels", s.labels);
  w.EndObject();
  return Done(buf);
}

Result<Policy> ParsePolicy(std::string_view json, ObjectMeta* meta) {
  rapidjson::Document doc;
  PRESCALE_RETURN_IF_ERROR(ParseDocument(json, &doc));
  Status error;
  Fields f(doc, "", &error);
  Policy p;
  ReadMeta(f, meta);
  f.Name("name", &p.name, true);
  f.Name("tenant", &p.tenant, false);
  std::string mode = "predictive";
  f.OneOf("mode", &mode, {"predictive", "reactive", "recommend-only", "off"});
  for (PolicyMode m : {PolicyMode::kPredictive, PolicyMode::kReactive, PolicyMode::kRecommendOnly, PolicyMode::kOff}) {
    if (PolicyModeName(m) == mode) p.mode = m;
  }
  if (f.String("forecaster", &p.forecaster)) {
    const std::vector<std::string> models = forecast::ModelNames();
    if (std::find(models.begin(), models.end(), p.forecaster) == models.end()) {
      std::string list;
      for (const std::string& m : models) list += (list.empty() ? "" : ", ") + m;
      f.Fail("forecaster", "must be one of: " + list);
    }
  }
  f.Seconds("horizon", &p.horizon_seconds, 10, int64_t{7} * 24 * 3600);
  f.Object("behavior", [&](Fields& b) {
    b.Object("scaleUp", [&](Fields& r) { ReadRules(r, &p.scale_up); });
    b.Object("scaleDown", [&](Fields& r) { ReadRules(r, &p.scale_down); });
  });
  f.Object("cooldown", [&](Fields& c) {
    c.Seconds("scale_up", &p.cooldown_up_seconds, 0, kMaxSeconds);
    c.Seconds("scale_down", &p.cooldown_down_seconds, 0, kMaxSeconds);
  });
  return Finish(f, std::move(p));
}

std::string RenderPolicy(const Policy& p) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Str(w, "name", p.name);
  Str(w, "tenant", p.tenant);
  Str(w, "mode", std::string(PolicyModeName(p.mode)));
  Str(w, "forecaster", p.forecaster);
  Str(w, "horizon", FormatDuration(std::chrono::seconds(p.horizon_seconds)));
  w.Key("behavior");
  w.StartObject();
  WriteRules(w, "scaleUp", p.scale_up);
  WriteRules(w, "scaleDown", p.scale_down);
  w.EndObject();
  w.Key("cooldown");
  w.StartObject();
  Str(w, "scale_up", FormatDuration(std::chrono::seconds(p.cooldown_up_seconds)));
  Str(w, "scale_down", FormatDuration(std::chrono::seconds(p.cooldown_down_seconds)));
  w.EndObject();
  w.EndObject();
  return Done(buf);
}

std::string WithMetadata(std::string_view spec_json, int64_t version, int64_t created_ms, int64_t updated_ms) {
  std::string out(spec_json);
  if (out.empty() || out.back() != '}') return out;
  out.pop_back();
  if (out.size() > 1) out += ',';
  out += "\"version\":" + std::to_string(version) + ",\"created_at\":\"" + FormatRfc3339(created_ms) +
         "\",\"updated_at\":\"" + FormatRfc3339(updated_ms) + "\"}";
  return out;
}

namespace {

// RFC 7386: objects merge member by member, null deletes, anything else replaces.
void ApplyMergePatch(Value& target, const Value& patch, rapidjson::Document::AllocatorType& alloc) {
  if (!patch.IsObject()) {
    target.CopyFrom(patch, alloc);
    return;
  }
  if (!target.IsObject()) target.SetObject();
  for (const auto& m : patch.GetObject()) {
    if (m.value.IsNull()) {
      target.RemoveMember(m.name);
      continue;
    }
    // HasMember and operator[] rather than comparing mutable member iterators,
    // which clang's C++20 rejects as ambiguous in RapidJSON 1.1.
    if (!target.HasMember(m.name)) {
      Value name(m.name, alloc);
      Value value(rapidjson::kObjectType);
      ApplyMergePatch(value, m.value, alloc);
      target.AddMember(name, value, alloc);
    } else {
      ApplyMergePatch(target[m.name], m.value, alloc);
    }
  }
}

}  // namespace

Result<std::string> MergePatch(std::string_view target, std::string_view patch) {
  rapidjson::Document t, p;
  PRESCALE_RETURN_IF_ERROR(ParseDocument(patch, &p));
  if (!ParseDocument(target, &t).ok()) t.SetObject();
  ApplyMergePatch(t, p, t.GetAllocator());
  rapidjson::StringBuffer buf;
  Writer w(buf);
  t.Accept(w);
  return Done(buf);
}

}  // namespace prescale::aggregator
