// The agent's configuration: YAML (--config FILE) with command-line flags
// layered on top. Every error names the key and the line (for the file) or the
// flag. Value type; parse once at start.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/agent/cgroup_mapper.h"
#include "prescale/agent/pod_metadata.h"
#include "prescale/base/log.h"
#include "prescale/base/status.h"

namespace prescale::agent {

struct ScrapeTarget {
  std::string url;
  std::string tenant;
  std::string service;
};

struct AgentConfig {
  // Every address: on Kubernetes the DaemonSet is on the host network and
  // Prometheus scrapes NODE_IP:9560 (deploy/kubernetes).
  std::string listen = "0.0.0.0:9560";
  // TLS, client certificates, basic auth and response headers for the
  // agent's endpoints: a Prometheus exporter toolkit web config file
  // (web_config.h); empty: plain HTTP, open.
  std::string web_config_file;
  std::chrono::milliseconds interval{5000};
  // How often every known cgroup is read in full and limits re-read; between
  // discoveries only the known cgroups' usage is read. The trees are walked
  // for new and removed cgroups when inotify reports one, and every 10
  // discovery intervals. 0: every cycle.
  std::chrono::milliseconds discovery_interval{10000};
  // Between discoveries, re-read only the CPU usage of cgroups that used no
  // CPU since the last cycle (their other values are at most one discovery
  // interval old). false: read every cgroup every cycle (its costly files
  // still on detail_interval).
  bool skip_idle_cgroups = true;
  // How often the costly per-cgroup files (memory.stat, the pressure files,
  // blkio / io.stat) are re-read for cgroups read in full; in between their
  // last values are kept, while CPU and memory usage are read every cycle.
  // Discovery cycles read them too. 0: every cycle.
  std::chrono::milliseconds detail_interval{10000};
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string proc_root = "/proc";
  std::string node;  // empty: the host name
  bool keep_unmatched = false;
  std::vector<MappingRule> mapping;  // default: prescale layout, kubernetes, systemd
  std::vector<ScrapeTarget> scrape_targets;
  std::chrono::milliseconds scrape_timeout{3000};
  uint64_t scrape_max_body_bytes = 4 << 20;
  uint64_t max_cgroups = 10000;
  // Cgroup files kept open to re-read with pread (beyond: open, read, close
  // each cycle). Each open, read cgroup file pins a kernel buffer of ~4 KiB,
  // charged to the agent's memory cgroup; a cgroup takes 8-12 such files.
  uint64_t max_open_files = 4096;
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kLogfmt;  // log_format, --log-format
  // Remote write to the aggregator (or any receiver): one URL, or a list
  // (issue 17: every batch goes to each, with a queue, retries and a spool of
  // its own). Set one or the other (CheckAggregatorUrls); PushUrls() reads
  // them. Both empty: nothing is pushed.
  std::string aggregator_url;
  std::vector<std::string> aggregator_urls;
  std::string token_file;  // bearer token for every aggregator
  std::string ca_file;     // CA bundle for an https aggregator
  // The spool: <data_dir>/spool for one push URL; for several, one per URL in
  // <data_dir>/spool-<PushTargetName(url)> (aggregator_urls.h).
  std::string data_dir = "/var/lib/prescale-agent";
  uint64_t spool_max_bytes = 256ull << 20;
  std::chrono::milliseconds spool_max_age = std::chrono::hours(6);
  // Throttle directives (issue 6): poll the aggregator's API for CPU caps on
  // this node's cgroups and write them into cgroup files. Off unless enabled
  // explicitly (YAML `directives: true`, `--directives true`): an agent that
  // only measures never writes to the cgroup tree, whatever else is set.
  bool directives = false;
  // The aggregator's API for directives: one URL or a list, tried in order
  // (DirectiveApiUrls()). Both empty: scheme://host:port of each push URL.
  std::string aggregator_api_url;
  std::vector<std::string> aggregator_api_urls;
  std::chrono::milliseconds directive_interval{0};  // 0: every interval
  // Where Kubernetes pods' metadata comes from (YAML `pod_metadata`); none by
  // default, so that nothing reaches for a kubelet outside a cluster.
  PodSourceOptions pods;
};

// Whether the directive loop runs: `directives` (false unless enabled explicitly).
bool DirectivesEnabled(const AgentConfig& config);
// The push URLs: aggregator_urls, else aggregator_url alone; none when neither is set.
std::vector<std::string> PushUrls(const AgentConfig& config);
// The directive API URLs, in the order they are tried: aggregator_api_urls, else
// aggregator_api_url alone, else scheme://host:port of each push URL (each base once).
std::vector<std::string> DirectiveApiUrls(const AgentConfig& config);
// The first of DirectiveApiUrls(); empty when there is none.
std::string DirectiveApiUrl(const AgentConfig& config);
// For a config built in code (the YAML and the flags check as they read): each
// URL form set at most once (the single key or the list), every URL http(s),
// no URL listed twice. InvalidArgument naming the key.
Status CheckAggregatorUrls(const AgentConfig& config);

// The configuration with its embedded defaults.
AgentConfig DefaultAgentConfig();

// Parses YAML text on top of the defaults; file_name is used in messages.
Result<AgentConfig> ParseAgentConfig(std::string_view yaml_text, const std::string& file_name);
Result<AgentConfig> LoadAgentConfig(const std::string& path);

// What the command line asked for beyond the config.
struct CommandLine {
  std::string config_path;
  bool once = false;
  bool table = false;  // print a refreshing per-service table (scripts/demo)
  bool help = false;
  bool version = false;  // --version: print what the binary was built from
  // Flag overrides, applied after the file: name -> value.
  std::vector<std::pair<std::string, std::string>> overrides;
};

std::string AgentUsage();
// Parses argv; an unknown flag or a missing value is InvalidArgument naming it.
Result<CommandLine> ParseCommandLine(int argc, const char* const* argv);
// Applies the flag overrides to a config; a bad value names the flag.
Status ApplyOverrides(const CommandLine& cli, AgentConfig* config);

}  // namespace prescale::agent
