#pragma once
// Choosing storage by configuration: open_file_system("s3://bucket/prefix")
// finds the factory registered for the URI's scheme. Built in: file:// (and
// plain paths) -> LocalFileSystem, mem:// -> MemoryFileSystem on a named,
// process-wide store. Optional backends and users add their own schemes with
// register_file_system(); the registry is thread-safe.
//
//   ckpt::fs::register_file_system("myfs", [](const ckpt::fs::Uri& uri) {
//     return std::make_shared<MyFileSystem>(uri.authority, uri.path);
//   });
//   auto fs = ckpt::fs::open_file_system("myfs://host/dir");

#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/fs/uri.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt::fs {

/// Makes the file system a URI names. May throw ConfigError for a URI it
/// cannot serve; must not return nullptr.
using FileSystemFactory = std::function<std::shared_ptr<FileSystem>(const Uri&)>;

namespace detail {

inline void reject_query(const Uri& uri) {
  if (!uri.query.empty())
    throw ConfigError(errc::invalid_argument, "a " + uri.scheme + ":// URI takes no query parameters");
}

inline std::shared_ptr<FileSystem> open_local_file_system(const Uri& uri,
                                                          LocalFileSystem::Options options = LocalFileSystem::Options::defaults()) {
  reject_query(uri);
  if (!uri.authority.empty() && uri.authority != "localhost")
    throw ConfigError(errc::invalid_argument, "a file:// URI names a local directory, not the host '" +
                                                  uri.authority +
                                                  "': write file:///absolute/path (three slashes)");
  if (uri.path.empty()) throw ConfigError(errc::invalid_argument, "a file:// URI needs a directory path");
  return std::make_shared<LocalFileSystem>(uri.path, options);
}

inline std::shared_ptr<FileSystem> open_memory_file_system(const Uri& uri) {
  reject_query(uri);
  if (uri.authority.empty())
    throw ConfigError(errc::invalid_argument, "a mem:// URI needs a store name: mem://<store>[/<prefix>]");
  std::string_view prefix = uri.path;
  while (prefix.starts_with('/')) prefix.remove_prefix(1);
  while (prefix.ends_with('/')) prefix.remove_suffix(1);
  return std::make_shared<MemoryFileSystem>(MemoryStore::named(uri.authority), std::string(prefix));
}

class FileSystemRegistry {
 public:
  static FileSystemRegistry& instance() {
    static FileSystemRegistry registry;
    return registry;
  }

  void add(std::string scheme, FileSystemFactory factory) {
    std::unique_lock lock(mutex_);
    factories_[std::move(scheme)] = std::move(factory);
  }

  bool remove(const std::string& scheme) {
    std::unique_lock lock(mutex_);
    return factories_.erase(scheme) > 0;
  }

  /// A copy, so the factory runs without the lock (it may use the registry).
  FileSystemFactory find(const std::string& scheme) const {
    std::shared_lock lock(mutex_);
    auto it = factories_.find(scheme);
    return it == factories_.end() ? FileSystemFactory() : it->second;
  }

  std::vector<std::string> schemes() const {
    std::shared_lock lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [scheme, factory] : factories_) out.push_back(scheme);
    return out;
  }

 private:
  FileSystemRegistry() {
    factories_["file"] = [](const Uri& uri) { return open_local_file_system(uri); };
    factories_["mem"] = open_memory_file_system;
  }

  mutable std::shared_mutex mutex_;
  std::map<std::string, FileSystemFactory> factories_;
};

inline std::string checked_scheme(std::string_view scheme) {
  // Reuse the URI parser's rules: a scheme is whatever parses before "://".
  if (scheme.empty() || scheme.find('/') != std::string_view::npos)
    throw ConfigError(errc::invalid_argument, "'" + std::string(scheme) + "' is not a URI scheme");
  return Uri::parse(std::string(scheme) + "://x").scheme;
}

}  // namespace detail

/// Registers `factory` for `scheme` (case-insensitive), replacing any earlier
/// factory for it, built-ins included.
inline void register_file_system(std::string_view scheme, FileSystemFactory factory) {
  auto name = detail::checked_scheme(scheme);
  if (!factory) throw ConfigError(errc::invalid_argument, "no factory given for the scheme '" + name + "'");
  detail::FileSystemRegistry::instance().add(std::move(name), std::move(factory));
}

/// Removes the factory for `scheme`; false if there was none.
inline bool unregister_file_system(std::string_view scheme) {
  return detail::FileSystemRegistry::instance().remove(detail::checked_scheme(scheme));
}

/// The schemes open_file_system() accepts, sorted.
inline std::vector<std::string> registered_file_system_schemes() {
  return detail::FileSystemRegistry::instance().schemes();
}

/// The file system `uri` names. An unknown scheme is ConfigError(errc::invalid_argument).
inline std::shared_ptr<FileSystem> open_file_system(const Uri& uri) {
  auto factory = detail::FileSystemRegistry::instance().find(uri.scheme);
  if (!factory) {
    std::string known;
    for (const auto& s : registered_file_system_schemes()) known += (known.empty() ? "" : ", ") + s;
    // The optional backends register themselves when their header is included.
    const std::string hint = uri.scheme == "s3" || uri.scheme == "obs"
                                 ? "; include <ckpt/s3/register.hpp> and link the ckpt::s3 CMake target "
                                   "(built when libcurl and OpenSSL are found, or with -DCKPT_S3=ON) to open it"
                                 : "; register one with ckpt::fs::register_file_system()";
    throw ConfigError(errc::invalid_argument, "no file system is registered for the scheme '" + uri.scheme +
                                                  "' (registered: " + known + ")" + hint);
  }
  auto fs = factory(uri);
  if (!fs)
    throw ConfigError(errc::invalid_argument,
                      "the factory registered for the scheme '" + uri.scheme + "' returned no file system");
  return fs;
}

inline std::shared_ptr<FileSystem> open_file_system(std::string_view uri) {
  return open_file_system(Uri::parse(uri));
}

/// As open_file_system(), for a path that must already be there: a local
/// directory that does not exist is IoError(errc::not_found) instead of being
/// created. Read paths (open_snapshot, ckpt-inspect) and storages opened with
/// StorageOptions::must_exist() use it; other schemes create nothing on open.
/// (A file:// URI always opens the built-in local file system here.)
inline std::shared_ptr<FileSystem> open_existing_file_system(const Uri& uri) {
  if (uri.scheme != "file") return open_file_system(uri);
  return detail::open_local_file_system(uri, LocalFileSystem::Options::existing_root());
}

inline std::shared_ptr<FileSystem> open_existing_file_system(std::string_view uri) {
  return open_existing_file_system(Uri::parse(uri));
}

}  // namespace ckpt::fs
