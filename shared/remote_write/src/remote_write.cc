#include "prescale/remote_write/remote_write.h"

#include <snappy.h>

#include "prescale/metrics/names.h"
#include "proto/remote.pb.h"

namespace prescale::remote_write {
namespace {

std::string SeriesName(const TimeSeries& ts) {
  for (const Label& l : ts.labels) {
    if (l.name == "__name__") return l.value;
  }
  return "(no __name__)";
}

// The most output a snappy block can make per input byte: a copy with a 2-byte
// offset takes 3 bytes and writes at most 64 (literals and the other copies
// expand less). A header that claims more than this for the bytes that follow
// cannot be true: refusing it before allocating keeps a 20-byte body from
// costing max_decompressed_bytes of zeroed memory per worker thread.
constexpr size_t kSnappyMaxExpansion = 22;  // > 64 / 3

}  // namespace

struct Encoder::State {
  prometheus::WriteRequest pb;  // Clear() keeps the nested messages and strings for reuse
  std::string raw;
};

Encoder::Encoder() : state_(std::make_unique<State>()) {}
Encoder::~Encoder() = default;

void Encoder::Encode(const WriteRequest& request, std::string* body) {
  prometheus::WriteRequest& pb = state_->pb;
  pb.Clear();
  for (const TimeSeries& ts : request.timeseries) {
    prometheus::TimeSeries* out = pb.add_timeseries();
    for (const Label& l : ts.labels) {
      prometheus::Label* label = out->add_labels();
      label->set_name(l.name);
      label->set_value(l.value);
    }
    for (const Sample& s : ts.samples) {
      prometheus::Sample* sample = out->add_samples();
      sample->set_value(s.value);
      sample->set_timestamp(s.timestamp_ms);
    }
  }
  pb.SerializeToString(&state_->raw);
  body->clear();
  snappy::Compress(state_->raw.data(), state_->raw.size(), body);
}

std::string Encode(const WriteRequest& request) {
  Encoder encoder;
  std::string body;
  encoder.Encode(request, &body);
  return body;
}

Status Validate(const WriteRequest& request, const DecodeLimits& limits) {
  for (size_t i = 0; i < request.timeseries.size(); ++i) {
    const TimeSeries& ts = request.timeseries[i];
    auto fail = [&](const std::string& why) {
      return Status::InvalidArgument("series " + std::to_string(i) + " (" + SeriesName(ts) + "): " + why);
    };
    if (ts.labels.empty()) return fail("no labels");
    if (ts.labels.size() > limits.max_labels_per_series) {
      return fail("more than " + std::to_string(limits.max_labels_per_series) + " labels");
    }
    bool has_name = false;
    for (size_t j = 0; j < ts.labels.size(); ++j) {
      const Label& l = ts.labels[j];
      if (l.name.empty()) return fail("a label with an empty name");
      if (l.value.empty()) return fail("label " + l.name + " has an empty value");
      if (l.name.size() > limits.max_label_bytes || l.value.size() > limits.max_label_bytes) {
        return fail("label " + l.name.substr(0, 64) + " longer than " + std::to_string(limits.max_label_bytes) +
                    " bytes");
      }
      if (l.name == "__name__") {
        has_name = true;
        if (!metrics::IsValidMetricName(l.value)) return fail("invalid metric name '" + l.value + "'");
      } else if (!metrics::IsValidLabelName(l.name)) {
        return fail("invalid label name '" + l.name + "'");
      }
      if (j > 0 && !(ts.labels[j - 1].name < l.name)) {
        return fail(ts.labels[j - 1].name == l.name ? "duplicate label " + l.name : "labels not sorted by name");
      }
    }
    if (!has_name) return fail("no __name__ label");
  }
  return Status::Ok();
}

struct Decoder::State {
  prometheus::WriteRequest pb;
  std::string raw;
};

Decoder::Decoder() : state_(std::make_unique<State>()) {}
Decoder::~Decoder() = default;

Status Decoder::Decode(std::string_view body, const DecodeLimits& limits, WriteRequest* out) {
  if (body.size() > limits.max_compressed_bytes) {
    return Status::ResourceExhausted("body of " + std::to_string(body.size()) + " bytes exceeds " +
                                     std::to_string(limits.max_compressed_bytes));
  }
  size_t raw_size = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &raw_size)) {
    return Status::InvalidArgument("body is not snappy block-compressed");
  }
  if (raw_size > limits.max_decompressed_bytes) {
    return Status::ResourceExhausted("decompressed body of " + std::to_string(raw_size) + " bytes exceeds " +
                                     std::to_string(limits.max_decompressed_bytes));
  }
  if (raw_size / kSnappyMaxExpansion > body.size()) {
    return Status::InvalidArgument("corrupt snappy data: the header claims " + std::to_string(raw_size) +
                                   " bytes, more than " + std::to_string(body.size()) + " compressed bytes can hold");
  }
  std::string& raw = state_->raw;
  raw.resize(raw_size);
  if (!snappy::RawUncompress(body.data(), body.size(), raw.data())) {
    return Status::InvalidArgument("corrupt snappy data");
  }
  prometheus::WriteRequest& pb = state_->pb;
  if (!pb.ParseFromString(raw)) return Status::InvalidArgument("body is not a protobuf WriteRequest");
  // Resizing keeps the strings and vectors of earlier requests for reuse.
  out->timeseries.resize(static_cast<size_t>(pb.timeseries_size()));
  for (int i = 0; i < pb.timeseries_size(); ++i) {
    const prometheus::TimeSeries& ts = pb.timeseries(i);
    TimeSeries& series = out->timeseries[static_cast<size_t>(i)];
    series.labels.resize(static_cast<size_t>(ts.labels_size()));
    for (int j = 0; j < ts.labels_size(); ++j) {
      Label& l = series.labels[static_cast<size_t>(j)];
      l.name.assign(ts.labels(j).name());
      l.value.assign(ts.labels(j).value());
    }
    series.samples.resize(static_cast<size_t>(ts.samples_size()));
    for (int j = 0; j < ts.samples_size(); ++j) {
      series.samples[static_cast<size_t>(j)] = {ts.samples(j).value(), ts.samples(j).timestamp()};
    }
  }
  return Validate(*out, limits);
}

Result<WriteRequest> Decode(std::string_view body, const DecodeLimits& limits) {
  Decoder decoder;
  WriteRequest out;
  PRESCALE_RETURN_IF_ERROR(decoder.Decode(body, limits, &out));
  return out;
}

}  // namespace prescale::remote_write
