// prescalectl end to end: the real binary against a real prescale-aggregator on
// 127.0.0.1 (port 0), with an admin token made by `prescale-aggregator token
// create` and operator and viewer tokens of tenant acme made by prescalectl
// itself. Every verb runs with every role: the admin's writes, the operator's
// on its tenant and its 403 on another, the viewer's reads and its 403 on a
// write; a second apply writes nothing; a stale edit gets 409 (exit 3) and a
// bad field 422 (exit 6, the field named).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using testing::BinDir;
using testing::RunCommand;
using testing::RunResult;
using testing::Subprocess;
using testing::TempDir;

constexpr const char* kObjects = R"(tenants:
  - name: acme
    quotas: {cpu_cores: 64, memory_bytes: 137438953472, replicas: 200}
    weight: 2
    labels: {tier: gold}
  - name: beta
policies:
  - name: fast
    tenant: acme
    horizon: 15m
    behavior:
      scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 4, periodSeconds: 15}]}
services:
  - tenant: acme
    name: web
    priority: critical
    replicas: {current: 3, min: 2, max: 20}
    requests: {cpu_cores: 0.5, memory_bytes: 536870912}
    target_utilization: {cpu: 0.7}
    policy: fast
  - tenant: beta
    name: api
)";

class PrescalectlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    aggregator_bin_ = BinDir() + "/prescale-aggregator";
    ctl_ = BinDir() + "/prescalectl";
    ASSERT_EQ(::access(aggregator_bin_.c_str(), X_OK), 0) << aggregator_bin_ << " is missing: build it";
    ASSERT_EQ(::access(ctl_.c_str(), X_OK), 0) << ctl_ << " is missing: build it";
    data_dir_ = dir_.path() + "/data";
    ASSERT_EQ(::mkdir(data_dir_.c_str(), 0700), 0);
    const auto admin = RunCommand(
        {aggregator_bin_, "token", "create", "--role", "admin", "--name", "e2e", "--data-dir", data_dir_}, 60s);
    ASSERT_EQ(admin.exit_code, 0) << admin.err;
    admin_token_ = dir_.Write("admin.token", admin.out);
    ASSERT_TRUE(aggregator_.Start({aggregator_bin_, "--listen", "127.0.0.1:0", "--data-dir", data_dir_}));
    std::string log;
    const int port = testing::WaitForServingPort(aggregator_, 20s, &log);
    ASSERT_NE(port, 0) << "the aggregator did not start: " << log;
    url_ = "http://127.0.0.1:" + std::to_string(port);
    config_ = dir_.path() + "/home/.config/prescale/prescalectl.yaml";
    // The admin's context, made by prescalectl itself.
    const RunResult r = Ctl({"config", "set-context", "admin", "--url", url_, "--token-file", admin_token_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // prescalectl with the test's config file and `env` ("NAME=value") in its environment.
  RunResult Ctl(std::vector<std::string> args, const std::string& stdin_text = "",
                const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {"/usr/bin/env", "PRESCALECTL_CONFIG=" + config_,
                                     "PRESCALE_TOKEN=", "HOME=" + dir_.path() + "/home"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(ctl_);
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, 60s, stdin_text);
  }

  // A token of `role` for tenant acme through `prescalectl tokens create`, in a context named after the role.
  void MakeRoleContext(const std::string& role) {
    const RunResult r = Ctl({"tokens", "create", "--role", role, "--tenant", "acme", "--name", role});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("role " + role + ", tenant acme"), std::string::npos) << r.err;
    const std::string file = dir_.Write(role + ".token", r.out);
    const RunResult c = Ctl({"config", "set-context", role, "--url", url_, "--token-file", file});
    ASSERT_EQ(c.exit_code, 0) << c.err;
  }

  TempDir dir_{"prescalectl-e2e"};
  std::string aggregator_bin_, ctl_, data_dir_, admin_token_, url_, config_;
  Subprocess aggregator_;
};

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(PrescalectlTest, ApplyTwiceIsANoOpAndShowsTheDiff) {
  const std::string file = dir_.Write("objects.yaml", kObjects);
  RunResult r = Ctl({"apply", "-f", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "tenant acme: created\n  + name: \"acme\"\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "service acme/web: created")) << r.out;
  EXPECT_TRUE(Contains(r.out, "5 created, 0 changed, 0 unchanged\n")) << r.out;
  const RunResult audit_before = Ctl({"audit", "-o", "json"});
  ASSERT_EQ(audit_before.exit_code, 0) << audit_before.err;
  // The second apply writes nothing: no audit record, no new version.
  r = Ctl({"apply", "-f", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "tenant acme: unchanged\ntenant beta: unchanged\npolicy fast: unchanged\nservice acme/web: unchanged\n"
            "service beta/api: unchanged\n0 created, 0 changed, 5 unchanged\n");
  EXPECT_EQ(Ctl({"audit", "-o", "json"}).out, audit_before.out);
  // A change: the dry run shows it and writes nothing, then apply writes it.
  std::string changed = kObjects;
  changed.replace(changed.find("max: 20"), 7, "max: 30");
  const std::string file2 = dir_.Write("objects2.yaml", changed);
  r = Ctl({"apply", "-f", file2, "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(
      Contains(r.out, "service acme/web: would change (version 1)\n  - replicas.max: 20\n  + replicas.max: 30\n"))
      << r.out;
  EXPECT_EQ(Ctl({"get", "service", "acme/web", "-o", "json"}).out.find("\"max\": 30"), std::string::npos);
  r = Ctl({"apply", "-f", "-"}, changed);  // from standard input
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(
      Contains(r.out, "service acme/web: changed (version 1 -> 2)\n  - replicas.max: 20\n  + replicas.max: 30\n"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "0 created, 1 changed, 4 unchanged")) << r.out;
  // What get -o yaml prints applies back unchanged (a manifest of services).
  const RunResult yaml = Ctl({"get", "services", "-o", "yaml"});
  ASSERT_EQ(yaml.exit_code, 0) << yaml.err;
  EXPECT_TRUE(Contains(yaml.out, "services:\n")) << yaml.out;
  r = Ctl({"apply", "-f", "-"}, yaml.out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "0 created, 0 changed, 2 unchanged")) << r.out;
}

TEST_F(PrescalectlTest, InvalidFieldsAreNamedWithExitStatus6) {
  // Checked before anything is written: the file's line and the field.
  std::string bad = kObjects;
  bad.replace(bad.find("priority: critical"), 18, "priority: urgent");
  RunResult r = Ctl({"apply", "-f", dir_.Write("bad.yaml", bad)});
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_TRUE(Contains(r.err, "bad.yaml:16: services[0].priority: must be one of")) << r.err;
  EXPECT_EQ(Ctl({"get", "tenants", "-o", "name"}).out, "");  // nothing was written
  // The aggregator's own 422: a policy that does not exist, named by the API's field.
  ASSERT_EQ(Ctl({"apply", "-f", dir_.Write("objects.yaml", kObjects)}).exit_code, 0);
  r = Ctl({"apply", "-f", "-"}, "services:\n  - {tenant: acme, name: web, policy: missing}\n");
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_TRUE(Contains(r.err, "PUT /api/v1/tenants/acme/services/web: 422 invalid: policy: no policy named missing"))
      << r.err;
  r = Ctl({"tokens", "create", "--role", "viewer", "--tenant", "nope"});
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_TRUE(Contains(r.err, "422 invalid: tenant: no tenant nope")) << r.err;
  // An edit that does not validate names the line of the edited file, and writes nothing.
  const std::string editor = dir_.Write("bad-editor.sh", "#!/bin/sh\nsed -i 's/^weight: .*/weight: -1/' \"$1\"\n");
  ASSERT_EQ(::chmod(editor.c_str(), 0755), 0);
  r = Ctl({"edit", "tenant", "acme"}, "", {"EDITOR=" + editor});
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_TRUE(Contains(r.err, ": weight: must be > 0")) << r.err;
  EXPECT_TRUE(Contains(r.err, "your edit is kept in")) << r.err;
  EXPECT_TRUE(Contains(Ctl({"get", "tenant", "acme", "-o", "yaml"}).out, "weight: 2"));
}

TEST_F(PrescalectlTest, AStaleEditIsAConflictWithExitStatus3) {
  ASSERT_EQ(Ctl({"apply", "-f", dir_.Write("objects.yaml", kObjects)}).exit_code, 0);
  // An editor that edits while someone else changes the service through the API.
  const std::string other = dir_.Write("other.yaml", "services:\n  - {tenant: acme, name: web, priority: low}\n");
  const std::string editor = dir_.Write("racing-editor.sh", "#!/bin/sh\n\"" + ctl_ + "\" apply -f \"" + other +
                                                                "\" >/dev/null || exit 9\n"
                                                                "sed -i 's/max: 20/max: 25/' \"$1\"\n");
  ASSERT_EQ(::chmod(editor.c_str(), 0755), 0);
  RunResult r = Ctl({"edit", "service", "acme/web"}, "", {"EDITOR=" + editor});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, "service acme/web was changed by someone else since you read it (version 1)")) << r.err;
  r = Ctl({"get", "service", "acme/web", "-o", "yaml"});
  EXPECT_TRUE(Contains(r.out, "priority: low")) << r.out;
  EXPECT_TRUE(Contains(r.out, "version: 2")) << r.out;
  // Run again: it applies to the version read now.
  const std::string editor2 = dir_.Write("editor.sh", "#!/bin/sh\nsed -i 's/max: 10/max: 25/' \"$1\"\n");
  ASSERT_EQ(::chmod(editor2.c_str(), 0755), 0);
  r = Ctl({"edit", "service", "web", "-t", "acme"}, "", {"EDITOR=" + editor2});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "service acme/web: edited (version 2 -> 3)\n  - replicas.max: 10\n  + replicas.max: 25\n");
  // An editor that changes nothing writes nothing.
  r = Ctl({"edit", "service", "acme/web"}, "", {"EDITOR=true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "edit cancelled: no changes\n");
  // A tenant whose services refer to it is not deleted: a conflict too.
  r = Ctl({"delete", "tenant", "acme"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

TEST_F(PrescalectlTest, EveryVerbAsAdminOperatorAndViewer) {
  ASSERT_EQ(Ctl({"apply", "-f", dir_.Write("objects.yaml", kObjects)}).exit_code, 0);
  ASSERT_NO_FATAL_FAILURE(MakeRoleContext("operator"));
  ASSERT_NO_FATAL_FAILURE(MakeRoleContext("viewer"));
  // config: three contexts, the admin's current.
  RunResult r = Ctl({"config", "get-contexts"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "CURRENT   NAME")) << r.out;
  EXPECT_TRUE(Contains(r.out, "*         admin")) << r.out;
  EXPECT_EQ(Ctl({"config", "current-context"}).out, "admin\n");

  // admin: everything, every tenant.
  r = Ctl({"get", "tenants"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "NAME   WEIGHT   CPU QUOTA   MEMORY QUOTA   REPLICA QUOTA   LABELS      VERSION"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "acme   2        64          128Gi          200             tier=gold   1")) << r.out;
  EXPECT_EQ(Ctl({"get", "services", "-o", "name"}).out, "acme/web\nbeta/api\n");
  EXPECT_EQ(Ctl({"get", "tenants", "-l", "tier=gold", "-o", "name"}).out, "acme\n");
  r = Ctl({"get", "policies"});
  EXPECT_TRUE(Contains(r.out, "fast   acme     predictive   auto         15m")) << r.out;
  r = Ctl({"explain", "acme/web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* part : {"service acme/web: priority critical, policy fast", "  use ", "  forecast ", "  limits ",
                           "replicas 2..20", "quota: cpu 64 cores memory 128Gi replicas 200"}) {
    EXPECT_TRUE(Contains(r.out, part)) << part << " in\n" << r.out;
  }
  r = Ctl({"explain", "acme/web", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "\"decision\":")) << r.out;
  r = Ctl({"actions", "-t", "acme", "--service", "web"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Ctl({"audit", "--kind", "tenant"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "create   tenant   acme")) << r.out;
  r = Ctl({"audit", "verify"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "audit log verified: ")) << r.out;
  r = Ctl({"tokens", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "operator   acme")) << r.out;
  EXPECT_TRUE(Contains(r.out, "viewer     acme")) << r.out;

  // operator of acme: its tenant's services and policies; beta is 403.
  const std::vector<std::string> op = {"--context", "operator"};
  auto as = [&](const std::vector<std::string>& who, std::vector<std::string> args, const std::string& in = "") {
    args.insert(args.begin(), who.begin(), who.end());
    return Ctl(args, in);
  };
  EXPECT_EQ(as(op, {"get", "tenants", "-o", "name"}).out, "acme\n");
  EXPECT_EQ(as(op, {"get", "services", "-o", "name"}).out, "acme/web\n");
  r = as(op, {"apply", "-f", "-"},
         "services:\n  - {tenant: acme, name: worker, priority: low}\npolicies:\n  - {name: slow, tenant: acme}\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "2 created, 0 changed, 0 unchanged")) << r.out;
  r = as(op, {"get", "services", "-t", "beta"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_TRUE(Contains(r.err, "403 forbidden: tenant: this token is bound to tenant acme")) << r.err;
  r = as(op, {"apply", "-f", "-"}, "services:\n  - {tenant: beta, name: api, priority: low}\n");
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_TRUE(Contains(r.err, "403")) << r.err;
  r = as(op, {"delete", "service", "beta/api"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  r = as(op, {"explain", "beta/api"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  r = as(op, {"audit", "--tenant", "beta"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  r = as(op, {"audit"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(Contains(r.out, "beta")) << r.out;
  EXPECT_EQ(as(op, {"audit", "verify"}).exit_code, 5);
  EXPECT_EQ(as(op, {"tokens", "list"}).exit_code, 5);
  EXPECT_EQ(as(op, {"explain", "acme/web"}).exit_code, 0);
  EXPECT_EQ(as(op, {"actions", "-t", "acme"}).exit_code, 0);
  // approve: its own tenant's service reaches the aggregator, which has no
  // recommendation for it (409: exit 3); another tenant's is denied.
  r = as(op, {"approve", "acme/web", "--replicas", "3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(Contains(r.err, "409")) << r.err;
  EXPECT_EQ(as(op, {"approve", "beta/api", "--replicas", "3"}).exit_code, 5);
  r = as(op, {"approve", "acme/web"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "--replicas")) << r.err;
  r = as(op, {"delete", "service", "acme/worker"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "service acme/worker: deleted\n");
  // The admin's global policy: the operator reads it, and may not change it.
  ASSERT_EQ(Ctl({"apply", "-f", "-"}, "policies:\n  - {name: global}\n").exit_code, 0);
  EXPECT_EQ(as(op, {"get", "policies", "-o", "name"}).out, "fast\nglobal\nslow\n");
  EXPECT_EQ(as(op, {"delete", "policy", "global"}).exit_code, 5);

  // viewer of acme: reads, and every write is 403.
  const std::vector<std::string> viewer = {"--context", "viewer"};
  EXPECT_EQ(as(viewer, {"get", "services", "-o", "name"}).out, "acme/web\n");
  EXPECT_EQ(as(viewer, {"get", "tenant", "acme", "-o", "name"}).out, "acme\n");
  EXPECT_EQ(as(viewer, {"explain", "acme/web"}).exit_code, 0);
  EXPECT_EQ(as(viewer, {"actions"}).exit_code, 0);
  EXPECT_EQ(as(viewer, {"audit", "--limit", "3"}).exit_code, 0);
  r = as(viewer, {"apply", "-f", "-"}, "services:\n  - {tenant: acme, name: web, priority: low}\n");
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_TRUE(Contains(r.err, "403 forbidden: viewer tokens may only read")) << r.err;
  EXPECT_EQ(as(viewer, {"delete", "service", "acme/web"}).exit_code, 5);
  EXPECT_EQ(as(viewer, {"approve", "acme/web", "--replicas", "3"}).exit_code, 5);
  const std::string editor = dir_.Write("ed.sh", "#!/bin/sh\nsed -i 's/max: 20/max: 21/' \"$1\"\n");
  ASSERT_EQ(::chmod(editor.c_str(), 0755), 0);
  r = Ctl({"--context", "viewer", "edit", "service", "acme/web"}, "", {"EDITOR=" + editor});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_TRUE(Contains(r.err, "viewer tokens may only read")) << r.err;
  EXPECT_EQ(as(viewer, {"tokens", "create", "--role", "admin"}).exit_code, 5);
  EXPECT_EQ(as(viewer, {"get", "services", "-t", "beta"}).exit_code, 5);

  // tokens: revoke the viewer's; it is refused from then on.
  r = Ctl({"tokens", "list", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0);
  const size_t at = r.out.find("\"name\": \"viewer\"");
  ASSERT_NE(at, std::string::npos) << r.out;
  const size_t id_at = r.out.rfind("\"id\": \"", at);
  const std::string id = r.out.substr(id_at + 7, r.out.find('"', id_at + 7) - id_at - 7);
  r = Ctl({"tokens", "revoke", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "token " + id + ": revoked\n");
  r = as(viewer, {"get", "services"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_TRUE(Contains(r.err, "revoked")) << r.err;

  // admin deletes; a missing object is exit 4.
  r = Ctl({"delete", "service", "beta/api"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Ctl({"get", "service", "beta/api"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(Contains(r.err, "404 not found: no service beta/api")) << r.err;
  EXPECT_EQ(Ctl({"delete", "tenant", "beta"}).exit_code, 0);
}

TEST_F(PrescalectlTest, UsageErrorsConnectionErrorsAndCompletion) {
  RunResult r = Ctl({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "unknown verb 'frobnicate'")) << r.err;
  EXPECT_TRUE(Contains(r.err, "prescalectl --help")) << r.err;
  r = Ctl({"get", "tenants", "--colour"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "unknown flag --colour")) << r.err;
  r = Ctl({"get", "tenants", "--dry-run"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "get does not take --dry-run")) << r.err;
  r = Ctl({"get", "tenants", "-o", "xml"});
  EXPECT_EQ(r.exit_code, 2);
  r = Ctl({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(Contains(r.out, "Exit status: 0 ok;")) << r.out;
  r = Ctl({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(Contains(r.out, "prescalectl, version ")) << r.out;
  // No token: 401 with a hint.
  r = Ctl({"--url", url_, "get", "tenants"}, "", {"PRESCALECTL_CONFIG=" + dir_.path() + "/none.yaml"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_TRUE(Contains(r.err, "401 unauthorized")) << r.err;
  EXPECT_TRUE(Contains(r.err, "hint: no token was sent")) << r.err;
  // $PRESCALE_TOKEN works without a context.
  r = Ctl(
      {"--url", url_, "get", "tenants"}, "",
      {"PRESCALECTL_CONFIG=" + dir_.path() + "/none.yaml", "PRESCALE_TOKEN=" + testing::ReadFileOrEmpty(admin_token_)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // An aggregator that is not there: the URL is named.
  aggregator_.Signal(SIGTERM);
  ASSERT_TRUE(aggregator_.Wait(20s).has_value());
  r = Ctl({"get", "tenants"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "cannot reach the aggregator at " + url_ + " (context admin)")) << r.err;
  // Completion: a bash script that bash accepts, with the verbs and flags.
  r = Ctl({"completion", "bash"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* part :
       {"complete -F _prescalectl prescalectl", "get apply edit delete explain", "--dry-run", "get \"$1\" -o name"}) {
    EXPECT_TRUE(Contains(r.out, part)) << part;
  }
  const std::string script = dir_.Write("completion.bash", r.out);
  const RunResult bash = RunCommand({"/bin/bash", "-n", script}, 30s);
  EXPECT_EQ(bash.exit_code, 0) << bash.err;
}

}  // namespace
}  // namespace prescale
