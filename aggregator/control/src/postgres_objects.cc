// PostgresStore's objects, their references and page tokens (the same
// tokens, filters and errors as SqliteStore's).

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postgres_internal.h"
#include "rapidjson/document.h"

namespace prescale::aggregator::postgres_internal {
namespace {

constexpr const char* kObjectColumns = "kind, tenant, name, owner, version, spec, created_ms, updated_ms";
// An object's references as one more column of its row (a JSON array of
// [kind, tenant, name] in the order written, or NULL when it has none), so a
// read of one object or a page of them is one statement, not one per object.
constexpr const char* kReferencesColumn =
    "(SELECT json_agg(json_build_array(r.to_kind, r.to_tenant, r.to_name) ORDER BY r.id) FROM refs r "
    "WHERE r.from_kind = o.kind AND r.from_tenant = o.tenant AND r.from_name = o.name)";

Params KeyParams(const ObjectKey& key) {
  Params params;
  params.Add(ObjectKindName(key.kind)).Add(key.tenant).Add(key.name);
  return params;
}

}  // namespace

namespace {

// kReferencesColumn's value into object.references.
Status ReadReferences(const Rows& rows, int row, int column, const std::string& db, StoredObject& object) {
  object.references.clear();
  if (rows.IsNull(row, column)) return Status::Ok();
  const std::string json = rows.Text(row, column);
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsArray()) return Status::IoError(db + ": unreadable references column");
  for (const auto& ref : doc.GetArray()) {
    if (!ref.IsArray() || ref.Size() != 3 || !ref[0].IsString() || !ref[1].IsString() || !ref[2].IsString()) {
      return Status::IoError(db + ": unreadable references column");
    }
    const std::optional<ObjectKind> kind = ParseKind(ref[0].GetString());
    if (!kind) return Status::IoError(db + ": unknown object kind '" + std::string(ref[0].GetString()) + "' in refs");
    object.references.push_back({*kind, ref[1].GetString(), ref[2].GetString()});
  }
  return Status::Ok();
}

// A row of kObjectColumns, and of kReferencesColumn after them when
// with_references.
Result<StoredObject> ReadObject(const Rows& rows, int row, const std::string& db, bool with_references) {
  StoredObject object;
  const std::string kind = rows.Text(row, 0);
  const std::optional<ObjectKind> parsed = ParseKind(kind);
  if (!parsed) return Status::IoError(db + ": unknown object kind '" + kind + "'");
  object.key = {*parsed, rows.Text(row, 1), rows.Text(row, 2)};
  object.owner = rows.Text(row, 3);
  object.version = rows.Int(row, 4);
  object.spec_json = rows.Text(row, 5);
  object.created_ms = rows.Int(row, 6);
  object.updated_ms = rows.Int(row, 7);
  if (with_references) PRESCALE_RETURN_IF_ERROR(ReadReferences(rows, row, 8, db, object));
  return object;
}

}  // namespace

Result<std::optional<StoredObject>> PostgresStore::LoadObject(const ObjectKey& key) {
  PRESCALE_ASSIGN_OR_RETURN(auto rows, Query(std::string("SELECT ") + kObjectColumns + ", " + kReferencesColumn +
                                                 " FROM objects o WHERE kind = $1 AND tenant = $2 AND name = $3",
                                             KeyParams(key), "read " + KeyName(key)));
  if (rows.size() == 0) return std::optional<StoredObject>();
  PRESCALE_ASSIGN_OR_RETURN(auto object, ReadObject(rows, 0, name_, true));
  return std::optional<StoredObject>(std::move(object));
}

Result<bool> PostgresStore::Exists(const ObjectKey& key) {
  PRESCALE_ASSIGN_OR_RETURN(auto rows, Query("SELECT 1 FROM objects WHERE kind = $1 AND tenant = $2 AND name = $3",
                                             KeyParams(key), "read " + KeyName(key)));
  return rows.size() > 0;
}

Result<std::optional<ObjectKey>> PostgresStore::FindReferrer(const ObjectKey& key) {
  PRESCALE_ASSIGN_OR_RETURN(auto rows, Query("SELECT from_kind, from_tenant, from_name FROM refs WHERE to_kind = $1 "
                                             "AND to_tenant = $2 AND to_name = $3 ORDER BY id LIMIT 1",
                                             KeyParams(key), "read the references to " + KeyName(key)));
  if (rows.size() == 0) return std::optional<ObjectKey>();
  const std::string kind = rows.Text(0, 0);
  const std::optional<ObjectKind> parsed = ParseKind(kind);
  if (!parsed) return Status::IoError(name_ + ": unknown object kind '" + kind + "' in refs");
  return std::optional<ObjectKey>(ObjectKey{*parsed, rows.Text(0, 1), rows.Text(0, 2)});
}

