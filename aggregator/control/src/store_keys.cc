#include "store_keys.h"

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

}  // namespace prescale::aggregator::store_keys
