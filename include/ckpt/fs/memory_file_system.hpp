#pragma once
// MemoryFileSystem: the FileSystem contract kept in memory, thread-safe, for
// tests and for users who unit-test their stateful logic.
//
// Data lives in a MemoryStore. Named stores are process-wide: two
// MemoryFileSystems opened on "mem://jobs/run-1" (or on
// MemoryStore::named("jobs")) see the same files, which is how a test
// simulates a restart in-process. A named store lives until
// MemoryStore::drop(name); an anonymous one until its last user is gone.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/path.hpp>
#include <ckpt/fs/temporary_name.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace ckpt::fs {

class MemoryFileSystem;
namespace detail {
class MemoryWritableFile;
class MemoryLock;
}  // namespace detail

class MemoryStore {
 public:
  /// The process-wide store called `name` (letters, digits, '-', '_', '.', '~'),
  /// created empty on first use.
  static std::shared_ptr<MemoryStore> named(std::string_view name) {
    validate_store_name(name);
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    if (auto it = r.named.find(name); it != r.named.end()) return it->second;
    if (auto it = r.anonymous.find(name); it != r.anonymous.end()) {
      if (auto alive = it->second.lock()) return alive;
    }
    auto store = std::shared_ptr<MemoryStore>(new MemoryStore(std::string(name)));
    r.named.emplace(std::string(name), store);
    return store;
  }

  /// A new, empty store nobody else sees until they open its name().
  static std::shared_ptr<MemoryStore> anonymous() {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    std::erase_if(r.anonymous, [](const auto& kv) { return kv.second.expired(); });
    auto store = std::shared_ptr<MemoryStore>(new MemoryStore("anonymous-" + std::to_string(++r.counter)));
    r.anonymous.emplace(store->name(), store);
    return store;
  }

  /// Forgets the named store; file systems already open on it keep it.
  static bool drop(std::string_view name) {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    if (auto it = r.named.find(name); it != r.named.end()) {
      r.named.erase(it);
      return true;
    }
    return false;
  }

  const std::string& name() const noexcept { return name_; }

  /// Bytes held by committed files, for tests that check nothing leaked.
  std::uint64_t bytes_used() const {
    std::lock_guard lock(mutex_);
    std::uint64_t total = 0;
    for (const auto& [path, node] : nodes_) {
      if (node.data) total += node.data->size();
    }
    return total;
  }

 private:
  friend class MemoryFileSystem;
  friend class detail::MemoryWritableFile;
  friend class detail::MemoryLock;

  struct Node {
    std::shared_ptr<const Bytes> data;  // null for a directory
    bool directory() const noexcept { return !data; }
  };

  struct Registry {
    std::mutex mutex;
    std::map<std::string, std::shared_ptr<MemoryStore>, std::less<>> named;
    std::map<std::string, std::weak_ptr<MemoryStore>, std::less<>> anonymous;
    std::uint64_t counter = 0;
  };

  explicit MemoryStore(std::string name) : name_(std::move(name)) {}

  static Registry& registry() {
    static Registry r;
    return r;
  }

  static void validate_store_name(std::string_view name) {
    bool ok = !name.empty() && name.size() <= 255;
    for (const char c : name) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_' || c == '.' || c == '~');
    }
    if (!ok)
      throw ConfigError(errc::invalid_name,
                        "a memory store name must be 1 to 255 letters, digits, '-', '_', '.' or '~'");
  }

  // The first component of `full` that exists as a file, or "" (caller holds mutex_).
  std::string file_in_the_way(const std::string& full) const {
    std::string walked;
    for (const auto& part : components(full)) {
      walked = join(walked, part);
      auto it = nodes_.find(walked);
      if (it == nodes_.end()) return {};
      if (!it->second.directory()) return walked;
    }
    return {};
  }

  // Creates the directory `full` and its parents; false if a file is in the way.
  bool make_dirs_locked(const std::string& full) {
    if (!file_in_the_way(full).empty()) return false;
    std::string walked;
    for (const auto& part : components(full)) {
      walked = join(walked, part);
      nodes_.try_emplace(walked);
    }
    return true;
  }

  mutable std::mutex mutex_;
  std::string name_;
  std::map<std::string, Node, std::less<>> nodes_;  // full path -> node; "" (the root) is implicit
  std::set<std::string, std::less<>> locks_;
};

