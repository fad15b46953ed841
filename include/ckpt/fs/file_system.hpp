#pragma once
// The storage interface everything above it writes through. Runtime-polymorphic
// because users choose storage by configuration (a URI), not by recompiling.
//
// A FileSystem is rooted at a location (a directory, a bucket prefix, a named
// in-memory store); every path given to it is relative to that root,
// '/'-separated, and checked by fs::validate_path(), so no operation can reach
// outside the root.
//
// Contract shared by every backend (ckpt/testing/file_system_conformance.hpp checks it):
// - create() returns a WritableFile that is invisible under its name until
//   commit(), which makes it durable and visible atomically and exclusively
//   (errc::already_exists if the name is taken). Destroying or abort()ing an
//   uncommitted file leaves nothing under its name; abort() after commit()
//   keeps the file, and append()/commit() after either throw ckpt::Error.
// - create(), publish() and try_lock() create missing parent directories.
// - publish() is create()+append()+commit() for a small file (a manifest).
// - A failed write, sync or close fails the operation with IoError naming the
//   file; a failed sync is never retried into a false success.
// - open() gives ranged reads; reading past the end is errc::truncated. A
//   missing file is IoError(errc::not_found) naming it.
// - list() returns the immediate children of a directory, sorted by name
//   (byte order), without temporary files; a missing directory lists as empty.
// - remove() of a missing file and remove_all() of a missing directory succeed.
// - try_lock() returns nullptr while anyone else holds the lock: another
//   process, or another try_lock() in this one.
// - An invalid path is ConfigError(errc::invalid_name), before any storage
//   is touched.
// - A FileSystem is safe to use from several threads at once; each
//   ReadableFile or WritableFile from one thread at a time.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::fs {

enum class EntryType { file, directory };

/// One child of a listed directory.
struct Entry {
  std::string name;  // the last path component
  EntryType type = EntryType::file;
  std::uint64_t size = 0;  // bytes, for files
  friend bool operator==(const Entry&, const Entry&) = default;
};

/// A file opened for reading.
class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  /// The path given to open(), for messages.
  virtual const std::string& path() const noexcept = 0;
  virtual std::uint64_t size() const noexcept = 0;
  /// Reads exactly dst.size() bytes starting at `offset`. Fewer available is
  /// CorruptionError(errc::truncated) naming the file; never a short read.
  virtual void read(std::uint64_t offset, std::span<std::byte> dst) = 0;
};

/// A new file being written. Invisible under its name until commit().
class WritableFile {
 public:
  virtual ~WritableFile() = default;  // an uncommitted file is aborted
  virtual const std::string& path() const noexcept = 0;
  virtual void append(std::span<const std::byte> data) = 0;
  /// Bytes appended so far.
  virtual std::uint64_t size() const noexcept = 0;
  /// Durably publishes the file under its name, atomically and exclusively.
  /// After commit() returns a crash never loses the file; if it throws, or
  /// before it is called, a crash never shows a partial file under its name.
  virtual void commit() = 0;
  /// Discards the file. Safe to call at any time, more than once.
  virtual void abort() noexcept = 0;
};

/// Held while it lives; the destructor releases it. A lock whose holder died
/// (a killed process) never blocks a new holder forever.
class Lock {
 public:
  virtual ~Lock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  /// The root as a URI, with any secret masked: for messages and manifests.
  virtual std::string uri() const = 0;

  virtual std::unique_ptr<WritableFile> create(std::string_view path) = 0;
  virtual std::unique_ptr<ReadableFile> open(std::string_view path) = 0;
  /// Writes a small file atomically, durably and exclusively.
  virtual void publish(std::string_view path, std::span<const std::byte> data) = 0;
  virtual std::vector<Entry> list(std::string_view dir) = 0;
  virtual bool exists(std::string_view path) = 0;
  virtual void remove(std::string_view path) = 0;
  /// Removes a directory and everything under it; never follows a symlink.
  virtual void remove_all(std::string_view dir) = 0;
  /// Creates a directory and its parents (a no-op on object stores).
  virtual void make_directories(std::string_view dir) = 0;
  /// Removes what crashed writers left in `dir` (temporary files, unfinished
  /// uploads). Call only when no writer of this directory is active.
  virtual void remove_temporaries(std::string_view dir) = 0;
  /// Takes the named lock, or returns nullptr when another live owner holds it.
  virtual std::unique_ptr<Lock> try_lock(std::string_view path) = 0;
  /// Moves a committed file to a new name, durably: errc::not_found if `from`
  /// is missing, errc::already_exists if `to` is taken (never overwritten).
  /// Local and in-memory storage move atomically; this default (for backends
  /// without a move, such as object stores) copies and then removes, so a
  /// crash in between leaves both names.
  virtual void rename(std::string_view from, std::string_view to) {
    if (exists(to))
      throw IoError(errc::already_exists, std::string(to), "cannot rename to '" + std::string(to) + "': it exists");
    auto in = open(from);
    auto out = create(to);
    Bytes chunk;
    for (std::uint64_t at = 0; at < in->size();) {
      chunk.resize(static_cast<std::size_t>(std::min<std::uint64_t>(in->size() - at, 1 << 20)));
      in->read(at, chunk);
      out->append(chunk);
      at += chunk.size();
    }
    out->commit();
    remove(from);
  }
};

}  // namespace ckpt::fs
