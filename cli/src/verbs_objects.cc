// get, apply -f, edit, delete.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "prescale/base/yaml_config.h"
#include "prescale/cli/objects.h"
#include "session.h"

namespace prescale::cli {
namespace {

using aggregator::Manifest;
using aggregator::ManifestEntry;

const char* ListKey(ManifestKind kind) {
  switch (kind) {
    case ManifestKind::kTenant: return "tenants";
    case ManifestKind::kService: return "services";
    case ManifestKind::kPolicy: return "policies";
  }
  return "";
}

std::string Labels(const rapidjson::Value& o) {
  const rapidjson::Value* labels = Member(o, "labels");
  if (labels == nullptr || !labels->IsObject() || labels->MemberCount() == 0) return "-";
  std::string out;
  for (const auto& m : labels->GetObject()) {
    if (!out.empty()) out += ",";
    out += std::string(m.name.GetString()) + "=" + (m.value.IsString() ? m.value.GetString() : "?");
  }
  return out;
}

std::string BytesCell(const rapidjson::Value& o, std::string_view member) {
  const rapidjson::Value* v = Member(o, member);
  if (v == nullptr || !v->IsNumber()) return "-";
  return BytesText(v->GetDouble());
}

Table ObjectTable(ManifestKind kind, const rapidjson::Value& items) {
  Table t;
  switch (kind) {
    case ManifestKind::kTenant:
      t.header = {"NAME", "WEIGHT", "CPU QUOTA", "MEMORY QUOTA", "REPLICA QUOTA", "LABELS", "VERSION", "UPDATED"};
      for (const auto& o : items.GetArray()) {
        t.rows.push_back({Cell(o, "name"), Cell(o, "weight"), Cell(o, "quotas.cpu_cores"),
                          BytesCell(o, "quotas.memory_bytes"), Cell(o, "quotas.replicas"), Labels(o),
                          Cell(o, "version"), Cell(o, "updated_at")});
      }
      break;
    case ManifestKind::kService:
      t.header = {"TENANT", "NAME", "PRIORITY", "REPLICAS", "MIN", "MAX", "POLICY", "EXECUTOR", "MODE", "VERSION"};
      for (const auto& o : items.GetArray()) {
        t.rows.push_back({Cell(o, "tenant"), Cell(o, "name"), Cell(o, "priority"), Cell(o, "replicas.current"),
                          Cell(o, "replicas.min"), Cell(o, "replicas.max"), Cell(o, "policy"), Cell(o, "executor.type"),
                          ServiceMode(o), Cell(o, "version")});
      }
      break;
    case ManifestKind::kPolicy:
      t.header = {"NAME", "TENANT", "MODE", "FORECASTER", "HORIZON", "VERSION"};
      for (const auto& o : items.GetArray()) {
        t.rows.push_back({Cell(o, "name"), Cell(o, "tenant", "(global)"), Cell(o, "mode"), Cell(o, "forecaster"),
                          Cell(o, "horizon"), Cell(o, "version")});
      }
      break;
  }
  return t;
}

std::string NameOf(ManifestKind kind, const rapidjson::Value& o) {
  return kind == ManifestKind::kService ? Cell(o, "tenant") + "/" + Cell(o, "name") : Cell(o, "name");
}

// The list's query: -l KEY=VALUE as the API's label filter.
Result<std::string> ListQuery(const Session& s) {
  const std::string selector = s.args.Get("selector");
  if (selector.empty()) return std::string();
  if (selector.find('=') == std::string::npos || selector.front() == '=') {
    return Status::InvalidArgument("-l " + selector + ": expected KEY=VALUE").WithField("-l");
  }
  return "?label=" + QueryEscape(selector);
}

Status PrintObjects(Session& s, ManifestKind kind, rapidjson::Document& items, bool single) {
  switch (s.format) {
    case OutputFormat::kTable: s.Print(ObjectTable(kind, items).Render()); break;
    case OutputFormat::kName:
      for (const auto& o : items.GetArray()) s.Print(NameOf(kind, o) + "\n");
      break;
    case OutputFormat::kJson:
    case OutputFormat::kYaml: {
      // One object as it is; a list as a manifest (`tenants: [...]`), which apply -f takes back.
      rapidjson::Document doc;
      if (single && items.Size() == 1) {
        doc.CopyFrom(items[0], doc.GetAllocator());
      } else {
        doc.SetObject();
        doc.AddMember(rapidjson::StringRef(ListKey(kind)), rapidjson::Value(items, doc.GetAllocator()),
                      doc.GetAllocator());
      }
      s.Print(s.format == OutputFormat::kJson ? PrettyJson(doc) : JsonToYaml(doc));
      break;
    }
  }
  return Status::Ok();
}

// A manifest's text: a file or '-' (standard input).
Result<std::string> ReadManifestText(const Session& s, const std::string& file) {
  if (file != "-") return ReadConfigFile(file);
  std::string text;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, s.io.in)) > 0) text.append(buf, n);
  return text;
}

