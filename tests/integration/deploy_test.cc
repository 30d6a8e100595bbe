// deploy/: the Dockerfiles build with exactly scripts/setup's build packages, their runtime
// stages install exactly the library packages the binaries load (ldd and dlopen), and the
// aggregator's image runs as non-root; every kustomize overlay renders with Debian's kubectl
// and every rendered object validates against the Kubernetes schema (npm kubernetes-models);
// the copies the prometheus-operator overlay takes from alerts/ and dashboards/ are current;
// the agent mounts the cgroup tree read-only and throttles only in overlays/throttling; the
// systemd units pass `systemd-analyze verify`; and the configs shipped in deploy/ start the
// real binaries.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "prescale/agent/config.h"
#include "prescale/aggregator/config.h"
#include "prescale/base/yaml_config.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using testing::BinDir;
using testing::FindProgram;
using testing::ReadFileOrEmpty;
using testing::RunCommand;
using testing::SourceDir;
using testing::Subprocess;
using testing::TempDir;

std::string DeployDir() { return SourceDir() + "/deploy"; }

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// scripts/setup's packages in its "# toolchain" and "# libraries" groups: what building needs
// (the other groups are peers the tests start and tools they use).
std::set<std::string> SetupBuildPackages() {
  const std::string text = ReadFileOrEmpty(SourceDir() + "/scripts/setup");
  std::set<std::string> packages;
  const auto begin = text.find("packages=(");
  if (begin == std::string::npos) return packages;
  const auto end = text.find("\n)", begin);
  std::istringstream in(text.substr(begin, end - begin));
  std::string line;
  std::getline(in, line);  // packages=(
  bool build_group = false;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    if (line[first] == '#') {
      const std::string group = line.substr(first + 1);
      build_group = group.find("toolchain") != std::string::npos || group.find("libraries") != std::string::npos;
      continue;
    }
    if (!build_group) continue;
    for (const auto& w : Words(line.substr(0, line.find('#')))) packages.insert(w);
  }
  // The console's build tools (cmake/console.cmake), which scripts/setup installs from Debian
  // when no npm is on PATH: a fresh image has none.
  if (text.find("command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)") != std::string::npos) {
    packages.insert("nodejs");
    packages.insert("npm");
  }
  return packages;
}

// A Dockerfile's instructions, continuation lines joined and comments dropped.
std::vector<std::string> Instructions(const std::string& dockerfile) {
  std::vector<std::string> instructions;
  std::istringstream in(dockerfile);
  std::string line, current;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(' ');
    if (first == std::string::npos || line[first] == '#') continue;
    if (!line.empty() && line.back() == '\\') {
      current += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    instructions.push_back(current + line);
    current.clear();
  }
  if (!current.empty()) instructions.push_back(current);
  return instructions;
}

// Adds the packages the `apt-get install` commands of a RUN instruction's words name.
void AddAptInstalls(const std::vector<std::string>& words, std::set<std::string>* packages) {
  if (words.empty() || words[0] != "RUN") return;
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] != "apt-get" || words[i + 1] != "install") continue;
    for (size_t j = i + 2; j < words.size() && words[j] != "&&" && words[j] != ";"; ++j) {
      if (words[j][0] != '-') packages->insert(words[j]);
    }
  }
}

// The packages `apt-get install` names in the stage `FROM ... AS <stage>`.
std::set<std::string> AptPackagesOfStage(const std::vector<std::string>& instructions, const std::string& stage) {
  std::set<std::string> packages;
  bool in_stage = false;
  for (const auto& ins : instructions) {
    const auto words = Words(ins);
    if (words.empty()) continue;
    if (words[0] == "FROM") {
      in_stage = words.size() >= 4 && words[words.size() - 2] == "AS" && words.back() == stage;
      continue;
    }
    if (in_stage) AddAptInstalls(words, &packages);
  }
  return packages;
}

// The instructions of the last stage (the image that ships).
std::vector<std::string> FinalStage(const std::vector<std::string>& instructions) {
  std::vector<std::string> stage;
  for (const auto& ins : instructions) {
    if (ins.rfind("FROM ", 0) == 0) stage.clear();
    stage.push_back(ins);
  }
  return stage;
}

std::string Join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : " ") + i;
  return out;
}

