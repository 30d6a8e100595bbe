#include "prescale/sim/scenario.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "prescale/base/numbers.h"
#include "prescale/base/yaml_config.h"
#include "prescale/forecast/forecaster.h"

namespace prescale::sim {
namespace {

using aggregator::Priority;
using std::chrono::milliseconds;

class Parser {
 public:
  explicit Parser(const std::string& file) : r_(file) {}

  Result<Scenario> Run(std::string_view text) {
    auto parsed = r_.Parse(text);
    if (!parsed.ok()) return parsed.status();
    const ConfigNode root = *parsed;
    if (!root.IsMap()) return r_.Error(root, "scenario", "expected a mapping with tenants and services");
    PRESCALE_RETURN_IF_ERROR(
        r_.CheckMap(root, "", {"name", "tick", "warmup", "metric_lag", "cluster", "forecast", "tenants", "services"}));
    Scenario s;
    if (root["name"].IsDefined()) PRESCALE_RETURN_IF_ERROR(Str(root["name"], "name", &s.name));
    if (root["tick"].IsDefined()) PRESCALE_RETURN_IF_ERROR(Dur(root["tick"], "tick", &s.tick, true));
    if (root["warmup"].IsDefined()) PRESCALE_RETURN_IF_ERROR(Dur(root["warmup"], "warmup", &s.warmup, false));
    if (root["metric_lag"].IsDefined())
      PRESCALE_RETURN_IF_ERROR(Dur(root["metric_lag"], "metric_lag", &s.metric_lag, false));
    if (const ConfigNode c = root["cluster"]; c.IsDefined()) {
      PRESCALE_RETURN_IF_ERROR(r_.CheckMap(c, "cluster", {"cpu_cores"}));
      if (c["cpu_cores"].IsDefined())
        PRESCALE_RETURN_IF_ERROR(Num(c["cpu_cores"], "cluster.cpu_cores", 0, 1e9, &s.cluster_cpu_cores));
    }
    if (const ConfigNode f = root["forecast"]; f.IsDefined()) PRESCALE_RETURN_IF_ERROR(Forecast(f, &s.forecast));
    if (!root["tenants"].IsDefined()) return r_.Error(root, "tenants", "required: at least one tenant");
    PRESCALE_RETURN_IF_ERROR(r_.CheckSequence(root["tenants"], "tenants"));
    for (size_t i = 0; i < root["tenants"].size(); ++i) {
      aggregator::AllocationTenant t;
      PRESCALE_RETURN_IF_ERROR(Tenant(root["tenants"][i], IndexPath("tenants", i), &t));
      for (const auto& other : s.tenants) {
        if (other.name == t.name)
          return r_.Error(root["tenants"][i], IndexPath("tenants", i), "duplicate tenant " + t.name);
      }
      s.tenants.push_back(std::move(t));
    }
    if (!root["services"].IsDefined()) return r_.Error(root, "services", "required: at least one service");
    PRESCALE_RETURN_IF_ERROR(r_.CheckSequence(root["services"], "services"));
    if (root["services"].size() == 0) return r_.Error(root["services"], "services", "required: at least one service");
    std::set<std::pair<std::string, std::string>> seen;
    for (size_t i = 0; i < root["services"].size(); ++i) {
      const ConfigNode n = root["services"][i];
      const std::string path = IndexPath("services", i);
      ScenarioService svc;
      PRESCALE_RETURN_IF_ERROR(Service(n, path, s, &svc));
      if (!seen.insert({svc.spec.tenant, svc.spec.name}).second) {
        return r_.Error(n, path, "duplicate service " + svc.spec.tenant + "/" + svc.spec.name);
      }
      s.services.push_back(std::move(svc));
    }
    return s;
  }

