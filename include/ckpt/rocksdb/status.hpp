#pragma once
// RocksDB's Status as a ckpt::Error: what RocksDB reports never escapes as
// anything but an exception of ckpt's hierarchy that names the directory and
// the operation.

#include <ckpt/error.hpp>

#include <rocksdb/status.h>

#include <string>

namespace ckpt::rocksdb {

/// Throws the ckpt::Error that fits `status` unless it is ok. `path` is the
/// database directory; `what` says what was being done ("open", "put", ...).
inline void check(const ::rocksdb::Status& status, const std::string& path, const std::string& what) {
  if (status.ok()) return;
  const std::string message = "RocksDB " + what + " in '" + path + "' failed: " + status.ToString();
  if (status.IsCorruption())
    throw CorruptionError(errc::corrupt_data, path, what, message);
  if (status.IsInvalidArgument() || status.IsNotSupported())
    throw ConfigError(errc::invalid_argument, message);
  if (status.IsNotFound())
    throw IoError(errc::not_found, path, message);
  if (status.IsNoSpace())
    throw IoError(errc::no_space, path, message);
  throw IoError(errc::io_error, path, message);
}

}  // namespace ckpt::rocksdb