Status PostgresStore::WriteObject(const StoredObject& object, const std::optional<StoredObject>& before) {
  const bool existed = before.has_value();
  const std::string doing = "write " + KeyName(object.key);
  const ObjectKey& key = object.key;
  Params params;
  params.Add(object.owner).Add(object.version).Add(object.spec_json).Add(object.created_ms).Add(object.updated_ms);
  params.Add(ObjectKindName(key.kind)).Add(key.tenant).Add(key.name);
  PRESCALE_RETURN_IF_ERROR(Query(existed ? "UPDATE objects SET owner = $1, version = $2, spec = $3, created_ms = $4, "
                                           "updated_ms = $5 WHERE kind = $6 AND tenant = $7 AND name = $8"
                                         : "INSERT INTO objects (owner, version, spec, created_ms, updated_ms, kind, "
                                           "tenant, name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                                 params, doing)
                               .status());
  // Most writes keep the references they had (a service's tenant and
  // policy): their rows stay as they are.
  if (existed && before->references == object.references) return Status::Ok();
  PRESCALE_RETURN_IF_ERROR(
      Query("DELETE FROM refs WHERE from_kind = $1 AND from_tenant = $2 AND from_name = $3", KeyParams(key), doing)
          .status());
  for (const ObjectKey& to : object.references) {
    Params ref = KeyParams(key);
    ref.Add(ObjectKindName(to.kind)).Add(to.tenant).Add(to.name);
    PRESCALE_RETURN_IF_ERROR(Query("INSERT INTO refs (from_kind, from_tenant, from_name, to_kind, to_tenant, to_name) "
                                   "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                                   ref, doing)
                                 .status());
  }
  return Status::Ok();
}

Result<StoredObject> PostgresStore::Get(const ObjectKey& key) {
  return Call(Mode::kStatement, [&]() -> Result<StoredObject> {
    PRESCALE_ASSIGN_OR_RETURN(auto object, LoadObject(key));
    if (!object) return Status::NotFound(KeyName(key) + " not found");
    return std::move(*object);
  });
}

Result<Page<StoredObject>> PostgresStore::List(const ListQuery& query) {
  std::optional<std::pair<std::string, std::string>> after;
  if (!query.page_token.empty()) {
    after = DecodeObjectToken(query.page_token);
    if (!after) return Status::InvalidArgument("invalid page_token");
  }
  std::vector<FilterMember> members;
  for (const FieldFilter& filter : query.filters) {
    std::optional<FilterMember> member = ParseFilterField(filter.field);
    if (!member) {
      return Status::InvalidArgument("filter field '" + filter.field +
                                     "': use a spec member or labels.KEY of letters, digits, '_', '-', '.', '/'");
    }
    members.push_back(std::move(*member));
  }
  if (query.owners && query.owners->empty()) return Page<StoredObject>{};
  const size_t limit = ClampLimit(query.limit);

  Params params;
  // Adds a parameter and returns its placeholder.
  auto bind = [&params](std::string_view value) {
    params.Add(value);
    return "$" + std::to_string(params.size());
  };
  std::string sql = std::string("SELECT ") + kObjectColumns +
                    (query.references ? std::string(", ") + kReferencesColumn : "") +
                    " FROM objects o WHERE kind = " + bind(ObjectKindName(query.kind));
  if (query.tenant) sql += " AND tenant = " + bind(*query.tenant);
  if (query.owners) {
    sql += " AND owner IN (";
    for (size_t i = 0; i < query.owners->size(); ++i) sql += (i == 0 ? "" : ", ") + bind((*query.owners)[i]);
    sql += ")";
  }
  // A JSON string equal to the value, as SQLite's json_extract(...) = ? (a
  // number or boolean member never equals a string).
  for (size_t i = 0; i < members.size(); ++i) {
    sql += members[i].label ? " AND (spec::jsonb -> 'labels' -> " : " AND (spec::jsonb -> ";
    sql += bind(members[i].name) + "::text) = to_jsonb(" + bind(query.filters[i].value) + "::text)";
  }
  if (after) sql += " AND (tenant, name) > (" + bind(after->first) + ", " + bind(after->second) + ")";
  sql += " ORDER BY tenant, name LIMIT " + std::to_string(limit + 1);

  return Call(Mode::kStatement, [&]() -> Result<Page<StoredObject>> {
    Page<StoredObject> page;
    PRESCALE_ASSIGN_OR_RETURN(auto rows, Query(sql, params, "list objects"));
    for (int i = 0; i < rows.size(); ++i) {
      PRESCALE_ASSIGN_OR_RETURN(auto object, ReadObject(rows, i, name_, query.references));
      page.items.push_back(std::move(object));
    }
    if (page.items.size() > limit) {
      page.items.pop_back();
      page.next_page_token = EncodeObjectToken(page.items.back().key);
    }
    return page;
  });
}

Result<StoredObject> PostgresStore::Put(StoredObject object, WriteMode mode, std::optional<int64_t> expected_version,
                                        AuditRecord audit) {
  return Call(Mode::kWrite, [&]() -> Result<StoredObject> {
    const std::string name = KeyName(object.key);
    PRESCALE_ASSIGN_OR_RETURN(auto before, LoadObject(object.key));
    if (mode == WriteMode::kCreate && before) return Status::AlreadyExists(name + " already exists");
    if (mode == WriteMode::kReplace && !before) return Status::NotFound(name + " not found");
    PRESCALE_RETURN_IF_ERROR(CheckVersion(name, before, expected_version));
    for (const ObjectKey& ref : object.references) {
      // What it referenced before exists: nothing referenced can be deleted.
      if (before && std::find(before->references.begin(), before->references.end(), ref) != before->references.end()) {
        continue;
      }
      PRESCALE_ASSIGN_OR_RETURN(auto exists, Exists(ref));
      if (!exists) return Status::FailedPrecondition(name + " references " + KeyName(ref) + ", which does not exist");
    }
    object.version = before ? before->version + 1 : 1;
    object.created_ms = before ? before->created_ms : audit.time_ms;
    object.updated_ms = audit.time_ms;
    PRESCALE_RETURN_IF_ERROR(WriteObject(object, before));
    if (mode == WriteMode::kUpsert) audit.status = before ? 200 : 201;
    audit.before_json = before ? before->spec_json : "null";
    audit.after_json = object.spec_json;
    PRESCALE_RETURN_IF_ERROR(Append(std::move(audit)).status());
    return std::move(object);
  });
}

Result<StoredObject> PostgresStore::Delete(const ObjectKey& key, std::optional<int64_t> expected_version,
                                           AuditRecord audit) {
  return Call(Mode::kWrite, [&]() -> Result<StoredObject> {
    const std::string name = KeyName(key);
    PRESCALE_ASSIGN_OR_RETURN(auto before, LoadObject(key));
    if (!before) return Status::NotFound(name + " not found");
    PRESCALE_RETURN_IF_ERROR(CheckVersion(name, before, expected_version));
    PRESCALE_ASSIGN_OR_RETURN(auto referrer, FindReferrer(key));
    if (referrer)
      return Status::FailedPrecondition("cannot delete " + name + ": " + KeyName(*referrer) + " references it");
    // Its own references go with it (ON DELETE CASCADE).
    PRESCALE_RETURN_IF_ERROR(
        Query("DELETE FROM objects WHERE kind = $1 AND tenant = $2 AND name = $3", KeyParams(key), "delete " + name)
            .status());
    audit.before_json = before->spec_json;
    audit.after_json = "null";
    PRESCALE_RETURN_IF_ERROR(Append(std::move(audit)).status());
    return std::move(*before);
  });
}

Result<std::string> PostgresStore::ObjectsGeneration() {
  // Every Put and Delete appends an audit record in its transaction, from any
  // process sharing the database: the head's seq changes with them (and with
  // other records too, which only costs readers a reload).
  return Call(Mode::kStatement, [&]() -> Result<std::string> {
    PRESCALE_ASSIGN_OR_RETURN(auto rows,
                              Query("SELECT coalesce(max(seq), 0) FROM audit", Params(), "read the audit log's head"));
    return "pg:" + std::to_string(rows.size() > 0 ? rows.Int(0, 0) : 0);
  });
}

}  // namespace prescale::aggregator::postgres_internal
