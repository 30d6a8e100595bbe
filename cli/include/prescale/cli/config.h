// prescalectl's config file: the aggregators it talks to, as named contexts,
// and which one is current (kubectl's kubeconfig, smaller):
//
//   current_context: prod
//   contexts:
//     - name: prod
//       url: https://prescale.example.com:9570
//       token_file: ~/.config/prescale/prod.token   # never the token itself
//       ca_file: /etc/prescale/ca.pem               # optional
//       insecure_skip_verify: false                 # optional
//
// `~/` is the home directory; a relative path is relative to the config
// file's directory. Errors name the file, the line and the key. Not
// thread-safe; value types.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::cli {

struct Context {
  std::string name;
  std::string url;
  std::string token_file;
  std::string ca_file;
  bool insecure_skip_verify = false;
};

struct CliConfig {
  std::string current_context;
  std::vector<Context> contexts;

  const Context* Find(std::string_view name) const;
  Context* Find(std::string_view name);
};

// The config file's path: `flag` when given, else $PRESCALECTL_CONFIG, else
// $HOME/.config/prescale/prescalectl.yaml. `env` and `home` are the values of
// those variables ("" when unset), passed in for tests.
std::string ConfigPath(std::string_view flag, std::string_view env, std::string_view home);

// Parses a config file's text; InvalidArgument "FILE:LINE: contexts[0].url: ...".
Result<CliConfig> ParseCliConfig(std::string_view text, const std::string& file_name);
// Reads `path`: a file that does not exist is an empty config.
Result<CliConfig> LoadCliConfig(const std::string& path);
// The config as YAML that ParseCliConfig reads back to the same config.
std::string RenderCliConfig(const CliConfig& config);
// Writes `path` (mode 0600; its directory made 0700 when missing), replacing it atomically.
Status SaveCliConfig(const CliConfig& config, const std::string& path);

// A path of the config file as the file system takes it: "~/" is `home`, a
// relative path is relative to the config file's directory.
std::string ResolvePath(std::string_view path, std::string_view config_path, std::string_view home);

// Where prescalectl connects and as whom, after flags, environment and context.
struct Connection {
  std::string context;       // the context's name; "" when --url alone gave the URL
  std::string url;           // without a trailing '/'
  std::string token;         // "" when there is none: requests go without Authorization
  std::string token_source;  // "--token-file FILE", "$PRESCALE_TOKEN", "context prod's token_file FILE"
  std::string ca_file;
  bool insecure_skip_verify = false;
};

struct ConnectionFlags {
  std::string context;     // --context
  std::string url;         // --url
  std::string token_file;  // --token-file
  std::string ca_file;     // --ca-file
  bool insecure_skip_verify = false;
};

// Chooses the context (--context, else current_context), applies the flags
// over it, and reads the token: --token-file, else $PRESCALE_TOKEN (`env_token`),
// else the context's token_file. InvalidArgument for an unknown context, no URL,
// a URL that is not http(s):// or a token file that cannot be read.
Result<Connection> ResolveConnection(const CliConfig& config, const ConnectionFlags& flags, std::string_view env_token,
                                     std::string_view config_path, std::string_view home);

}  // namespace prescale::cli
