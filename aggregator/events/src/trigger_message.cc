#include "prescale/aggregator/events/trigger_message.h"

#include <rapidjson/document.h>

#include "prescale/aggregator/actions/kubernetes_api.h"
#include "prescale/base/json_depth.h"

namespace prescale::aggregator {

Result<TriggerMessage> ParseTriggerMessage(std::string_view body) {
  if (body.size() > kMaxTriggerMessageBytes) {
    return Status::InvalidArgument("a trigger message is at most " + std::to_string(kMaxTriggerMessageBytes) +
                                   " bytes");
  }
  PRESCALE_RETURN_IF_ERROR(CheckJsonEscapes(body));
  rapidjson::Document doc;
  // Iterative: no recursion however deeply the input nests; text that is not UTF-8 is refused.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status::InvalidArgument(
        "expected a JSON object {\"type\": \"evaluate\" or \"scale_up\", \"tenant\": ..., \"service\": ...}");
  }
  TriggerMessage m;
  const rapidjson::Value& o = doc;
  auto string_field = [&o](const char* key, bool required, std::string* out) -> Status {
    if (!o.HasMember(key)) {
      return required ? Status::ForField(StatusCode::kUnprocessable, key, "missing") : Status::Ok();
    }
    if (!o[key].IsString()) return Status::ForField(StatusCode::kUnprocessable, key, "expected a string");
    out->assign(o[key].GetString(), o[key].GetStringLength());
    return Status::Ok();
  };
  PRESCALE_RETURN_IF_ERROR(string_field("type", true, &m.type));
  if (m.type != "evaluate" && m.type != "scale_up") {
    return Status::ForField(StatusCode::kUnprocessable, "type", "must be \"evaluate\" or \"scale_up\"");
  }
  for (auto [key, out] : {std::pair{"tenant", &m.tenant}, {"service", &m.service}}) {
    PRESCALE_RETURN_IF_ERROR(string_field(key, true, out));
    if (!IsDnsLabel(*out)) {
      return Status::ForField(StatusCode::kUnprocessable, key,
                              "must be a DNS label (lowercase letters, digits and '-', up to 63)");
    }
  }
  PRESCALE_RETURN_IF_ERROR(string_field("name", false, &m.name));
  bool printable = !m.name.empty() && m.name.size() <= 253;
  for (char c : m.name) printable = printable && c > ' ' && c <= '~';
  if (!printable) {
    return Status::ForField(StatusCode::kUnprocessable, "name", "must be 1-253 printable ASCII characters");
  }
  if (o.HasMember("resolved")) {
    if (!o["resolved"].IsBool())
      return Status::ForField(StatusCode::kUnprocessable, "resolved", "expected true or false");
    m.resolved = o["resolved"].GetBool();
  }
  return m;
}

}  // namespace prescale::aggregator
