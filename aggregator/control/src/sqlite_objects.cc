// SqliteStore's objects, their references and page tokens.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sqlite_internal.h"

namespace prescale::aggregator::sqlite_internal {
namespace {

constexpr const char* kObjectColumns = "kind, tenant, name, owner, version, spec, created_ms, updated_ms";

// A filter field as a JSON path, quoted so a label key's dots stay in the name.
std::optional<std::string> FilterPath(const std::string& field) {
  std::optional<FilterMember> member = ParseFilterField(field);
  if (!member) return std::nullopt;
  return (member->label ? "$.labels.\"" : "$.\"") + member->name + "\"";
}

}  // namespace

Result<StoredObject> SqliteStore::ReadObject(const Stmt& stmt) const {
  StoredObject object;
  const std::string kind = stmt.Text(0);
  const std::optional<ObjectKind> parsed = ParseKind(kind);
  if (!parsed) return Status::IoError("sqlite database " + path_ + ": unknown object kind '" + kind + "'");
  object.key = {*parsed, stmt.Text(1), stmt.Text(2)};
  object.owner = stmt.Text(3);
  object.version = stmt.Int(4);
  object.spec_json = stmt.Text(5);
  object.created_ms = stmt.Int(6);
  object.updated_ms = stmt.Int(7);
  return object;
}

Result<std::optional<StoredObject>> SqliteStore::LoadObject(const ObjectKey& key) {
  std::optional<StoredObject> object;
  {
    PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare(std::string("SELECT ") + kObjectColumns +
                                                 " FROM objects WHERE kind = ? AND tenant = ? AND name = ?"));
    stmt.Bind(ObjectKindName(key.kind)).Bind(key.tenant).Bind(key.name);
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read " + KeyName(key)));
    if (!row) return object;
    PRESCALE_ASSIGN_OR_RETURN(auto loaded, ReadObject(stmt));
    object = std::move(loaded);
  }
  PRESCALE_RETURN_IF_ERROR(LoadReferences(*object));
  return object;
}

Status SqliteStore::LoadReferences(StoredObject& object) {
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT to_kind, to_tenant, to_name FROM refs WHERE from_kind = ? AND "
                                               "from_tenant = ? AND from_name = ? ORDER BY rowid"));
  stmt.Bind(ObjectKindName(object.key.kind)).Bind(object.key.tenant).Bind(object.key.name);
  object.references.clear();
  while (true) {
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read the references of " + KeyName(object.key)));
    if (!row) return Status::Ok();
    const std::string kind = stmt.Text(0);
    const std::optional<ObjectKind> parsed = ParseKind(kind);
    if (!parsed) return Status::IoError("sqlite database " + path_ + ": unknown object kind '" + kind + "' in refs");
    object.references.push_back({*parsed, stmt.Text(1), stmt.Text(2)});
  }
}

Result<bool> SqliteStore::Exists(const ObjectKey& key) {
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT 1 FROM objects WHERE kind = ? AND tenant = ? AND name = ?"));
  stmt.Bind(ObjectKindName(key.kind)).Bind(key.tenant).Bind(key.name);
  return Next(stmt, "read " + KeyName(key));
}

Result<std::optional<ObjectKey>> SqliteStore::FindReferrer(const ObjectKey& key) {
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT from_kind, from_tenant, from_name FROM refs WHERE to_kind = ? "
                                               "AND to_tenant = ? AND to_name = ? ORDER BY rowid LIMIT 1"));
  stmt.Bind(ObjectKindName(key.kind)).Bind(key.tenant).Bind(key.name);
  PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read the references to " + KeyName(key)));
  if (!row) return std::optional<ObjectKey>();
  const std::string kind = stmt.Text(0);
  const std::optional<ObjectKind> parsed = ParseKind(kind);
  if (!parsed) return Status::IoError("sqlite database " + path_ + ": unknown object kind '" + kind + "' in refs");
  return std::optional<ObjectKey>(ObjectKey{*parsed, stmt.Text(1), stmt.Text(2)});
}

