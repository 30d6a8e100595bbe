#include "prescale/decide/allocator.h"

#include <algorithm>
#include <limits>
#include <map>
#include <queue>

namespace prescale::aggregator {
namespace {

constexpr double kUnlimited = std::numeric_limits<double>::infinity();
// Requests are summed in floating point: a replica that fits up to this much
// rounding still fits (0.1 x 10 must fit a quota of 1.0).
constexpr double kEpsilon = 1e-9;

struct Budget {
  double cpu = kUnlimited, memory = kUnlimited, replicas = kUnlimited;
};

class Allocation {
 public:
  explicit Allocation(const AllocationInput& in) : in_(in) {
    result_.grants.resize(in.services.size());
    result_.tenant_use.resize(in.tenants.size());
    tenant_of_.assign(in.services.size(), -1);
    for (size_t t = 0; t < in.tenants.size(); ++t) {
      Budget b;
      const TenantQuotas& q = in.tenants[t].quotas;
      if (q.cpu_cores) b.cpu = *q.cpu_cores;
      if (q.memory_bytes) b.memory = *q.memory_bytes;
      if (q.replicas) b.replicas = static_cast<double>(*q.replicas);
      tenant_left_.push_back(b);
      index_.emplace(in.tenants[t].name, static_cast<int>(t));
    }
    if (in.capacity_cpu_cores > 0) cluster_left_.cpu = in.capacity_cpu_cores;
    if (in.capacity_memory_bytes > 0) cluster_left_.memory = in.capacity_memory_bytes;
    for (size_t s = 0; s < in.services.size(); ++s) {
      auto it = index_.find(in.services[s].tenant);
      if (it != index_.end()) {
        tenant_of_[s] = it->second;
      } else {
        result_.grants[s].limited_by = "unknown tenant";
      }
    }
  }

  int64_t Desired(size_t s) const {
    const AllocationService& v = in_.services[s];
    return std::max(v.desired_replicas, v.min_replicas);
  }

  // Whether one more replica of s fits; otherwise names the first limit it meets.
  bool Fits(size_t s, std::string* limit) const {
    const int t = tenant_of_[s];
    if (t < 0) return false;
    const AllocationService& v = in_.services[s];
    const Budget& q = tenant_left_[static_cast<size_t>(t)];
    if (q.replicas < 1) return *limit = "tenant quota replicas", false;
    if (v.cpu_cores_per_replica > q.cpu + kEpsilon) return *limit = "tenant quota cpu", false;
    if (v.memory_bytes_per_replica > q.memory + kEpsilon) return *limit = "tenant quota memory", false;
    if (v.cpu_cores_per_replica > cluster_left_.cpu + kEpsilon) return *limit = "cluster capacity cpu", false;
    if (v.memory_bytes_per_replica > cluster_left_.memory + kEpsilon) {
      return *limit = "cluster capacity memory", false;
    }
    return true;
  }

  void Grant(size_t s) {
    const AllocationService& v = in_.services[s];
    const auto t = static_cast<size_t>(tenant_of_[s]);
    Budget& q = tenant_left_[t];
    q.replicas -= 1;
    q.cpu -= v.cpu_cores_per_replica;
    q.memory -= v.memory_bytes_per_replica;
    cluster_left_.cpu -= v.cpu_cores_per_replica;
    cluster_left_.memory -= v.memory_bytes_per_replica;
    AllocationResult::TenantUse& use = result_.tenant_use[t];
    use.cpu_cores += v.cpu_cores_per_replica;
    use.memory_bytes += v.memory_bytes_per_replica;
    use.replicas += 1;
    result_.cpu_cores += v.cpu_cores_per_replica;
    result_.memory_bytes += v.memory_bytes_per_replica;
    ++result_.grants[s].replicas;
  }

  // Phase 1: every service's minimum, most important first.
  void Minimums(const std::vector<size_t>& by_priority) {
    for (size_t s : by_priority) {
      while (result_.grants[s].replicas < in_.services[s].min_replicas) {
        if (!Fits(s, &result_.grants[s].limited_by)) break;
        Grant(s);
      }
    }
  }

  // Phase 2 for one priority level: what its services want beyond their
  // minimums, as far as the budgets go.
  void Level(const std::vector<size_t>& services) {
    std::map<int, std::vector<size_t>> by_tenant;
    for (size_t s : services) {
      if (tenant_of_[s] >= 0 && result_.grants[s].replicas < Desired(s) && result_.grants[s].limited_by.empty()) {
        by_tenant[tenant_of_[s]].push_back(s);
      }
    }
    // When the cluster has room for all of it, tenants cannot take from each
    // other: each is filled on its own, at once when its budget has room too.
    // The grants are the ones the shared queue below reaches (but where a
    // budget is met to the last bit of its rounding: the budgets are
    // subtracted in another order), without going through it a replica at a time.
    std::map<int, Budget> want;
    Budget level{0, 0, 0};
    for (const auto& [t, list] : by_tenant) {
      Budget& w = want[t] = Wanted(list);
      level.cpu += w.cpu;
      level.memory += w.memory;
    }
    if (Room(level.cpu, cluster_left_.cpu) && Room(level.memory, cluster_left_.memory)) {
      for (const auto& [t, list] : by_tenant) {
        const Budget& w = want[t];
        const Budget& left = tenant_left_[static_cast<size_t>(t)];
        if (Room(w.cpu, left.cpu) && Room(w.memory, left.memory) && Room(w.replicas, left.replicas)) {
          for (size_t s : list) {
            while (result_.grants[s].replicas < Desired(s)) Grant(s);
          }
        } else {
          Fill({{t, list}});
        }
      }
      return;
    }
    Fill(by_tenant);
  }