namespace detail {

class MemoryReadableFile final : public ReadableFile {
 public:
  MemoryReadableFile(std::string path, std::string where, std::shared_ptr<const Bytes> data)
      : path_(std::move(path)), where_(std::move(where)), data_(std::move(data)) {}

  const std::string& path() const noexcept override { return path_; }
  std::uint64_t size() const noexcept override { return data_->size(); }

  void read(std::uint64_t offset, std::span<std::byte> dst) override {
    const std::uint64_t size = data_->size();
    if (offset > size || dst.size() > size - offset)
      throw CorruptionError(
          errc::truncated, path_,
          "bytes [" + std::to_string(offset) + ", " + std::to_string(offset + dst.size()) + ")",
          "cannot read " + std::to_string(dst.size()) + " bytes at offset " + std::to_string(offset) +
              " of '" + path_ + "' in " + where_ + ": the file has only " + std::to_string(size) + " bytes");
    std::copy_n(data_->begin() + static_cast<std::ptrdiff_t>(offset), dst.size(), dst.begin());
  }

 private:
  std::string path_;
  std::string where_;
  std::shared_ptr<const Bytes> data_;  // a committed file never changes: reads need no lock
};

class MemoryWritableFile final : public WritableFile {
 public:
  MemoryWritableFile(std::shared_ptr<MemoryStore> store, std::string full, std::string path,
                     std::string where)
      : store_(std::move(store)), full_(std::move(full)), path_(std::move(path)), where_(std::move(where)) {}

  const std::string& path() const noexcept override { return path_; }
  std::uint64_t size() const noexcept override { return buffer_.size(); }

  void append(std::span<const std::byte> data) override {
    require_open("append to");
    buffer_.insert(buffer_.end(), data.begin(), data.end());
  }

  void commit() override {
    require_open("commit");
    auto data = std::make_shared<const Bytes>(std::move(buffer_));
    buffer_ = Bytes();
    {
      std::lock_guard lock(store_->mutex_);
      if (store_->nodes_.contains(full_)) {
        state_ = State::aborted;
        throw IoError(errc::already_exists, path_,
                      "cannot commit '" + path_ + "' in " + where_ +
                          ": a file or directory of that name already exists",
                      std::make_error_code(std::errc::file_exists));
      }
      if (!store_->make_dirs_locked(parent(full_))) {
        state_ = State::aborted;
        throw IoError(errc::io_error, path_,
                      "cannot commit '" + path_ + "' in " + where_ + ": a parent is a file, not a directory",
                      std::make_error_code(std::errc::not_a_directory));
      }
      store_->nodes_.emplace(full_, MemoryStore::Node{std::move(data)});
    }
    state_ = State::committed;
  }

  void abort() noexcept override {
    if (state_ != State::open) return;
    buffer_ = Bytes();
    state_ = State::aborted;
  }

 private:
  enum class State { open, committed, aborted };

  void require_open(std::string_view what) const {
    if (state_ == State::open) return;
    throw ConfigError(errc::invalid_argument, "cannot " + std::string(what) + " '" + path_ + "' in " + where_ +
                                            (state_ == State::committed ? ": the file was already committed"
                                                                        : ": the file was aborted"));
  }

  std::shared_ptr<MemoryStore> store_;
  std::string full_;
  std::string path_;
  std::string where_;
  Bytes buffer_;
  State state_ = State::open;
};

class MemoryLock final : public Lock {
 public:
  MemoryLock(std::shared_ptr<MemoryStore> store, std::string key)
      : store_(std::move(store)), key_(std::move(key)) {}
  MemoryLock(const MemoryLock&) = delete;
  MemoryLock& operator=(const MemoryLock&) = delete;
  ~MemoryLock() override {
    std::lock_guard lock(store_->mutex_);
    store_->locks_.erase(key_);
  }