Status SqliteStore::WriteObject(const StoredObject& object, bool existed) {
  const std::string doing = "write " + KeyName(object.key);
  const ObjectKey& key = object.key;
  {
    PRESCALE_ASSIGN_OR_RETURN(
        auto stmt,
        Prepare(existed ? "UPDATE objects SET owner = ?, version = ?, spec = ?, created_ms = ?, updated_ms = ? "
                          "WHERE kind = ? AND tenant = ? AND name = ?"
                        : "INSERT INTO objects (owner, version, spec, created_ms, updated_ms, kind, tenant, "
                          "name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    stmt.Bind(object.owner).Bind(object.version).Bind(object.spec_json).Bind(object.created_ms);
    stmt.Bind(object.updated_ms).Bind(ObjectKindName(key.kind)).Bind(key.tenant).Bind(key.name);
    PRESCALE_RETURN_IF_ERROR(Run(stmt, doing));
  }
  {
    PRESCALE_ASSIGN_OR_RETURN(auto stmt,
                              Prepare("DELETE FROM refs WHERE from_kind = ? AND from_tenant = ? AND from_name = ?"));
    stmt.Bind(ObjectKindName(key.kind)).Bind(key.tenant).Bind(key.name);
    PRESCALE_RETURN_IF_ERROR(Run(stmt, doing));
  }
  for (const ObjectKey& to : object.references) {
    PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("INSERT OR IGNORE INTO refs (from_kind, from_tenant, from_name, "
                                                 "to_kind, to_tenant, to_name) VALUES (?, ?, ?, ?, ?, ?)"));
    stmt.Bind(ObjectKindName(key.kind)).Bind(key.tenant).Bind(key.name);
    stmt.Bind(ObjectKindName(to.kind)).Bind(to.tenant).Bind(to.name);
    PRESCALE_RETURN_IF_ERROR(Run(stmt, doing));
  }
  return Status::Ok();
}

Result<StoredObject> SqliteStore::Get(const ObjectKey& key) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN", [&]() -> Result<StoredObject> {
    PRESCALE_ASSIGN_OR_RETURN(auto object, LoadObject(key));
    if (!object) return Status::NotFound(KeyName(key) + " not found");
    return std::move(*object);
  });
}

Result<Page<StoredObject>> SqliteStore::List(const ListQuery& query) {
  std::optional<std::pair<std::string, std::string>> after;
  if (!query.page_token.empty()) {
    after = DecodeObjectToken(query.page_token);
    if (!after) return Status::InvalidArgument("invalid page_token");
  }
  std::vector<std::string> paths;
  for (const FieldFilter& filter : query.filters) {
    std::optional<std::string> path = FilterPath(filter.field);
    if (!path) {
      return Status::InvalidArgument("filter field '" + filter.field +
                                     "': use a spec member or labels.KEY of letters, digits, '_', '-', '.', '/'");
    }
    paths.push_back(std::move(*path));
  }
  if (query.owners && query.owners->empty()) return Page<StoredObject>{};
  const size_t limit = ClampLimit(query.limit);

  std::string sql = std::string("SELECT ") + kObjectColumns + " FROM objects WHERE kind = ?";
  if (query.tenant) sql += " AND tenant = ?";
  if (query.owners) {
    sql += " AND owner IN (?";
    for (size_t i = 1; i < query.owners->size(); ++i) sql += ", ?";
    sql += ")";
  }
  for (size_t i = 0; i < paths.size(); ++i) sql += " AND json_extract(spec, ?) = ?";
  if (after) sql += " AND (tenant, name) > (?, ?)";
  sql += " ORDER BY tenant, name LIMIT ?";

  std::lock_guard lock(mu_);
  return InTransaction("BEGIN", [&]() -> Result<Page<StoredObject>> {
    Page<StoredObject> page;
    {
      PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare(sql, false));
      stmt.Bind(ObjectKindName(query.kind));
      if (query.tenant) stmt.Bind(*query.tenant);
      if (query.owners) {
        for (const std::string& owner : *query.owners) stmt.Bind(owner);
      }
      for (size_t i = 0; i < paths.size(); ++i) stmt.Bind(paths[i]).Bind(query.filters[i].value);
      if (after) stmt.Bind(after->first).Bind(after->second);
      stmt.Bind(static_cast<int64_t>(limit + 1));
      while (true) {
        PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "list objects"));
        if (!row) break;
        PRESCALE_ASSIGN_OR_RETURN(auto object, ReadObject(stmt));
        page.items.push_back(std::move(object));
      }
    }
    if (page.items.size() > limit) {
      page.items.pop_back();
      page.next_page_token = EncodeObjectToken(page.items.back().key);
    }
    if (query.references) {
      for (StoredObject& object : page.items) PRESCALE_RETURN_IF_ERROR(LoadReferences(object));
    }
    return page;
  });
}

