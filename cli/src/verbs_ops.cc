// explain, approve, actions, audit [verify], tokens.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "prescale/cli/objects.h"
#include "session.h"

namespace prescale::cli {
namespace {

int64_t IntMember(const rapidjson::Value& o, const char* key, int64_t fallback = 0) {
  const rapidjson::Value* v = Member(o, key);
  return v != nullptr && v->IsInt64() ? v->GetInt64() : fallback;
}

Status PrintItems(Session& s, rapidjson::Document& items, const Table& table) {
  if (s.format == OutputFormat::kTable || s.format == OutputFormat::kName) {
    s.Print(table.Render());
    return Status::Ok();
  }
  rapidjson::Document doc(rapidjson::kObjectType);
  doc.AddMember("items", rapidjson::Value(items, doc.GetAllocator()), doc.GetAllocator());
  s.Print(s.format == OutputFormat::kJson ? PrettyJson(doc) : JsonToYaml(doc));
  return Status::Ok();
}

// Only the newest `limit` items (0: all).
void KeepNewest(rapidjson::Document& items, size_t limit) {
  if (limit == 0 || items.Size() <= limit) return;
  items.Erase(items.Begin(), items.Begin() + (items.Size() - limit));
}

Result<size_t> LimitFlag(const Session& s) {
  const std::string text = s.args.Get("limit");
  if (text.empty()) return size_t{0};
  char* end = nullptr;
  const long long n = std::strtoll(text.c_str(), &end, 10);
  if (*end != '\0' || n < 1)
    return Status::InvalidArgument("--limit " + text + ": expected a whole number >= 1").WithField("--limit");
  return static_cast<size_t>(n);
}

bool IsActionRecord(const rapidjson::Value& r) {
  const std::string action = Cell(r, "action");
  return action == "scale" || action == "recommend" || action.starts_with("scale.");
}

// "1.52 cores", "512Mi", "3 bytes/s".
std::string Amount(double v, const std::string& unit) {
  if (unit == "bytes") return BytesText(v);
  return NumberText(std::round(v * 1000) / 1000) + (unit.empty() ? "" : " " + unit);
}

const rapidjson::Value* FindService(const rapidjson::Value& data, const std::string& service) {
  if (!data.IsArray()) return nullptr;
  for (const auto& d : data.GetArray()) {
    if (Cell(d, "service") == service) return &d;
  }
  return nullptr;
}

}  // namespace

Status ExplainVerb(Session& s) {
  PRESCALE_RETURN_IF_ERROR(CheckFlags(s.args, "explain", {"tenant"}));
  std::string target = s.args.Word(1);
  if (target == "service" || target == "services" || target == "svc") target = s.args.Word(2);
  if (target.empty() || s.args.words.size() > (s.args.Word(1) == target ? 2u : 3u)) {
    return Status::InvalidArgument("explain needs one service: explain TENANT/SERVICE");
  }
  PRESCALE_ASSIGN_OR_RETURN(const ObjectRef ref, ParseObjectRef("service", target, s.args.Get("tenant")));
  PRESCALE_ASSIGN_OR_RETURN(ApiClient * api, s.Api());
  PRESCALE_ASSIGN_OR_RETURN(rapidjson::Document service, api->CallJson("GET", ref.Path()));
  PRESCALE_ASSIGN_OR_RETURN(rapidjson::Document tenant, api->CallJson("GET", "/api/v1/tenants/" + ref.tenant));
  const std::string q = "?tenant=" + QueryEscape(ref.tenant);
  const std::string qs = q + "&service=" + QueryEscape(ref.name);
  PRESCALE_ASSIGN_OR_RETURN(rapidjson::Document decisions, api->CallJson("GET", "/api/v1/decisions" + q));
  PRESCALE_ASSIGN_OR_RETURN(rapidjson::Document series, api->CallJson("GET", "/api/v1/series" + qs));
  PRESCALE_ASSIGN_OR_RETURN(rapidjson::Document forecasts, api->CallJson("GET", "/api/v1/forecasts" + qs));
  const rapidjson::Value* data = Member(decisions, "data");
  const rapidjson::Value* decision = data == nullptr ? nullptr : FindService(*data, ref.name);
  if (s.format == OutputFormat::kJson || s.format == OutputFormat::kYaml) {
    rapidjson::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    doc.AddMember("service", rapidjson::Value(service, a), a);
    doc.AddMember("tenant", rapidjson::Value(tenant, a), a);
    rapidjson::Value d;
    if (decision != nullptr) d.CopyFrom(*decision, a);
    doc.AddMember("decision", d, a);
    rapidjson::Value use;
    if (const rapidjson::Value* sd = Member(series, "data")) use.CopyFrom(*sd, a);
    doc.AddMember("use", use, a);
    rapidjson::Value fc;
    if (const rapidjson::Value* fd = Member(forecasts, "data")) fc.CopyFrom(*fd, a);
    doc.AddMember("forecasts", fc, a);
    s.Print(s.format == OutputFormat::kJson ? PrettyJson(doc) : JsonToYaml(doc));
    return Status::Ok();
  }
  std::string out = ref.Describe() + ": priority " + Cell(service, "priority") + ", policy " +
                    Cell(service, "policy", "(default)") + ", executor " + Cell(service, "executor.type") + " (" +
                    ServiceMode(service) + ")\n";
  auto line = [&out](const std::string& label, const std::string& text) {
    out += "  " + label + std::string(label.size() < 10 ? 10 - label.size() : 1, ' ') + text + "\n";
  };
  // use: the newest point of each demand series (1-minute means over the last hour).
  bool any_use = false;
  if (const rapidjson::Value* sd = Member(series, "data"); sd != nullptr && sd->IsArray()) {
    for (const auto& serie : sd->GetArray()) {
      const rapidjson::Value* points = Member(serie, "points");
      if (points == nullptr || !points->IsArray() || points->Empty()) continue;
      const rapidjson::Value& last = (*points)[points->Size() - 1];
      if (!last.IsArray() || last.Size() < 3 || !last[1].IsNumber() || !last[2].IsNumber()) continue;
      const std::string unit = Cell(serie, "unit", "");
      line(any_use ? "" : "use",
           Cell(serie, "resource") + " " + Amount(last[1].GetDouble(), unit) + " (mean of the minute at " +
               TimeText(last[0].IsNumber() ? static_cast<int64_t>(last[0].GetDouble()) * 1000 : 0) + ", max " +
               Amount(last[2].GetDouble(), unit) + ")");
      any_use = true;
    }
  }
  if (!any_use) line("use", "no demand in the last hour (no samples pushed for this service?)");
  bool any_forecast = false;
  if (const rapidjson::Value* fd = Member(forecasts, "data"); fd != nullptr && fd->IsArray()) {
    for (const auto& f : fd->GetArray()) {
      const std::string unit = Cell(f, "unit", "");
      std::string text = Cell(f, "resource") + " by " + Cell(f, "model") + ":";
      const rapidjson::Value* hs = Member(f, "forecasts");
      if (hs == nullptr || !hs->IsArray()) continue;
      for (const auto& h : hs->GetArray()) {
        const rapidjson::Value* point = Member(h, "point");
        const rapidjson::Value* upper = Member(h, "upper");
        if (point == nullptr || !point->IsNumber() || upper == nullptr || !upper->IsNumber()) continue;
        text += " " + Cell(h, "horizon") + " " + Amount(point->GetDouble(), unit) + " (upper " +
                Amount(upper->GetDouble(), unit) + ")";
      }
      line(any_forecast ? "" : "forecast", text);
      any_forecast = true;
    }
  }
  if (!any_forecast) line("forecast", "none yet (forecasts start once whole minutes of demand are in)");
  if (decision == nullptr) {
    line("decision", "none yet: the decision engine has not evaluated this service (it does every 10 s)");
  } else {
    const rapidjson::Value& d = *decision;
    std::string desired =
        Cell(d, "desired") + " replicas: " + Cell(d, "reason") + " [driver " + Cell(d, "driver") + "]";
    if (const rapidjson::Value* f = Member(d, "forecast"); f != nullptr && f->IsNumber()) {
      desired += ", forecast " + NumberText(std::round(f->GetDouble() * 1000) / 1000);
    }
    line("desired", desired);
  }
  std::string limits = "replicas " + Cell(service, "replicas.min") + ".." + Cell(service, "replicas.max");
  if (const rapidjson::Value* cpu = Member(service, "requests.cpu_cores");
      cpu != nullptr && cpu->IsNumber() && cpu->GetDouble() > 0) {
    const rapidjson::Value* mem = Member(service, "requests.memory_bytes");
    limits += ", requests " + Cell(service, "requests.cpu_cores") + " cores" +
              (mem != nullptr && mem->IsNumber() ? " and " + BytesText(mem->GetDouble()) : "") + " a replica";
  }
  std::string quota;
  if (Member(tenant, "quotas.cpu_cores") != nullptr) quota += " cpu " + Cell(tenant, "quotas.cpu_cores") + " cores";
  if (const rapidjson::Value* m = Member(tenant, "quotas.memory_bytes"); m != nullptr && m->IsNumber()) {
    quota += " memory " + BytesText(m->GetDouble());
  }
  if (Member(tenant, "quotas.replicas") != nullptr) quota += " replicas " + Cell(tenant, "quotas.replicas");
  limits +=
      "; tenant " + ref.tenant + " quota:" + (quota.empty() ? " none" : quota) + ", weight " + Cell(tenant, "weight");
  line("limits", limits);
  if (decision != nullptr) {
    const rapidjson::Value& d = *decision;
    const rapidjson::Value* constrained = Member(d, "constrained");
    const bool cut = constrained != nullptr && constrained->IsBool() && constrained->GetBool();
    const rapidjson::Value* execute = Member(d, "execute");
    const bool executes = execute == nullptr || !execute->IsBool() || execute->GetBool();
    line("granted", Cell(d, "to_replicas") + " replicas (from " + Cell(d, "from_replicas") + ")" +
                        (cut ? ", cut by " + Cell(d, "limited_by") : "") +
                        (executes ? "" : "; recommended only, not executed"));
    const rapidjson::Value* cap = Member(d, "cpu_cap_cores");
    line("cap", cap != nullptr && cap->IsNumber()
                    ? NumberText(std::round(cap->GetDouble() * 1000) / 1000) + " cores of CPU on the nodes (throttled)"
                    : "none (not throttled)");
    if (const rapidjson::Value* hold = Member(d, "hold"); hold != nullptr && hold->IsObject()) {
      line("hold", Cell(*hold, "reason") + " by " + Cell(*hold, "by") + " since " + Cell(*hold, "since") + ": " +
                       Cell(*hold, "message"));
    }
  }
  s.Print(out);
  return Status::Ok();
}

Status ApproveVerb(Session& s) {
  PRESCALE_RETURN_IF_ERROR(CheckFlags(s.args, "approve", {"tenant", "replicas"}));
  std::string target = s.args.Word(1);
  if (target == "service" || target == "services" || target == "svc") target = s.args.Word(2);
  if (target.empty() || s.args.words.size() > (s.args.Word(1) == target ? 2u : 3u)) {
    return Status::InvalidArgument("approve needs one service: approve TENANT/SERVICE --replicas N");
  }
  const std::string text = s.args.Get("replicas");
  char* end = nullptr;
  const long long replicas = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || replicas < 0) {
    return Status::InvalidArgument("--replicas " + text +
                                   ": expected the recommended replicas, a whole number >= 0 (see explain)")
        .WithField("--replicas");
  }
  PRESCALE_ASSIGN_OR_RETURN(const ObjectRef ref, ParseObjectRef("service", target, s.args.Get("tenant")));
  PRESCALE_ASSIGN_OR_RETURN(ApiClient * api, s.Api());
  PRESCALE_ASSIGN_OR_RETURN(rapidjson::Document r, api->CallJson("POST", ref.Path() + "/approve",
                                                                 "{\"replicas\":" + std::to_string(replicas) + "}"));
  if (s.format == OutputFormat::kJson || s.format == OutputFormat::kYaml) {
    s.Print(s.format == OutputFormat::kJson ? PrettyJson(r) : JsonToYaml(r));
  } else if (s.format == OutputFormat::kName) {
    s.Print(Cell(r, "approval_seq") + "\n");
  } else {
    s.Print("approved " + ref.Describe() + ": " + Cell(r, "from_replicas") + " -> " + Cell(r, "replicas") +
            " replicas (audit record " + Cell(r, "approval_seq") +
            "); the leader's next decision acts on it once (see actions)\n");
  }
  return Status::Ok();
}

