#include <sys/utsname.h>

#include <cctype>
#include <string>

#include "prescale/base/build_info.h"

namespace prescale {
namespace {

// Go's names for the machine, as Prometheus prints them ("linux/amd64").
std::string Platform() {
  utsname u{};
  const bool known = ::uname(&u) == 0;
  std::string machine = known ? u.machine : "unknown";
  if (machine == "x86_64") machine = "amd64";
  if (machine == "aarch64") machine = "arm64";
  std::string os = known ? u.sysname : "unknown";
  for (char& c : os) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return os + "/" + machine;
}

}  // namespace

std::string VersionText(std::string_view program) {
  const BuildInfo& b = GetBuildInfo();
  std::string out(program);
  out += ", version " + std::string(b.version) + " (branch: " + std::string(b.branch) +
         ", revision: " + std::string(b.revision) + ")\n";
  out += "  commit date:      " + std::string(b.commit_date) + "\n";
  out += "  compiler:         " + std::string(b.compiler) + "\n";
  out += "  platform:         " + Platform() + "\n";
  return out;
}

}  // namespace prescale
