// Status and Result<T>: how expected failures travel in prescale (no exceptions
// escape project code). Value types; not synchronised.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace prescale {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input from a user: config, flag, request
  kNotFound,            // a file, cgroup or object that is not (or no longer) there
  kIoError,             // a read or write failed for another reason
  kParseError,          // input that does not follow its format
  kUnavailable,         // a peer that does not answer; retryable
  kResourceExhausted,   // a size or count limit was hit
  kInternal,            // a bug in prescale
  kAlreadyExists,       // a create of an object that is there
  kConflict,            // a write based on a stale version of an object
  kFailedPrecondition,  // the state does not allow it (an object still referenced, a reference missing)
  kUnprocessable,       // well-formed input with a value that is not valid (a field out of range, a bad name)
  kUnauthenticated,     // no credentials, or malformed ones
  kPermissionDenied,    // credentials known, but not allowed to do this
  kPayloadTooLarge,     // a body over the size limit
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status ParseError(std::string m) { return {StatusCode::kParseError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status Unprocessable(std::string m) { return {StatusCode::kUnprocessable, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
  static Status PayloadTooLarge(std::string m) { return {StatusCode::kPayloadTooLarge, std::move(m)}; }

  // The input field the error is about ("replicas.min", a query parameter, a
  // flag), for errors of user input; empty when there is none.
  const std::string& field() const { return field_; }
  Status&& WithField(std::string field) && {
    field_ = std::move(field);
    return std::move(*this);
  }
  Status& WithField(std::string field) & {
    field_ = std::move(field);
    return *this;
  }
  // An error about one input field, as decoders report it: the message
  // "field: message" (the message alone when field is empty), field() set.
  static Status ForField(StatusCode code, std::string field, std::string_view message) {
    std::string text = field.empty() ? std::string(message) : field + ": " + std::string(message);
    return Status(code, std::move(text)).WithField(std::move(field));
  }
  // The message without ForField's "field: " prefix, for callers that place
  // the field themselves (a config file's "FILE:LINE: path.field: what").
  std::string_view detail() const {
    std::string_view m = message_;
    if (!field_.empty() && m.size() > field_.size() + 2 && m.starts_with(field_) &&
        m.substr(field_.size(), 2) == ": ") {
      m.remove_prefix(field_.size() + 2);
    }
    return m;
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "PARSE_ERROR: message", or "OK".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(data_).ok()) std::abort();   // a Result needs a value or an error
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(data_);
  }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace prescale

// Returns early from a function returning Status or Result when expr is not OK.
#define PRESCALE_RETURN_IF_ERROR(expr)                   \
  do {                                                   \
    ::prescale::Status prescale_status_ = (expr);        \
    if (!prescale_status_.ok()) return prescale_status_; \
  } while (false)

#define PRESCALE_STATUS_CONCAT_INNER_(a, b) a##b
#define PRESCALE_STATUS_CONCAT_(a, b) PRESCALE_STATUS_CONCAT_INNER_(a, b)

// `lhs = value of rexpr`, or returns its Status from the enclosing function
// (returning Status or Result) when rexpr, a Result, is not OK. lhs may declare:
//   PRESCALE_ASSIGN_OR_RETURN(auto spec, ParseService(body));
#define PRESCALE_ASSIGN_OR_RETURN(lhs, rexpr) \
  PRESCALE_ASSIGN_OR_RETURN_IMPL_(PRESCALE_STATUS_CONCAT_(prescale_result_, __LINE__), lhs, rexpr)
#define PRESCALE_ASSIGN_OR_RETURN_IMPL_(result, lhs, rexpr) \
  auto result = (rexpr);                                    \
  if (!result.ok()) return result.status();                 \
  lhs = std::move(result).value()

// Fails loudly on a broken invariant of prescale's own logic (never on user input).
#define PRESCALE_CHECK(cond)                                                   \
  do {                                                                         \
    if (!(cond)) ::prescale::internal::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (false)

namespace prescale::internal {
[[noreturn]] void CheckFailed(const char* cond, const char* file, int line);
}
