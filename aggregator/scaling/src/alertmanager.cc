#include "prescale/aggregator/scaling/alertmanager.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

// RapidJSON 1.1.0's member iterators declare operator== and != in a way C++20's
// reversed-operator rules call ambiguous; clang warns at every comparison here.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wambiguous-reversed-operator"
#endif

#include <cstdio>

#include "prescale/base/json_depth.h"
#include "prescale/base/timestamp.h"

namespace prescale::aggregator {
namespace {

// Go's zero time.Time, which Alertmanager sends as endsAt of an alert that has
// not ended: 0001-01-01T00:00:00Z in milliseconds since the Unix epoch.
constexpr int64_t kGoZeroTimeMs = -62'135'596'800'000;

std::string_view View(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

class Decoder {
 public:
  Result<std::vector<AlertmanagerAlert>> Run(std::string_view body) {
    if (Status s = CheckJsonEscapes(body); !s.ok()) return Fail("", s.message());
    rapidjson::Document doc;
    // Iterative parsing: deep nesting cannot exhaust the stack.
    doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
    if (doc.HasParseError()) {
      return Fail("", "invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                          rapidjson::GetParseError_En(doc.GetParseError()));
    }
    if (!doc.IsObject()) return Fail("", "expected an Alertmanager webhook object {\"version\": \"4\", ...}");
    auto version = doc.FindMember("version");
    if (version == doc.MemberEnd()) return Fail("version", "required field is missing");
    if (!version->value.IsString() || View(version->value) != "4") {
      return Fail("version", "expected \"4\" (Alertmanager's webhook payload version)");
    }
    for (const char* name : {"groupKey", "receiver", "externalURL"}) {
      PRESCALE_RETURN_IF_ERROR(OptionalString(doc, name, name));
    }
    PRESCALE_RETURN_IF_ERROR(OptionalStatus(doc, "status", "status"));
    if (auto t = doc.FindMember("truncatedAlerts"); t != doc.MemberEnd() && !t->value.IsUint64()) {
      return Fail("truncatedAlerts", "expected a non-negative integer");
    }
    for (const char* name : {"groupLabels", "commonLabels", "commonAnnotations"}) {
      if (auto m = doc.FindMember(name); m != doc.MemberEnd()) {
        std::map<std::string, std::string> ignored;
        PRESCALE_RETURN_IF_ERROR(DecodeStringMap(m->value, name, &ignored));
      }
    }
    auto alerts = doc.FindMember("alerts");
    if (alerts == doc.MemberEnd()) return Fail("alerts", "required field is missing");
    if (!alerts->value.IsArray()) return Fail("alerts", "expected an array");
    std::vector<AlertmanagerAlert> out;
    out.reserve(alerts->value.Size());
    for (rapidjson::SizeType i = 0; i < alerts->value.Size(); ++i) {
      AlertmanagerAlert alert;
      PRESCALE_RETURN_IF_ERROR(DecodeAlert(alerts->value[i], "alerts[" + std::to_string(i) + "]", &alert));
      out.push_back(std::move(alert));
    }
    return out;
  }

 private:
  // Not JSON at all: 400; a field that is wrong: 422 naming it.
  static Status Fail(std::string field, std::string message) {
    if (field.empty()) return Status::InvalidArgument(std::move(message));
    return Status::ForField(StatusCode::kUnprocessable, std::move(field), message);
  }

  Status OptionalString(const rapidjson::Value& obj, const char* name, const std::string& path,
                        std::string* out = nullptr) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd()) return Status::Ok();
    if (!it->value.IsString()) return Fail(path, "expected a string");
    if (out != nullptr) *out = std::string(View(it->value));
    return Status::Ok();
  }

  Status OptionalStatus(const rapidjson::Value& obj, const char* name, const std::string& path,
                        std::string* out = nullptr) {
    std::string status;
    PRESCALE_RETURN_IF_ERROR(OptionalString(obj, name, path, &status));
    if (obj.HasMember(name) && status != "firing" && status != "resolved") {
      return Fail(path, "expected \"firing\" or \"resolved\"");
    }
    if (out != nullptr) *out = std::move(status);
    return Status::Ok();
  }

  Status DecodeStringMap(const rapidjson::Value& v, const std::string& path, std::map<std::string, std::string>* out) {
    if (!v.IsObject()) return Fail(path, "expected an object of names to string values");
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      std::string name(View(it->name));
      if (!it->value.IsString()) return Fail(path + "." + name, "expected a string value");
      (*out)[std::move(name)] = std::string(View(it->value));
    }
    return Status::Ok();
  }

