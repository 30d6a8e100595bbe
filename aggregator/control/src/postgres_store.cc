#include "prescale/aggregator/control/postgres_store.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "postgres_internal.h"

namespace prescale::aggregator {
namespace postgres_internal {
namespace {

// libpq's messages end in newlines and may span lines ("...failed\n\tIs the
// server running...?"): one line for a Status.
std::string OneLine(const char* text) {
  std::string out = text != nullptr ? text : "";
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\t', ' ');
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out.empty() ? "unknown error" : out;
}

// SQLSTATEs that pass by themselves: the connection (class 08), the server
// shutting down or starting (57P01-57P03), out of disk or memory (class 53),
// and a writer that lost a race or waited too long (40001, 40P01, 55P03,
// 57014 statement timeout). Retryable, as SQLite's BUSY and FULL are.
bool IsTransient(std::string_view state) {
  return state.starts_with("08") || state.starts_with("53") || state == "57P01" || state == "57P02" ||
         state == "57P03" || state == "40001" || state == "40P01" || state == "55P03" || state == "57014";
}

// The database as messages name it: host:port/dbname, never the password.
std::string DescribeUrl(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  PQfreemem(error);
  std::string host, port, dbname, user;
  for (PQconninfoOption* o = options; o != nullptr && o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    if (key == "host" || (key == "hostaddr" && host.empty())) host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
    if (key == "user") user = o->val;
  }
  PQconninfoFree(options);
  if (host.empty()) host = "localhost";
  if (port.empty()) port = "5432";
  if (dbname.empty()) dbname = user;
  return "postgres database " + host + ":" + port + "/" + dbname;
}

void IgnoreNotice(void* /*arg*/, const char* /*message*/) {}

// libpq's complaints about a URL may quote it: the password never shows.
std::string WithoutPassword(std::string message, std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return message;
  std::string_view authority = url.substr(scheme + 3);
  authority = authority.substr(0, authority.find_first_of("/?"));
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return message;
  const std::string_view userinfo = authority.substr(0, at);
  const size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos || colon + 1 == userinfo.size()) return message;
  const std::string password(userinfo.substr(colon + 1));
  for (size_t pos = message.find(password); pos != std::string::npos; pos = message.find(password, pos + 4)) {
    message.replace(pos, password.size(), "****");
  }
  return message;
}

}  // namespace

int64_t Rows::affected() const {
  const char* n = PQcmdTuples(result_.get());
  int64_t value = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), value);
  return value;
}

int64_t Rows::Int(int row, int column) const {
  const char* text = PQgetvalue(result_.get(), row, column);
  const int size = PQgetlength(result_.get(), row, column);
  int64_t value = 0;
  std::from_chars(text, text + size, value);  // BIGINT columns: always whole numbers
  return value;
}

double Rows::Double(int row, int column) const {
  const char* text = PQgetvalue(result_.get(), row, column);
  double value = 0;
  std::from_chars(text, text + PQgetlength(result_.get(), row, column), value);
  return value;
}

Params& Params::Add(double value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof(text), value).ptr;
  values_.emplace_back(std::string(text, end));
  return *this;
}

