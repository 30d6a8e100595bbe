#include "store_keys.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator::store_keys {

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>((hi << 4) | lo);
  }
  return out;
}

std::optional<ObjectKind> ParseKind(std::string_view name) {
  for (ObjectKind kind : {ObjectKind::kTenant, ObjectKind::kService, ObjectKind::kPolicy}) {
    if (ObjectKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string KeyName(const ObjectKey& key) {
  std::string out(ObjectKindName(key.kind));
  out += ' ';
  if (!key.tenant.empty()) out += key.tenant + "/";
  return out + key.name;
}

std::string EncodeObjectToken(const ObjectKey& key) { return HexEncode(key.tenant) + "." + HexEncode(key.name); }

std::optional<std::pair<std::string, std::string>> DecodeObjectToken(std::string_view token) {
  const size_t dot = token.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto tenant = HexDecode(token.substr(0, dot));
  auto name = HexDecode(token.substr(dot + 1));
  if (!tenant || !name) return std::nullopt;
  return std::make_pair(std::move(*tenant), std::move(*name));
}

std::optional<FilterMember> ParseFilterField(const std::string& field) {
  if (field.empty()) return std::nullopt;
  for (char c : field) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                         c == '-' || c == '.' || c == '/';
    if (!allowed) return std::nullopt;
  }
  static constexpr std::string_view kLabels = "labels.";
  if (field.starts_with(kLabels)) {
    if (field.size() == kLabels.size()) return std::nullopt;
    return FilterMember{true, field.substr(kLabels.size())};
  }
  return FilterMember{false, field};
}

Status CheckVersion(const std::string& name, const std::optional<StoredObject>& stored,
                    std::optional<int64_t> expected) {
  if (!expected) return Status::Ok();
  if (!stored) {
    return Status::Conflict(name + " does not exist, but the request expected version " + std::to_string(*expected));
  }
  if (stored->version != *expected) {
    return Status::Conflict(name + " is at version " + std::to_string(stored->version) +
                            ", but the request expected version " + std::to_string(*expected));
  }
  return Status::Ok();
}

namespace {

// The length of the UTF-8 sequence at text[i], 0 when there is none (RFC 3629's table).
size_t Utf8Length(std::string_view text, size_t i) {
  const auto at = [&text](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = at(i);
  if (c >= 0x01 && c <= 0x7f) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // the second byte's range
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + n > text.size() || at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (at(i + k) < 0x80 || at(i + k) > 0xbf) return 0;
  }
  return n;
}

std::string LeaseJson(const std::optional<Lease>& lease) {
  if (!lease) return "null";
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("holder");
  w.String(lease->holder.data(), static_cast<rapidjson::SizeType>(lease->holder.size()));
  w.Key("token");
  w.Int64(lease->token);
  w.Key("expires_ms");
  w.Int64(lease->expires_ms);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace

std::string ValidText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = Utf8Length(text, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

void MakeValidText(AuditRecord* r) {
  for (std::string* field : {&r->request_id, &r->actor, &r->actor_role, &r->actor_tenant, &r->action, &r->kind,
                             &r->tenant, &r->name, &r->before_json, &r->after_json, &r->message}) {
    *field = ValidText(*field);
  }
}

Status CheckFence(const Fence& fence, const std::optional<Lease>& lease) {
  if (lease && lease->holder == fence.holder && lease->token == fence.token && fence.token > 0) return Status::Ok();
  std::string why = "not the leader: ";
  why += lease ? "the lease is held by " + lease->holder + " with fencing token " + std::to_string(lease->token)
               : std::string("nobody holds the lease");
  why += fence.token > 0 ? "; " + fence.holder + " held token " + std::to_string(fence.token)
                         : "; " + fence.holder + " never held it";
  return Status::FailedPrecondition(std::move(why));
}

Fence FenceAfter(const std::string& holder, const Lease& after, const std::optional<Fence>& before) {
  if (after.holder == holder) return Fence{holder, after.token};
  return Fence{holder, before && before->holder == holder ? before->token : 0};
}

AuditRecord LeaseAudit(const std::optional<Lease>& before, const Lease& after, int64_t now_ms) {
  AuditRecord r;
  r.time_ms = now_ms;
  r.actor = after.holder;
  r.action = "leader.acquire";
  r.kind = "lease";
  r.name = std::string(kLeaseName);
  r.before_json = LeaseJson(before);
  r.after_json = LeaseJson(after);
  r.message = after.holder + " leads with fencing token " + std::to_string(after.token);
  if (before && !before->holder.empty()) {
    r.message += "; " + before->holder + "'s lease expired at " + std::to_string(before->expires_ms);
  }
  return r;
}

void ErrorCounter::Count(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable: ++unavailable_; break;
    case StatusCode::kIoError:
    case StatusCode::kInternal: ++io_; break;
    default: break;
  }
}

void ErrorCounter::AppendMetrics(std::string* out, const char* store) const {
  metrics::TextWriter w(out);
  w.Family("prescale_control_store_errors_total",
           "Failures of the control store's database, by reason (unavailable: retryable; io: the rest)",
           metrics::MetricType::kCounter);
  w.Sample("prescale_control_store_errors_total", {{"reason", "io"}, {"store", store}},
           static_cast<double>(io_.load()));
  w.Sample("prescale_control_store_errors_total", {{"reason", "unavailable"}, {"store", store}},
           static_cast<double>(unavailable_.load()));
}

}  // namespace prescale::aggregator::store_keys