Status ActionsVerb(Session& s) {
  PRESCALE_RETURN_IF_ERROR(CheckFlags(s.args, "actions", {"tenant", "service", "limit"}));
  if (s.args.words.size() > 1) return Status::InvalidArgument("actions takes no arguments: use -t TENANT --service S");
  const std::string tenant = s.args.Get("tenant"), service = s.args.Get("service");
  if (!service.empty() && tenant.empty())
    return Status::InvalidArgument("--service needs -t TENANT").WithField("--service");
  PRESCALE_ASSIGN_OR_RETURN(const size_t limit, LimitFlag(s));
  PRESCALE_ASSIGN_OR_RETURN(ApiClient * api, s.Api());
  std::string path = "/api/v1/audit?kind=service";
  if (!tenant.empty()) path += "&tenant=" + QueryEscape(tenant);
  PRESCALE_ASSIGN_OR_RETURN(rapidjson::Document all, api->ListAll(path, 1000));
  rapidjson::Document items(rapidjson::kArrayType);
  for (auto& r : all.GetArray()) {
    if (!IsActionRecord(r) || (!service.empty() && Cell(r, "name") != service)) continue;
    items.PushBack(rapidjson::Value(r, items.GetAllocator()), items.GetAllocator());
  }
  KeepNewest(items, limit);
  Table t;
  t.header = {"SEQ", "TIME", "TENANT", "SERVICE", "ACTION", "FROM", "TO", "DRIVER", "STATUS", "MESSAGE"};
  for (const auto& r : items.GetArray()) {
    const rapidjson::Value* after = Member(r, "after");
    const bool decided = Cell(r, "action") == "scale" || Cell(r, "action") == "recommend";
    t.rows.push_back({Cell(r, "seq"), TimeText(IntMember(r, "time_ms")), Cell(r, "tenant"), Cell(r, "name"),
                      Cell(r, "action"), decided ? Cell(r, "before.replicas") : "-",
                      decided && after != nullptr ? Cell(*after, "replicas") : "-",
                      decided && after != nullptr ? Cell(*after, "driver") : "-",
                      IntMember(r, "status") == 0 ? "-" : Cell(r, "status"), Cell(r, "message")});
  }
  if (items.Empty() && s.format == OutputFormat::kTable) {
    s.Note("no actions found\n");
    return Status::Ok();
  }
  return PrintItems(s, items, t);
}

