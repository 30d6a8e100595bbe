// The agent on a fixture tree, for the collector tests: a config pointing at
// tests/testdata, the labels the default rules give the fixture's cgroups, and
// an Agent with a FakeClock whose exposition comes back parsed.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>

#include "prescale/agent/agent.h"
#include "tests/agent/agent_test_util.h"
#include "tests/support/fake_clock.h"

namespace prescale::agent::testing {

inline constexpr char kNode[] = "fixture-node";
inline const char* const kServices[] = {"/prescale/acme/web", "/prescale/acme/batch", "/system.slice/nginx.service"};

// Every cycle walks the tree and reads every file (discovery_interval 0), so
// each cycle of a test sees the files as they are; the tests of the cycles
// between discoveries set the default interval.
inline AgentConfig FixtureConfig(const std::string& cgroup_root, const std::string& proc_root = Fixture("proc")) {
  AgentConfig c = DefaultAgentConfig();
  c.cgroup_root = cgroup_root;
  c.proc_root = proc_root;
  c.node = kNode;
  c.discovery_interval = std::chrono::milliseconds(0);
  return c;
}

// Labels of a cgroup the default rules map.
inline metrics::Labels CgroupLabels(const std::string& id) {
  if (id == "/prescale/acme/web") return {{"id", id}, {"node", kNode}, {"tenant", "acme"}, {"service", "web"}};
  if (id == "/prescale/acme/batch") return {{"id", id}, {"node", kNode}, {"tenant", "acme"}, {"service", "batch"}};
  return {{"id", id}, {"node", kNode}, {"tenant", "system"}, {"service", "nginx"}};
}

inline metrics::Labels With(metrics::Labels labels, const std::string& name, const std::string& value) {
  labels.emplace_back(name, value);
  return labels;
}

inline double NsPerTick() { return 1e9 / static_cast<double>(::sysconf(_SC_CLK_TCK)); }

// The /proc/partitions name of "MAJ:MIN", as the device label shows it.
inline std::string DeviceLabel(const std::string& dev) {
  std::istringstream in(FixtureText(Fixture("proc/partitions")));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string major, minor, blocks, name;
    if (fields >> major >> minor >> blocks >> name && major + ":" + minor == dev) return "/dev/" + name;
  }
  return dev;
}

class AgentOnFixture {
 public:
  explicit AgentOnFixture(AgentConfig config) {
    auto a = Agent::Create(std::move(config), clock_);
    if (!a.ok()) {
      ADD_FAILURE() << a.status().ToString();
      return;
    }
    agent_ = std::move(a).value();
  }
  Agent* operator->() { return agent_.get(); }
  void Advance(std::chrono::milliseconds d) { clock_.Advance(d); }
  bool ok() const { return agent_ != nullptr; }
  ParsedExposition Collect() {
    agent_->CollectOnce();
    return ParsedExposition(agent_->Exposition());
  }

 private:
  ::prescale::testing::FakeClock clock_;
  std::unique_ptr<Agent> agent_;
};

inline double ReadErrors(const ParsedExposition& e, const std::string& collector) {
  return e.Value("prescale_agent_read_errors_total", {{"collector", collector}}).value_or(-1);
}

}  // namespace prescale::agent::testing