 private:
  std::shared_ptr<MemoryStore> store_;
  std::string key_;
};

}  // namespace detail

class MemoryFileSystem final : public FileSystem {
 public:
  /// A file system on a fresh anonymous store.
  MemoryFileSystem() : MemoryFileSystem(MemoryStore::anonymous()) {}

  /// A file system rooted at `prefix` (a relative path, "" for the whole store) of `store`.
  explicit MemoryFileSystem(std::shared_ptr<MemoryStore> store, std::string prefix = {})
      : store_(std::move(store)), prefix_(std::move(prefix)) {
    if (!store_) throw ConfigError(errc::invalid_argument, "MemoryFileSystem needs a store");
    validate_user_path(prefix_, true);
    uri_ = "mem://" + store_->name() + (prefix_.empty() ? "" : "/" + prefix_);
  }

  /// The file system at `prefix` of the process-wide store `store_name`.
  static std::shared_ptr<MemoryFileSystem> open_named(std::string_view store_name, std::string prefix = {}) {
    return std::make_shared<MemoryFileSystem>(MemoryStore::named(store_name), std::move(prefix));
  }

  const std::shared_ptr<MemoryStore>& store() const noexcept { return store_; }
  const std::string& prefix() const noexcept { return prefix_; }

  std::string uri() const override { return uri_; }

  std::unique_ptr<WritableFile> create(std::string_view path) override {
    validate_user_path(path);
    const auto full = full_path(path);
    {
      std::lock_guard lock(store_->mutex_);
      if (!store_->make_dirs_locked(parent(full))) throw not_a_directory(path, "create");
    }
    return std::make_unique<detail::MemoryWritableFile>(store_, full, std::string(path), uri_);
  }

  std::unique_ptr<ReadableFile> open(std::string_view path) override {
    validate_user_path(path);
    const auto full = full_path(path);
    std::shared_ptr<const Bytes> data;
    {
      std::lock_guard lock(store_->mutex_);
      if (auto it = store_->nodes_.find(full); it != store_->nodes_.end()) data = it->second.data;
    }
    if (!data)
      throw IoError(errc::not_found, std::string(path),
                    "cannot open '" + std::string(path) + "' in " + uri_ + ": no such file",
                    std::make_error_code(std::errc::no_such_file_or_directory));
    return std::make_unique<detail::MemoryReadableFile>(std::string(path), uri_, std::move(data));
  }

  void publish(std::string_view path, std::span<const std::byte> data) override {
    auto file = create(path);
    file->append(data);
    file->commit();
  }

  std::vector<Entry> list(std::string_view dir) override {
    validate_user_path(dir, true);
    const auto full = full_path(dir);
    std::vector<Entry> out;
    std::lock_guard lock(store_->mutex_);
    if (!full.empty()) {
      auto it = store_->nodes_.find(full);
      if (it == store_->nodes_.end()) return out;
      if (!it->second.directory()) throw not_a_directory(dir, "list");
    }
    const std::string base = full.empty() ? std::string() : full + "/";
    // '/' sorts just before '0', so a directory's descendants are one contiguous range.
    for (auto it = store_->nodes_.lower_bound(base); it != store_->nodes_.end(); ++it) {
      const auto& key = it->first;
      if (key.compare(0, base.size(), base) != 0) break;
      const auto rest = std::string_view(key).substr(base.size());
      if (rest.empty() || rest.find('/') != std::string_view::npos) continue;
      if (it->second.directory()) {
        out.push_back({std::string(rest), EntryType::directory, 0});
      } else {
        out.push_back({std::string(rest), EntryType::file, it->second.data->size()});
      }
    }
    return out;  // std::map order is byte order: already sorted by name
  }