TEST(DeployDocker, BuildStagesInstallExactlyTheBuildPackagesOfScriptsSetup) {
  const auto setup = SetupBuildPackages();
  ASSERT_GT(setup.size(), 10u) << "could not read the toolchain and libraries groups of scripts/setup";
  for (const std::string name : {"Dockerfile.agent", "Dockerfile.aggregator"}) {
    SCOPED_TRACE(name);
    const std::string text = ReadFileOrEmpty(DeployDir() + "/docker/" + name);
    ASSERT_FALSE(text.empty()) << "deploy/docker/" << name << " is missing";
    const auto instructions = Instructions(text);
    EXPECT_NE(text.find("FROM debian:bookworm AS build"), std::string::npos) << "the build stage is Debian 12";
    EXPECT_NE(text.find("scripts/build"), std::string::npos) << "the build stage runs scripts/build";
    const auto docker = AptPackagesOfStage(instructions, "build");
    std::set<std::string> missing, extra;
    std::set_difference(setup.begin(), setup.end(), docker.begin(), docker.end(),
                        std::inserter(missing, missing.end()));
    std::set_difference(docker.begin(), docker.end(), setup.begin(), setup.end(), std::inserter(extra, extra.end()));
    EXPECT_TRUE(missing.empty()) << "in scripts/setup's build groups but not in the build stage: " << Join(missing);
    EXPECT_TRUE(extra.empty()) << "in the build stage but not in scripts/setup's build groups: " << Join(extra);
    const auto final_stage = FinalStage(instructions);
    ASSERT_FALSE(final_stage.empty());
    EXPECT_NE(final_stage[0].find("debian:bookworm"), std::string::npos) << final_stage[0];
    EXPECT_TRUE(std::any_of(final_stage.begin(), final_stage.end(), [](const std::string& i) {
      return i.rfind("HEALTHCHECK ", 0) == 0;
    })) << "the runtime stage has no HEALTHCHECK";
  }
}

TEST(DeployDocker, AggregatorImageRunsAsNonRootWithAVolumeForItsData) {
  const auto final_stage = FinalStage(Instructions(ReadFileOrEmpty(DeployDir() + "/docker/Dockerfile.aggregator")));
  std::string user;
  bool volume = false;
  for (const auto& ins : final_stage) {
    const auto words = Words(ins);
    if (words.size() >= 2 && words[0] == "USER") user = words[1];
    if (!words.empty() && words[0] == "VOLUME" && ins.find("/var/lib/prescale") != std::string::npos) volume = true;
  }
  ASSERT_FALSE(user.empty()) << "the aggregator's runtime stage sets no USER";
  const std::string uid = user.substr(0, user.find(':'));
  EXPECT_NE(uid, "0");
  EXPECT_NE(uid, "root");
  EXPECT_TRUE(volume) << "no VOLUME for /var/lib/prescale";
  // The agent's privileges, mounts and the probes are documented.
  const std::string readme = ReadFileOrEmpty(DeployDir() + "/README.md");
  for (const char* needle : {"/healthz", "/readyz", "CAP_SYS_PTRACE", "CAP_SYS_ADMIN", "/sys/fs/cgroup", "/proc"}) {
    EXPECT_NE(readme.find(needle), std::string::npos) << "deploy/README.md does not mention " << needle;
  }
}

// ---- the runtime stages' libraries ----------------------------------------------------------

// Library packages every image FROM debian:bookworm-slim already has, so a runtime stage need
// not install them. The image is `debootstrap --variant=minbase`: the Essential and
// Priority: required packages and their dependencies. These are the libraries among them:
// dpkg's pre-dependencies (libc6, zlib1g, liblzma5, libzstd1, libbz2-1.0, libmd0,
// libselinux1 and its libpcre2-8-0), apt's dependencies (libstdc++6, libgcc-s1, libapt-pkg6.0,
// libseccomp2, libsystemd0, libgnutls30) and theirs. A subset of the image: add a package only
// after seeing it in `docker run --rm debian:bookworm-slim dpkg-query -W`.
constexpr const char* kBookwormSlimLibraryPackages[] = {
    "libc6",       "libgcc-s1",     "libstdc++6",   "zlib1g",        "liblzma5",    "libzstd1",    "libbz2-1.0",
    "libmd0",      "libselinux1",   "libpcre2-8-0", "libapt-pkg6.0", "libseccomp2", "libsystemd0", "libcap2",
    "libgcrypt20", "libgpg-error0", "liblz4-1",     "libgnutls30",   "libgmp10",    "libhogweed6", "libnettle8",
    "libidn2-0",   "libunistring2", "libp11-kit0",  "libtasn1-6",    "libffi8",
};
// What a runtime stage may install besides libraries: the CA bundle for https peers.
constexpr const char* kRuntimeNonLibraryPackages[] = {"ca-certificates"};

// The packages `apt-get install` names in the last stage (the image that ships).
std::set<std::string> AptPackagesOfFinalStage(const std::vector<std::string>& instructions) {
  std::set<std::string> packages;
  for (const auto& ins : FinalStage(instructions)) AddAptInstalls(Words(ins), &packages);
  return packages;
}

// A shared library a binary loads: as ldd or dlopen names it, the file, and how it is loaded.
struct LoadedLibrary {
  std::string name;
  std::string path;
  std::string via;
};

// The libraries ldd lists for `binary` (linux-vdso is in the kernel: no file, no package).
std::vector<LoadedLibrary> LddLibraries(const std::string& ldd, const std::string& binary) {
  const auto r = RunCommand({ldd, binary}, 60s);
  EXPECT_EQ(r.exit_code, 0) << "ldd " << binary << ": " << r.err;
  std::vector<LoadedLibrary> libraries;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    const auto words = Words(line);
    if (words.size() >= 3 && words[1] == "=>") {
      if (words[2] == "not") {
        ADD_FAILURE() << "ldd " << binary << " cannot find " << words[0];
      } else {
        libraries.push_back({words[0], words[2], "linked"});
      }
    } else if (!words.empty() && words[0][0] == '/') {
      libraries.push_back({words[0], words[0], "linked (the dynamic loader)"});
    }
  }
  return libraries;
}