  // RFC 3339 only: the shared ParseTimestamp also takes Unix seconds, which
  // Alertmanager never sends.
  Status DecodeTime(const rapidjson::Value& v, const std::string& path, int64_t* ms) {
    if (!v.IsString()) return Fail(path, "expected an RFC 3339 time string");
    const std::string_view text = View(v);
    if (text.size() < 20 || text[4] != '-' || !ParseTimestamp(text, ms)) {
      return Fail(path, "expected an RFC 3339 time such as 2026-11-28T03:00:00.5Z, got '" + std::string(text) + "'");
    }
    if (*ms == kGoZeroTimeMs) {
      *ms = 0;
    } else if (*ms < 0) {
      return Fail(path, "time before 1970 (only Alertmanager's zero time 0001-01-01T00:00:00Z is accepted)");
    }
    return Status::Ok();
  }

  Status DecodeAlert(const rapidjson::Value& v, const std::string& path, AlertmanagerAlert* alert) {
    if (!v.IsObject()) return Fail(path, "expected an alert object");
    if (!v.HasMember("status")) return Fail(path + ".status", "required field is missing");
    PRESCALE_RETURN_IF_ERROR(OptionalStatus(v, "status", path + ".status", &alert->status));
    auto labels = v.FindMember("labels");
    if (labels == v.MemberEnd()) return Fail(path + ".labels", "required field is missing");
    PRESCALE_RETURN_IF_ERROR(DecodeStringMap(labels->value, path + ".labels", &alert->labels));
    if (auto a = v.FindMember("annotations"); a != v.MemberEnd()) {
      PRESCALE_RETURN_IF_ERROR(DecodeStringMap(a->value, path + ".annotations", &alert->annotations));
    }
    auto starts = v.FindMember("startsAt");
    if (starts == v.MemberEnd()) return Fail(path + ".startsAt", "required field is missing");
    PRESCALE_RETURN_IF_ERROR(DecodeTime(starts->value, path + ".startsAt", &alert->starts_at_ms));
    if (auto ends = v.FindMember("endsAt"); ends != v.MemberEnd()) {
      PRESCALE_RETURN_IF_ERROR(DecodeTime(ends->value, path + ".endsAt", &alert->ends_at_ms));
    }
    PRESCALE_RETURN_IF_ERROR(OptionalString(v, "generatorURL", path + ".generatorURL"));
    PRESCALE_RETURN_IF_ERROR(OptionalString(v, "fingerprint", path + ".fingerprint", &alert->fingerprint));
    if (alert->fingerprint.empty()) alert->fingerprint = AlertFingerprint(alert->labels);
    auto label = [&](const char* name) {
      auto it = alert->labels.find(name);
      return it == alert->labels.end() ? std::string() : it->second;
    };
    alert->tenant = label("tenant");
    alert->service = label("service");
    alert->action = label("prescale_action");
    return Status::Ok();
  }
};

}  // namespace

Result<std::vector<AlertmanagerAlert>> ParseAlertmanagerWebhook(std::string_view body) {
  Decoder decoder;
  return decoder.Run(body);
}

std::string AlertFingerprint(const std::map<std::string, std::string>& labels) {
  constexpr uint64_t kOffset = 14'695'981'039'346'656'037ULL;
  constexpr uint64_t kPrime = 1'099'511'628'211ULL;
  constexpr unsigned char kSeparator = 0xff;
  uint64_t h = kOffset;
  auto add = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * kPrime;
  };
  auto add_separator = [&h] { h = (h ^ kSeparator) * kPrime; };
  for (const auto& [name, value] : labels) {  // std::map: sorted by name, as the hash requires
    add(name);
    add_separator();
    add(value);
    add_separator();
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

AlertDeduplicator::AlertDeduplicator(size_t max_entries) : max_entries_(max_entries) {
  PRESCALE_CHECK(max_entries > 0);
}

bool AlertDeduplicator::Observe(const AlertmanagerAlert& alert) {
  const bool resolved = alert.status == "resolved";
  std::lock_guard lock(mu_);
  auto it = entries_.find(alert.fingerprint);
  if (it == entries_.end()) {
    if (entries_.size() >= max_entries_) EvictOneLocked();
    auto& list = resolved ? resolved_ : firing_;
    list.push_back(alert.fingerprint);
    entries_.emplace(alert.fingerprint, Entry{resolved, alert.starts_at_ms, std::prev(list.end())});
    return true;
  }
  Entry& e = it->second;
  const bool changed = e.resolved != resolved || (!resolved && e.starts_at_ms != alert.starts_at_ms);
  // Move to the back of its status's list: the most recently observed.
  auto& from = e.resolved ? resolved_ : firing_;
  auto& to = resolved ? resolved_ : firing_;
  to.splice(to.end(), from, e.position);
  e.resolved = resolved;
  e.starts_at_ms = alert.starts_at_ms;
  return changed;
}

void AlertDeduplicator::EvictOneLocked() {
  auto& list = resolved_.empty() ? firing_ : resolved_;
  PRESCALE_CHECK(!list.empty());
  entries_.erase(list.front());
  list.pop_front();
}

size_t AlertDeduplicator::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace prescale::aggregator