// The object at ref.Path(): its canonical form and version; nullopt when it does not exist.
struct Stored {
  CanonicalObject canonical;
  int64_t version = 0;
};
Result<std::optional<Stored>> ReadStored(ApiClient* api, const ObjectRef& ref) {
  auto body = api->Call("GET", ref.Path());
  if (!body.ok()) {
    if (body.status().code() == StatusCode::kNotFound) return std::optional<Stored>();
    return body.status();
  }
  auto c = Canonicalize(ref.kind, *body);
  if (!c.ok())
    return Status::Internal("GET " + ref.Path() + ": the aggregator's answer does not parse: " + c.status().message());
  Stored stored{std::move(*c), 0};
  stored.version = stored.canonical.version.value_or(0);
  return std::optional<Stored>(std::move(stored));
}

int64_t VersionOf(std::string_view body) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("version") || !d["version"].IsInt64()) return 0;
  return d["version"].GetInt64();
}

}  // namespace

Status GetVerb(Session& s) {
  PRESCALE_RETURN_IF_ERROR(CheckFlags(s.args, "get", {"tenant", "selector"}));
  const std::string word = s.args.Word(1);
  if (word.empty()) return Status::InvalidArgument("get needs a resource: tenants, services or policies");
  const auto kind = ParseKindWord(word);
  if (!kind)
    return Status::InvalidArgument("get: unknown resource '" + word + "': expected tenants, services or policies");
  PRESCALE_ASSIGN_OR_RETURN(ApiClient * api, s.Api());
  const std::string tenant = s.args.Get("tenant");
  if (!tenant.empty() && *kind != ManifestKind::kService) {
    return Status::InvalidArgument("-t selects services' tenant; get tenant " + tenant + " reads the tenant")
        .WithField("-t");
  }
  rapidjson::Document items(rapidjson::kArrayType);
  const bool named = s.args.words.size() > 2;
  if (named) {
    for (size_t i = 2; i < s.args.words.size(); ++i) {
      PRESCALE_ASSIGN_OR_RETURN(const ObjectRef ref, ParseObjectRef(word, s.args.words[i], tenant));
      PRESCALE_ASSIGN_OR_RETURN(rapidjson::Document o, api->CallJson("GET", ref.Path()));
      items.PushBack(rapidjson::Value(o, items.GetAllocator()), items.GetAllocator());
    }
    return PrintObjects(s, *kind, items, s.args.words.size() == 3);
  }
  PRESCALE_ASSIGN_OR_RETURN(const std::string query, ListQuery(s));
  if (*kind == ManifestKind::kTenant) {
    PRESCALE_ASSIGN_OR_RETURN(items, api->ListAll("/api/v1/tenants" + query));
  } else if (*kind == ManifestKind::kPolicy) {
    PRESCALE_ASSIGN_OR_RETURN(items, api->ListAll("/api/v1/policies" + query));
  } else {
    std::vector<std::string> tenants;
    if (!tenant.empty()) {
      PRESCALE_ASSIGN_OR_RETURN(const ObjectRef t, ParseObjectRef("tenant", tenant, ""));
      tenants.push_back(t.name);
    } else {
      PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Document all, api->ListAll("/api/v1/tenants"));
      for (const auto& t : all.GetArray()) tenants.push_back(Cell(t, "name"));
    }
    for (const std::string& t : tenants) {
      PRESCALE_ASSIGN_OR_RETURN(rapidjson::Document page, api->ListAll("/api/v1/tenants/" + t + "/services" + query));
      for (auto& o : page.GetArray()) items.PushBack(rapidjson::Value(o, items.GetAllocator()), items.GetAllocator());
    }
  }
  if (items.Empty() && s.format == OutputFormat::kTable) {
    s.Note("no " + std::string(ListKey(*kind)) + " found\n");
    return Status::Ok();
  }
  return PrintObjects(s, *kind, items, false);
}

