#include "prescale/cli/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>

#include "prescale/base/yaml_config.h"

namespace prescale::cli {
namespace {

std::string DirName(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  return slash == 0 ? "/" : std::string(path.substr(0, slash));
}

// mkdir -p with `mode` for the directories it makes.
Status MakeDirs(const std::string& dir, mode_t mode) {
  struct stat st {};
  if (dir.empty() || ::stat(dir.c_str(), &st) == 0) return Status::Ok();
  PRESCALE_RETURN_IF_ERROR(MakeDirs(DirName(dir), mode));
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return Status::IoError(dir + ": cannot make the directory: " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

const Context* CliConfig::Find(std::string_view name) const {
  for (const Context& c : contexts) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Context* CliConfig::Find(std::string_view name) {
  return const_cast<Context*>(static_cast<const CliConfig*>(this)->Find(name));
}

std::string ConfigPath(std::string_view flag, std::string_view env, std::string_view home) {
  if (!flag.empty()) return std::string(flag);
  if (!env.empty()) return std::string(env);
  return std::string(home.empty() ? "." : home) + "/.config/prescale/prescalectl.yaml";
}

Result<CliConfig> ParseCliConfig(std::string_view text, const std::string& file_name) {
  YamlConfigReader r(file_name);
  PRESCALE_ASSIGN_OR_RETURN(const ConfigNode root, r.Parse(text));
  CliConfig config;
  if (root.IsNull()) return config;
  PRESCALE_RETURN_IF_ERROR(r.CheckMap(root, "", {"current_context", "contexts"}));
  if (root["current_context"].IsDefined() && !root["current_context"].IsNull()) {
    PRESCALE_ASSIGN_OR_RETURN(config.current_context, r.String(root["current_context"], "current_context"));
  }
  const ConfigNode list = root["contexts"];
  if (list.IsDefined() && !list.IsNull()) {
    PRESCALE_RETURN_IF_ERROR(r.CheckSequence(list, "contexts"));
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string path = IndexPath("contexts", i);
      const ConfigNode n = list[i];
      PRESCALE_RETURN_IF_ERROR(r.CheckMap(n, path, {"name", "url", "token_file", "ca_file", "insecure_skip_verify"}));
      Context c;
      if (!n["name"].IsDefined()) return r.Error(n, JoinPath(path, "name"), "is required");
      PRESCALE_ASSIGN_OR_RETURN(c.name, r.String(n["name"], JoinPath(path, "name")));
      if (c.name.empty()) return r.Error(n["name"], JoinPath(path, "name"), "must not be empty");
      if (config.Find(c.name) != nullptr) {
        return r.Error(n["name"], JoinPath(path, "name"), "context " + c.name + " is listed twice");
      }
      if (n["url"].IsDefined()) {
        PRESCALE_ASSIGN_OR_RETURN(c.url, r.String(n["url"], JoinPath(path, "url")));
        if (!c.url.starts_with("http://") && !c.url.starts_with("https://")) {
          return r.Error(n["url"], JoinPath(path, "url"), "must start with http:// or https://");
        }
      }
      if (n["token_file"].IsDefined()) {
        PRESCALE_ASSIGN_OR_RETURN(c.token_file, r.String(n["token_file"], JoinPath(path, "token_file")));
      }
      if (n["ca_file"].IsDefined()) {
        PRESCALE_ASSIGN_OR_RETURN(c.ca_file, r.String(n["ca_file"], JoinPath(path, "ca_file")));
      }
      if (n["insecure_skip_verify"].IsDefined()) {
        PRESCALE_ASSIGN_OR_RETURN(c.insecure_skip_verify,
                                  r.Bool(n["insecure_skip_verify"], JoinPath(path, "insecure_skip_verify")));
      }
      config.contexts.push_back(std::move(c));
    }
  }
  if (!config.current_context.empty() && config.Find(config.current_context) == nullptr) {
    return r.Error(root["current_context"], "current_context", "names no context of the file");
  }
  return config;
}

Result<CliConfig> LoadCliConfig(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return CliConfig{};
  PRESCALE_ASSIGN_OR_RETURN(const std::string text, ReadConfigFile(path));
  return ParseCliConfig(text, path);
}

std::string RenderCliConfig(const CliConfig& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  if (!config.current_context.empty()) out << YAML::Key << "current_context" << YAML::Value << config.current_context;
  out << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq;
  for (const Context& c : config.contexts) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << c.name;
    if (!c.url.empty()) out << YAML::Key << "url" << YAML::Value << YAML::DoubleQuoted << c.url;
    if (!c.token_file.empty()) out << YAML::Key << "token_file" << YAML::Value << YAML::DoubleQuoted << c.token_file;
    if (!c.ca_file.empty()) out << YAML::Key << "ca_file" << YAML::Value << YAML::DoubleQuoted << c.ca_file;
    if (c.insecure_skip_verify) out << YAML::Key << "insecure_skip_verify" << YAML::Value << true;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

Status SaveCliConfig(const CliConfig& config, const std::string& path) {
  PRESCALE_RETURN_IF_ERROR(MakeDirs(DirName(path), 0700));
  const std::string text = RenderCliConfig(config);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError(tmp + ": cannot write: " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::IoError(tmp + ": cannot write: " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Status::IoError(path + ": cannot write: " + why);
  }
  return Status::Ok();
}

std::string ResolvePath(std::string_view path, std::string_view config_path, std::string_view home) {
  if (path.empty() || path.front() == '/') return std::string(path);
  if (path == "~") return std::string(home);
  if (path.starts_with("~/")) return std::string(home) + std::string(path.substr(1));
  return DirName(config_path) + "/" + std::string(path);
}

Result<Connection> ResolveConnection(const CliConfig& config, const ConnectionFlags& flags, std::string_view env_token,
                                     std::string_view config_path, std::string_view home) {
  Connection c;
  const Context* ctx = nullptr;
  const std::string name = flags.context.empty() ? config.current_context : flags.context;
  if (!name.empty()) {
    ctx = config.Find(name);
    if (ctx == nullptr) {
      return Status::InvalidArgument("no context " + name + " in " + std::string(config_path) +
                                     " (prescalectl config get-contexts lists them)")
          .WithField("--context");
    }
    c.context = ctx->name;
    c.url = ctx->url;
    c.ca_file = ResolvePath(ctx->ca_file, config_path, home);
    c.insecure_skip_verify = ctx->insecure_skip_verify;
  }
  if (!flags.url.empty()) c.url = flags.url;
  if (!flags.ca_file.empty()) c.ca_file = flags.ca_file;
  if (flags.insecure_skip_verify) c.insecure_skip_verify = true;
  if (c.url.empty()) {
    return Status::InvalidArgument(
               "no aggregator to talk to: give --url URL, or make a context with "
               "'prescalectl config set-context NAME --url URL --token-file FILE'")
        .WithField("--url");
  }
  if (!c.url.starts_with("http://") && !c.url.starts_with("https://")) {
    return Status::InvalidArgument("--url " + c.url + ": must start with http:// or https://").WithField("--url");
  }
  while (c.url.size() > 8 && c.url.back() == '/') c.url.pop_back();
  std::string token_file;
  if (!flags.token_file.empty()) {
    token_file = flags.token_file;
    c.token_source = "--token-file " + token_file;
  } else if (!env_token.empty()) {
    c.token = std::string(env_token);
    while (!c.token.empty() && (c.token.back() == '\n' || c.token.back() == ' ')) c.token.pop_back();
    c.token_source = "$PRESCALE_TOKEN";
  } else if (ctx != nullptr && !ctx->token_file.empty()) {
    token_file = ResolvePath(ctx->token_file, config_path, home);
    c.token_source = "context " + ctx->name + "'s token_file " + token_file;
  }
  if (!token_file.empty()) {
    auto token = ReadTokenFile(token_file);
    if (!token.ok()) return Status::InvalidArgument(token.status().message()).WithField("token_file");
    c.token = *token;
  }
  return c;
}

}  // namespace prescale::cli
