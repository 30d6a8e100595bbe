// Workload discovery's rounds: list, then reconcile the control store (see
// workload_discovery.h).
#include "prescale/aggregator/kubernetes/workload_discovery.h"

#include <map>
#include <set>
#include <utility>

#include "prescale/aggregator/control/objects.h"
#include "prescale/base/log.h"
#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {
namespace {

using Key = std::pair<std::string, std::string>;  // (tenant, service)

std::string What(const kube::WorkloadInfo& w) { return w.kind + " " + w.namespace_name + "/" + w.name; }

bool IsDiscovered(const StoredObject& o) {
  auto s = ParseService(o.spec_json);
  if (!s.ok()) return false;
  auto it = s->labels.find(kManagedByLabel);
  return it != s->labels.end() && it->second == kManagedByDiscovery;
}

// What discovery means to write: the objects by key, and the keys it must
// not delete (annotated workloads skipped for a reason of their own).
struct Plan {
  std::map<Key, std::pair<StoredObject, std::string>> services;  // key -> (object, "Deployment ns/name")
  std::set<Key> keep;
};

// Turns the listed workloads into the plan; skipped ones go to *skipped.
Plan MakePlan(const std::vector<kube::WorkloadInfo>& workloads, std::vector<std::string>* skipped) {
  Plan plan;
  for (const kube::WorkloadInfo& w : workloads) {
    auto service = ServiceFromWorkload(w);
    if (!service.ok()) {
      skipped->push_back(What(w) + ": " + service.status().message());
      plan.keep.insert({w.namespace_name, w.name});
      continue;
    }
    if (!service->has_value()) continue;
    const Key key{w.namespace_name, w.name};
    if (plan.services.contains(key)) {
      skipped->push_back(What(w) + ": another workload of the namespace with this name is discovered already");
      continue;
    }
    auto built =
        BuildObject(ObjectKind::kService, RenderService(**service), {ObjectKind::kService, key.first, key.second});
    if (!built.ok()) {
      skipped->push_back(What(w) + ": " + built.status().message());
      plan.keep.insert(key);
      continue;
    }
    plan.services[key] = {std::move(built->object), What(w)};
  }
  return plan;
}

AuditRecord Audit(const Clock& clock, const char* action, const ObjectKey& key, const std::string& message) {
  AuditRecord a;
  a.time_ms = ToUnixMillis(clock.Now());
  a.actor = "discovery";
  a.action = action;
  a.kind = std::string(ObjectKindName(key.kind));
  a.tenant = key.kind == ObjectKind::kTenant ? key.name : key.tenant;
  a.name = key.name;
  a.message = message;
  return a;
}

// Creates the namespace's tenant when it has none; counts it in *created.
Status EnsureTenant(ControlStore* store, const Clock& clock, const std::string& name, int64_t* created) {
  const ObjectKey key{ObjectKind::kTenant, "", name};
  auto stored = store->Get(key);
  if (stored.ok()) return Status::Ok();
  if (stored.status().code() != StatusCode::kNotFound) return stored.status();
  const std::string body =
      R"({"name":")" + name + R"(","labels":{")" + kManagedByLabel + R"(":")" + kManagedByDiscovery + R"("}})";
  PRESCALE_ASSIGN_OR_RETURN(BuiltObject built, BuildObject(ObjectKind::kTenant, body, key));
  auto put = store->Put(std::move(built.object), WriteMode::kCreate, std::nullopt,
                        Audit(clock, "create", key, "namespace " + name + " has an annotated workload"));
  // Created meanwhile by someone else: what we wanted.
  if (!put.ok() && put.status().code() != StatusCode::kAlreadyExists) return put.status();
  if (put.ok()) ++*created;
  return Status::Ok();
}

// Writes one planned service, unless a service of the same name is not discovery's.
Status Apply(ControlStore* store, const Clock& clock, StoredObject object, const std::string& what,
             DiscoveryReport* report) {
  auto stored = store->Get(object.key);
  if (!stored.ok() && stored.status().code() != StatusCode::kNotFound) return stored.status();
  if (stored.ok() && !IsDiscovered(*stored)) {
    report->skipped.push_back(what + ": service " + object.key.tenant + "/" + object.key.name +
                              " was defined through the API or a bootstrap file, which wins: left as it is");
    return Status::Ok();
  }
  if (stored.ok() && stored->spec_json == object.spec_json) {
    ++report->unchanged;
    return Status::Ok();
  }
  if (!stored.ok()) PRESCALE_RETURN_IF_ERROR(EnsureTenant(store, clock, object.key.tenant, &report->tenants_created));
  const ObjectKey key = object.key;
  auto put = store->Put(std::move(object), stored.ok() ? WriteMode::kReplace : WriteMode::kCreate,
                        stored.ok() ? std::optional<int64_t>(stored->version) : std::nullopt,
                        Audit(clock, stored.ok() ? "replace" : "create", key, what + " is annotated"));
  if (put.ok()) {
    ++(stored.ok() ? report->updated : report->created);
  } else if (put.status().code() == StatusCode::kFailedPrecondition) {
    // A policy the annotation names does not exist (yet): the workload waits.
    report->skipped.push_back(what + ": prescale.io/policy: " + put.status().message());
  } else {
    return put.status();
  }
  return Status::Ok();
}

// Every discovered service of the store.
Result<std::vector<ObjectKey>> DiscoveredServices(ControlStore* store) {
  std::vector<ObjectKey> out;
  ListQuery query;
  query.kind = ObjectKind::kService;
  query.limit = 1000;
  query.references = false;
  do {
    PRESCALE_ASSIGN_OR_RETURN(Page<StoredObject> page, store->List(query));
    for (const StoredObject& o : page.items) {
      if (IsDiscovered(o)) out.push_back(o.key);
    }
    query.page_token = page.next_page_token;
  } while (!query.page_token.empty());
  return out;
}

}  // namespace