bool IsIdentifierChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// The library names passed to dlopen in the code the binaries are built from (agent/,
// aggregator/, shared/), each with where it is opened. Read at test time so that a new dlopen
// is checked without anyone remembering this test. A name that is not a string literal cannot
// be checked, and fails.
std::map<std::string, std::string> DlopenedLibraries() {
  std::map<std::string, std::string> names;
  for (const char* dir : {"agent", "aggregator", "shared"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(SourceDir() + "/" + dir)) {
      const auto ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".cc" && ext != ".h" && ext != ".cpp" && ext != ".c")) continue;
      const std::string text = ReadFileOrEmpty(entry.path().string());
      for (size_t at = text.find("dlopen"); at != std::string::npos; at = text.find("dlopen", at + 1)) {
        const size_t line_start = text.rfind('\n', at) + 1;  // npos + 1 == 0 on the first line
        if (at > 0 && IsIdentifierChar(text[at - 1])) continue;
        if (text.substr(line_start, at - line_start).find("//") != std::string::npos) continue;  // a comment
        const size_t open = text.find_first_not_of(" \t\n", at + 6);
        if (open == std::string::npos || text[open] != '(') continue;  // "dlopen" in prose
        const size_t arg = text.find_first_not_of(" \t\n", open + 1);
        if (arg == std::string::npos) continue;
        const std::string name = text.substr(arg, text.find_first_of(",)", arg) - arg);
        const std::string where = entry.path().lexically_relative(SourceDir()).string() + ":" +
                                  std::to_string(1 + std::count(text.begin(), text.begin() + at, '\n'));
        if (name == "nullptr" || name == "NULL") continue;  // the program itself
        if (name.size() < 2 || name.front() != '"' || name.find('"', 1) != name.size() - 1) {
          ADD_FAILURE() << where << ": dlopen(" << name << ") does not name its library with a string literal,"
                        << " so this test cannot check that the images install it";
          continue;
        }
        names.emplace(name.substr(1, name.size() - 2), where);
      }
    }
  }
  return names;
}

// Where the loader finds `soname`, from `ldconfig -p` ("\tlibcurl.so.4 (libc6,x86-64) =>
// /lib/x86_64-linux-gnu/libcurl.so.4"), preferring `dir` (where the binary's libc is, so that
// a multiarch host answers for the binary's architecture); "" when it is not installed.
std::string ResolveSoname(const std::string& ldconfig_p, const std::string& soname, const std::string& dir) {
  std::string found;
  std::istringstream in(ldconfig_p);
  for (std::string line; std::getline(in, line);) {
    const auto words = Words(line);
    if (words.size() < 3 || words[0] != soname || words[words.size() - 2] != "=>") continue;
    if (words.back().rfind(dir + "/", 0) == 0) return words.back();
    if (found.empty()) found = words.back();
  }
  return found;
}

// The spellings of a library's path dpkg may have registered. Debian 12 is half-way through
// merging /lib into /usr/lib: the loader says /lib/x86_64-linux-gnu/libcurl.so.4 where dpkg
// registered /usr/lib/... (libcurl4), or the reverse (libc6's libm.so.6); and a soname is a
// symlink whose target dpkg knows too.
std::vector<std::string> PathSpellings(const std::string& path) {
  const auto twin = [](const std::string& p) { return p.rfind("/usr/", 0) == 0 ? p.substr(4) : "/usr" + p; };
  std::vector<std::string> spellings = {path, twin(path)};
  std::error_code ec;
  const std::string real = std::filesystem::canonical(path, ec).string();
  if (!ec) spellings.insert(spellings.end(), {real, twin(real)});
  return spellings;
}

// The Debian package that ships each library's file (one `dpkg -S` for all); a library no
// package ships is left out.
std::map<std::string, std::string> PackagesOf(const std::string& dpkg, const std::vector<LoadedLibrary>& libraries) {
  std::vector<std::string> argv = {dpkg, "-S"};
  for (const auto& lib : libraries) {
    for (const auto& spelling : PathSpellings(lib.path)) argv.push_back(spelling);
  }
  // Exits 1 because some spellings are unknown (most twins are); the known ones are listed.
  const auto r = RunCommand(argv, 120s);
  std::map<std::string, std::string> by_file;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    // "libcurl4:amd64: /usr/lib/x86_64-linux-gnu/libcurl.so.4"; the first package of "a, b: path".
    const auto separator = line.find(": ");
    if (line.rfind("diversion by", 0) == 0 || separator == std::string::npos) continue;
    by_file.emplace(line.substr(separator + 2), line.substr(0, line.find_first_of(":,")));
  }
  std::map<std::string, std::string> packages;
  for (const auto& lib : libraries) {
    for (const auto& spelling : PathSpellings(lib.path)) {
      if (const auto it = by_file.find(spelling); it != by_file.end()) {
        packages.emplace(lib.path, it->second);
        break;
      }
    }
  }
  return packages;
}

