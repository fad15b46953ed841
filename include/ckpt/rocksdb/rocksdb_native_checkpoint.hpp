#pragma once
// Native (incremental) checkpoints of the RocksDB backend, as Flink's: the
// synchronous part flushes the memtables and hard-links the live files into a
// local directory (rocksdb::Checkpoint), O(write buffer), not O(state); the
// storage uploads the SST files no retained checkpoint of the same database
// holds yet (storage/native_files.hpp). Restoring fetches an old subtask's
// files (each verified before RocksDB opens it) into a scratch directory and
// opens it read-only. When all of its key groups are this backend's (the
// same parallelism, or fewer subtasks) and a state's column family is not
// there yet, the state's SST files are moved in as they are
// (CreateColumnFamilyWithImport: no entry rewritten). Otherwise exactly this
// backend's key groups are copied out: a key group is one contiguous key
// range (key_layout.hpp), so that is one bounded scan per state, whatever
// the parallelism was.

#include <ckpt/error.hpp>
#include <ckpt/rocksdb/key_layout.hpp>
#include <ckpt/rocksdb/rocksdb_instance.hpp>
#include <ckpt/rocksdb/status.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/native_snapshot.hpp>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace ckpt::rocksdb::detail {

/// A local directory removed (with what is in it) when the last owner lets go.
class ScratchDirectory {
 public:
  explicit ScratchDirectory(std::filesystem::path path) : path_(std::move(path)) {}
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  ~ScratchDirectory() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);  // what cannot go now goes when the working directory is next opened
  }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// The synchronous part: flushes every column family and creates RocksDB's
/// checkpoint (hard links; log_size_for_flush 0: always flush) in `dir`, which
/// must not exist yet; lists its files.
inline NativeSnapshot take_native_checkpoint(RocksDBInstance& db, const std::filesystem::path& dir) {
  ::rocksdb::Checkpoint* raw = nullptr;
  check(::rocksdb::Checkpoint::Create(&db.db(), &raw), db.path(), "prepare a native checkpoint");
  std::unique_ptr<::rocksdb::Checkpoint> checkpoint(raw);
  check(checkpoint->CreateCheckpoint(dir.string(), 0), dir.string(), "create a native checkpoint");
  NativeSnapshot snap;
  snap.directory = dir;
  check(db.db().GetDbIdentity(snap.db_identity), db.path(), "read the database identity");
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    const auto name = e.path().filename().string();
    // SST files are immutable and numbered uniquely within one database;
    // MANIFEST, OPTIONS and CURRENT describe this checkpoint only.
    snap.files.push_back({name, static_cast<std::uint64_t>(e.file_size()), name.ends_with(".sst")});
  }
  if (ec)
    throw IoError(errc::io_error, dir.string(), "cannot list the native checkpoint in '" + dir.string() + "': " + ec.message(), ec);
  return snap;
}

/// A database of fetched checkpoint files, open read-only with every column
/// family (the backend's options: the merge operator reads list state).
class ReadOnlyCheckpoint {
 public:
  ReadOnlyCheckpoint(const RocksDBInstance& like, const std::filesystem::path& dir) : path_(dir.string()) {
    ::rocksdb::DBOptions db;
    ::rocksdb::ColumnFamilyOptions cf;
    like.open_options(db, cf);
    std::vector<std::string> names;
    check(::rocksdb::DB::ListColumnFamilies(db, path_, &names), path_, "list the column families of a checkpoint");
    std::vector<::rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names) cfs.emplace_back(n, cf);
    ::rocksdb::DB* raw = nullptr;
    check(::rocksdb::DB::OpenForReadOnly(db, path_, cfs, &handles_, &raw), path_, "open a checkpoint read-only");
    db_.reset(raw);
  }
  ReadOnlyCheckpoint(const ReadOnlyCheckpoint&) = delete;
  ReadOnlyCheckpoint& operator=(const ReadOnlyCheckpoint&) = delete;
  ~ReadOnlyCheckpoint() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_.reset();
  }

  /// Restores every state of this checkpoint into `into`, key groups
  /// `range`. With `whole` (the checkpoint holds no key group outside
  /// `range`) a state whose column family `into` does not have yet gets
  /// this checkpoint's SST files moved in (no entry rewritten, O(files));
  /// the others have their entries of `range` copied.
  void restore_into(RocksDBInstance& into, KeyGroupRange range, bool whole) {
    std::vector<::rocksdb::LiveFileMetaData> live;
    if (whole) db_->GetLiveFilesMetaData(&live);
    for (auto* h : handles_) {
      const auto& name = h->GetName();
      if (name == ::rocksdb::kDefaultColumnFamilyName) continue;  // states have their own
      if (whole && !into.has_column_family(name) && in_files_only(h)) {
        ::rocksdb::ExportImportFilesMetaData files;
        files.db_comparator_name = db_->GetOptions(h).comparator->Name();
        for (const auto& f : live)
          if (f.column_family_name == name) files.files.push_back(f);
        into.import_column_family(name, files);
      } else {
        copy_key_groups(into, h, range);
      }
    }
  }

  /// Writes every entry of key groups `range` of state `h` into `into`, in
  /// batches of about `batch_bytes`.
  void copy_key_groups(RocksDBInstance& into, ::rocksdb::ColumnFamilyHandle* h, KeyGroupRange range,
                       std::size_t batch_bytes = std::size_t{4} << 20) {
    const std::string lower = key_group_begin(range.begin);
    const std::string upper = key_group_begin(range.end);  // range.end <= 2^15: fits the two-byte prefix
    const ::rocksdb::Slice upper_slice(upper);
    ::rocksdb::WriteOptions w;
    w.disableWAL = true;  // durability comes from checkpoints
    auto* to = into.column_family(h->GetName());
    ::rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    ro.fill_cache = false;
    std::unique_ptr<::rocksdb::Iterator> it(db_->NewIterator(ro, h));
    ::rocksdb::WriteBatch batch;
    const auto write = [&] {
      check(into.db().Write(w, &batch), into.path(), "restore state '" + h->GetName() + "' from " + path_);
      batch.Clear();
    };
    for (it->Seek(lower); it->Valid(); it->Next()) {
      check(batch.Put(to, it->key(), it->value()), into.path(), "restore state '" + h->GetName() + "'");
      if (batch.GetDataSize() >= batch_bytes) write();
    }
    check(it->status(), path_, "read state '" + h->GetName() + "'");
    if (batch.Count() > 0) write();
  }

 private:
  /// Whether every entry of `h` is in an SST file (a native checkpoint is
  /// flushed first; anything replayed from a log would not be imported).
  bool in_files_only(::rocksdb::ColumnFamilyHandle* h) const {
    std::uint64_t active = 0, immutable = 0;
    return db_->GetIntProperty(h, ::rocksdb::DB::Properties::kNumEntriesActiveMemTable, &active) &&
           db_->GetIntProperty(h, ::rocksdb::DB::Properties::kNumEntriesImmMemTables, &immutable) && active == 0 &&
           immutable == 0;
  }

  std::string path_;
  std::vector<::rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<::rocksdb::DB> db_;
};

}  // namespace ckpt::rocksdb::detail
