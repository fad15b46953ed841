#pragma once
// Turning an errno from the operating system into ckpt's error kinds, so every
// backend built on an Os reports the same errc for the same failure.

#include <ckpt/error.hpp>

#include <cerrno>
#include <string>
#include <system_error>

namespace ckpt::fs {

/// ENOSPC/EDQUOT -> no_space, EACCES/EPERM/EROFS -> permission_denied,
/// ENOENT -> not_found, EEXIST -> already_exists, anything else -> io_error.
inline errc errc_from_errno(int error) noexcept {
  switch (error) {
    case ENOSPC:
    case EDQUOT:
      return errc::no_space;
    case EACCES:
    case EPERM:
    case EROFS:
      return errc::permission_denied;
    case ENOENT:
      return errc::not_found;
    case EEXIST:
      return errc::already_exists;
    default:
      return errc::io_error;
  }
}

/// The IoError for `error` while doing `what` to `path` (relative to the root
/// named by `where`). The message reads "cannot <what> '<path>' in <where>: <reason>".
inline IoError io_error_from_errno(int error, const std::string& path, const std::string& what,
                                   const std::string& where) {
  const std::error_code system(error, std::system_category());
  return IoError(errc_from_errno(error), path,
                 "cannot " + what + " '" + path + "' in " + where + ": " + system.message() + " (errno " +
                     std::to_string(error) + ")",
                 system);
}

}  // namespace ckpt::fs
