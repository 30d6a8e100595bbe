// prescale-console-fixture: the real system the console's browser test
// (tests/console/console_test.mjs) drives. It starts, on 127.0.0.1 port 0 with
// a temporary data directory:
//   - prescale-aggregator with tenants acme (a CPU quota of 0.25 cores) and
//     other, acme's services web (critical) and batch (low), a webhook
//     executor pointing at a receiver in this process, an acme policy `fast`
//     and an acme policy `hold` whose mode is off; other's service advice,
//     sized on web's use (its selector), with a policy `advise` (up 2
//     replicas a minute) and that webhook as its executor, in executor mode
//     off: the browser test puts it in recommend-only from the form and
//     approves its recommendations; and other's service ledger, with no
//     executor (recommend-only) and no load;
//   - prescale-agent reading a real cgroup sandbox (tests/support/cgroup_sandbox.h)
//     mapped to tenant/service, pushing every second;
//   - tokens made with `prescale-aggregator token create`: admin, acme's
//     operator and viewer, other's operator and viewer.
// It prints one JSON line {"url", "tokens": {...}, "data_dir"} on stdout (or
// {"skip": REASON} when there are no usable cgroups) and then reads commands on
// stdin, answering each with one line:
//   load SERVICE CORES   start prescale-test-burner in acme/SERVICE's cgroup, limited to CORES
//   stop SERVICE         stop that burner
// At the end of stdin (or SIGTERM) it stops everything and removes the cgroups.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "tests/integration/webhook_receiver.h"
#include "tests/support/cgroup_sandbox.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kSecret[] = "console-webhook-secret";

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

void Stop(Subprocess* p) {
  if (p == nullptr || !p->running()) return;
  p->Signal(SIGTERM);
  if (!p->Wait(20s).has_value()) {
    p->Signal(SIGKILL);
    p->Wait(5s);
  }
}

