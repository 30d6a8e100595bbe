// What a binary was built from: the version (the project's), the git
// revision and branch, the commit's date and the compiler, written into a
// generated source at build time (cmake/build_info.cmake). For --version and
// the prescale_build_info metric, as Prometheus's own programs have them.
#pragma once

#include <string>
#include <string_view>

namespace prescale {

struct BuildInfo {
  std::string_view version;      // "0.1.0"
  std::string_view revision;     // 12 hex digits of the commit, "-dirty" with uncommitted changes; "unknown"
  std::string_view branch;       // "main"; "unknown"
  std::string_view commit_date;  // ISO 8601; "unknown"
  std::string_view compiler;     // "GNU 12.2.0"
};

const BuildInfo& GetBuildInfo();

// The --version text, in the layout of Prometheus's programs:
//   prescale-agent, version 0.1.0 (branch: main, revision: 1a2b3c4d5e6f)
//     commit date:      2026-12-07T02:00:00+00:00
//     compiler:         GNU 12.2.0
//     platform:         linux/amd64
std::string VersionText(std::string_view program);

}  // namespace prescale