// Every library `binary` loads: what ldd lists, then each dlopen'ed name as the loader resolves it.
std::vector<LoadedLibrary> LoadedLibraries(const std::string& binary,
                                           const std::map<std::string, std::string>& dlopened,
                                           const std::string& ldconfig_p) {
  auto libraries = LddLibraries(FindProgram("ldd"), binary);
  std::string libc_dir;
  for (const auto& lib : libraries) {
    if (lib.name == "libc.so.6") libc_dir = lib.path.substr(0, lib.path.rfind('/'));
  }
  for (const auto& [name, where] : dlopened) {
    const std::string path = name.find('/') != std::string::npos ? name : ResolveSoname(ldconfig_p, name, libc_dir);
    if (path.empty()) {
      ADD_FAILURE() << name << " (dlopen at " << where << ") is not installed here, so its package is unknown";
      continue;
    }
    libraries.push_back({name, path, "dlopen at " + where});
  }
  return libraries;
}

TEST(DeployDocker, RuntimeStagesInstallEveryLibraryTheBinariesLoad) {
  const std::string dpkg = FindProgram("dpkg"), ldconfig = FindProgram("ldconfig");
  if (FindProgram("ldd").empty() || dpkg.empty() || ldconfig.empty()) {
    GTEST_SKIP() << "needs ldd, ldconfig and dpkg (Debian's libc-bin and dpkg) to map libraries to packages";
  }
  const auto dlopened = DlopenedLibraries();
  EXPECT_EQ(dlopened.count("libcurl.so.4"), 1u)
      << "no dlopen(\"libcurl.so.4\") found in shared/http: is the scan broken?";
  const auto ldconfig_p = RunCommand({ldconfig, "-p"}, 60s);
  ASSERT_EQ(ldconfig_p.exit_code, 0) << ldconfig_p.err;
  const std::set<std::string> base(std::begin(kBookwormSlimLibraryPackages), std::end(kBookwormSlimLibraryPackages));
  const std::set<std::string> non_library(std::begin(kRuntimeNonLibraryPackages), std::end(kRuntimeNonLibraryPackages));
  for (const std::string binary : {"agent", "aggregator"}) {
    SCOPED_TRACE("Dockerfile." + binary);
    const std::string path = BinDir() + "/prescale-" + binary;
    ASSERT_EQ(::access(path.c_str(), X_OK), 0) << path << " is missing (ninja -C build prescale-" << binary << ")";
    const auto installed =
        AptPackagesOfFinalStage(Instructions(ReadFileOrEmpty(DeployDir() + "/docker/Dockerfile." + binary)));
    ASSERT_FALSE(installed.empty()) << "the runtime stage installs nothing";
    const auto libraries = LoadedLibraries(path, dlopened, ldconfig_p.out);
    const auto package_of = PackagesOf(dpkg, libraries);
    std::set<std::string> needed;
    for (const auto& lib : libraries) {
      const auto it = package_of.find(lib.path);
      if (it == package_of.end()) {
        ADD_FAILURE() << lib.path << " (" << lib.name << ", " << lib.via << ") is in no Debian package";
        continue;
      }
      needed.insert(it->second);
      EXPECT_TRUE(installed.count(it->second) || base.count(it->second))
          << "the runtime stage does not install " << it->second << ", which ships " << lib.name << " (" << lib.via
          << "); debian:bookworm-slim does not have it either";
    }
    for (const auto& package : installed) {
      EXPECT_TRUE(needed.count(package) || non_library.count(package))
          << "the runtime stage installs " << package << ", which ships no library prescale-" << binary << " loads";
    }
  }
}

// Renders deploy/kubernetes/base and every overlay; returns (dir, file) pairs.
std::vector<std::pair<std::string, std::string>> RenderAll(const std::string& kubectl, const TempDir& tmp) {
  std::vector<std::string> dirs = {"base"};
  std::vector<std::string> overlays;
  for (const auto& e : std::filesystem::directory_iterator(DeployDir() + "/kubernetes/overlays")) {
    if (e.is_directory()) overlays.push_back("overlays/" + e.path().filename().string());
  }
  std::sort(overlays.begin(), overlays.end());
  dirs.insert(dirs.end(), overlays.begin(), overlays.end());
  std::vector<std::pair<std::string, std::string>> rendered;
  for (const auto& dir : dirs) {
    const auto r = RunCommand({kubectl, "kustomize", DeployDir() + "/kubernetes/" + dir}, 60s);
    EXPECT_EQ(r.exit_code, 0) << "kubectl kustomize deploy/kubernetes/" << dir << ": " << r.err;
    if (r.exit_code != 0) continue;
    std::string name = dir;
    std::replace(name.begin(), name.end(), '/', '-');
    rendered.emplace_back(dir, tmp.Write(name + ".yaml", r.out));
  }
  return rendered;
}