  // Progressive filling of the open services of a level: tenants by weighted
  // dominant share of this level's grants, services by how served they are.
  void Fill(const std::map<int, std::vector<size_t>>& by_tenant) {
    // Per tenant, its open services by how served they are (granted / desired, least first).
    using Open = std::pair<double, size_t>;
    struct TenantState {
      double cpu = 0, memory = 0, replicas = 0;  // granted at this level
      std::priority_queue<Open, std::vector<Open>, std::greater<>> open;
    };
    std::map<int, TenantState> state;
    using Entry = std::pair<double, int>;  // (weighted dominant share, tenant)
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> tenants;
    for (auto& [t, list] : by_tenant) {
      for (size_t s : list) state[t].open.emplace(Served(s), s);
      tenants.emplace(0.0, t);
    }
    while (!tenants.empty()) {
      const int t = tenants.top().second;
      tenants.pop();
      TenantState& ts = state[t];
      // The least served service of this tenant that still fits; those that do not fit are done.
      size_t pick = SIZE_MAX;
      while (!ts.open.empty() && pick == SIZE_MAX) {
        const size_t s = ts.open.top().second;
        ts.open.pop();
        if (Fits(s, &result_.grants[s].limited_by)) pick = s;
      }
      if (pick == SIZE_MAX) continue;  // nothing of this tenant fits any more
      Grant(pick);
      if (result_.grants[pick].replicas < Desired(pick)) ts.open.emplace(Served(pick), pick);
      const AllocationService& v = in_.services[pick];
      ts.cpu += v.cpu_cores_per_replica;
      ts.memory += v.memory_bytes_per_replica;
      ts.replicas += 1;
      if (!ts.open.empty()) tenants.emplace(DominantShare(ts.cpu, ts.memory, ts.replicas) / Weight(t), t);
    }
  }

  AllocationResult Finish() {
    for (size_t s = 0; s < in_.services.size(); ++s) {
      AllocationGrant& g = result_.grants[s];
      g.constrained = g.replicas < Desired(s);
      if (!g.constrained) g.limited_by.clear();
    }
    return std::move(result_);
  }

 private:
  // What the services still want beyond their grants.
  Budget Wanted(const std::vector<size_t>& services) const {
    Budget w{0, 0, 0};
    for (size_t s : services) {
      const AllocationService& v = in_.services[s];
      const auto more = static_cast<double>(Desired(s) - result_.grants[s].replicas);
      w.cpu += more * v.cpu_cores_per_replica;
      w.memory += more * v.memory_bytes_per_replica;
      w.replicas += more;
    }
    return w;
  }

  // Whether `need` fits in `left` with room to spare: a margin far above the
  // rounding of the sums (relative, for bytes), so that a replica-at-a-time
  // fill would grant all of it too.
  static bool Room(double need, double left) { return need == 0 || need + 1e-6 + 1e-9 * left <= left; }

  double Served(size_t s) const {
    return static_cast<double>(result_.grants[s].replicas) / static_cast<double>(Desired(s));
  }

  double Weight(int t) const {
    const double w = in_.tenants[static_cast<size_t>(t)].weight;
    return w > 0 ? w : 1;
  }

  // DRF's dominant share over the cluster's resources; replicas when the cluster is unbounded.
  double DominantShare(double cpu, double memory, double replicas) const {
    double share = 0;
    if (in_.capacity_cpu_cores > 0) share = std::max(share, cpu / in_.capacity_cpu_cores);
    if (in_.capacity_memory_bytes > 0) share = std::max(share, memory / in_.capacity_memory_bytes);
    if (in_.capacity_cpu_cores <= 0 && in_.capacity_memory_bytes <= 0) share = replicas;
    return share;
  }

  const AllocationInput& in_;
  AllocationResult result_;
  std::vector<int> tenant_of_;
  std::vector<Budget> tenant_left_;
  std::map<std::string, int> index_;
  Budget cluster_left_;
};

}  // namespace

AllocationResult Allocate(const AllocationInput& input) {
  Allocation a(input);
  std::vector<size_t> order(input.services.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return input.services[x].priority < input.services[y].priority; });
  a.Minimums(order);
  for (auto begin = order.begin(); begin != order.end();) {
    const Priority level = input.services[*begin].priority;
    auto end = std::find_if(begin, order.end(), [&](size_t s) { return input.services[s].priority != level; });
    a.Level(std::vector<size_t>(begin, end));
    begin = end;
  }
  return a.Finish();
}

}  // namespace prescale::aggregator
