#include "prescale/aggregator/api/ingest_json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

// RapidJSON 1.1.0's member iterators declare operator== and != in a way C++20's
// reversed-operator rules call ambiguous; clang warns at every comparison here.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wambiguous-reversed-operator"
#endif

#include <algorithm>
#include <cmath>
#include <limits>

#include "prescale/base/json_depth.h"

namespace prescale::aggregator {
namespace {

using remote_write::Label;
using remote_write::Sample;
using remote_write::TimeSeries;
using remote_write::WriteRequest;

class Decoder {
 public:
  Decoder(int64_t now_ms, const IngestJsonLimits& limits) : now_ms_(now_ms), limits_(limits) {}

  Result<WriteRequest> Run(std::string_view body) {
    if (Status s = CheckJsonEscapes(body); !s.ok()) return Fail("", s.message());
    rapidjson::Document doc;
    // Iterative parsing: deep nesting cannot exhaust the stack.
    doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
    if (doc.HasParseError()) {
      return Fail("", "invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                          rapidjson::GetParseError_En(doc.GetParseError()));
    }
    if (!doc.IsObject()) return Fail("", "expected an object {\"series\": [...]}");
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
      if (std::string_view(it->name.GetString(), it->name.GetStringLength()) != "series") {
        return Fail(std::string(it->name.GetString(), it->name.GetStringLength()), "unknown field");
      }
    }
    auto series = doc.FindMember("series");
    if (series == doc.MemberEnd()) return Fail("series", "required field is missing");
    if (!series->value.IsArray()) return Fail("series", "expected an array");
    if (series->value.Size() > limits_.max_series) {
      return Fail("series", "more than " + std::to_string(limits_.max_series) + " series in one request");
    }
    WriteRequest out;
    out.timeseries.reserve(series->value.Size());
    for (rapidjson::SizeType i = 0; i < series->value.Size(); ++i) {
      const std::string path = "series[" + std::to_string(i) + "]";
      TimeSeries ts;
      PRESCALE_RETURN_IF_ERROR(DecodeSeries(series->value[i], path, &ts));
      out.timeseries.push_back(std::move(ts));
    }
    return out;
  }

 private:
  static Status Fail(std::string field, std::string_view message) {
    return Status::ForField(StatusCode::kInvalidArgument, std::move(field), message);
  }

  Status DecodeSeries(const rapidjson::Value& v, const std::string& path, TimeSeries* ts) {
    if (!v.IsObject()) return Fail(path, "expected an object with labels and samples");
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      const std::string_view key(it->name.GetString(), it->name.GetStringLength());
      if (key != "labels" && key != "samples") return Fail(path + "." + std::string(key), "unknown field");
    }
    auto labels = v.FindMember("labels");
    if (labels == v.MemberEnd()) return Fail(path + ".labels", "required field is missing");
    PRESCALE_RETURN_IF_ERROR(DecodeLabels(labels->value, path + ".labels", &ts->labels));
    auto samples = v.FindMember("samples");
    if (samples == v.MemberEnd()) return Fail(path + ".samples", "required field is missing");
    if (!samples->value.IsArray() || samples->value.Empty()) {
      return Fail(path + ".samples", "expected a non-empty array of [timestamp_ms, value] or values");
    }
    samples_ += samples->value.Size();
    if (samples_ > limits_.max_samples) {
      return Fail(path + ".samples", "more than " + std::to_string(limits_.max_samples) + " samples in one request");
    }
    ts->samples.reserve(samples->value.Size());
    for (rapidjson::SizeType j = 0; j < samples->value.Size(); ++j) {
      Sample s;
      PRESCALE_RETURN_IF_ERROR(DecodeSample(samples->value[j], path + ".samples[" + std::to_string(j) + "]", &s));
      ts->samples.push_back(s);
    }
    return Status::Ok();
  }

  Status DecodeLabels(const rapidjson::Value& v, const std::string& path, std::vector<Label>* labels) {
    if (!v.IsObject()) return Fail(path, "expected an object of label names to values");
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      if (!it->value.IsString()) {
        return Fail(path + "." + std::string(it->name.GetString(), it->name.GetStringLength()),
                    "expected a string value");
      }
      labels->push_back({std::string(it->name.GetString(), it->name.GetStringLength()),
                         std::string(it->value.GetString(), it->value.GetStringLength())});
    }
    std::sort(labels->begin(), labels->end(), [](const Label& a, const Label& b) { return a.name < b.name; });
    remote_write::WriteRequest one;
    one.timeseries.push_back({*labels, {}});
    if (Status s = remote_write::Validate(one); !s.ok()) {
      // "series 0 (name): why" -> "why"
      const std::string& m = s.message();
      const size_t colon = m.find("): ");
      return Fail(path, colon == std::string::npos ? m : m.substr(colon + 3));
    }
    return Status::Ok();
  }

  Status DecodeValue(const rapidjson::Value& v, const std::string& path, double* out) {
    if (v.IsNumber()) {
      *out = v.GetDouble();
      return Status::Ok();
    }
    if (v.IsString()) {
      const std::string_view s(v.GetString(), v.GetStringLength());
      if (s == "NaN") {
        *out = std::numeric_limits<double>::quiet_NaN();
      } else if (s == "+Inf" || s == "Inf") {
        *out = std::numeric_limits<double>::infinity();
      } else if (s == "-Inf") {
        *out = -std::numeric_limits<double>::infinity();
      } else {
        return Fail(path, "expected a number, \"NaN\", \"+Inf\" or \"-Inf\"");
      }
      return Status::Ok();
    }
    return Fail(path, "expected a number, \"NaN\", \"+Inf\" or \"-Inf\"");
  }

  Status DecodeSample(const rapidjson::Value& v, const std::string& path, Sample* s) {
    if (!v.IsArray()) {
      s->timestamp_ms = now_ms_;
      return DecodeValue(v, path, &s->value);
    }
    if (v.Size() == 1) {
      s->timestamp_ms = now_ms_;
      return DecodeValue(v[0], path + "[0]", &s->value);
    }
    if (v.Size() != 2) return Fail(path, "expected [timestamp_ms, value]");
    if (v[0].IsInt64()) {
      s->timestamp_ms = v[0].GetInt64();
    } else if (v[0].IsDouble() && std::isfinite(v[0].GetDouble()) && std::trunc(v[0].GetDouble()) == v[0].GetDouble() &&
               std::fabs(v[0].GetDouble()) < 9e15) {
      s->timestamp_ms = static_cast<int64_t>(v[0].GetDouble());
    } else {
      return Fail(path + "[0]", "expected a timestamp in whole milliseconds since the epoch");
    }
    if (s->timestamp_ms <= 0) return Fail(path + "[0]", "timestamp must be positive (milliseconds since the epoch)");
    return DecodeValue(v[1], path + "[1]", &s->value);
  }

  int64_t now_ms_;
  IngestJsonLimits limits_;
  size_t samples_ = 0;
};

}  // namespace

Result<WriteRequest> DecodeIngestJson(std::string_view body, int64_t now_ms, const IngestJsonLimits& limits) {
  Decoder decoder(now_ms, limits);
  return decoder.Run(body);
}

}  // namespace prescale::aggregator