Status AuditVerb(Session& s) {
  PRESCALE_RETURN_IF_ERROR(CheckFlags(s.args, "audit", {"tenant", "kind", "limit", "after"}));
  PRESCALE_ASSIGN_OR_RETURN(ApiClient * api, s.Api());
  if (s.args.Word(1) == "verify") {
    if (s.args.words.size() > 2) return Status::InvalidArgument("audit verify takes no arguments");
    PRESCALE_ASSIGN_OR_RETURN(rapidjson::Document v, api->CallJson("GET", "/api/v1/audit/verify"));
    const rapidjson::Value* ok = Member(v, "ok");
    const bool good = ok != nullptr && ok->IsBool() && ok->GetBool();
    if (s.format == OutputFormat::kJson || s.format == OutputFormat::kYaml) {
      s.Print(s.format == OutputFormat::kJson ? PrettyJson(v) : JsonToYaml(v));
    } else if (good) {
      s.Print("audit log verified: " + Cell(v, "records") + " records, head hash " + Cell(v, "head_hash") + "\n");
    }
    if (!good) {
      return Status::Internal(std::string(kBrokenChain) + ": record " + Cell(v, "first_bad_seq") + ": " +
                              Cell(v, "reason") + " (" + Cell(v, "records") + " records checked)");
    }
    return Status::Ok();
  }
  if (!s.args.Word(1).empty())
    return Status::InvalidArgument("audit: unknown subcommand '" + s.args.Word(1) + "': expected verify or nothing");
  PRESCALE_ASSIGN_OR_RETURN(const size_t limit, LimitFlag(s));
  std::string path = "/api/v1/audit";
  char sep = '?';
  for (const char* flag : {"tenant", "kind", "after"}) {
    const std::string v = s.args.Get(flag);
    if (v.empty()) continue;
    path += sep + std::string(flag) + "=" + QueryEscape(v);
    sep = '&';
  }
  PRESCALE_ASSIGN_OR_RETURN(rapidjson::Document items, api->ListAll(path, 1000));
  KeepNewest(items, limit);
  Table t;
  t.header = {"SEQ", "TIME", "ACTOR", "ROLE", "ACTION", "KIND", "OBJECT", "STATUS", "MESSAGE"};
  for (const auto& r : items.GetArray()) {
    const std::string tenant = Cell(r, "tenant", "");
    const std::string name = Cell(r, "name", "");
    const std::string object = tenant.empty() || tenant == name ? name : tenant + "/" + name;
    t.rows.push_back({Cell(r, "seq"), TimeText(IntMember(r, "time_ms")), Cell(r, "actor"), Cell(r, "actor_role"),
                      Cell(r, "action"), Cell(r, "kind"), object.empty() ? "-" : object,
                      IntMember(r, "status") == 0 ? "-" : Cell(r, "status"), Cell(r, "message")});
  }
  if (items.Empty() && s.format == OutputFormat::kTable) {
    s.Note("no audit records found\n");
    return Status::Ok();
  }
  return PrintItems(s, items, t);
}

