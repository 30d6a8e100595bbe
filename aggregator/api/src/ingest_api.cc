#include "prescale/aggregator/api/ingest_api.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <utility>

#include "prescale/aggregator/api/ingest_json.h"
#include "prescale/aggregator/api/raw_json.h"
#include "prescale/metrics/text_writer.h"
#include "prescale/remote_write/remote_write.h"

namespace prescale::aggregator {
namespace {

// Series expire after raw_retention at the latest; a sender retrying a 429 sooner than
// this mostly hits the limit again.
constexpr const char* kRetryAfterSeconds = "30";

// Pushing samples is for agents and admins; callers without a token only with
// allow_anonymous_push (the front decides).
const Access kPushers{.roles = {Role::kAgent, Role::kAdmin, Role::kAnonymous}};
// Raw samples: agents (checking what they sent) and admins read every series;
// operators and viewers only those of their tenant (Raw binds the tenant label).
const Access kRawReaders{.roles = {Role::kAgent, Role::kAdmin, Role::kOperator, Role::kViewer}, .tenant_bound = true};

}  // namespace

IngestApi::IngestApi(SeriesStore* store, const Clock& clock, IngestOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {
  if (options_.sender_samples_per_second > 0) {
    // Ten seconds' worth: an agent's push carries one interval's samples at once.
    const auto rate = static_cast<double>(options_.sender_samples_per_second);
    sender_limit_ = std::make_unique<RateLimiter>(rate, 10 * rate, clock);
  }
}

std::vector<RouteSpec> IngestApi::Routes() {
  return {
      {"POST", "/api/v1/write", "write", kPushers, [this](Call& c) { return Write(c); }, {}},
      {"POST", "/api/v1/ingest", "ingest", kPushers, [this](Call& c) { return Ingest(c); }, {}},
      {"GET", "/api/v1/raw", "raw", kRawReaders, [this](Call& c) { return Raw(c); }, {}},
  };
}

void IngestApi::RefusePushes(std::string reason) {
  std::lock_guard lock(refusal_mu_);
  refusing_ = !reason.empty();
  refusal_ = std::move(reason);
}

Result<http::HttpResponse> IngestApi::Append(const remote_write::WriteRequest& request, std::string_view body,
                                             bool json, const std::string& sender) {
  const std::vector<remote_write::TimeSeries>& series = request.timeseries;
  if (refusing_.load()) {
    std::lock_guard lock(refusal_mu_);
    // Checked again under the lock: the refusal may have been lifted meanwhile.
    if (!refusal_.empty()) return Status::Unavailable(refusal_);
  }
  if (sender_limit_ != nullptr) {
    double samples = 0;
    for (const auto& ts : series) samples += static_cast<double>(ts.samples.size());
    const auto wait = sender_limit_->Take(sender, samples);
    if (wait.count() > 0) {
      rate_limited_ += static_cast<uint64_t>(samples);
      http::HttpResponse r = ErrorResponse(
          Status::ResourceExhausted("sender '" + sender + "' is over its limit of " +
                                    std::to_string(options_.sender_samples_per_second) + " samples per second"));
      r.headers.emplace_back("Retry-After", std::to_string((wait.count() + 999) / 1000));
      return r;
    }
  }
  AppendStats stats;
  Status logged;
  WalPending pending;
  // The record is written once the store has reserved room for the request's
  // new series (a push refused for max_series is not logged), and the samples
  // are stored only when it was written.
  auto log = [&]() -> Status {
    if (json) {
      thread_local remote_write::Encoder encoder;
      thread_local std::string encoded;
      encoder.Encode(request, &encoded);  // JSON: its timestamps as filled in from the clock
      body = encoded;
    }
    logged = wal_->Log(body, &pending);
    return logged;
  };
  const Status s = wal_ == nullptr ? store_->Append(series, &stats) : store_->Append(series, &stats, false, log);
  pending.Release();  // stored: a snapshot's cut need not wait for this push any longer
  if (!logged.ok()) {
    return Status::Unavailable("the push could not be written to the write-ahead log, retry it: " + logged.message());
  }
  samples_received_ += stats.samples_appended;
  out_of_order_ += stats.samples_out_of_order;
  if (!s.ok()) {
    if (s.code() != StatusCode::kResourceExhausted) return Status::Internal(s.message());
    series_rejected_ += stats.series_rejected;
    http::HttpResponse r =
        ErrorResponse(Status::ResourceExhausted("too many series: " + s.message()).WithField("series"));
    r.headers.emplace_back("Retry-After", kRetryAfterSeconds);
    return r;
  }
  if (!json) return NoContent();
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("status");
  w.String("success");
  w.Key("series");
  w.Uint64(series.size());
  w.Key("samples_appended");
  w.Uint64(stats.samples_appended);
  w.Key("samples_out_of_order");
  w.Uint64(stats.samples_out_of_order);
  w.EndObject();
  return JsonResponse(200, std::string(buf.GetString(), buf.GetSize()));
}

Result<http::HttpResponse> IngestApi::Write(Call& call) {
  const std::string_view encoding = call.request.Header("Content-Encoding");
  if (!encoding.empty() && encoding != "snappy") {
    return Status::InvalidArgument("unsupported Content-Encoding '" + std::string(encoding) +
                                   "': remote write 1.0 bodies are snappy block-compressed");
  }
  remote_write::DecodeLimits limits;
  limits.max_compressed_bytes = options_.max_body_bytes;
  limits.max_decompressed_bytes = std::max<size_t>(limits.max_decompressed_bytes, 4 * options_.max_body_bytes);
  // Each HTTP worker thread keeps its decoder and request buffers between requests.
  thread_local remote_write::Decoder decoder;
  thread_local remote_write::WriteRequest decoded;
  if (Status s = decoder.Decode(call.request.body, limits, &decoded); !s.ok()) {
    if (s.code() == StatusCode::kResourceExhausted) return Status::PayloadTooLarge(s.message());
    return Status::InvalidArgument(s.message());
  }
  return Append(decoded, call.request.body, false, call.principal.name);
}

Result<http::HttpResponse> IngestApi::Ingest(Call& call) {
  const std::string_view encoding = call.request.Header("Content-Encoding");
  if (!encoding.empty() && encoding != "identity") {
    return Status::InvalidArgument("unsupported Content-Encoding '" + std::string(encoding) + "'; send plain JSON");
  }
  PRESCALE_ASSIGN_OR_RETURN(auto decoded, DecodeIngestJson(call.request.body, ToUnixMillis(clock_.Now())));
  return Append(decoded, {}, true, call.principal.name);
}

Result<http::HttpResponse> IngestApi::Raw(Call& call) {
  PRESCALE_ASSIGN_OR_RETURN(auto query, ParseRawQuery(call.request.query));
  PRESCALE_RETURN_IF_ERROR(BindTenantLabel(call, &query.equalities));
  http::HttpResponse r;
  r.content_type = "application/json";
  r.body = RenderRawJson(store_->Query(query.metric_name, query.equalities));
  return r;
}

// A tenant-bound caller's query gets an equality on the tenant label (its
// tenant), and one naming another tenant is refused naming the label; others'
// queries are left as they are.
Status IngestApi::BindTenantLabel(const Call& call, std::vector<remote_write::Label>* equalities) const {
  if (!call.tenant_bound()) return Status::Ok();
  bool bound = false;
  for (const remote_write::Label& l : *equalities) {
    if (l.name != options_.tenant_label) continue;
    if (l.value != call.principal.tenant) {
      return Status::PermissionDenied("this token is bound to tenant " + call.principal.tenant)
          .WithField(options_.tenant_label);
    }
    bound = true;
  }
  if (!bound) equalities->push_back({options_.tenant_label, call.principal.tenant});
  return Status::Ok();
}

void IngestApi::AppendMetrics(std::string* out) const {
  metrics::TextWriter w(out);
  auto counter = [&w](const char* name, const char* help, uint64_t value) {
    w.Family(name, help, metrics::MetricType::kCounter);
    w.Sample(name, std::span<const metrics::LabelRef>(), static_cast<double>(value));
  };
  counter("prescale_aggregator_samples_received_total", "Samples appended to the series store", samples_received_);
  counter("prescale_aggregator_samples_out_of_order_total",
          "Samples dropped for not being newer than their series' last sample", out_of_order_);
  counter("prescale_aggregator_series_rejected_total", "New series refused (with a 429) because of max_series",
          series_rejected_);
  counter("prescale_aggregator_samples_rate_limited_total",
          "Samples refused (with a 429) because their sender was over sender_samples_per_second", rate_limited_);
}

void IngestApi::Sweep() {
  if (sender_limit_ != nullptr) sender_limit_->Sweep();
}

}  // namespace prescale::aggregator
