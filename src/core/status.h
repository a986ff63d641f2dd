// Errors as values: Status and Result<T>, in the spirit of absl::Status / absl::StatusOr.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace ha {

// What went wrong, coarsely; the message says the rest (what, to what, what to do).
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad input from a user or operator (exit code 2 at the CLI)
  kNotFound,
  kUnavailable,  // the database or another peer cannot be reached; retry
  kFailedPrecondition,
  kAlreadyLocked,  // another instance holds the checkpoint lock (exit code 4)
  kInternal,
  kIo,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIo, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// A value or the Status explaining why there is none. Misuse fails loudly, as absl::StatusOr:
// - constructed from an OK Status (a bug: there is neither a value nor an error), it holds
//   kInternal "Result constructed from an OK Status" instead, in every build, so the caller
//   sees an error rather than a made-up value;
// - value(), operator* and operator-> on an error print the status to stderr and abort, in
//   every build (check ok() first, or return status()).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok())
      status_ = Status(StatusCode::kInternal,
                       "Result constructed from an OK Status: a value or an error was expected");
  }

  bool ok() const { return value_.has_value(); }
  // OK when there is a value, else the error.
  const Status& status() const { return status_; }
  T& value() & { return Checked(); }
  const T& value() const& { return Checked(); }
  T&& value() && { return std::move(Checked()); }
  T* operator->() { return &Checked(); }
  const T* operator->() const { return &Checked(); }
  T& operator*() & { return Checked(); }
  const T& operator*() const& { return Checked(); }
  T&& operator*() && { return std::move(Checked()); }

 private:
  T& Checked() {
    if (!value_) Die(status_);
    return *value_;
  }
  const T& Checked() const {
    if (!value_) Die(status_);
    return *value_;
  }
  [[noreturn]] static void Die(const Status& status) {
    std::fprintf(stderr, "ha::Result: value accessed on an error (code %d): %s\n",
                 static_cast<int>(status.code()), status.message().c_str());
    std::abort();
  }

  std::optional<T> value_;
  Status status_;
};

}  // namespace ha