Status ApplyVerb(Session& s) {
  PRESCALE_RETURN_IF_ERROR(CheckFlags(s.args, "apply", {"filename", "dry-run"}));
  if (s.args.words.size() > 1) return Status::InvalidArgument("apply takes no arguments but -f FILE");
  const std::string file = s.args.Get("filename");
  if (file.empty()) return Status::InvalidArgument("apply needs -f FILE (or -f - for standard input)");
  PRESCALE_ASSIGN_OR_RETURN(const std::string text, ReadManifestText(s, file));
  const std::string name = file == "-" ? "<stdin>" : file;
  auto manifest = Manifest::Read(text, name, false);
  if (!manifest.ok()) return Status::Unprocessable(manifest.status().message());
  if (manifest->entries().empty()) {
    return Status::Unprocessable(name + ": lists no tenants:, policies: or services: to apply");
  }
  // Everything is checked before anything is written, as the aggregator's apply does.
  std::vector<CanonicalObject> objects;
  for (const ManifestEntry& e : manifest->entries()) {
    if (e.kind == ManifestKind::kService && e.tenant.empty()) {
      return Status::Unprocessable(
          manifest->Error(e, Status::ForField(StatusCode::kUnprocessable, "tenant", "is required")).message());
    }
    auto c = Canonicalize(e.kind, e.json);
    if (!c.ok()) return Status::Unprocessable(manifest->Error(e, c.status()).message());
    objects.push_back(std::move(*c));
  }
  PRESCALE_ASSIGN_OR_RETURN(ApiClient * api, s.Api());
  const bool dry = s.args.Has("dry-run");
  int created = 0, changed = 0, unchanged = 0;
  auto summary = [&] {
    return std::to_string(created) + " created, " + std::to_string(changed) + " changed, " + std::to_string(unchanged) +
           " unchanged" + (dry ? " (dry run: nothing was written)" : "") + "\n";
  };
  for (const CanonicalObject& o : objects) {
    const std::string what = o.ref.Describe();
    auto stored = ReadStored(api, o.ref);
    if (!stored.ok()) {
      s.Print(summary());
      return stored.status();
    }
    if (stored->has_value() && (*stored)->canonical.spec_json == o.spec_json) {
      ++unchanged;
      s.Print(what + ": unchanged\n");
      continue;
    }
    PRESCALE_ASSIGN_OR_RETURN(const std::string diff,
                              DiffJson(stored->has_value() ? (*stored)->canonical.spec_json : "", o.spec_json));
    if (dry) {
      s.Print(what +
              (stored->has_value() ? ": would change (version " + std::to_string((*stored)->version) + ")\n"
                                   : ": would be created\n") +
              diff);
      ++(stored->has_value() ? changed : created);
      continue;
    }
    Result<std::string> put = stored->has_value()
                                  ? api->Call("PUT", o.ref.Path(), WithVersion(o.spec_json, (*stored)->version))
                                  : api->Call("POST", o.ref.CollectionPath(), o.spec_json);
    if (!put.ok()) {
      s.Print(summary());
      if (put.status().code() == StatusCode::kConflict) {
        return Status::Conflict(put.status().message() + "\n" + what +
                                " was changed by someone else since it was read; run apply again");
      }
      return put.status();
    }
    if (stored->has_value()) {
      ++changed;
      s.Print(what + ": changed (version " + std::to_string((*stored)->version) + " -> " +
              std::to_string(VersionOf(*put)) + ")\n" + diff);
    } else {
      ++created;
      s.Print(what + ": created\n" + diff);
    }
  }
  s.Print(summary());
  return Status::Ok();
}

