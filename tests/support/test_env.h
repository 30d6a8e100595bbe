// Test helpers shared by every test binary: temporary directories, paths of
// the source and build trees, free loopback ports, and polling with deadlines.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace prescale::testing {

// A directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "prescale-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `content` to path()/relative, creating parent directories.
  std::string Write(const std::string& relative, const std::string& content) const;

 private:
  std::string path_;
};

std::string SourceDir();  // the repository root
// A bearer token for tests that configure the aggregator, and its hash as the config writes it
// (printf %s interop-token-0123456789 | sha256sum).
inline constexpr const char* kTestToken = "interop-token-0123456789";
inline constexpr const char* kTestTokenSha256 =
    "sha256:fecebb83e8b7044a5407ec66d84fb729c7d33e90f86f6144082e45b8f8ad154e";
// A scraper's token (role monitor: GET /metrics and nothing else), and its YAML
// tokens-list entry (printf %s monitor-token-0123456789 | sha256sum).
inline constexpr const char* kTestMonitorToken = "monitor-token-0123456789";
inline constexpr const char* kTestMonitorTokenYaml =
    "  - {name: monitor, role: monitor, sha256: "
    "\"sha256:31c45087d19c94a018b52af4227d57d147773eda4c4695d7dbed2b26496244ea\"}\n";
// The real workload traces: $PRESCALE_TRACES_DIR, else ../shared/traces beside the repository.
std::string TracesDir();
std::string BinDir();       // build/bin
std::string TestDataDir();  // tests/testdata

// A TCP port on 127.0.0.1 that was free a moment ago (for peers that cannot
// bind port 0 and report it, such as Prometheus).
int FreeLoopbackPort();

// Calls `condition` until it returns true or `timeout` passes; returns its last result.
bool PollUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval = std::chrono::milliseconds(50));

// The absolute path of `name` in $PATH (and the sbin directories), or "".
std::string FindProgram(const std::string& name);

// Percent-encodes everything but RFC 3986's unreserved characters (for query strings).
std::string UrlEncode(std::string_view text);

// Reads a whole file; empty when it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);
// Writes (replaces) a whole file; false when it cannot be written.
bool WriteFile(const std::string& path, std::string_view content);

// The value of the sample `series` ("name{labels}" exactly as exposed) in a text exposition; nullopt when absent.
std::optional<double> MetricValue(const std::string& text, const std::string& series);

}  // namespace prescale::testing