Status PostgresStore::Connect() {
  if (Conn() != nullptr && PQstatus(Conn()) == CONNECTION_OK) return Status::Ok();
  PQfinish(Conn());
  current_session->prepared.clear();
  // Defaults first: a keyword the URL (dbname, expanded) sets again wins.
  const std::string timeout = std::to_string(std::max<int64_t>(1, options_.connect_timeout.count()));
  // TCP keepalives find a dead peer on an idle connection within ~25 s.
  const char* keys[] = {"connect_timeout",     "application_name", "keepalives", "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "dbname",     nullptr};
  const char* values[] = {timeout.c_str(), "prescale-aggregator", "1", "10", "5", "3", url_.c_str(), nullptr};
  Conn() = PQconnectdbParams(keys, values, 1);
  if (Conn() == nullptr || PQstatus(Conn()) != CONNECTION_OK) {
    std::string why = Conn() != nullptr ? OneLine(PQerrorMessage(Conn())) : "out of memory";
    PQfinish(Conn());
    Conn() = nullptr;
    return Status::Unavailable(name_ + ": cannot connect: " + why);
  }
  PQsetNoticeProcessor(Conn(), &IgnoreNotice, nullptr);
  const int64_t lock_ms = std::max<int64_t>(1, options_.lock_timeout.count());
  const int64_t query_ms = std::max<int64_t>(1, options_.query_timeout.count());
  // The server gives up on a statement when this process would, and ends a
  // transaction this process left open that long (a replica frozen in the
  // middle of one must not hold the audit log's lock past it).
  return Exec("SET lock_timeout = " + std::to_string(lock_ms) + "; SET statement_timeout = " +
                  std::to_string(query_ms) + "; SET idle_in_transaction_session_timeout = " + std::to_string(query_ms) +
                  "; SET client_min_messages = warning",
              "configure the session");
}

Status PostgresStore::Begin(Mode mode) {
  const bool had_connection = Conn() != nullptr;
  PRESCALE_RETURN_IF_ERROR(Connect());
  current_session->audit_head.reset();
  // An audited write takes the audit log's lock and reads its head in the
  // same round trip as its BEGIN (the answer is the last statement's).
  const char* begin =
      mode == Mode::kRead ? "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
      : mode == Mode::kWrite
          ? "BEGIN; LOCK TABLE audit IN EXCLUSIVE MODE; SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"
          : "BEGIN";
  Result<Rows> begun = Query(begin, Params(), "begin a transaction");
  if (!begun.ok() && had_connection && PQstatus(Conn()) == CONNECTION_BAD) {
    // The connection died while idle (a restart of the server): nothing of
    // this call ran, so a fresh connection may take it.
    PRESCALE_RETURN_IF_ERROR(Connect());
    begun = Query(begin, Params(), "begin a transaction");
  }
  if (!begun.ok()) {
    Rollback();
    return begun.status();
  }
  if (mode == Mode::kWrite) {
    current_session->audit_head = begun->size() > 0 ? std::make_pair(begun->Int(0, 0), begun->Text(0, 1))
                                                    : std::make_pair(int64_t{0}, std::string());
  }
  return Status::Ok();
}

void PostgresStore::Rollback() {
  if (Conn() == nullptr || PQstatus(Conn()) != CONNECTION_OK || PQtransactionStatus(Conn()) == PQTRANS_IDLE) return;
  PQclear(PQexec(Conn(), "ROLLBACK"));
}

Status PostgresStore::Error(const PGresult* result, std::string_view doing) const {
  std::string message = name_ + ": " + std::string(doing) + ": ";
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  message += primary != nullptr ? OneLine(primary) : OneLine(PQerrorMessage(Conn()));
  if (Conn() == nullptr || PQstatus(Conn()) == CONNECTION_BAD) {
    return Status::Unavailable(std::move(message) + " (connection lost; the next call reconnects)");
  }
  if (state != nullptr && IsTransient(state)) return Status::Unavailable(std::move(message));
  // A data exception (class 22: text that is not UTF-8, a number out of
  // range) is the request's, not the database's: its reason without the database's name.
  if (state != nullptr && std::string_view(state).starts_with("22")) {
    return Status::InvalidArgument(std::string(doing) + ": " + OneLine(primary));
  }
  return Status::IoError(std::move(message));
}

Status PostgresStore::Exec(const std::string& sql, std::string_view doing) {
  return Query(sql, Params(), doing).status();
}

Result<Rows> PostgresStore::Query(const std::string& sql, const Params& params, std::string_view doing) {
  if (Conn() == nullptr) return Status::Unavailable(name_ + ": " + std::string(doing) + ": not connected");
  if (params.HasNul()) {
    // libpq passes text parameters as C strings: a NUL would cut the value short.
    return Status::InvalidArgument(std::string(doing) + ": a value holds a NUL byte, which text cannot hold");
  }
  int sent = 0;
  if (params.size() == 0) {
    sent = PQsendQuery(Conn(), sql.c_str());  // may hold several statements (migrations)
  } else {
    PRESCALE_ASSIGN_OR_RETURN(const std::optional<std::string> name, Prepared(sql, doing));
    const std::vector<const char*> values = params.Pointers();
    const int n = static_cast<int>(values.size());
    sent = name ? PQsendQueryPrepared(Conn(), name->c_str(), n, values.data(), nullptr, nullptr, 0)
                : PQsendQueryParams(Conn(), sql.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0);
  }
  if (sent == 0) return Error(nullptr, doing);
  return Await(doing);
}

Result<std::optional<std::string>> PostgresStore::Prepared(const std::string& sql, std::string_view doing) {
  // Statements are a fixed set of texts; past this many a text is sent unprepared.
  constexpr size_t kMostPrepared = 256;
  auto& prepared = current_session->prepared;
  if (auto it = prepared.find(sql); it != prepared.end()) return std::optional<std::string>(it->second);
  if (prepared.size() >= kMostPrepared) return std::optional<std::string>();
  std::string name = "prescale_" + std::to_string(prepared.size());
  if (PQsendPrepare(Conn(), name.c_str(), sql.c_str(), 0, nullptr) == 0) return Error(nullptr, doing);
  PRESCALE_RETURN_IF_ERROR(Await(doing).status());
  prepared.emplace(sql, name);
  return std::optional<std::string>(std::move(name));
}

Result<Rows> PostgresStore::Await(std::string_view doing) {
  // The whole answer within query_timeout: a server that stopped answering
  // (frozen, cut off) costs the connection, never a thread for longer.
  const auto deadline = std::chrono::steady_clock::now() + options_.query_timeout;
  PGresult* answer = nullptr;  // the first failed statement's result, else the last one's
  auto ok = [](const PGresult* r) {
    return PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK;
  };
  auto keep = [&answer, &ok](PGresult* r) {
    if (answer != nullptr && !ok(answer)) {
      PQclear(r);
      return;
    }
    PQclear(answer);
    answer = r;
  };
  while (true) {
    while (PQisBusy(Conn()) != 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd fd{.fd = PQsocket(Conn()), .events = POLLIN, .revents = 0};
      const int ready = left.count() > 0 ? ::poll(&fd, 1, static_cast<int>(left.count())) : 0;
      if (ready == 0) {
        PQclear(answer);
        PQfinish(Conn());
        Conn() = nullptr;
        return Status::Unavailable(name_ + ": " + std::string(doing) + ": no answer within " +
                                   std::to_string(options_.query_timeout.count()) +
                                   " ms (connection dropped; the next call reconnects)");
      }
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0 || PQconsumeInput(Conn()) == 0) {
        PQclear(answer);
        return Error(nullptr, doing);
      }
    }
    PGresult* r = PQgetResult(Conn());
    if (r == nullptr) break;
    keep(r);
  }
  if (answer != nullptr && ok(answer)) return Rows(answer);
  Status error = Error(answer, doing);
  PQclear(answer);
  return error;
}