 private:
  Status Str(const ConfigNode& n, const std::string& path, std::string* out) {
    auto v = r_.String(n, path);
    if (!v.ok()) return v.status();
    *out = *v;
    return Status::Ok();
  }
  Status Dur(const ConfigNode& n, const std::string& path, milliseconds* out, bool positive) {
    auto d = r_.Duration(n, path);
    if (!d.ok()) return d.status();
    if (d->count() < 0 || (positive && d->count() <= 0)) {
      return r_.Error(n, path, positive ? "must be positive" : "must not be negative");
    }
    *out = *d;
    return Status::Ok();
  }
  Status Num(const ConfigNode& n, const std::string& path, double lo, double hi, double* out) {
    double v = 0;
    if (!n.IsScalar() || !ParseDouble(n.Scalar(), &v) || !std::isfinite(v) || v < lo || v > hi) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "expected a number in [%g, %g]", lo, hi);
      return r_.Error(n, path, buf);
    }
    *out = v;
    return Status::Ok();
  }
  Status Int(const ConfigNode& n, const std::string& path, int64_t lo, int64_t hi, int64_t* out) {
    int64_t v = 0;
    if (!n.IsScalar() || !ParseI64(n.Scalar(), &v) || v < lo || v > hi) {
      return r_.Error(n, path, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    *out = v;
    return Status::Ok();
  }

  Status Forecast(const ConfigNode& f, ScenarioForecast* out) {
    PRESCALE_RETURN_IF_ERROR(r_.CheckMap(f, "forecast", {"model", "horizons", "coverage"}));
    if (f["model"].IsDefined()) PRESCALE_RETURN_IF_ERROR(Model(f["model"], "forecast.model", &out->model));
    if (f["coverage"].IsDefined()) {
      PRESCALE_RETURN_IF_ERROR(Num(f["coverage"], "forecast.coverage", 0.01, 0.99, &out->coverage));
    }
    if (const ConfigNode h = f["horizons"]; h.IsDefined()) {
      PRESCALE_RETURN_IF_ERROR(r_.CheckSequence(h, "forecast.horizons"));
      if (h.size() == 0) return r_.Error(h, "forecast.horizons", "expected at least one horizon");
      out->horizons.clear();
      for (size_t i = 0; i < h.size(); ++i) {
        milliseconds d{0};
        PRESCALE_RETURN_IF_ERROR(Dur(h[i], IndexPath("forecast.horizons", i), &d, true));
        out->horizons.push_back(d);
      }
      std::sort(out->horizons.begin(), out->horizons.end());
    }
    return Status::Ok();
  }

  Status Model(const ConfigNode& n, const std::string& path, std::string* out) {
    PRESCALE_RETURN_IF_ERROR(Str(n, path, out));
    const std::vector<std::string> names = forecast::ModelNames();
    if (std::find(names.begin(), names.end(), *out) == names.end()) {
      return r_.Error(n, path, "unknown model '" + *out + "'");
    }
    return Status::Ok();
  }

  Status Tenant(const ConfigNode& n, const std::string& path, aggregator::AllocationTenant* t) {
    PRESCALE_RETURN_IF_ERROR(r_.CheckMap(n, path, {"name", "weight", "quotas"}));
    if (!n["name"].IsDefined()) return r_.Error(n, JoinPath(path, "name"), "required");
    PRESCALE_RETURN_IF_ERROR(Str(n["name"], JoinPath(path, "name"), &t->name));
    if (!aggregator::IsValidObjectName(t->name)) {
      return r_.Error(n["name"], JoinPath(path, "name"), "expected a DNS label, e.g. team-a");
    }
    if (n["weight"].IsDefined())
      PRESCALE_RETURN_IF_ERROR(Num(n["weight"], JoinPath(path, "weight"), 1e-6, 1e6, &t->weight));
    if (const ConfigNode q = n["quotas"]; q.IsDefined()) {
      const std::string qp = JoinPath(path, "quotas");
      PRESCALE_RETURN_IF_ERROR(r_.CheckMap(q, qp, {"cpu_cores", "memory_bytes", "replicas"}));
      double v = 0;
      if (q["cpu_cores"].IsDefined()) {
        PRESCALE_RETURN_IF_ERROR(Num(q["cpu_cores"], JoinPath(qp, "cpu_cores"), 0, 1e9, &v));
        t->quotas.cpu_cores = v;
      }
      if (q["memory_bytes"].IsDefined()) {
        auto b = r_.ByteSize(q["memory_bytes"], JoinPath(qp, "memory_bytes"));
        if (!b.ok()) return b.status();
        t->quotas.memory_bytes = static_cast<double>(*b);
      }
      if (q["replicas"].IsDefined()) {
        int64_t r = 0;
        PRESCALE_RETURN_IF_ERROR(Int(q["replicas"], JoinPath(qp, "replicas"), 0, 1'000'000, &r));
        t->quotas.replicas = r;
      }
    }
    return Status::Ok();
  }

  Status Service(const ConfigNode& n, const std::string& path, const Scenario& s, ScenarioService* out) {
    PRESCALE_RETURN_IF_ERROR(
        r_.CheckMap(n, path,
                    {"name", "tenant", "priority", "cpu_per_replica", "target_utilization", "min_replicas",
                     "max_replicas", "initial_replicas", "startup_delay", "policy", "demand"}));
    aggregator::Service& spec = out->spec;
    for (const char* key : {"name", "tenant", "cpu_per_replica", "demand"}) {
      if (!n[key].IsDefined()) return r_.Error(n, JoinPath(path, key), "required");
    }
    PRESCALE_RETURN_IF_ERROR(Str(n["name"], JoinPath(path, "name"), &spec.name));
    if (!aggregator::IsValidObjectName(spec.name)) {
      return r_.Error(n["name"], JoinPath(path, "name"), "expected a DNS label, e.g. web");
    }
    PRESCALE_RETURN_IF_ERROR(Str(n["tenant"], JoinPath(path, "tenant"), &spec.tenant));
    if (std::none_of(s.tenants.begin(), s.tenants.end(), [&](const auto& t) { return t.name == spec.tenant; })) {
      return r_.Error(n["tenant"], JoinPath(path, "tenant"), "unknown tenant '" + spec.tenant + "'");
    }
    if (n["priority"].IsDefined())
      PRESCALE_RETURN_IF_ERROR(PriorityOf(n["priority"], JoinPath(path, "priority"), &spec.priority));
    PRESCALE_RETURN_IF_ERROR(
        Num(n["cpu_per_replica"], JoinPath(path, "cpu_per_replica"), 1e-3, 1e6, &spec.request_cpu_cores));
    double target = 0.8;
    if (n["target_utilization"].IsDefined()) {
      PRESCALE_RETURN_IF_ERROR(Num(n["target_utilization"], JoinPath(path, "target_utilization"), 0.01, 1, &target));
    }
    spec.target_utilization["cpu"] = target;
    spec.replicas = {1, 1, 10};
    if (n["min_replicas"].IsDefined()) {
      PRESCALE_RETURN_IF_ERROR(Int(n["min_replicas"], JoinPath(path, "min_replicas"), 0, 100'000, &spec.replicas.min));
    }
    if (n["max_replicas"].IsDefined()) {
      PRESCALE_RETURN_IF_ERROR(Int(n["max_replicas"], JoinPath(path, "max_replicas"), 1, 100'000, &spec.replicas.max));
    }
    if (spec.replicas.max < spec.replicas.min) {
      return r_.Error(n, JoinPath(path, "max_replicas"), "must not be below min_replicas");
    }
    spec.replicas.current = std::max<int64_t>(spec.replicas.min, 1);
    if (n["initial_replicas"].IsDefined()) {
      PRESCALE_RETURN_IF_ERROR(Int(n["initial_replicas"], JoinPath(path, "initial_replicas"), spec.replicas.min,
                                   spec.replicas.max, &spec.replicas.current));
    }
    spec.replicas.current = std::min(spec.replicas.current, spec.replicas.max);
    spec.executor.type = "webhook";  // the engine executes (recommend-only would change nothing)
    if (n["startup_delay"].IsDefined()) {
      PRESCALE_RETURN_IF_ERROR(Dur(n["startup_delay"], JoinPath(path, "startup_delay"), &out->startup_delay, false));
    }
    out->policy.name = spec.tenant + "-" + spec.name;
    out->policy.tenant = spec.tenant;
    out->policy.forecaster = s.forecast.model;
    if (n["policy"].IsDefined()) PRESCALE_RETURN_IF_ERROR(Policy(n["policy"], JoinPath(path, "policy"), &out->policy));
    spec.policy = out->policy.name;
    return Demand(n["demand"], JoinPath(path, "demand"), &out->demand);
  }

  Status PriorityOf(const ConfigNode& n, const std::string& path, Priority* out) {
    std::string v;
    PRESCALE_RETURN_IF_ERROR(Str(n, path, &v));
    for (Priority p :
         {Priority::kCritical, Priority::kHigh, Priority::kNormal, Priority::kLow, Priority::kBestEffort}) {
      if (aggregator::PriorityName(p) == v) {
        *out = p;
        return Status::Ok();
      }
    }
    return r_.Error(n, path, "expected critical, high, normal, low or best-effort, got '" + v + "'");
  }

  Status Policy(const ConfigNode& n, const std::string& path, aggregator::Policy* p) {
    PRESCALE_RETURN_IF_ERROR(
        r_.CheckMap(n, path, {"mode", "horizon", "forecaster", "behavior", "cooldown_up", "cooldown_down"}));
    if (const ConfigNode m = n["mode"]; m.IsDefined()) {
      std::string v;
      PRESCALE_RETURN_IF_ERROR(Str(m, JoinPath(path, "mode"), &v));
      if (v == "predictive") {
        p->mode = aggregator::PolicyMode::kPredictive;
      } else if (v == "reactive") {
        p->mode = aggregator::PolicyMode::kReactive;
      } else {
        return r_.Error(m, JoinPath(path, "mode"), "expected predictive or reactive, got '" + v + "'");
      }
    }
    if (n["horizon"].IsDefined()) {
      milliseconds h{0};
      PRESCALE_RETURN_IF_ERROR(Dur(n["horizon"], JoinPath(path, "horizon"), &h, true));
      p->horizon_seconds = std::max<int64_t>(1, h.count() / 1000);
    }
    if (n["forecaster"].IsDefined())
      PRESCALE_RETURN_IF_ERROR(Model(n["forecaster"], JoinPath(path, "forecaster"), &p->forecaster));
    for (auto [key, field] :
         {std::pair{"cooldown_up", &p->cooldown_up_seconds}, {"cooldown_down", &p->cooldown_down_seconds}}) {
      if (!n[key].IsDefined()) continue;
      milliseconds d{0};
      PRESCALE_RETURN_IF_ERROR(Dur(n[key], JoinPath(path, key), &d, false));
      *field = d.count() / 1000;
    }
    if (const ConfigNode b = n["behavior"]; b.IsDefined()) {
      const std::string bp = JoinPath(path, "behavior");
      PRESCALE_RETURN_IF_ERROR(r_.CheckMap(b, bp, {"scaleUp", "scaleDown"}));
      if (b["scaleUp"].IsDefined())
        PRESCALE_RETURN_IF_ERROR(Rules(b["scaleUp"], JoinPath(bp, "scaleUp"), &p->scale_up));
      if (b["scaleDown"].IsDefined())
        PRESCALE_RETURN_IF_ERROR(Rules(b["scaleDown"], JoinPath(bp, "scaleDown"), &p->scale_down));
    }
    return Status::Ok();
  }

  // HPA's HPAScalingRules, with its JSON names.
  Status Rules(const ConfigNode& n, const std::string& path, aggregator::HpaScalingRules* rules) {
    PRESCALE_RETURN_IF_ERROR(r_.CheckMap(n, path, {"stabilizationWindowSeconds", "selectPolicy", "policies"}));
    if (n["stabilizationWindowSeconds"].IsDefined()) {
      int64_t v = 0;
      PRESCALE_RETURN_IF_ERROR(
          Int(n["stabilizationWindowSeconds"], JoinPath(path, "stabilizationWindowSeconds"), 0, 3600, &v));
      rules->stabilization_window_seconds = v;
    }
    if (const ConfigNode sp = n["selectPolicy"]; sp.IsDefined()) {
      PRESCALE_RETURN_IF_ERROR(Str(sp, JoinPath(path, "selectPolicy"), &rules->select_policy));
      if (rules->select_policy != "Max" && rules->select_policy != "Min" && rules->select_policy != "Disabled") {
        return r_.Error(sp, JoinPath(path, "selectPolicy"), "expected Max, Min or Disabled");
      }
    }
    if (const ConfigNode ps = n["policies"]; ps.IsDefined()) {
      const std::string pp = JoinPath(path, "policies");
      PRESCALE_RETURN_IF_ERROR(r_.CheckSequence(ps, pp));
      for (size_t i = 0; i < ps.size(); ++i) {
        const std::string ip = IndexPath(pp, i);
        PRESCALE_RETURN_IF_ERROR(r_.CheckMap(ps[i], ip, {"type", "value", "periodSeconds"}));
        aggregator::HpaScalingPolicy policy;
        if (!ps[i]["type"].IsDefined() || !ps[i]["value"].IsDefined())
          return r_.Error(ps[i], ip, "type and value are required");
        PRESCALE_RETURN_IF_ERROR(Str(ps[i]["type"], JoinPath(ip, "type"), &policy.type));
        if (policy.type != "Pods" && policy.type != "Percent") {
          return r_.Error(ps[i]["type"], JoinPath(ip, "type"), "expected Pods or Percent");
        }
        PRESCALE_RETURN_IF_ERROR(Int(ps[i]["value"], JoinPath(ip, "value"), 1, 100'000, &policy.value));
        if (ps[i]["periodSeconds"].IsDefined()) {
          PRESCALE_RETURN_IF_ERROR(
              Int(ps[i]["periodSeconds"], JoinPath(ip, "periodSeconds"), 1, 1800, &policy.period_seconds));
        }
        rules->policies.push_back(policy);
      }
    }
    return Status::Ok();
  }

  Status Demand(const ConfigNode& n, const std::string& path, DemandSource* d) {
    PRESCALE_RETURN_IF_ERROR(
        r_.CheckMap(n, path, {"file", "column", "scale", "row_interval", "step", "replay_step", "start", "duration"}));
    if (!n["file"].IsDefined()) return r_.Error(n, JoinPath(path, "file"), "required: a CSV trace");
    PRESCALE_RETURN_IF_ERROR(Str(n["file"], JoinPath(path, "file"), &d->file));
    if (d->file.empty()) return r_.Error(n["file"], JoinPath(path, "file"), "must not be empty");
    if (n["column"].IsDefined()) PRESCALE_RETURN_IF_ERROR(Str(n["column"], JoinPath(path, "column"), &d->column));
    if (n["scale"].IsDefined()) PRESCALE_RETURN_IF_ERROR(Num(n["scale"], JoinPath(path, "scale"), 0, 1e12, &d->scale));
    if (n["row_interval"].IsDefined()) {
      PRESCALE_RETURN_IF_ERROR(Dur(n["row_interval"], JoinPath(path, "row_interval"), &d->row_interval, true));
    }
    if (n["step"].IsDefined()) PRESCALE_RETURN_IF_ERROR(Dur(n["step"], JoinPath(path, "step"), &d->step, true));
    if (n["replay_step"].IsDefined()) {
      PRESCALE_RETURN_IF_ERROR(Dur(n["replay_step"], JoinPath(path, "replay_step"), &d->replay_step, true));
      if (d->replay_step.count() % 1000 != 0) {
        return r_.Error(n["replay_step"], JoinPath(path, "replay_step"), "must be whole seconds");
      }
    }
    if (n["start"].IsDefined()) PRESCALE_RETURN_IF_ERROR(Dur(n["start"], JoinPath(path, "start"), &d->start, false));
    if (n["duration"].IsDefined())
      PRESCALE_RETURN_IF_ERROR(Dur(n["duration"], JoinPath(path, "duration"), &d->duration, true));
    return Status::Ok();
  }

  YamlConfigReader r_;
};

}  // namespace

Result<Scenario> ParseScenario(std::string_view yaml_text, const std::string& file_name) {
  return Parser(file_name).Run(yaml_text);
}

Result<Scenario> LoadScenario(const std::string& path) {
  auto text = ReadConfigFile(path);
  if (!text.ok()) return text.status();
  return ParseScenario(*text, path);
}

}  // namespace prescale::sim