namespace {

// Runs `editor` on `file` through /bin/sh (so EDITOR may carry arguments); its exit status.
Result<int> RunEditor(const std::string& editor, const std::string& file) {
  const pid_t pid = ::fork();
  if (pid < 0) return Status::IoError(std::string("cannot start the editor: ") + std::strerror(errno));
  if (pid == 0) {
    const std::string script = editor + " \"$1\"";
    ::execl("/bin/sh", "sh", "-c", script.c_str(), "prescalectl-edit", file.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::IoError(std::string("waiting for the editor: ") + std::strerror(errno));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool OnlyComments(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    const size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && line[first] != '#') return false;
    pos = end + 1;
  }
  return true;
}

}  // namespace

Status EditVerb(Session& s) {
  PRESCALE_RETURN_IF_ERROR(CheckFlags(s.args, "edit", {"tenant"}));
  if (s.args.words.size() != 3)
    return Status::InvalidArgument("edit needs one object: edit tenant|service|policy NAME");
  PRESCALE_ASSIGN_OR_RETURN(const ObjectRef ref, ParseObjectRef(s.args.Word(1), s.args.Word(2), s.args.Get("tenant")));
  PRESCALE_ASSIGN_OR_RETURN(ApiClient * api, s.Api());
  PRESCALE_ASSIGN_OR_RETURN(const std::string body, api->Call("GET", ref.Path()));
  PRESCALE_ASSIGN_OR_RETURN(const CanonicalObject original, Canonicalize(ref.kind, body));
  const int64_t version = original.version.value_or(0);
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Document doc, ParseJson(body, "GET " + ref.Path()));
  const std::string text = "# Edit " + ref.Describe() + " (version " + std::to_string(version) +
                           ") and save. An empty file cancels.\n"
                           "# It is written with the version read: if it changed since, nothing is written.\n" +
                           JsonToYaml(doc);
  std::string path = s.env.tmpdir + "/prescalectl-edit-XXXXXX.yaml";
  const int fd = ::mkstemps(path.data(), 5);
  if (fd < 0) return Status::IoError(path + ": cannot make a temporary file: " + std::strerror(errno));
  const bool wrote = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!wrote) return Status::IoError(path + ": cannot write");
  const std::string editor = s.env.editor.empty() ? "vi" : s.env.editor;
  PRESCALE_ASSIGN_OR_RETURN(const int exit_status, RunEditor(editor, path));
  auto keep = [&](const Status& st) {
    return Status(st.code(), st.message() + "\nyour edit is kept in " + path).WithField(st.field());
  };
  if (exit_status != 0) {
    return keep(Status::IoError("the editor (" + editor + ") exited with status " + std::to_string(exit_status) +
                                "; nothing was written"));
  }
  auto edited = ReadConfigFile(path);
  if (!edited.ok()) return keep(edited.status());
  if (*edited == text || OnlyComments(*edited)) {
    ::unlink(path.c_str());
    s.Print("edit cancelled: no changes\n");
    return Status::Ok();
  }
  YamlConfigReader reader(path);
  auto node = reader.Parse(*edited);
  if (!node.ok()) return keep(Status::Unprocessable(node.status().message()));
  auto c = Canonicalize(ref.kind, aggregator::ConfigNodeJson(*node));
  if (!c.ok()) {
    return keep(Status(StatusCode::kUnprocessable, aggregator::ObjectError(reader, *node, "", c.status()).message())
                    .WithField(c.status().field()));
  }
  if (c->ref.name != ref.name || c->ref.tenant != ref.tenant) {
    return keep(
        Status::ForField(StatusCode::kUnprocessable, "name",
                         "an edit cannot rename " + ref.Describe() + "; apply a new object and delete this one"));
  }
  if (c->spec_json == original.spec_json) {
    ::unlink(path.c_str());
    s.Print(ref.Describe() + ": unchanged\n");
    return Status::Ok();
  }
  PRESCALE_ASSIGN_OR_RETURN(const std::string diff, DiffJson(original.spec_json, c->spec_json));
  auto put = api->Call("PUT", ref.Path(), WithVersion(c->spec_json, version));
  if (!put.ok()) {
    if (put.status().code() == StatusCode::kConflict) {
      return keep(Status::Conflict(ref.Describe() + " was changed by someone else since you read it (version " +
                                   std::to_string(version) + "); run 'prescalectl edit' again"));
    }
    return keep(put.status());
  }
  ::unlink(path.c_str());
  s.Print(ref.Describe() + ": edited (version " + std::to_string(version) + " -> " + std::to_string(VersionOf(*put)) +
          ")\n" + diff);
  return Status::Ok();
}

Status DeleteVerb(Session& s) {
  PRESCALE_RETURN_IF_ERROR(CheckFlags(s.args, "delete", {"tenant"}));
  if (s.args.words.size() < 3) return Status::InvalidArgument("delete needs: delete tenant|service|policy NAME...");
  std::vector<ObjectRef> refs;
  for (size_t i = 2; i < s.args.words.size(); ++i) {
    PRESCALE_ASSIGN_OR_RETURN(ObjectRef ref, ParseObjectRef(s.args.Word(1), s.args.words[i], s.args.Get("tenant")));
    refs.push_back(std::move(ref));
  }
  PRESCALE_ASSIGN_OR_RETURN(ApiClient * api, s.Api());
  for (const ObjectRef& ref : refs) {
    PRESCALE_RETURN_IF_ERROR(api->Call("DELETE", ref.Path()).status());
    s.Print(ref.Describe() + ": deleted\n");
  }
  return Status::Ok();
}

}  // namespace prescale::cli