WorkloadDiscovery::WorkloadDiscovery(ControlStore* store, std::unique_ptr<http::HttpClient> client,
                                     KubernetesOptions options, const Clock& clock, DiscoveryOptions discovery)
    : store_(store), api_(std::move(client), std::move(options)), clock_(clock), options_(discovery) {}

Result<std::vector<kube::WorkloadInfo>> WorkloadDiscovery::ListAll(const std::string& kind) {
  const std::string base = std::string("/apis/apps/v1/") + (kind == "Deployment" ? "deployments" : "statefulsets") +
                           "?limit=" + std::to_string(options_.page_size);
  std::vector<kube::WorkloadInfo> out;
  std::string next;
  do {
    const std::string path = next.empty() ? base : base + "&continue=" + next;
    auto response = api_.Get(path, kube::kMaxWorkloadListBytes);
    if (!response.ok()) return Status::Unavailable("GET " + path + ": " + response.status().message());
    if (response->status < 200 || response->status >= 300) {
      return Status::Unavailable("GET " + path + ": " + std::to_string(response->status) + " " +
                                 KubernetesStatusMessage(response->body));
    }
    auto list = kube::ParseWorkloadList(response->body, kind);
    if (!list.ok()) return Status::Unavailable("GET " + path + ": " + list.status().message());
    for (kube::WorkloadInfo& w : list->items) out.push_back(std::move(w));
    if (out.size() > kube::kMaxWorkloadsPerList) {
      return Status::ResourceExhausted("more than " + std::to_string(kube::kMaxWorkloadsPerList) + " " + kind + "s");
    }
    next = list->continue_token;
  } while (!next.empty());
  return out;
}

Result<DiscoveryReport> WorkloadDiscovery::RunOnce() {
  auto fail = [this](Status s) -> Result<DiscoveryReport> {
    std::lock_guard lock(mu_);
    ++runs_error_;
    return s;
  };
  auto workloads = ListAll("Deployment");
  if (!workloads.ok()) return fail(workloads.status());
  auto statefulsets = ListAll("StatefulSet");
  if (!statefulsets.ok()) return fail(statefulsets.status());
  for (kube::WorkloadInfo& w : *statefulsets) workloads->push_back(std::move(w));
  DiscoveryReport report;
  report.workloads = static_cast<int64_t>(workloads->size());
  Plan plan = MakePlan(*workloads, &report.skipped);
  for (auto& [key, entry] : plan.services) {
    if (Status s = Apply(store_, clock_, std::move(entry.first), entry.second, &report); !s.ok()) return fail(s);
  }
  auto discovered = DiscoveredServices(store_);
  if (!discovered.ok()) return fail(discovered.status());
  for (const ObjectKey& key : *discovered) {
    const Key k{key.tenant, key.name};
    if (plan.services.contains(k) || plan.keep.contains(k)) continue;
    auto deleted = store_->Delete(key, std::nullopt,
                                  Audit(clock_, "delete", key, "no workload annotated prescale.io/enabled is left"));
    if (!deleted.ok() && deleted.status().code() != StatusCode::kNotFound) return fail(deleted.status());
    if (deleted.ok()) ++report.deleted;
  }
  for (const std::string& why : report.skipped) Log(LogLevel::kWarning, "kubernetes discovery skipped " + why);
  std::lock_guard lock(mu_);
  ++runs_ok_;
  services_ = report.created + report.updated + report.unchanged;
  skipped_ = static_cast<int64_t>(report.skipped.size());
  return report;
}

void WorkloadDiscovery::AppendMetrics(std::string* out) const {
  std::lock_guard lock(mu_);
  metrics::TextWriter w(out);
  w.Family("prescale_kubernetes_discovery_services", "Services the last discovery round keeps for annotated workloads",
           metrics::MetricType::kGauge);
  w.Sample("prescale_kubernetes_discovery_services", {}, static_cast<double>(services_));
  w.Family("prescale_kubernetes_discovery_skipped_workloads",
           "Annotated workloads the last discovery round skipped (see the log for why)", metrics::MetricType::kGauge);
  w.Sample("prescale_kubernetes_discovery_skipped_workloads", {}, static_cast<double>(skipped_));
  w.Family("prescale_kubernetes_discovery_runs_total", "Discovery rounds, by result (ok, error)",
           metrics::MetricType::kCounter);
  w.Sample("prescale_kubernetes_discovery_runs_total", {{"result", "error"}}, runs_error_);
  w.Sample("prescale_kubernetes_discovery_runs_total", {{"result", "ok"}}, runs_ok_);
}

}  // namespace prescale::aggregator
