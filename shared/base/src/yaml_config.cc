#include "prescale/base/yaml_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>

#include "prescale/base/duration.h"

namespace prescale {

struct ConfigNode::Impl {
  YAML::Node node;

  // yaml-cpp's missing keys are "zombie" nodes that throw on most calls: they
  // become the undefined ConfigNode, so `node` is always a defined one.
  static ConfigNode Wrap(const YAML::Node& node) {
    if (!node.IsDefined()) return ConfigNode();
    return ConfigNode(std::make_shared<const Impl>(Impl{node}));
  }
};

bool ConfigNode::IsNull() const { return impl_ != nullptr && impl_->node.IsNull(); }
bool ConfigNode::IsMap() const { return impl_ != nullptr && impl_->node.IsMap(); }
bool ConfigNode::IsSequence() const { return impl_ != nullptr && impl_->node.IsSequence(); }
bool ConfigNode::IsScalar() const { return impl_ != nullptr && impl_->node.IsScalar(); }
// yaml-cpp gives quoted scalars the non-specific tag "!", plain ones "?".
bool ConfigNode::IsQuoted() const { return IsScalar() && impl_->node.Tag() == "!"; }

size_t ConfigNode::size() const { return impl_ != nullptr ? impl_->node.size() : 0; }

ConfigNode ConfigNode::operator[](std::string_view key) const {
  // yaml-cpp throws when a scalar is asked for a key. The node is const, so the
  // lookup is yaml-cpp's const one, which never inserts the key.
  if (!IsMap()) return ConfigNode();
  return Impl::Wrap(impl_->node[std::string(key)]);
}

ConfigNode ConfigNode::operator[](size_t index) const {
  // Checked here: yaml-cpp would look an index up as a key in a map.
  if (!IsSequence() || index >= size()) return ConfigNode();
  return Impl::Wrap(impl_->node[index]);
}

std::vector<ConfigNode::Entry> ConfigNode::Entries() const {
  std::vector<Entry> entries;
  if (!IsMap()) return entries;
  for (const auto& kv : impl_->node) {
    entries.push_back({kv.first.Scalar(), Impl::Wrap(kv.first), Impl::Wrap(kv.second)});
  }
  return entries;
}

std::vector<ConfigNode> ConfigNode::Items() const {
  std::vector<ConfigNode> items;
  if (!IsSequence()) return items;
  for (const auto& item : impl_->node) items.push_back(Impl::Wrap(item));
  return items;
}

const std::string& ConfigNode::Scalar() const {
  static const std::string kEmpty;
  return IsScalar() ? impl_->node.Scalar() : kEmpty;
}

int ConfigNode::Line() const {
  if (impl_ == nullptr) return 0;
  const YAML::Mark mark = impl_->node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

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

Result<ConfigNode> YamlConfigReader::Parse(std::string_view text) const {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    return ConfigNode::Impl::Wrap(root);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(file_ + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
}

Status YamlConfigReader::Error(const ConfigNode& node, std::string_view path, std::string_view what) const {
  std::string msg = file_;
  if (const int line = node.Line(); line > 0) msg += ":" + std::to_string(line);
  msg += ": ";
  msg += path;
  msg += ": ";
  msg += what;
  return Status::InvalidArgument(std::move(msg));
}

Status YamlConfigReader::CheckMap(const ConfigNode& node, std::string_view path,
                                  std::initializer_list<std::string_view> allowed) const {
  if (!node.IsMap()) return Error(node, path.empty() ? "(top level)" : path, "expected a mapping of keys to values");
  for (const ConfigNode::Entry& entry : node.Entries()) {
    if (!entry.key_node.IsScalar() && !entry.key_node.IsNull()) {
      return Error(entry.key_node, path, "keys must be strings");
    }
    // A null key ("~:", "null:") is named as YAML spells null.
    const std::string key = entry.key_node.IsNull() ? "null" : entry.key;
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) {
      std::string list;
      for (std::string_view a : allowed) {
        if (!list.empty()) list += ", ";
        list += a;
      }
      return Error(entry.key_node, JoinPath(path, key), "unknown key (known keys: " + list + ")");
    }
  }
  return Status::Ok();
}

Status YamlConfigReader::CheckSequence(const ConfigNode& node, std::string_view path) const {
  if (!node.IsSequence()) return Error(node, path, "expected a list");
  return Status::Ok();
}

Result<std::string> YamlConfigReader::String(const ConfigNode& node, std::string_view path) const {
  if (!node.IsScalar()) return Error(node, path, "expected a string");
  return node.Scalar();
}

Result<bool> YamlConfigReader::Bool(const ConfigNode& node, std::string_view path) const {
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  return Error(node, path, "expected true or false");
}

Result<std::chrono::milliseconds> YamlConfigReader::Duration(const ConfigNode& node, std::string_view path) const {
  if (!node.IsScalar()) return Error(node, path, "expected a duration such as 5s");
  auto d = ParseDuration(node.Scalar());
  if (!d.ok()) return Error(node, path, d.status().message());
  return d.value();
}

Result<uint64_t> YamlConfigReader::ByteSize(const ConfigNode& node, std::string_view path) const {
  if (!node.IsScalar()) return Error(node, path, "expected a size such as 4MiB");
  auto n = ParseByteSize(node.Scalar());
  if (!n.ok()) return Error(node, path, n.status().message());
  return n.value();
}

}  // namespace prescale