thread_local PostgresStore::Session* PostgresStore::current_session = nullptr;

PostgresStore::Checkout::Checkout(PostgresStore* store) : store_(store), outer_(current_session) {
  std::unique_lock lock(store->pool_mu_);
  const size_t most = std::max<size_t>(1, store->options_.connections);
  store->pool_cv_.wait(lock, [&] { return !store->idle_.empty() || store->sessions_ < most; });
  if (!store->idle_.empty()) {
    session_ = std::move(store->idle_.back());
    store->idle_.pop_back();
  } else {
    session_ = std::make_unique<Session>();
    ++store->sessions_;
  }
  current_session = session_.get();
}

PostgresStore::Checkout::~Checkout() {
  current_session = outer_;
  {
    std::lock_guard lock(store_->pool_mu_);
    store_->idle_.push_back(std::move(session_));
  }
  store_->pool_cv_.notify_one();
}

Status PostgresStore::Init() {
  const Checkout session(this);
  PRESCALE_RETURN_IF_ERROR(Connect());
  return Migrate();
}

}  // namespace postgres_internal

bool IsPostgresUrl(std::string_view url) { return url.starts_with("postgres://") || url.starts_with("postgresql://"); }

Status CheckPostgresUrl(const std::string& url) {
  if (!IsPostgresUrl(url)) return Status::InvalidArgument("expected a postgres:// or postgresql:// URL");
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    std::string why = error != nullptr ? postgres_internal::OneLine(error) : "out of memory";
    PQfreemem(error);
    return Status::InvalidArgument("invalid postgres URL: " + postgres_internal::WithoutPassword(why, url));
  }
  PQconninfoFree(options);
  return Status::Ok();
}

Result<std::unique_ptr<ControlStore>> OpenPostgresStore(const std::string& url, const PostgresStoreOptions& options) {
  PRESCALE_RETURN_IF_ERROR(CheckPostgresUrl(url));
  auto store = std::make_unique<postgres_internal::PostgresStore>(url, postgres_internal::DescribeUrl(url), options);
  PRESCALE_RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<ControlStore>(std::move(store));
}

}  // namespace prescale::aggregator