Status TokensVerb(Session& s) {
  const std::string sub = s.args.Word(1);
  if (sub == "list" || sub.empty()) {
    PRESCALE_RETURN_IF_ERROR(CheckFlags(s.args, "tokens list", {}));
    PRESCALE_ASSIGN_OR_RETURN(ApiClient * api, s.Api());
    PRESCALE_ASSIGN_OR_RETURN(rapidjson::Document items, api->ListAll("/api/v1/tokens", 1000));
    Table t;
    t.header = {"ID", "NAME", "ROLE", "TENANT", "CREATED", "EXPIRES", "REVOKED"};
    for (const auto& r : items.GetArray()) {
      t.rows.push_back({Cell(r, "id"), Cell(r, "name"), Cell(r, "role"), Cell(r, "tenant"),
                        TimeText(IntMember(r, "created_ms")), TimeText(IntMember(r, "expires_ms")),
                        TimeText(IntMember(r, "revoked_ms"))});
    }
    if (s.format == OutputFormat::kName) {
      for (const auto& r : items.GetArray()) s.Print(Cell(r, "id") + "\n");
      return Status::Ok();
    }
    return PrintItems(s, items, t);
  }
  if (sub == "create") {
    PRESCALE_RETURN_IF_ERROR(CheckFlags(s.args, "tokens create", {"role", "tenant", "expires", "name"}));
    if (s.args.words.size() > 2)
      return Status::InvalidArgument(
          "tokens create takes flags only: --role ROLE [--tenant T] [--expires D] [--name N]");
    if (s.args.Get("role").empty())
      return Status::InvalidArgument("tokens create needs --role ROLE").WithField("--role");
    rapidjson::Document body(rapidjson::kObjectType);
    auto& a = body.GetAllocator();
    for (auto [flag, key] :
         {std::pair{"role", "role"}, {"tenant", "tenant"}, {"expires", "expires_in"}, {"name", "name"}}) {
      const std::string v = s.args.Get(flag);
      if (!v.empty()) body.AddMember(rapidjson::StringRef(key), rapidjson::Value(v.c_str(), a), a);
    }
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    body.Accept(w);
    PRESCALE_ASSIGN_OR_RETURN(ApiClient * api, s.Api());
    PRESCALE_ASSIGN_OR_RETURN(rapidjson::Document t, api->CallJson("POST", "/api/v1/tokens",
                                                                   std::string_view(buf.GetString(), buf.GetSize())));
    if (s.format == OutputFormat::kJson || s.format == OutputFormat::kYaml) {
      s.Print(s.format == OutputFormat::kJson ? PrettyJson(t) : JsonToYaml(t));
    } else {
      s.Print(Cell(t, "token") + "\n");
    }
    const std::string tenant = Cell(t, "tenant", "");
    s.Note("token " + Cell(t, "id") + " (role " + Cell(t, "role") + (tenant.empty() ? "" : ", tenant " + tenant) +
           ") created; the secret is shown only once\n");
    return Status::Ok();
  }
  if (sub == "revoke") {
    PRESCALE_RETURN_IF_ERROR(CheckFlags(s.args, "tokens revoke", {}));
    if (s.args.words.size() < 3)
      return Status::InvalidArgument("tokens revoke needs a token id (tokens list shows them)");
    PRESCALE_ASSIGN_OR_RETURN(ApiClient * api, s.Api());
    for (size_t i = 2; i < s.args.words.size(); ++i) {
      const std::string& id = s.args.words[i];
      PRESCALE_RETURN_IF_ERROR(api->Call("DELETE", "/api/v1/tokens/" + QueryEscape(id)).status());
      s.Print("token " + id + ": revoked\n");
    }
    return Status::Ok();
  }
  return Status::InvalidArgument("tokens: unknown subcommand '" + sub + "': expected list, create or revoke");
}

}  // namespace prescale::cli
