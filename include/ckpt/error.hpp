#pragma once
// ckpt's errors: one exception hierarchy rooted at ckpt::Error, each carrying a
// std::error_code of the "ckpt" category so callers can branch on the kind
// (Boost.Beast's error.hpp is the model for the enum/category pair).

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace ckpt {

enum class errc {
  // Misuse of state.
  no_current_key = 1,       // keyed state accessed before set_current_key()
  key_group_out_of_range,   // the key belongs to another subtask's key groups
  state_type_mismatch,      // a state name re-declared, or restored, with another type or kind
  invalid_argument,         // an option or argument outside its documented range
  invalid_name,             // a uid, state name, savepoint name, tag or path is not allowed
  // Storage.
  io_error,                 // the operating system or a remote store reported a failure
  not_found,
  already_exists,
  permission_denied,
  no_space,
  // Verification of what was read back.
  corrupt_data,             // checksum mismatch, bad magic, malformed structure
  truncated,                // fewer bytes than a length or index promised
  unsupported_version,      // a format or type version this build cannot read
  limit_exceeded,           // a length or size beyond a configured cap (hostile input)
  // Checkpoint lifecycle.
  checkpoint_aborted,
  checkpoint_timeout,
  no_checkpoint,            // nothing complete to restore from
  non_restored_state,       // a snapshot holds state the program no longer declares
  locked,                   // another live writer owns the checkpoint directory
  job_failed,
  cancelled,
};

namespace detail {
class ErrorCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ckpt"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::no_current_key: return "no current key";
      case errc::key_group_out_of_range: return "key group out of range";
      case errc::state_type_mismatch: return "state type mismatch";
      case errc::invalid_argument: return "invalid argument";
      case errc::invalid_name: return "invalid name";
      case errc::io_error: return "I/O error";
      case errc::not_found: return "not found";
      case errc::already_exists: return "already exists";
      case errc::permission_denied: return "permission denied";
      case errc::no_space: return "no space left";
      case errc::corrupt_data: return "corrupt data";
      case errc::truncated: return "truncated data";
      case errc::unsupported_version: return "unsupported version";
      case errc::limit_exceeded: return "limit exceeded";
      case errc::checkpoint_aborted: return "checkpoint aborted";
      case errc::checkpoint_timeout: return "checkpoint timed out";
      case errc::no_checkpoint: return "no checkpoint to restore";
      case errc::non_restored_state: return "state could not be restored";
      case errc::locked: return "locked by another writer";
      case errc::job_failed: return "job failed";
      case errc::cancelled: return "cancelled";
    }
    return "unknown ckpt error";
  }
};
}  // namespace detail

inline const std::error_category& error_category() noexcept {
  static const detail::ErrorCategory category;
  return category;
}

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace ckpt

template <>
struct std::is_error_code_enum<ckpt::errc> : std::true_type {};

namespace ckpt {

/// Root of every exception ckpt throws. code() tells the kind; what() is a
/// sentence for a person that names the file, state or key involved.
class Error : public std::runtime_error {
 public:
  Error(std::error_code code, const std::string& what) : std::runtime_error(what), code_(code) {}
  Error(errc code, const std::string& what) : Error(make_error_code(code), what) {}
  const std::error_code& code() const noexcept { return code_; }

  /// This error as its own class, with `context` put before its message: how
  /// an error crosses a job boundary (a task's IoError is still an IoError
  /// where JobRunner::run() rethrows it).
  virtual std::exception_ptr with_context(const std::string& context) const {
    return std::make_exception_ptr(Error(code_, context + what()));
  }

 private:
  std::error_code code_;
};

namespace detail {
/// Implements Error::with_context for a class whose constructor takes (code, what).
template <class E>
std::exception_ptr copy_with_context(const E& e, const std::string& context) {
  return std::make_exception_ptr(E(e.code(), context + e.what()));
}
}  // namespace detail

/// Misuse of a state primitive: no current key, a key outside the backend's
/// key groups, a state re-declared with another type.
class StateError : public Error {
 public:
  using Error::Error;
  std::exception_ptr with_context(const std::string& context) const override {
    return detail::copy_with_context(*this, context);
  }
};

/// An option, name, URI or argument that is not allowed.
class ConfigError : public Error {
 public:
  using Error::Error;
  std::exception_ptr with_context(const std::string& context) const override {
    return detail::copy_with_context(*this, context);
  }
};

/// A file-system or object-store operation failed. path() is the file
/// (relative to the storage root, never with credentials), system_code() the
/// operating system's error where there is one.
class IoError : public Error {
 public:
  IoError(std::error_code code, std::string path, const std::string& what, std::error_code system = {})
      : Error(code, what), path_(std::move(path)), system_(system) {}
  IoError(errc code, std::string path, const std::string& what, std::error_code system = {})
      : IoError(make_error_code(code), std::move(path), what, system) {}
  const std::string& path() const noexcept { return path_; }
  const std::error_code& system_code() const noexcept { return system_; }
  std::exception_ptr with_context(const std::string& context) const override {
    return std::make_exception_ptr(IoError(code(), path_, context + what(), system_));
  }

 private:
  std::string path_;
  std::error_code system_;
};

/// What was read back failed verification: bad magic, checksum, length or
/// structure. path() names the file and block() the part of it.
class CorruptionError : public Error {
 public:
  CorruptionError(std::error_code code, std::string path, std::string block, const std::string& what)
      : Error(code, what), path_(std::move(path)), block_(std::move(block)) {}
  CorruptionError(errc code, std::string path, std::string block, const std::string& what)
      : CorruptionError(make_error_code(code), std::move(path), std::move(block), what) {}
  const std::string& path() const noexcept { return path_; }
  const std::string& block() const noexcept { return block_; }
  std::exception_ptr with_context(const std::string& context) const override {
    return std::make_exception_ptr(CorruptionError(code(), path_, block_, context + what()));
  }

 private:
  std::string path_;
  std::string block_;
};

/// A checkpoint could not be taken (aborted, timed out, declined).
class CheckpointError : public Error {
 public:
  using Error::Error;
  std::exception_ptr with_context(const std::string& context) const override {
    return detail::copy_with_context(*this, context);
  }
};

/// Restoring failed: nothing to restore, or state the program does not declare.
class RestoreError : public Error {
 public:
  using Error::Error;
  std::exception_ptr with_context(const std::string& context) const override {
    return detail::copy_with_context(*this, context);
  }
};

/// A job failed because of an exception that is not a ckpt::Error (one the
/// user's code threw): code() is errc::job_failed, and the original is nested
/// (std::rethrow_if_nested(e) rethrows it as its own type).
class JobError : public Error, public std::nested_exception {
 public:
  /// Call inside a catch block: nests the exception being handled.
  explicit JobError(const std::string& what) : Error(errc::job_failed, what) {}
};

/// `e` with `context` ("task 'count' subtask 1 of 3 failed: ") before its
/// message, as its own class when it is a ckpt::Error, or as a JobError that
/// nests it otherwise.
inline std::exception_ptr with_context(std::exception_ptr e, const std::string& context) {
  try {
    std::rethrow_exception(e);
  } catch (const Error& error) {
    return error.with_context(context);
  } catch (const std::exception& other) {
    return std::make_exception_ptr(JobError(context + other.what()));
  } catch (...) {
    return std::make_exception_ptr(JobError(context + "an exception that is not a std::exception"));
  }
}

}  // namespace ckpt