// `prescale-aggregator token create ...`: the secret (stdout), or "" with the error on stderr.
std::string CreateToken(const std::string& data_dir, const std::vector<std::string>& args) {
  Subprocess p;
  std::vector<std::string> argv = {BinDir() + "/prescale-aggregator", "token", "create"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--data-dir", data_dir});
  if (!p.Start(argv)) return "";
  const auto code = p.Wait(30s);
  std::string out = p.Stdout();
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (!code.has_value() || *code != 0 || out.empty()) {
    std::fprintf(stderr, "token create failed: %s\n", p.Stderr().c_str());
    return "";
  }
  return out;
}

int Main() {
  ::signal(SIGPIPE, SIG_IGN);
  const std::string reason = CgroupSandbox::SkipReason();
  if (!reason.empty()) {
    std::cout << "{\"skip\":" << JsonString("needs real cgroups: " + reason) << "}" << std::endl;
    return 0;
  }
  auto created = CgroupSandbox::Create();
  if (!created.ok()) {
    std::cout << "{\"skip\":" << JsonString("cannot make a cgroup sandbox: " + created.status().ToString()) << "}"
              << std::endl;
    return 0;
  }
  std::unique_ptr<CgroupSandbox> sandbox = std::move(created).value();
  for (const char* s : {"acme/web/load", "acme/batch/load"}) {
    if (auto made = sandbox->MakeCgroup(s); !made.ok()) {
      std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
      return 1;
    }
  }
  TempDir dir("prescale-console");
  WebhookReceiver receiver(kSecret);
  if (const std::string e = receiver.Start(); !e.empty()) {
    std::fprintf(stderr, "webhook receiver: %s\n", e.c_str());
    return 1;
  }
  const std::string secret_file = dir.Write("webhook-secret", std::string(kSecret) + "\n");
  const std::string data_dir = dir.path() + "/aggregator";
  auto service = [&](const char* name, const char* priority, const char* policy) {
    return std::string("  - tenant: acme\n    name: ") + name + "\n    priority: " + priority +
           "\n    replicas: {current: 1, min: 1, max: 20}\n    requests: {cpu_cores: 0.05, memory_bytes: 67108864}\n" +
           "    target_utilization: {cpu: 0.8}\n    policy: " + policy + "\n    executor: {type: webhook, url: \"" +
           receiver.url() + "\", secret_file: \"" + secret_file + "\"}\n";
  };
  const std::string config = dir.Write(
      "aggregator.yaml",
      "listen: 127.0.0.1:0\ndata_dir: \"" + data_dir + "\"\ntick_interval: 2s\nwebhook_timeout: 2s\n" +
          "api_requests_per_second: 500\n" + "tokens:\n  - {name: agent, role: agent, sha256: \"" + kTestTokenSha256 +
          "\"}\n" + "tenants:\n  - name: acme\n    display_name: Acme\n    quotas: {cpu_cores: 0.25, replicas: 40}\n" +
          "    weight: 1\n  - name: other\n    quotas: {cpu_cores: 4}\n" +
          "policies:\n  - name: fast\n    tenant: acme\n    mode: reactive\n    horizon: 5m\n    behavior:\n"
          "      scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 10, periodSeconds: 2}]}\n"
          "      scaleDown: {stabilizationWindowSeconds: 600}\n" +
          "  - name: hold\n    tenant: acme\n    mode: \"off\"\n" +
          "  - name: advise\n    tenant: other\n    behavior:\n"
          "      scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 2, periodSeconds: 60}]}\n" +
          "services:\n" + service("web", "critical", "fast") + service("batch", "low", "fast") +
          "  - tenant: other\n    name: advice\n    selector: {tenant: acme, service: web}\n" +
          "    replicas: {current: 1, min: 1, max: 20}\n    requests: {cpu_cores: 0.05}\n" +
          "    target_utilization: {cpu: 0.8}\n    policy: advise\n    executor: {type: webhook, mode: \"off\", url: "
          "\"" +
          receiver.url() + "\", secret_file: \"" + secret_file + "\"}\n" +
          "  - tenant: other\n    name: ledger\n    replicas: {current: 1, min: 1, max: 5}\n");
  Subprocess aggregator;
  if (!aggregator.Start({BinDir() + "/prescale-aggregator", "--config", config})) return 1;
  std::string log;
  const int port = WaitForServingPort(aggregator, 30s, &log);
  if (port == 0) {
    std::fprintf(stderr, "the aggregator did not start: %s\n", log.c_str());
    return 1;
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  std::map<std::string, std::string> tokens;
  tokens["admin"] = CreateToken(data_dir, {"--role", "admin", "--name", "alice"});
  tokens["operator"] = CreateToken(data_dir, {"--role", "operator", "--tenant", "acme", "--name", "olga"});
  tokens["viewer"] = CreateToken(data_dir, {"--role", "viewer", "--tenant", "acme", "--name", "victor"});
  tokens["other_operator"] = CreateToken(data_dir, {"--role", "operator", "--tenant", "other", "--name", "otto"});
  tokens["other_viewer"] = CreateToken(data_dir, {"--role", "viewer", "--tenant", "other", "--name", "vera"});
  for (const auto& [role, secret] : tokens) {
    if (secret.empty()) return 1;
  }
  const std::string token_file = dir.Write("agent.token", std::string(kTestToken) + "\n");
  const std::string agent_config = dir.Write(
      "agent.yaml", "listen: 127.0.0.1:0\ninterval: 1s\ndiscovery_interval: 1s\nnode: console-node\naggregator_url: " +
                        url + "/api/v1/write\ntoken_file: \"" + token_file + "\"\ndata_dir: \"" + dir.path() +
                        "/agent\"\nmapping:\n  - match: '" + sandbox->MappingPattern() +
                        "'\n    labels: {tenant: $1, service: $2}\n");
  Subprocess agent;
  if (!agent.Start({BinDir() + "/prescale-agent", "--config", agent_config})) return 1;

  std::cout << "{\"url\":" << JsonString(url) << ",\"data_dir\":" << JsonString(data_dir) << ",\"tokens\":{";
  bool first = true;
  for (const auto& [role, secret] : tokens) {
    std::cout << (first ? "" : ",") << JsonString(role) << ":" << JsonString(secret);
    first = false;
  }
  std::cout << "}}" << std::endl;

  std::map<std::string, std::unique_ptr<Subprocess>> burners;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string command, name;
    double cores = 0;
    in >> command >> name >> cores;
    const std::string cgroup = sandbox->root() + "/acme/" + name;
    if (command == "load" && (name == "web" || name == "batch") && cores > 0) {
      const Status s = sandbox->SetCpuQuota(cgroup + "/load", std::llround(cores * 100000), 100000);
      auto& burner = burners[name];
      if (s.ok() && burner == nullptr) {
        burner = std::make_unique<Subprocess>();
        if (!burner->Start({BinDir() + "/prescale-test-burner", "cpu", "1", "0"},
                           sandbox->ProcsFiles(cgroup + "/load"))) {
          std::cout << "error: cannot start the burner" << std::endl;
          continue;
        }
      }
      std::cout << (s.ok() ? "ok" : "error: " + s.ToString()) << std::endl;
    } else if (command == "stop" && burners.contains(name)) {
      Stop(burners[name].get());
      burners.erase(name);
      std::cout << "ok" << std::endl;
    } else {
      std::cout << "error: expected `load web|batch CORES` or `stop web|batch`" << std::endl;
    }
  }
  for (auto& [name, burner] : burners) Stop(burner.get());
  Stop(&agent);  // first: it puts back any CPU limit it changed
  Stop(&aggregator);
  receiver.Stop();
  return 0;
}

}  // namespace
}  // namespace prescale::testing

int main() { return prescale::testing::Main(); }