// Installs deploy/tests' pinned packages (npm ci) into the build tree, once per lock file.
// Returns the directory holding validate.js and its node_modules, or "" after a failure.
std::string InstallValidator(const std::string& npm) {
  std::string dir = std::string(PRESCALE_BINARY_DIR) + "/deploy-tests-npm";
  std::filesystem::create_directories(dir);
  const std::string src = DeployDir() + "/tests";
  for (const char* f : {"package.json", "validate.js"}) {
    std::filesystem::copy_file(src + "/" + f, dir + "/" + f, std::filesystem::copy_options::overwrite_existing);
  }
  const std::string lock = ReadFileOrEmpty(src + "/package-lock.json");
  const std::string installed_stamp = dir + "/node_modules/.prescale-lock";
  if (lock.empty()) {
    ADD_FAILURE() << "deploy/tests/package-lock.json is missing";
    return "";
  }
  if (ReadFileOrEmpty(installed_stamp) == lock) return dir;
  std::filesystem::copy_file(src + "/package-lock.json", dir + "/package-lock.json",
                             std::filesystem::copy_options::overwrite_existing);
  const auto r =
      RunCommand({"/bin/sh", "-c",
                  "cd '" + dir + "' && '" + npm + "' ci --ignore-scripts --no-audit --no-fund --loglevel=error 2>&1"},
                 600s);
  if (r.exit_code != 0) {
    ADD_FAILURE() << "npm ci in " << dir << " failed (needs the npm registry): " << r.out << r.err;
    return "";
  }
  std::filesystem::copy_file(src + "/package-lock.json", installed_stamp,
                             std::filesystem::copy_options::overwrite_existing);
  return dir;
}

TEST(DeployKubernetes, EveryOverlayRendersAndEveryObjectValidatesAgainstTheSchema) {
  const std::string kubectl = FindProgram("kubectl");
  if (kubectl.empty()) GTEST_SKIP() << "kubectl is not installed (Debian package kubernetes-client)";
  TempDir tmp("prescale-deploy");
  const auto rendered = RenderAll(kubectl, tmp);
  ASSERT_GE(rendered.size(), 3u) << "base and at least two overlays";

  // What the issue asks of the manifests, in every rendering.
  for (const auto& [dir, file] : rendered) {
    SCOPED_TRACE(dir);
    const std::string yaml = ReadFileOrEmpty(file);
    for (const char* needle :
         {"kind: DaemonSet", "kind: StatefulSet", "priorityClassName: system-node-critical", "- operator: Exists",
          "path: /healthz", "path: /readyz", "volumeClaimTemplates:", "deployments/scale", "statefulsets/scale",
          "kind: ClusterRole", "kind: ServiceAccount", "kind: Secret", "name: prescale-agent-config",
          "name: prescale-aggregator-config", "namespace: prescale", "runAsNonRoot: true"}) {
      EXPECT_NE(yaml.find(needle), std::string::npos) << "missing: " << needle;
    }
    if (dir == "overlays/prometheus-operator") {
      for (const char* needle : {"kind: ServiceMonitor", "kind: PrometheusRule", "grafana_dashboard"}) {
        EXPECT_NE(yaml.find(needle), std::string::npos) << "missing: " << needle;
      }
    }
  }

  const std::string node = FindProgram("node");
  const std::string npm = FindProgram("npm");
  if (node.empty() || npm.empty()) {
    GTEST_SKIP() << "node or npm is not installed, so the rendered objects are not validated against the "
                    "Kubernetes schema (scripts/setup does not install nodejs and npm yet)";
  }
  const std::string dir = InstallValidator(npm);
  ASSERT_FALSE(dir.empty());

  // The validator rejects what the API server would (a wrong type, a missing required field, an
  // unknown kind), so a pass below means something.
  const std::string bad = tmp.Write("bad.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  replicas: three
  selector: {matchLabels: {a: b}}
  template: {metadata: {labels: {a: b}}, spec: {containers: [{image: x}]}}
---
apiVersion: example.com/v1
kind: Unknown
metadata: {name: x}
)");
  const auto refused = RunCommand({node, dir + "/validate.js", bad}, 120s);
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("spec/replicas must be integer"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("containers/0 must have required property name"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("no schema for example.com/v1 Unknown"), std::string::npos) << refused.err;

  for (const auto& [name, file] : rendered) {
    SCOPED_TRACE(name);
    const auto r = RunCommand({node, dir + "/validate.js", file}, 120s);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find(" 0 invalid"), std::string::npos) << r.out;
    if (name == "overlays/prometheus-operator") {
      EXPECT_NE(r.out.find("ok " + file + ": ServiceMonitor/prescale-agent"), std::string::npos) << r.out;
      EXPECT_NE(r.out.find("ok " + file + ": PrometheusRule/prescale"), std::string::npos) << r.out;
    }
  }
}

// The objects of a `kubectl kustomize` rendering, one parsed document each.
std::vector<ConfigNode> RenderedObjects(const std::string& yaml) {
  std::vector<std::string> texts(1);
  std::istringstream in(yaml);
  for (std::string line; std::getline(in, line);) {
    if (line == "---") {
      texts.emplace_back();
    } else {
      texts.back() += line + "\n";
    }
  }
  std::vector<ConfigNode> objects;
  const YamlConfigReader reader("rendered.yaml");
  for (const std::string& text : texts) {
    auto doc = reader.Parse(text);
    EXPECT_TRUE(doc.ok()) << doc.status().ToString();
    if (doc.ok()) objects.push_back(*doc);
  }
  return objects;
}