Result<StoredObject> SqliteStore::Put(StoredObject object, WriteMode mode, std::optional<int64_t> expected_version,
                                      AuditRecord audit) {
  std::lock_guard lock(mu_);
  ++object_writes_;
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Result<StoredObject> {
    const std::string name = KeyName(object.key);
    PRESCALE_ASSIGN_OR_RETURN(auto before, LoadObject(object.key));
    if (mode == WriteMode::kCreate && before) return Status::AlreadyExists(name + " already exists");
    if (mode == WriteMode::kReplace && !before) return Status::NotFound(name + " not found");
    PRESCALE_RETURN_IF_ERROR(CheckVersion(name, before, expected_version));
    for (const ObjectKey& ref : object.references) {
      PRESCALE_ASSIGN_OR_RETURN(auto exists, Exists(ref));
      if (!exists) return Status::FailedPrecondition(name + " references " + KeyName(ref) + ", which does not exist");
    }
    object.version = before ? before->version + 1 : 1;
    object.created_ms = before ? before->created_ms : audit.time_ms;
    object.updated_ms = audit.time_ms;
    PRESCALE_RETURN_IF_ERROR(WriteObject(object, before.has_value()));
    if (mode == WriteMode::kUpsert) audit.status = before ? 200 : 201;
    audit.before_json = before ? before->spec_json : "null";
    audit.after_json = object.spec_json;
    PRESCALE_RETURN_IF_ERROR(Append(std::move(audit)).status());
    return std::move(object);
  });
}

Result<StoredObject> SqliteStore::Delete(const ObjectKey& key, std::optional<int64_t> expected_version,
                                         AuditRecord audit) {
  std::lock_guard lock(mu_);
  ++object_writes_;
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Result<StoredObject> {
    const std::string name = KeyName(key);
    PRESCALE_ASSIGN_OR_RETURN(auto before, LoadObject(key));
    if (!before) return Status::NotFound(name + " not found");
    PRESCALE_RETURN_IF_ERROR(CheckVersion(name, before, expected_version));
    PRESCALE_ASSIGN_OR_RETURN(auto referrer, FindReferrer(key));
    if (referrer)
      return Status::FailedPrecondition("cannot delete " + name + ": " + KeyName(*referrer) + " references it");
    {
      // Its own references go with it (ON DELETE CASCADE).
      PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("DELETE FROM objects WHERE kind = ? AND tenant = ? AND name = ?"));
      stmt.Bind(ObjectKindName(key.kind)).Bind(key.tenant).Bind(key.name);
      PRESCALE_RETURN_IF_ERROR(Run(stmt, "delete " + name));
    }
    audit.before_json = before->spec_json;
    audit.after_json = "null";
    PRESCALE_RETURN_IF_ERROR(Append(std::move(audit)).status());
    return std::move(*before);
  });
}

Result<std::string> SqliteStore::ObjectsGeneration() {
  std::lock_guard lock(mu_);
  // data_version changes when another connection commits; this one's writes are counted.
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("PRAGMA data_version"));
  PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read data_version"));
  return std::to_string(object_writes_) + ":" + (row ? std::to_string(stmt.Int(0)) : "0");
}

}  // namespace prescale::aggregator::sqlite_internal
