#pragma once
// One backend's RocksDB database in its working directory: checks the
// directory before anything is opened (missing, not a directory, not
// writable, already used by another open backend: a clear error naming it),
// starts from an empty database (local files are a cache of the last
// checkpoint, never restored from: restore reads checkpoint storage), and
// keeps one column family per state, created on first use (Flink's layout),
// each with a TTL compaction filter factory (ttl_compaction_filter.hpp) that
// filters nothing until set_ttl_filter() (unless the options factory set its
// own compaction filter: then that one is kept).

#include <ckpt/error.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/rocksdb/key_layout.hpp>
#include <ckpt/rocksdb/rocksdb_options.hpp>
#include <ckpt/rocksdb/status.hpp>
#include <ckpt/rocksdb/ttl_compaction_filter.hpp>

#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <system_error>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ckpt::rocksdb {

namespace detail {
/// An exclusive flock on <working directory>/LOCK, held while the backend is
/// open: a second backend on the same directory, in this process or another,
/// is refused. (flock locks belong to the open file, so two opens in one
/// process conflict too.)
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::filesystem::path& dir) {
    const std::string d = dir.string();
    std::error_code ec;
    const auto st = std::filesystem::status(dir, ec);
    if (!std::filesystem::exists(st))
      throw IoError(errc::not_found, d, "RocksDB working directory '" + d + "' does not exist (expected an existing, writable directory)");
    if (!std::filesystem::is_directory(st))
      throw IoError(errc::invalid_argument, d, "RocksDB working directory '" + d + "' is not a directory");
    const std::string lock = (dir / "LOCK").string();
    fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      const int e = errno;
      throw IoError(e == EACCES || e == EPERM || e == EROFS ? errc::permission_denied : errc::io_error, d,
                    "RocksDB working directory '" + d + "' is not writable: cannot create '" + lock +
                        "': " + std::generic_category().message(e),
                    std::error_code(e, std::generic_category()));
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int e = errno;
      ::close(fd_);
      fd_ = -1;
      throw IoError(e == EWOULDBLOCK ? errc::already_exists : errc::io_error, d,
                    "RocksDB working directory '" + d + "' is already used by another open backend (" +
                        lock + " is locked)",
                    std::error_code(e, std::generic_category()));
    }
  }
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;
  ~DirectoryLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
  }

 private:
  int fd_ = -1;
};
}  // namespace detail