// The object of that kind whose name is `name` (or starts with it, for generated names).
ConfigNode FindObject(const std::vector<ConfigNode>& objects, std::string_view kind, std::string_view name) {
  for (const ConfigNode& o : objects) {
    if (o["kind"].Scalar() == kind && o["metadata"]["name"].Scalar().starts_with(name)) return o;
  }
  ADD_FAILURE() << "no " << kind << " " << name;
  return {};
}

std::vector<std::string> Scalars(const ConfigNode& sequence) {
  std::vector<std::string> out;
  for (const ConfigNode& item : sequence.Items()) out.push_back(item.Scalar());
  return out;
}

// Whether the agent as the rendering runs it takes throttle directives: the ConfigMap's
// agent.yaml with the container's arguments on top, read by the agent's own parser.
bool AgentTakesDirectives(const std::vector<ConfigNode>& objects, const ConfigNode& container) {
  const ConfigNode config_map = FindObject(objects, "ConfigMap", "prescale-agent-config");
  auto config = agent::ParseAgentConfig(config_map["data"]["agent.yaml"].Scalar(), "agent.yaml");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  if (!config.ok()) return false;
  std::vector<std::string> args = Scalars(container["args"]);
  std::vector<const char*> argv = {"prescale-agent"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  auto cli = agent::ParseCommandLine(static_cast<int>(argv.size()), argv.data());
  EXPECT_TRUE(cli.ok()) << cli.status().ToString();
  if (!cli.ok()) return false;
  const Status applied = agent::ApplyOverrides(*cli, &config.value());
  EXPECT_TRUE(applied.ok()) << applied.ToString();
  return agent::DirectivesEnabled(*config);
}

// Least privilege by default: in the base and every overlay but overlays/throttling the agent
// mounts the cgroup tree read-only and takes no throttle directives; overlays/throttling
// (which must render) turns both on and changes none of the agent's other privileges. The
// namespace carries the Pod Security Admission labels, and the aggregator meets `restricted`,
// the level they audit and warn at.
TEST(DeployKubernetes, AgentMountsCgroupsReadOnlyAndThrottlesOnlyInTheThrottlingOverlay) {
  const std::string kubectl = FindProgram("kubectl");
  if (kubectl.empty()) GTEST_SKIP() << "kubectl is not installed (Debian package kubernetes-client)";
  TempDir tmp("prescale-deploy-privileges");
  const auto rendered = RenderAll(kubectl, tmp);
  bool throttling_rendered = false;
  for (const auto& [dir, file] : rendered) {
    SCOPED_TRACE(dir);
    const bool throttling = dir == "overlays/throttling";
    throttling_rendered = throttling_rendered || throttling;
    const auto objects = RenderedObjects(ReadFileOrEmpty(file));

    const ConfigNode labels = FindObject(objects, "Namespace", "prescale")["metadata"]["labels"];
    EXPECT_EQ(labels["pod-security.kubernetes.io/enforce"].Scalar(), "privileged");
    EXPECT_EQ(labels["pod-security.kubernetes.io/audit"].Scalar(), "restricted");
    EXPECT_EQ(labels["pod-security.kubernetes.io/warn"].Scalar(), "restricted");

    const ConfigNode pod = FindObject(objects, "DaemonSet", "prescale-agent")["spec"]["template"]["spec"];
    ASSERT_EQ(pod["containers"].size(), 1u);
    const ConfigNode agent = pod["containers"][size_t{0}];
    std::map<std::string, std::string> read_only;  // mountPath -> readOnly
    for (const ConfigNode& m : agent["volumeMounts"].Items())
      read_only[m["mountPath"].Scalar()] = m["readOnly"].Scalar();
    EXPECT_EQ(read_only["/host/proc"], "true");
    EXPECT_EQ(read_only["/host/sys/fs/cgroup"], throttling ? "false" : "true");
    EXPECT_EQ(AgentTakesDirectives(objects, agent), throttling);
    for (const ConfigNode& v : pod["volumes"].Items()) {
      if (v["name"].Scalar() == "cgroup") {
        EXPECT_EQ(v["hostPath"]["path"].Scalar(), "/sys/fs/cgroup");
      }
    }
    const ConfigNode sc = agent["securityContext"];
    EXPECT_EQ(sc["readOnlyRootFilesystem"].Scalar(), "true");
    EXPECT_EQ(sc["allowPrivilegeEscalation"].Scalar(), "false");
    EXPECT_EQ(sc["privileged"].Scalar(), "false");
    EXPECT_EQ(Scalars(sc["capabilities"]["drop"]), std::vector<std::string>{"ALL"});
    EXPECT_EQ(Scalars(sc["capabilities"]["add"]), std::vector<std::string>{"SYS_PTRACE"});
    EXPECT_EQ(sc["seccompProfile"]["type"].Scalar(), "RuntimeDefault");

    // The aggregator passes the restricted profile's checks that the manifest decides.
    const ConfigNode agg_pod = FindObject(objects, "StatefulSet", "prescale-aggregator")["spec"]["template"]["spec"];
    EXPECT_EQ(agg_pod["securityContext"]["runAsNonRoot"].Scalar(), "true");
    EXPECT_EQ(agg_pod["securityContext"]["seccompProfile"]["type"].Scalar(), "RuntimeDefault");
    EXPECT_FALSE(agg_pod["hostNetwork"].IsDefined() || agg_pod["hostPID"].IsDefined());
    for (const ConfigNode& v : agg_pod["volumes"].Items()) EXPECT_FALSE(v["hostPath"].IsDefined());
    for (const ConfigNode& c : agg_pod["containers"].Items()) {
      EXPECT_EQ(c["securityContext"]["allowPrivilegeEscalation"].Scalar(), "false");
      EXPECT_EQ(Scalars(c["securityContext"]["capabilities"]["drop"]), std::vector<std::string>{"ALL"});
      EXPECT_FALSE(c["securityContext"]["capabilities"]["add"].IsDefined());
    }
  }
  EXPECT_TRUE(throttling_rendered) << "deploy/kubernetes/overlays/throttling did not render";
}

// overlays/ha (issue 17, docs/ha.md): two aggregator replicas that never share a node, each
// given the PostgreSQL URL from its Secret and its pod's name, a PodDisruptionBudget that keeps
// one up, and agents that push to each replica by its stable name. The containers' arguments
// are read by the programs' own parsers, the environment substituted as the kubelet does.
TEST(DeployKubernetes, HaOverlayRunsTwoReplicasApartAndAgentsPushToEach) {
  const std::string kubectl = FindProgram("kubectl");
  if (kubectl.empty()) GTEST_SKIP() << "kubectl is not installed (Debian package kubernetes-client)";
  const auto r = RunCommand({kubectl, "kustomize", DeployDir() + "/kubernetes/overlays/ha"}, 60s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto objects = RenderedObjects(r.out);

  const ConfigNode sts = FindObject(objects, "StatefulSet", "prescale-aggregator");
  EXPECT_EQ(sts["spec"]["replicas"].Scalar(), "2");
  const ConfigNode pod = sts["spec"]["template"]["spec"];
  const ConfigNode apart = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
  ASSERT_EQ(apart.size(), 1u);
  EXPECT_EQ(apart[size_t{0}]["topologyKey"].Scalar(), "kubernetes.io/hostname");
  EXPECT_EQ(apart[size_t{0}]["labelSelector"]["matchLabels"]["app.kubernetes.io/name"].Scalar(), "prescale-aggregator");

  const ConfigNode pdb = FindObject(objects, "PodDisruptionBudget", "prescale-aggregator");
  EXPECT_EQ(pdb["spec"]["minAvailable"].Scalar(), "1");
  EXPECT_EQ(pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"].Scalar(), "prescale-aggregator");

  // The aggregator's arguments with $(VAR) expanded from its environment: the Secret's URL, the pod's name.
  const std::string url = FindObject(objects, "Secret", "prescale-control-store")["stringData"]["url"].Scalar();
  ASSERT_TRUE(url.starts_with("postgresql://")) << url;
  const ConfigNode container = pod["containers"][size_t{0}];
  std::map<std::string, std::string> env;
  for (const ConfigNode& e : container["env"].Items()) {
    const ConfigNode from = e["valueFrom"];
    if (from["secretKeyRef"].IsDefined()) {
      EXPECT_EQ(from["secretKeyRef"]["name"].Scalar(), "prescale-control-store");
      EXPECT_EQ(from["secretKeyRef"]["key"].Scalar(), "url");
      env[e["name"].Scalar()] = url;
    } else if (from["fieldRef"]["fieldPath"].Scalar() == "metadata.name") {
      env[e["name"].Scalar()] = "prescale-aggregator-1";
    }
  }
  std::vector<std::string> args = {"prescale-aggregator"};
  for (std::string a : Scalars(container["args"])) {
    for (const auto& [name, value] : env) {
      for (size_t at = a.find("$(" + name + ")"); at != std::string::npos; at = a.find("$(" + name + ")")) {
        a.replace(at, name.size() + 3, value);
      }
    }
    if (!a.starts_with("--config")) args.push_back(a);  // the ConfigMap's file is read below
  }
  std::vector<const char*> argv;
  argv.reserve(args.size());
  for (const std::string& a : args) argv.push_back(a.c_str());
  const ConfigNode agg_map = FindObject(objects, "ConfigMap", "prescale-aggregator-config");
  auto agg = aggregator::ParseAggregatorConfig(agg_map["data"]["aggregator.yaml"].Scalar(), "aggregator.yaml");
  ASSERT_TRUE(agg.ok()) << agg.status().ToString();
  auto agg_cli = aggregator::ParseAggregatorCommandLine(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(agg_cli.ok()) << agg_cli.status().ToString();
  const Status applied = aggregator::ApplyAggregatorOverrides(*agg_cli, &agg.value());
  ASSERT_TRUE(applied.ok()) << applied.ToString();
  EXPECT_EQ(agg->control_store, url);
  EXPECT_EQ(agg->replica_name, "prescale-aggregator-1");

  // Each agent pushes to, and asks for caps, every replica.
  const ConfigNode agent_map = FindObject(objects, "ConfigMap", "prescale-agent-config");
  auto agent_config = agent::ParseAgentConfig(agent_map["data"]["agent.yaml"].Scalar(), "agent.yaml");
  ASSERT_TRUE(agent_config.ok()) << agent_config.status().ToString();
  const ConfigNode agent_container =
      FindObject(objects, "DaemonSet", "prescale-agent")["spec"]["template"]["spec"]["containers"][size_t{0}];
  const std::vector<std::string> agent_args = Scalars(agent_container["args"]);
  std::vector<const char*> agent_argv = {"prescale-agent"};
  for (const std::string& a : agent_args) agent_argv.push_back(a.c_str());
  auto agent_cli = agent::ParseCommandLine(static_cast<int>(agent_argv.size()), agent_argv.data());
  ASSERT_TRUE(agent_cli.ok()) << agent_cli.status().ToString();
  const Status agent_applied = agent::ApplyOverrides(*agent_cli, &agent_config.value());
  ASSERT_TRUE(agent_applied.ok()) << agent_applied.ToString();
  const std::string service = ".prescale-aggregator-headless.prescale.svc:9570";
  EXPECT_EQ(agent::PushUrls(*agent_config),
            (std::vector<std::string>{"http://prescale-aggregator-0" + service + "/api/v1/write",
                                      "http://prescale-aggregator-1" + service + "/api/v1/write"}));
  EXPECT_EQ(
      agent::DirectiveApiUrls(*agent_config),
      (std::vector<std::string>{"http://prescale-aggregator-0" + service, "http://prescale-aggregator-1" + service}));
}

TEST(DeployKubernetes, CopiesOfTheRulesAndDashboardsAreCurrent) {
  for (const char* src : {"/alerts/prescale-rules.yaml", "/dashboards/configmap.yaml"}) {
    if (::access((SourceDir() + src).c_str(), R_OK) != 0) {
      GTEST_SKIP() << src + 1 << " is not in the tree, so the overlay's copy cannot be checked";
    }
  }
  const auto r = RunCommand({"/bin/bash", DeployDir() + "/kubernetes/sync.sh", "--check"}, 60s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(DeploySystemd, UnitsPassSystemdAnalyzeVerify) {
  const std::string analyze = FindProgram("systemd-analyze");
  if (analyze.empty()) GTEST_SKIP() << "systemd-analyze is not installed (Debian package systemd)";
  // verify checks that ExecStart's program exists: point it at the built binaries.
  TempDir tmp("prescale-units");
  std::vector<std::string> argv = {analyze, "verify"};
  for (const std::string name : {"prescale-agent", "prescale-aggregator"}) {
    std::string unit = ReadFileOrEmpty(DeployDir() + "/systemd/" + name + ".service");
    ASSERT_FALSE(unit.empty()) << "deploy/systemd/" << name << ".service is missing";
    const std::string from = "ExecStart=/usr/bin/" + name;
    const auto at = unit.find(from);
    ASSERT_NE(at, std::string::npos) << name << ".service does not run /usr/bin/" << name;
    unit.replace(at, from.size(), "ExecStart=" + BinDir() + "/" + name);
    argv.push_back(tmp.Write(name + ".service", unit));
  }
  const auto r = RunCommand(argv, 60s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // Unknown keys and bad values are only warnings, with exit code 0: none may be printed.
  EXPECT_EQ(r.err, "") << "systemd-analyze verify warned";
}

TEST(DeployConfigs, AggregatorStartsWithTheShippedConfigs) {
  const std::string aggregator = BinDir() + "/prescale-aggregator";
  ASSERT_EQ(::access(aggregator.c_str(), X_OK), 0) << aggregator << " is missing";
  for (const std::string config : {"/kubernetes/base/config/aggregator.yaml", "/systemd/aggregator.example.yaml"}) {
    SCOPED_TRACE(config);
    TempDir data("prescale-deploy-agg");
    Subprocess process;
    // The flags override the config's listen address and data directory only.
    ASSERT_TRUE(process.Start({aggregator, "--config", DeployDir() + config, "--listen", "127.0.0.1:0", "--data-dir",
                               data.path() + "/data"}));
    std::string log;
    EXPECT_NE(testing::WaitForServingPort(process, 20s, &log), 0) << "deploy" << config << ": " << log;
  }
}

TEST(DeployConfigs, AgentCollectsWithTheDaemonSetsConfig) {
  const std::string agent = BinDir() + "/prescale-agent";
  ASSERT_EQ(::access(agent.c_str(), X_OK), 0) << agent << " is missing";
  TempDir tmp("prescale-deploy-agent");
  const std::string token = tmp.Write("token", "placeholder\n");
  // The config's host paths (/host/...) and token file exist only in the pod: the flags point
  // them at this machine; everything else is the config's. No API server answers here: the pod
  // source points at a closed loopback port, and the agent must collect all the same.
  const auto r =
      RunCommand({agent, "--config", DeployDir() + "/kubernetes/base/config/agent.yaml", "--once", "--cgroup-root",
                  "/sys/fs/cgroup", "--proc-root", "/proc", "--token-file", token, "--data-dir", tmp.path(), "--node",
                  "deploy-test", "--pod-metadata-url", "http://127.0.0.1:1"},
                 60s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("node_cpu_seconds_total{node=\"deploy-test\""), std::string::npos) << r.err;
}

}  // namespace
}  // namespace prescale