  void rename(std::string_view from, std::string_view to) override {
    validate_user_path(from);
    validate_user_path(to);
    const auto src = full_path(from);
    const auto dst = full_path(to);
    std::lock_guard lock(store_->mutex_);
    auto it = store_->nodes_.find(src);
    if (it == store_->nodes_.end() || it->second.directory())
      throw IoError(errc::not_found, std::string(from),
                    "cannot rename '" + std::string(from) + "' in " + uri_ + ": no such file",
                    std::make_error_code(std::errc::no_such_file_or_directory));
    if (store_->nodes_.contains(dst))
      throw IoError(errc::already_exists, std::string(to),
                    "cannot rename to '" + std::string(to) + "' in " + uri_ + ": it exists",
                    std::make_error_code(std::errc::file_exists));
    if (!store_->make_dirs_locked(parent(dst))) throw not_a_directory(to, "rename into");
    auto node = std::move(it->second);
    store_->nodes_.erase(it);
    store_->nodes_.emplace(dst, std::move(node));
  }

  bool exists(std::string_view path) override {
    validate_user_path(path);
    const auto full = full_path(path);
    std::lock_guard lock(store_->mutex_);
    return store_->nodes_.contains(full);
  }

  void remove(std::string_view path) override {
    validate_user_path(path);
    const auto full = full_path(path);
    std::lock_guard lock(store_->mutex_);
    auto it = store_->nodes_.find(full);
    if (it == store_->nodes_.end()) return;
    if (it->second.directory())
      throw IoError(
          errc::io_error, std::string(path),
          "cannot remove '" + std::string(path) + "' in " + uri_ + ": it is a directory (use remove_all)",
          std::make_error_code(std::errc::is_a_directory));
    store_->nodes_.erase(it);
  }

  void remove_all(std::string_view dir) override {
    validate_user_path(dir);
    const auto full = full_path(dir);
    const auto base = full + "/";
    std::lock_guard lock(store_->mutex_);
    store_->nodes_.erase(full);
    auto it = store_->nodes_.lower_bound(base);
    while (it != store_->nodes_.end() && it->first.compare(0, base.size(), base) == 0)
      it = store_->nodes_.erase(it);
  }

  void make_directories(std::string_view dir) override {
    validate_user_path(dir, true);
    const auto full = full_path(dir);
    std::lock_guard lock(store_->mutex_);
    if (!store_->make_dirs_locked(full)) throw not_a_directory(dir, "create directory");
  }

  void remove_temporaries(std::string_view dir) override {
    // Uncommitted files live in their writers' buffers, never in the store.
    validate_user_path(dir, true);
  }

  std::unique_ptr<Lock> try_lock(std::string_view path) override {
    validate_user_path(path);
    const auto full = full_path(path);
    std::lock_guard lock(store_->mutex_);
    // A lock file, as LocalFileSystem leaves one: code tested here sees what it will see on disk.
    if (!store_->make_dirs_locked(parent(full))) throw not_a_directory(path, "lock");
    auto it = store_->nodes_.find(full);
    if (it == store_->nodes_.end()) {
      store_->nodes_.emplace(full, MemoryStore::Node{std::make_shared<const Bytes>()});
    } else if (it->second.directory()) {
      throw IoError(errc::io_error, std::string(path),
                    "cannot lock '" + std::string(path) + "' in " + uri_ + ": it is a directory",
                    std::make_error_code(std::errc::is_a_directory));
    }
    if (!store_->locks_.insert(full).second) return nullptr;
    return std::make_unique<detail::MemoryLock>(store_, full);
  }

 private:
  std::string full_path(std::string_view path) const { return join(prefix_, path); }

  IoError not_a_directory(std::string_view path, std::string_view what) const {
    return IoError(errc::io_error, std::string(path),
                   "cannot " + std::string(what) + " '" + std::string(path) + "' in " + uri_ +
                       ": a component of the path is a file, not a directory",
                   std::make_error_code(std::errc::not_a_directory));
  }

  std::shared_ptr<MemoryStore> store_;
  std::string prefix_;
  std::string uri_;
};

}  // namespace ckpt::fs
