#include "prescale/base/yaml_config.h"

#include <cstdio>

#include "prescale/base/duration.h"

namespace prescale {

Result<std::string> ReadConfigFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::InvalidArgument(path + ": cannot read the config file");
  std::string text;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  return text;
}

Result<std::string> ReadTokenFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::InvalidArgument("token_file " + path + ": cannot read the file");
  std::string text;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  const char* ws = " \t\r\n";
  const size_t first = text.find_first_not_of(ws);
  if (first == std::string::npos) return Status::InvalidArgument("token_file " + path + ": the file is empty");
  return text.substr(first, text.find_last_not_of(ws) - first + 1);
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

std::string IndexPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

Result<YAML::Node> YamlConfigReader::Parse(std::string_view text) const {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsDefined() || root.IsNull()) return YAML::Node(YAML::NodeType::Map);
    return root;
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(file_ + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
}

Status YamlConfigReader::Error(const YAML::Node& node, std::string_view path, std::string_view what) const {
  std::string msg = file_;
  const YAML::Mark mark = node.Mark();
  if (mark.line >= 0) msg += ":" + std::to_string(mark.line + 1);
  msg += ": ";
  msg += path;
  msg += ": ";
  msg += what;
  return Status::InvalidArgument(std::move(msg));
}

Status YamlConfigReader::CheckMap(const YAML::Node& node, std::string_view path,
                                  std::initializer_list<std::string_view> allowed) const {
  if (!node.IsMap()) return Error(node, path.empty() ? "(top level)" : path, "expected a mapping of keys to values");
  for (const auto& entry : node) {
    std::string key;
    try {
      key = entry.first.as<std::string>();
    } catch (const YAML::Exception&) {
      return Error(entry.first, path, "keys must be strings");
    }
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) {
      std::string list;
      for (std::string_view a : allowed) {
        if (!list.empty()) list += ", ";
        list += a;
      }
      return Error(entry.first, JoinPath(path, key), "unknown key (known keys: " + list + ")");
    }
  }
  return Status::Ok();
}

Status YamlConfigReader::CheckSequence(const YAML::Node& node, std::string_view path) const {
  if (!node.IsSequence()) return Error(node, path, "expected a list");
  return Status::Ok();
}

Result<std::string> YamlConfigReader::String(const YAML::Node& node, std::string_view path) const {
  if (!node.IsScalar()) return Error(node, path, "expected a string");
  return node.Scalar();
}

Result<bool> YamlConfigReader::Bool(const YAML::Node& node, std::string_view path) const {
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  return Error(node, path, "expected true or false");
}

Result<std::chrono::milliseconds> YamlConfigReader::Duration(const YAML::Node& node, std::string_view path) const {
  if (!node.IsScalar()) return Error(node, path, "expected a duration such as 5s");
  auto d = ParseDuration(node.Scalar());
  if (!d.ok()) return Error(node, path, d.status().message());
  return d.value();
}

Result<uint64_t> YamlConfigReader::ByteSize(const YAML::Node& node, std::string_view path) const {
  if (!node.IsScalar()) return Error(node, path, "expected a size such as 4MiB");
  auto n = ParseByteSize(node.Scalar());
  if (!n.ok()) return Error(node, path, n.status().message());
  return n.value();
}

}  // namespace prescale