class RocksDBInstance {
 public:
  explicit RocksDBInstance(RocksDBOptions options)
      : options_((options.validate(), std::move(options))),
        lock_(options_.working_directory),
        shared_(SharedResources::for_budget(options_)) {
    path_ = (options_.working_directory / "db").string();
    // A previous run's files: never restored from. Scratch directories
    // (native checkpoints, restores) of a run that died go too.
    for (const auto& dir : {std::filesystem::path(path_), scratch_root()}) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      if (ec)
        throw IoError(errc::io_error, dir.string(),
                      "cannot clear the RocksDB directory '" + dir.string() + "': " + ec.message(), ec);
    }
    ::rocksdb::DBOptions db;
    make_options(options_, shared_, db, cf_options_);
    db.create_if_missing = true;
    db.create_missing_column_families = true;
    std::vector<::rocksdb::ColumnFamilyDescriptor> cfs{{::rocksdb::kDefaultColumnFamilyName, cf_options_}};
    std::vector<::rocksdb::ColumnFamilyHandle*> handles;
    ::rocksdb::DB* raw = nullptr;
    check(::rocksdb::DB::Open(db, path_, cfs, &handles, &raw), path_, "open");
    db_.reset(raw);
    default_cf_ = handles.at(0);
  }
  RocksDBInstance(const RocksDBInstance&) = delete;
  RocksDBInstance& operator=(const RocksDBInstance&) = delete;
  ~RocksDBInstance() {
    for (auto& [name, h] : column_families_) db_->DestroyColumnFamilyHandle(h);
    if (default_cf_ != nullptr) db_->DestroyColumnFamilyHandle(default_cf_);
    db_.reset();
  }

  /// The column family of state `name`, created with the backend's options on first use.
  ::rocksdb::ColumnFamilyHandle* column_family(const std::string& name) { return create(name, nullptr); }

  bool has_column_family(const std::string& name) const {
    std::lock_guard lock(mutex_);
    return column_families_.count(name) != 0;
  }

  /// Creates the column family of state `name` from the SST files of another
  /// database (a restored checkpoint), moved in as they are: a restore at the
  /// same parallelism rewrites no entry (Flink opens the files too). It must
  /// not exist yet.
  ::rocksdb::ColumnFamilyHandle* import_column_family(const std::string& name,
                                                      const ::rocksdb::ExportImportFilesMetaData& files) {
    return create(name, &files);
  }

  /// Drops expired entries of state `name` during compaction from now on
  /// (its column family exists). False if the options factory installed its
  /// own compaction filter, which is kept.
  bool set_ttl_filter(const std::string& name, TtlFilterSpec spec) {
    std::lock_guard lock(mutex_);
    auto it = ttl_filters_.find(name);
    if (it == ttl_filters_.end()) return false;
    it->second->set(std::move(spec));
    return true;
  }
  std::vector<std::string> column_family_names() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, h] : column_families_) out.push_back(name);
    return out;
  }

  /// Drops every entry outside key groups [keep.begin, keep.end) from every
  /// state (a rescaled restore keeps its own key groups; Flink's range delete).
  void delete_key_groups_outside(KeyGroupRange keep, std::uint32_t max_parallelism) {
    std::lock_guard lock(mutex_);
    ::rocksdb::WriteOptions w;
    w.disableWAL = true;
    for (const auto& [name, h] : column_families_) {
      if (keep.begin > 0)
        check(db_->DeleteRange(w, h, key_group_begin(0), key_group_begin(keep.begin)), path_,
              "delete key groups below " + keep.to_string() + " of state '" + name + "'");
      if (keep.end < max_parallelism)  // max_parallelism <= 2^15: its prefix fits two bytes
        check(db_->DeleteRange(w, h, key_group_begin(keep.end), key_group_begin(max_parallelism)), path_,
              "delete key groups above " + keep.to_string() + " of state '" + name + "'");
    }
  }

  /// An O(1) consistent view of every state, for a snapshot written by
  /// another thread while the owner goes on writing. Released with the last
  /// copy of the pointer, which must not outlive this instance.
  std::shared_ptr<const ::rocksdb::Snapshot> snapshot() {
    ::rocksdb::DB* db = db_.get();
    return std::shared_ptr<const ::rocksdb::Snapshot>(db->GetSnapshot(),
                                                      [db](const ::rocksdb::Snapshot* s) { db->ReleaseSnapshot(s); });
  }

  /// A new, not yet existing path for a scratch directory (a native
  /// checkpoint, files being restored) under the working directory; its
  /// parent exists.
  std::filesystem::path scratch_path(const std::string& what) {
    const auto root = scratch_root();
    std::error_code ec;
    std::filesystem::create_directories(root, ec);
    if (ec)
      throw IoError(errc::io_error, root.string(), "cannot create '" + root.string() + "': " + ec.message(), ec);
    std::lock_guard lock(mutex_);
    return root / (what + "-" + std::to_string(++scratch_count_));
  }

  /// This backend's options for a database opened beside it (a checkpoint
  /// being restored): the same merge operator, cache and budget.
  void open_options(::rocksdb::DBOptions& db, ::rocksdb::ColumnFamilyOptions& cf) const {
    ckpt::rocksdb::make_options(options_, shared_, db, cf);
  }

  ::rocksdb::DB& db() noexcept { return *db_; }
  const std::string& path() const noexcept { return path_; }
  const RocksDBOptions& options() const noexcept { return options_; }
  const SharedResources& shared() const noexcept { return shared_; }

 private:
  std::filesystem::path scratch_root() const { return options_.working_directory / "scratch"; }

  ::rocksdb::ColumnFamilyHandle* create(const std::string& name, const ::rocksdb::ExportImportFilesMetaData* import) {
    std::lock_guard lock(mutex_);
    if (auto it = column_families_.find(name); it != column_families_.end()) {
      if (import == nullptr) return it->second;
      throw StateError(errc::already_exists, path_ + ": cannot import the files of state '" + name +
                                                 "': its column family exists already");
    }
    ::rocksdb::ColumnFamilyOptions cf = column_family_options();
    std::shared_ptr<TtlCompactionFilterFactory> filter;
    if (cf.compaction_filter == nullptr && cf.compaction_filter_factory == nullptr) {
      filter = std::make_shared<TtlCompactionFilterFactory>();
      cf.compaction_filter_factory = filter;
    }
    ::rocksdb::ColumnFamilyHandle* h = nullptr;
    if (import != nullptr && !import->files.empty()) {
      ::rocksdb::ImportColumnFamilyOptions how;
      how.move_files = true;  // hard links where it can: the fetched copies are scratch
      check(db_->CreateColumnFamilyWithImport(cf, name, how, *import, &h), path_,
            "import the files of column family '" + name + "'");
    } else {
      check(db_->CreateColumnFamily(cf, name, &h), path_, "create column family '" + name + "'");
    }
    column_families_.emplace(name, h);
    if (filter) ttl_filters_.emplace(name, std::move(filter));
    return h;
  }

  ::rocksdb::ColumnFamilyOptions column_family_options() const {
    ::rocksdb::DBOptions db;
    ::rocksdb::ColumnFamilyOptions cf;
    make_options(options_, shared_, db, cf);
    return cf;
  }

  RocksDBOptions options_;
  detail::DirectoryLock lock_;
  SharedResources shared_;
  std::string path_;
  ::rocksdb::ColumnFamilyOptions cf_options_;
  std::unique_ptr<::rocksdb::DB> db_;
  ::rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  mutable std::mutex mutex_;
  std::map<std::string, ::rocksdb::ColumnFamilyHandle*> column_families_;
  std::map<std::string, std::shared_ptr<TtlCompactionFilterFactory>> ttl_filters_;
  std::uint64_t scratch_count_ = 0;
};

}  // namespace ckpt::rocksdb
