#pragma once
// CheckpointStorage: a directory (or object-store prefix) per job holding its
// checkpoints and savepoints (layout in storage/layout.hpp).
//
//   auto storage = ckpt::CheckpointStorage(fs, ckpt::StorageOptions::defaults().retain(3));
//   auto pending = storage.begin_checkpoint(storage.next_checkpoint_id(), clock.epoch_millis());
//   pending->write({"counter", 0, 1, backend.begin_snapshot(pending->id()), store.snapshot()});
//   pending->complete({{"program-version", "1.4.2"}});
//   ...
//   if (auto snapshot = storage.restore_latest()) snapshot->restore("counter", &backend, &store);
//
// A checkpoint is complete only once its manifest is published, last and
// atomically; anything without one is garbage, cleaned and never restored.
// One process writes to a storage at a time: opening takes a lock, and a
// second writer gets errc::locked (a job's members share one storage, one
// writer per member: StorageOptions::job_member). Savepoints are full, self-contained,
// relocatable and never deleted by ckpt.

#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/path.hpp>
#include <ckpt/fs/registry.hpp>
#include <ckpt/fs/uri.hpp>
#include <ckpt/names.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/snapshot/codec.hpp>
#include <ckpt/snapshot/manifest.hpp>
#include <ckpt/snapshot/state_file_reader.hpp>
#include <ckpt/snapshot/state_file_writer.hpp>
#include <ckpt/function/committed_output.hpp>
#include <ckpt/state/keyed_snapshot_job.hpp>
#include <ckpt/storage/compression_pool.hpp>
#include <ckpt/storage/layout.hpp>
#include <ckpt/storage/native_files.hpp>
#include <ckpt/storage/process_locks.hpp>
#include <ckpt/storage/snapshot_reader.hpp>
#include <ckpt/storage/storage_options.hpp>
#include <ckpt/storage/tag_store.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ckpt {

/// The state of one participant (an operator subtask) at a checkpoint.
struct ParticipantSnapshot {
  std::string uid;
  std::uint32_t subtask = 0;
  std::uint32_t parallelism = 1;
  std::unique_ptr<KeyedSnapshotJob> keyed;            // from KeyedStateBackend::begin_snapshot(); may be null
  std::optional<OperatorStateSnapshot> operator_state;  // from OperatorStateStore::snapshot(); may be empty
};

struct ParticipantStats {
  std::uint64_t raw_bytes = 0;     // serialized state written
  std::uint64_t stored_bytes = 0;  // ... after compression
  std::uint32_t key_groups_written = 0;
  std::uint32_t key_groups_referenced = 0;  // incremental: unchanged, written by reference
  // A native (RocksDB) snapshot: files uploaded (their bytes) and files an
  // earlier checkpoint of the same database already held, referenced.
  std::uint64_t native_bytes_uploaded = 0;
  std::uint32_t native_files_uploaded = 0;
  std::uint32_t native_files_referenced = 0;
};

/// A complete checkpoint or savepoint, as listed.
struct SnapshotInfo {
  std::uint64_t id = 0;
  SnapshotKind kind = SnapshotKind::checkpoint;
  std::string name;
  std::string directory;  // relative to the storage root
  std::int64_t timestamp_millis = 0;
  std::uint64_t raw_bytes = 0;
  std::uint64_t stored_bytes = 0;
  bool ends_job = false;  // a savepoint that ended the job (see Manifest::ends_job)
};

class CheckpointStorage;

/// A checkpoint or savepoint being written. write() may be called from
/// several threads at once, one call per participant; then complete().
/// Destroying it uncompleted aborts it.
class PendingSnapshot {
 public:
  PendingSnapshot(const PendingSnapshot&) = delete;
  PendingSnapshot& operator=(const PendingSnapshot&) = delete;
  ~PendingSnapshot() { abort(); }

  std::uint64_t id() const noexcept { return id_; }
  SnapshotKind kind() const noexcept { return kind_; }
  std::int64_t timestamp_millis() const noexcept { return timestamp_; }
  /// The snapshot's directory, relative to the storage root.
  const std::string& directory() const noexcept { return dir_; }

  inline ParticipantStats write(ParticipantSnapshot participant);
  /// Publishes the manifest: from here on the snapshot is complete. Then
  /// applies retention. Throws (and the snapshot is not complete) if a
  /// participant is missing or the manifest cannot be published.
  inline Manifest complete(std::map<std::string, std::string> properties = {});
  /// Removes what was written. Idempotent; never throws.
  inline void abort() noexcept;
  /// A savepoint only: create its tag when it completes (also without
  /// TagOptions::savepoint_auto_tag); `automatic` marks a scheduled tag,
  /// which owns its savepoint. The tag is named like the savepoint, or
  /// "savepoint-<id>".
  void tag_on_completion(bool automatic) {
    std::lock_guard lock(mutex_);
    tag_ = automatic ? TagRequest::automatic : TagRequest::manual;
  }
  /// The name of the tag this savepoint gets (whether or not it gets one).
  std::string tag_name() const { return name_.empty() ? "savepoint-" + std::to_string(id_) : name_; }

 private:
  friend class CheckpointStorage;
  PendingSnapshot(CheckpointStorage& storage, std::uint64_t id, std::int64_t timestamp, SnapshotKind kind,
                  std::string dir, std::string name, bool ends_job = false)
      : storage_(storage),
        id_(id),
        timestamp_(timestamp),
        kind_(kind),
        dir_(std::move(dir)),
        name_(std::move(name)),
        ends_job_(ends_job) {}

  [[noreturn]] void throw_not_pending() const {
    throw CheckpointError(errc::checkpoint_aborted, "checkpoint " + std::to_string(id_) + " is no longer pending");
  }

  struct OperatorEntry {
    OperatorManifest manifest;
    std::vector<bool> present;
  };
  enum class TagRequest : std::uint8_t { none, manual, automatic };

  CheckpointStorage& storage_;
  std::uint64_t id_;
  std::int64_t timestamp_;
  SnapshotKind kind_;
  std::string dir_;
  std::string name_;
  bool ends_job_ = false;
  TagRequest tag_ = TagRequest::none;
  std::mutex mutex_;
  std::map<std::string, OperatorEntry> operators_;
  std::vector<std::string> shared_files_;  // to remove on abort
  std::optional<std::uint64_t> base_id_;
  std::vector<NativeSubtaskManifest> native_;
  std::vector<std::string> pinned_;  // shared files this snapshot may reference (CheckpointStorage::reusable_native)
  bool done_ = false;
};

class CheckpointStorage {
 public:
  /// Takes the storage's lock (errc::locked if another live process holds
  /// it) and cleans what a crashed writer left: temporary files, checkpoints
  /// without a manifest, checkpoints beyond the retained number, unreferenced
  /// shared files. A read-only storage (StorageOptions::read_only_access())
  /// does neither.
  explicit CheckpointStorage(std::shared_ptr<fs::FileSystem> fs, StorageOptions options = {})
      : fs_(std::move(fs)), options_(std::move(options)), pool_(options_.compression_threads), tags_(*fs_, options_.tags) {
    if (options_.retained_checkpoints == 0)
      throw ConfigError(errc::invalid_argument, "at least one checkpoint must be retained");
    if (auto p = fs::path_problem(options_.savepoint_directory); !p.empty())
      throw ConfigError(errc::invalid_name, "savepoint directory: " + p);
    if (options_.tags.creation_period && options_.tags.creation_period->count() <= 0)
      throw ConfigError(errc::invalid_argument, "the tag creation period must be positive");
    if (options_.tags.num_retained_max && *options_.tags.num_retained_max == 0)
      throw ConfigError(errc::invalid_argument, "tags: num_retained_max must be at least 1");
    (void)Compressor(options_.codec, options_.compression_level);  // validates the level
    if (options_.read_only) return;  // no lock, no cleanup: nothing here changes the storage
    if (member()) {
      // One writer per member: the others write beside us, so nothing of theirs is cleaned here.
      if (auto p = layout::member_id_problem(options_.job_member); !p.empty()) throw ConfigError(errc::invalid_name, p);
      if (options_.incremental)
        throw ConfigError(errc::invalid_argument, "a job member's storage (" + fs_->uri() +
                                                      ") does not support incremental checkpoints yet");
      const auto name = layout::member_lock_file(options_.job_member);
      if (!take_lock(name))
        throw IoError(errc::locked, name, fs_->uri() + " is locked for member '" + options_.job_member + "' by " +
                                              holder(name) + "; each job member id is one process");
      return;
    }
    if (!take_lock(std::string(layout::lock_file)))
      throw IoError(errc::locked, std::string(layout::lock_file),
                    fs_->uri() + " is locked by " + holder(std::string(layout::lock_file)) +
                        " writing checkpoints there; only one writer per checkpoint directory is allowed");
    refuse_live_members();
    remove_temporaries();
    cleanup(std::nullopt);
  }
  CheckpointStorage(const CheckpointStorage&) = delete;
  CheckpointStorage& operator=(const CheckpointStorage&) = delete;

  /// The storage at a URI: file:///dir, mem://store/prefix, s3://bucket/prefix
  /// (with ckpt::s3), or a scheme registered with fs::register_file_system().
  static std::unique_ptr<CheckpointStorage> open(std::string_view uri, StorageOptions options = {}) {
    return std::make_unique<CheckpointStorage>(
        options.create_if_missing && !options.read_only ? fs::open_file_system(uri) : fs::open_existing_file_system(uri),
        std::move(options));
  }

  /// A checkpoint or savepoint by its own URI (".../chk-7", ".../savepoints/savepoint-7-v2"),
  /// read-only and without the storage's lock: a savepoint moved anywhere
  /// still opens. Files an incremental checkpoint shares are looked up in the
  /// shared/ directory beside it.
  static std::unique_ptr<SnapshotReader> open_snapshot(std::string_view uri, ReadLimits limits = {}) {
    auto parsed = fs::Uri::parse(uri);
    while (parsed.path.size() > 1 && parsed.path.ends_with('/')) parsed.path.pop_back();
    const auto slash = parsed.path.rfind('/');
    const auto dir = slash == std::string::npos ? parsed.path : parsed.path.substr(slash + 1);
    if (auto p = fs::path_problem(dir); !p.empty())
      throw ConfigError(errc::invalid_argument, "'" + parsed.redacted() + "' does not name a snapshot directory: " + p);
    parsed.path = slash == std::string::npos ? std::string(".") : (slash == 0 ? std::string("/") : parsed.path.substr(0, slash));
    auto reader = std::make_unique<SnapshotReader>(fs::open_existing_file_system(parsed), dir, limits);
    reader->verify_files();
    return reader;
  }

  const StorageOptions& options() const noexcept { return options_; }
  fs::FileSystem& file_system() const noexcept { return *fs_; }
  std::shared_ptr<fs::FileSystem> file_system_ptr() const { return fs_; }
  std::string uri() const { return fs_->uri(); }

  /// One more than the highest checkpoint or savepoint id seen here, so ids
  /// keep growing across restarts.
  std::uint64_t next_checkpoint_id() {
    std::lock_guard lock(mutex_);
    std::uint64_t next = highest_id_ + 1;
    for (const auto& c : scan_checkpoints()) next = std::max(next, c.id + 1);
    for (const auto& s : savepoints_locked()) next = std::max(next, s.id + 1);
    highest_id_ = next - 1;
    return next;
  }

  std::unique_ptr<PendingSnapshot> begin_checkpoint(std::uint64_t id, std::int64_t timestamp_millis) {
    require_writable("a checkpoint");
    const auto dir = layout::checkpoint_dir(id);
    if (fs_->exists(fs::join(dir, manifest_file_name)))
      throw CheckpointError(errc::already_exists, "checkpoint " + std::to_string(id) + " already exists in " + uri());
    fs_->make_directories(dir);
    if (options_.incremental) fs_->make_directories(std::string(layout::shared_dir));
    note_id(id);
    return std::unique_ptr<PendingSnapshot>(
        new PendingSnapshot(*this, id, timestamp_millis, SnapshotKind::checkpoint, dir, {}));
  }

  /// A savepoint: always full, in its own directory, optionally named (a tag).
  /// `ends_job`: the job stops with it (stop with savepoint), so its sinks
  /// commit through it and it becomes the restore point for restore_latest().
  std::unique_ptr<PendingSnapshot> begin_savepoint(std::uint64_t id, std::int64_t timestamp_millis,
                                                   std::string name = {}, bool ends_job = false) {
    require_writable("a savepoint");
    if (member())
      throw ConfigError(errc::invalid_argument, "savepoints of a job's members are not supported yet (" + uri() + ")");
    if (!name.empty()) validate_name("savepoint name", name);
    const auto dir = fs::join(options_.savepoint_directory, layout::savepoint_dir(id, name));
    if (fs_->exists(fs::join(dir, manifest_file_name)))
      throw CheckpointError(errc::already_exists, "savepoint " + dir + " already exists in " + uri());
    auto pending = std::unique_ptr<PendingSnapshot>(
        new PendingSnapshot(*this, id, timestamp_millis, SnapshotKind::savepoint, dir, std::move(name), ends_job));
    if (options_.tags.savepoint_auto_tag) check_tag_free(pending->tag_name());
    fs_->make_directories(dir);
    note_id(id);
    return pending;
  }

  /// Fails (errc::already_exists) if a tag of that name exists: called before
  /// a savepoint that will be tagged begins.
  void check_tag_free(const std::string& tag) {
    if (tags_.find(tag))
      throw CheckpointError(errc::already_exists, "tag '" + tag + "' already exists in " + uri() +
                                                      "; delete it or name the savepoint differently");
  }

  /// Complete checkpoints, newest first (those whose manifest reads).
  std::vector<SnapshotInfo> checkpoints() {
    std::lock_guard lock(mutex_);
    std::vector<SnapshotInfo> out;
    for (const auto& c : scan_checkpoints()) {
      if (!c.complete) continue;
      if (const Manifest* m = manifest_locked(c.id)) out.push_back(info(*m, layout::checkpoint_dir(c.id)));
    }
    return out;
  }

  /// Savepoints, newest first.
  std::vector<SnapshotInfo> savepoints() {
    std::lock_guard lock(mutex_);
    return savepoints_locked();
  }

  /// The restore point of a plain restart: the newest snapshot whose side
  /// effects were committed — a complete checkpoint, or a savepoint that ended
  /// the job (stop with savepoint) — whose manifest and files verify; nullptr
  /// when there is none. An intermediate savepoint committed nothing and is
  /// never chosen here (restore it by name). A newest snapshot that fails
  /// verification is an error naming the file, unless
  /// options.fallback_to_previous, which tries the previous one and records
  /// why in the reader's notes().
  std::unique_ptr<SnapshotReader> restore_latest(RestoreOptions options = {}) {
    std::vector<std::string> notes;
    for (const auto& [id, dir] : restore_candidates()) {
      const auto what = dir.starts_with(layout::checkpoint_prefix) ? "checkpoint " : "savepoint ";
      if (options.fallback_to_previous) {
        std::unique_lock lock(mutex_);
        if (auto it = damaged_.find(fs_->uri() + "/" + dir); it != damaged_.end()) {
          notes.push_back(what + std::to_string(id) + " was skipped: an earlier restore found it damaged: " + it->second);
          continue;
        }
      }
      try {
        auto reader = std::make_unique<SnapshotReader>(fs_, dir, options_.limits);
        reader->set_threads(options_.compression_threads);
        reader->verify_files();
        if (options.verify_blocks) reader->verify_all();
        for (auto& n : notes) reader->add_note(std::move(n));
        return reader;
      } catch (const Error& e) {
        if (!options.fallback_to_previous) throw;
        notes.push_back(what + std::to_string(id) + " was skipped: " + e.what());
      }
    }
    if (!notes.empty()) {
      std::string all;
      for (const auto& n : notes) all += "\n  " + n;
      throw RestoreError(errc::corrupt_data, "no retained checkpoint in " + uri() + " verifies:" + all);
    }
    return nullptr;
  }

  /// Marks a restore point found damaged while it was being restored (a
  /// block failed its checksum): from now on restore_latest() skips it, with
  /// a note, unless told not to fall back. In this process only: a damaged
  /// file is not proof for ever (it may be repaired), so nothing is written.
  void mark_damaged(const SnapshotReader& snapshot, std::string why) {
    std::lock_guard lock(mutex_);
    damaged_[snapshot.location()] = std::move(why);
  }

  /// Makes `snapshot` — about to be restored by name: a savepoint, another
  /// storage's snapshot, or a checkpoint that is not the latest — this
  /// storage's restore point before anything restored from it commits: a
  /// copy of it becomes the newest checkpoint (blocks copied as stored, each
  /// verified). A restart before the job's next checkpoint then continues
  /// from it, instead of from an older snapshot that would replay what the
  /// restored sinks are about to commit. Nothing is copied when it already is
  /// the restore point, or the restore point is a copy of it. JobRunner and
  /// CheckpointedService call it when they restore a snapshot they were given.
  std::optional<SnapshotInfo> adopt_restore_point(SnapshotReader& snapshot) {
    if (member()) return std::nullopt;  // the job's committer keeps the restore point (in etcd, say)
    const auto candidates = restore_candidates();
    if (!candidates.empty()) {
      const auto& [id, dir] = candidates.front();
      if (snapshot.location() == fs_->uri() + "/" + dir) return std::nullopt;
      if (dir.starts_with(layout::checkpoint_prefix)) {
        std::lock_guard lock(mutex_);
        const Manifest* m = manifest_locked(id);
        if (m && m->properties.count(copy_of_property) && m->properties.at(copy_of_property) == snapshot.location())
          return std::nullopt;
      }
    }
    return copy_as_checkpoint(snapshot, {});
  }

  /// The manifest property naming the snapshot a checkpoint is a copy of.
  static constexpr const char* copy_of_property = "ckpt.copy-of";

  /// A specific complete checkpoint; an error if it is missing or does not verify.
  std::unique_ptr<SnapshotReader> open_checkpoint(std::uint64_t id) {
    const auto dir = layout::checkpoint_dir(id);
    if (!fs_->exists(fs::join(dir, manifest_file_name)))
      throw RestoreError(errc::not_found, "checkpoint " + std::to_string(id) + " in " + uri() +
                                              " is missing or incomplete (no manifest)");
    auto reader = std::make_unique<SnapshotReader>(fs_, dir, options_.limits);
    reader->set_threads(options_.compression_threads);
    reader->verify_files();
    return reader;
  }

  /// A savepoint by name (tag), directory name, or id; never falls back.
  std::unique_ptr<SnapshotReader> open_savepoint(std::string_view which) {
    for (const auto& s : savepoints()) {
      if (s.name == which || fs::filename(s.directory) == which || std::to_string(s.id) == which) {
        auto reader = std::make_unique<SnapshotReader>(fs_, s.directory, options_.limits);
        reader->set_threads(options_.compression_threads);
        reader->verify_files();
        return reader;
      }
    }
    throw RestoreError(errc::not_found, "no savepoint named '" + std::string(which) + "' in " + uri() + "/" +
                                            options_.savepoint_directory);
  }

  /// Copies a retained checkpoint into a self-contained savepoint (managed
  /// services call it importing the latest checkpoint). Blocks are copied as
  /// stored, each verified on the way.
  inline SnapshotInfo promote_to_savepoint(std::uint64_t checkpoint_id, std::string name = {});

  // -- Tags (tag_store.hpp) ----------------------------------------------------

  /// Tags, oldest savepoint first.
  std::vector<TagInfo> tags(std::vector<std::string>* problems = nullptr) const { return tags_.list(problems); }
  std::optional<TagInfo> find_tag(std::string_view name) const { return tags_.find(name); }

  /// Tags an existing savepoint by hand (Paimon's create_tag). It expires
  /// after TagOptions::default_time_retained, if set.
  TagInfo create_tag(std::string name, std::uint64_t savepoint_id, std::int64_t now_millis) {
    require_writable("creating a tag");
    validate_name("tag", name);
    for (const auto& s : savepoints()) {
      if (s.id != savepoint_id) continue;
      auto tag = make_tag(std::move(name), s.id, s.directory, now_millis, false);
      tags_.create(tag);
      return tag;
    }
    throw RestoreError(errc::not_found, "no savepoint with id " + std::to_string(savepoint_id) + " in " + uri() + "/" +
                                            options_.savepoint_directory + " to tag");
  }

  /// Deletes a tag; a scheduled tag's savepoint goes with it. errc::not_found
  /// if there is none.
  void delete_tag(std::string_view name) {
    require_writable("deleting a tag");
    const auto tag = tags_.find(name);
    if (!tag) throw RestoreError(errc::not_found, "no tag named '" + printable_name(name) + "' in " + uri());
    tags_.remove(*tag);
  }

  /// Applies tag retention now (it also runs whenever a tag is created).
  std::vector<std::string> expire_tags(std::int64_t now_millis) {
    require_writable("expiring tags");
    return tags_.expire(now_millis);
  }

  /// Rolls the job back to a tag (Paimon's rollback_to): every output loses
  /// what was committed after the tag's savepoint, the savepoint's state
  /// becomes the newest checkpoint (a copy, so a plain restart continues
  /// from it, as does restoring the savepoint itself), and the checkpoints and
  /// tags after it — a history the job abandons — are deleted. Savepoints are
  /// kept. No job may run on the storage meanwhile. Run it again if it was
  /// interrupted: the steps are ordered so that an interrupted rollback
  /// restores nothing silently wrong (a restart before it is finished fails
  /// on the sinks' missing parts).
  inline SnapshotInfo rollback_to_tag(std::string_view name, const std::vector<CommittedOutput*>& outputs);

  /// For DELETE_ON_CANCELLATION: removes every checkpoint (savepoints stay).
  void on_job_cancelled() {
    if (options_.on_cancellation != CancellationPolicy::delete_on_cancellation) return;
    require_writable("deleting checkpoints on cancellation");
    std::lock_guard lock(mutex_);
    for (const auto& c : scan_checkpoints()) fs_->remove_all(layout::checkpoint_dir(c.id));
    fs_->remove_all(std::string(layout::shared_dir));
    manifests_.clear();
  }

  /// The job's committer, after committing checkpoint `committed`: applies
  /// retention and removes checkpoints older than it that have no _metadata
  /// (newer ones may be in flight). Also in member mode, where nothing else cleans.
  void cleanup_committed(std::uint64_t committed) {
    require_writable("cleanup");
    cleanup(committed);
  }

  /// Whether this storage is one job member's (StorageOptions::job_member).
  bool member() const noexcept { return !options_.job_member.empty(); }

  /// Applies retention now (it also runs after every completed checkpoint).
  void cleanup() {
    require_writable("cleanup");
    cleanup(std::nullopt);
  }

  /// What opening the storage had to leave alone: a checkpoint directory it
  /// could not look into (restore_latest() skips it too, with a note).
  std::vector<std::string> notes() {
    std::lock_guard lock(mutex_);
    return notes_;
  }

  /// Why the cleanup after the last completed checkpoint failed, if it did.
  std::optional<std::string> last_cleanup_error() {
    std::lock_guard lock(mutex_);
    return last_cleanup_error_;
  }

 private:
  friend class PendingSnapshot;

  void require_writable(const char* what) const {
    if (options_.read_only)
      throw ConfigError(errc::invalid_argument, fs_->uri() + " was opened read-only (StorageOptions::read_only_access()): " +
                                                    what + " would change it");
  }

  struct Scanned {
    std::uint64_t id;
    bool complete;
    std::string problem;  // the directory could not be looked into (e.g. EACCES): neither complete nor garbage
  };

  static SnapshotInfo info(const Manifest& m, std::string dir) {
    return {m.checkpoint_id, m.kind,           m.name,        std::move(dir), m.timestamp_millis,
            m.raw_bytes(),   m.stored_bytes(), m.ends_job};
  }

  /// Takes the lock file `name`, remembering in this process that it holds it.
  bool take_lock(const std::string& name) {
    lock_ = fs_->try_lock(name);
    if (lock_) held_here_ = detail::ProcessLocks::instance().hold(fs_->uri() + " " + name);
    return lock_ != nullptr;
  }
  /// Who holds the lock file `name` this storage could not take.
  std::string holder(const std::string& name) const {
    return detail::ProcessLocks::instance().held(fs_->uri() + " " + name)
               ? "another CheckpointStorage in this process (close it first, or share that one)"
               : "another process";
  }

  /// The one writer must not clean up under a job's running members (their
  /// parts in flight have no _metadata yet): a member's lock held is errc::locked.
  void refuse_live_members() {
    for (const auto& e : fs_->list(layout::member_lock_dir)) {
      if (e.type != fs::EntryType::file || !e.name.ends_with(".lock")) continue;
      const auto path = fs::join(layout::member_lock_dir, e.name);
      if (fs_->try_lock(path)) continue;  // nobody holds it: released at once
      lock_.reset();
      held_here_.reset();
      throw IoError(errc::locked, path, fs_->uri() + " is in use by the members of a job (" + path +
                                            " is held); open it as a job member (StorageOptions::job_member)");
    }
  }

  /// What crashed writers left in every directory we write to.
  void remove_temporaries() {
    fs_->remove_temporaries("");
    fs_->remove_temporaries(layout::shared_dir);
    for (const auto& e : fs_->list("")) {
      if (e.type != fs::EntryType::directory || !layout::parse_checkpoint_dir(e.name)) continue;
      try {
        fs_->remove_temporaries(e.name);
      } catch (const Error& error) {  // one directory that cannot be read must not stop the job
        notes_.push_back(e.name + " was left alone: " + error.what());
      }
    }
    fs_->remove_temporaries(options_.savepoint_directory);
    for (const auto& e : fs_->list(options_.savepoint_directory))
      if (e.type == fs::EntryType::directory && layout::parse_savepoint_dir(e.name))
        fs_->remove_temporaries(fs::join(options_.savepoint_directory, e.name));
  }

  void note_id(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    highest_id_ = std::max(highest_id_, id);
  }

  /// chk-<id> directories, newest first.
  std::vector<Scanned> scan_checkpoints() {
    std::vector<Scanned> out;
    for (const auto& e : fs_->list("")) {
      if (e.type != fs::EntryType::directory) continue;
      const auto id = layout::parse_checkpoint_dir(e.name);
      if (!id) continue;
      try {
        out.push_back({*id, fs_->exists(fs::join(e.name, manifest_file_name)), {}});
      } catch (const Error& error) {
        out.push_back({*id, false, error.what()});
      }
    }
    std::sort(out.begin(), out.end(), [](const Scanned& a, const Scanned& b) { return a.id > b.id; });
    return out;
  }

  std::vector<SnapshotInfo> savepoints_locked() {
    std::vector<SnapshotInfo> out;
    for (const auto& e : fs_->list(options_.savepoint_directory)) {
      if (e.type != fs::EntryType::directory || !layout::parse_savepoint_dir(e.name)) continue;
      const auto dir = fs::join(options_.savepoint_directory, e.name);
      const auto path = fs::join(dir, manifest_file_name);
      if (!fs_->exists(path)) continue;
      try {
        auto m = read_manifest(*fs_, path, options_.limits);
        // One copied in from elsewhere (a checkpoint, another id or name) is
        // not this savepoint: not listed, so nothing tags or restores it.
        if (m.kind != SnapshotKind::savepoint || layout::savepoint_dir(m.checkpoint_id, m.name) != e.name) continue;
        out.push_back(info(m, dir));
      } catch (const Error&) {
        // A damaged savepoint is not listed; open_savepoint() names it an error.
      }
    }
    std::sort(out.begin(), out.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.id > b.id; });
    return out;
  }

  /// The manifest of a complete checkpoint, cached; nullptr if it does not read.
  const Manifest* manifest_locked(std::uint64_t id) {
    if (auto it = manifests_.find(id); it != manifests_.end()) return &it->second;
    try {
      auto m = read_manifest(*fs_, fs::join(layout::checkpoint_dir(id), manifest_file_name), options_.limits);
      // One copied in from elsewhere (another id, or a savepoint) is not this
      // checkpoint: unreadable, so it neither counts for retention nor lets a
      // file it may use go.
      if (m.checkpoint_id != id || m.kind != SnapshotKind::checkpoint) return nullptr;
      return &manifests_.emplace(id, std::move(m)).first->second;
    } catch (const Error&) {
      return nullptr;
    }
  }

  /// Shared native files of complete checkpoints that a new native snapshot
  /// of the same database may reference (native_files.hpp).
  /// They are pinned (cleanup leaves them) until `pending` completes or
  /// aborts: a checkpoint completing meanwhile may drop the one that listed them.
  std::map<std::string, NativeFileRef> reusable_native(PendingSnapshot& pending, const std::string& uid,
                                                      std::uint32_t subtask, const std::string& db_identity) {
    std::map<std::string, NativeFileRef> files;
    {
      std::lock_guard lock(mutex_);
      std::vector<const Manifest*> complete;
      for (const auto& c : scan_checkpoints())
        if (c.complete)
          if (const Manifest* m = manifest_locked(c.id)) complete.push_back(m);
      files = detail::reusable_native_files(complete, uid, subtask, db_identity);
      for (const auto& [name, f] : files) pinned_shared_.insert(f.path);
    }
    std::vector<std::string> paths;
    for (const auto& [name, f] : files) paths.push_back(f.path);
    {
      std::lock_guard lock(pending.mutex_);
      if (!pending.done_) {  // else aborted meanwhile: write() fails, nothing will unpin them but us
        pending.pinned_.insert(pending.pinned_.end(), paths.begin(), paths.end());
        return files;
      }
    }
    unpin(paths);
    return files;
  }
  void unpin(std::vector<std::string>& paths) {
    std::lock_guard lock(mutex_);
    for (const auto& p : paths)
      if (auto it = pinned_shared_.find(p); it != pinned_shared_.end()) pinned_shared_.erase(it);
    paths.clear();
  }

  /// What the base checkpoint of an incremental one held for a subtask.
  std::optional<SubtaskManifest> base_subtask(std::uint64_t base_id, const std::string& uid, std::uint32_t subtask) {
    std::lock_guard lock(mutex_);
    const Manifest* m = manifest_locked(base_id);
    if (!m) return std::nullopt;
    const auto* op = m->find(uid);
    if (!op || subtask >= op->subtasks.size()) return std::nullopt;
    return op->subtasks[subtask];
  }

  /// Retention and garbage collection. After checkpoint `completed`, only
  /// leftovers older than it are touched (newer ones may be in flight); with
  /// no id (at open, when nothing is in flight) every leftover is.
  void cleanup(std::optional<std::uint64_t> completed) {
    std::lock_guard lock(mutex_);
    const auto scanned = scan_checkpoints();
    std::set<std::string> referenced;  // shared files the kept checkpoints need
    // A checkpoint whose manifest (or directory) cannot be read now may read
    // later (a permission fixed, a manifest repaired), and it may use any
    // shared file written up to its id: those all stay.
    std::uint64_t unread_up_to = 0;
    std::uint32_t kept = 0;
    for (const auto& c : scanned) {
      const auto dir = layout::checkpoint_dir(c.id);
      if (!c.problem.empty()) {
        unread_up_to = std::max(unread_up_to, c.id);
        continue;
      }
      if (!c.complete) {
        if (!completed || c.id < *completed) fs_->remove_all(dir);
        continue;
      }
      const Manifest* m = manifest_locked(c.id);
      if (!m) {  // unreadable: never counted, never deleted (it is evidence), nor what it may use
        unread_up_to = std::max(unread_up_to, c.id);
        continue;
      }
      if (kept < options_.retained_checkpoints) {
        ++kept;
        for (const auto& op : m->operators)
          for (const auto& s : op.subtasks)
            for (const auto& f : s.files)
              if (f.shared) referenced.insert(f.path);
        for (const auto& n : m->native)
          for (const auto& f : n.files)
            if (f.shared) referenced.insert(f.path);
      } else {
        fs_->remove_all(dir);
        manifests_.erase(c.id);
      }
    }
    for (const auto& e : fs_->list(layout::shared_dir)) {
      if (e.type != fs::EntryType::file || referenced.count(e.name) || pinned_shared_.count(e.name)) continue;
      const auto id = layout::parse_shared_file_checkpoint(e.name);
      if (!id || *id <= unread_up_to) continue;  // not ours, or maybe an unreadable checkpoint's
      if (!completed || *id <= *completed) fs_->remove(fs::join(layout::shared_dir, e.name));
    }
  }

  /// Where restore_latest() looks, newest first: (id, directory) of every
  /// complete checkpoint and every savepoint that ended the job.
  std::vector<std::pair<std::uint64_t, std::string>> restore_candidates() {
    std::vector<std::pair<std::uint64_t, std::string>> candidates;
    {
      std::lock_guard lock(mutex_);
      for (const auto& c : scan_checkpoints())  // an unreadable one is tried, so its problem is noted
        if (c.complete || !c.problem.empty()) candidates.emplace_back(c.id, layout::checkpoint_dir(c.id));
      for (const auto& s : savepoints_locked())
        if (s.ends_job) candidates.emplace_back(s.id, s.directory);
    }
    std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    return candidates;
  }

  /// `source`'s state as this storage's newest checkpoint (see adopt_restore_point).
  inline SnapshotInfo copy_as_checkpoint(SnapshotReader& source, std::map<std::string, std::string> properties);

  TagInfo make_tag(std::string name, std::uint64_t savepoint_id, std::string directory, std::int64_t now_millis,
                   bool automatic) const {
    TagInfo tag{std::move(name), savepoint_id, std::move(directory), now_millis, std::nullopt, automatic};
    if (options_.tags.default_time_retained) tag.expires_millis = now_millis + options_.tags.default_time_retained->count();
    return tag;
  }

  /// A savepoint completed: its tag, if it gets one, and tag retention. The
  /// savepoint is complete whatever happens here; a failure is reported by
  /// last_cleanup_error().
  void tag_savepoint(const PendingSnapshot& p, PendingSnapshot::TagRequest request) {
    if (request == PendingSnapshot::TagRequest::none && !options_.tags.savepoint_auto_tag) return;
    try {
      tags_.create(make_tag(p.tag_name(), p.id(), p.directory(), p.timestamp_millis(),
                            request == PendingSnapshot::TagRequest::automatic));
      tags_.expire(p.timestamp_millis());
      std::lock_guard lock(mutex_);
      last_cleanup_error_.reset();
    } catch (const Error& e) {
      std::lock_guard lock(mutex_);
      last_cleanup_error_ = std::string("tagging savepoint ") + std::to_string(p.id()) + " failed: " + e.what();
    }
  }

  /// Writes `m` with copies of `source`'s blocks into `pending`'s directory:
  /// self-contained files, each block copied as stored and verified on the way.
  inline Manifest publish_copy(PendingSnapshot& pending, SnapshotReader& source, Manifest m);

  void on_complete(std::uint64_t id, const Manifest& m) {
    {
      std::lock_guard lock(mutex_);
      if (m.kind == SnapshotKind::checkpoint) manifests_[id] = m;
    }
    if (m.kind != SnapshotKind::checkpoint) return;
    // The checkpoint is complete whatever happens now: a failed cleanup is
    // retried after the next checkpoint and when the storage is opened again.
    try {
      cleanup(id);
      std::lock_guard lock(mutex_);
      last_cleanup_error_.reset();
    } catch (const Error& e) {
      std::lock_guard lock(mutex_);
      last_cleanup_error_ = e.what();
    }
  }

  std::shared_ptr<fs::FileSystem> fs_;
  StorageOptions options_;
  std::unique_ptr<fs::Lock> lock_;
  std::shared_ptr<void> held_here_;  // lock_ noted in detail::ProcessLocks
  detail::CompressionPool pool_;
  std::mutex mutex_;
  std::map<std::uint64_t, Manifest> manifests_;  // complete checkpoints read so far
  std::uint64_t highest_id_ = 0;
  std::optional<std::string> last_cleanup_error_;
  std::vector<std::string> notes_;
  std::map<std::string, std::string> damaged_;  // location -> why (mark_damaged)
  std::multiset<std::string> pinned_shared_;    // shared files in-flight native checkpoints may reference
  TagStore tags_;
};

// -- PendingSnapshot ---------------------------------------------------------

namespace detail {
/// Turns "which file holds each key group" into ranges of consecutive key groups.
inline std::vector<KeyGroupSource> to_sources(std::uint32_t first, const std::vector<std::optional<std::uint32_t>>& owner) {
  std::vector<KeyGroupSource> out;
  for (std::uint32_t i = 0; i < owner.size(); ++i) {
    if (!owner[i]) continue;
    const auto kg = first + i;
    if (!out.empty() && out.back().file == *owner[i] && out.back().end == kg) {
      ++out.back().end;
    } else {
      out.push_back({*owner[i], kg, kg + 1});
    }
  }
  return out;
}
}  // namespace detail

ParticipantStats PendingSnapshot::write(ParticipantSnapshot p) {
  validate_name("operator uid", p.uid);
  if (p.parallelism == 0 || p.subtask >= p.parallelism)
    throw ConfigError(errc::invalid_argument, "operator '" + p.uid + "': subtask " + std::to_string(p.subtask) +
                                                  " of parallelism " + std::to_string(p.parallelism) + " does not exist");
  {
    std::lock_guard lock(mutex_);
    if (done_) throw_not_pending();
  }
  const auto& options = storage_.options_;
  auto& fs = *storage_.fs_;
  const bool shared = options.incremental && kind_ == SnapshotKind::checkpoint;
  const bool member = storage_.member();
  const auto name = shared   ? layout::shared_state_file(p.uid, p.subtask, id_)
                    : member ? layout::member_state_file(options.job_member, p.uid, p.subtask)
                             : layout::state_file(p.uid, p.subtask);
  const auto path = shared ? fs::join(layout::shared_dir, name) : fs::join(dir_, name);

  std::optional<SubtaskManifest> base;
  if (p.keyed && p.keyed->base_id()) {
    if (kind_ == SnapshotKind::savepoint)
      throw CheckpointError(errc::invalid_argument, "a savepoint must be full; the keyed snapshot of '" + p.uid +
                                                        "' is incremental");
    base = storage_.base_subtask(*p.keyed->base_id(), p.uid, p.subtask);
    if (!base)
      throw CheckpointError(errc::checkpoint_aborted, "the base checkpoint " + std::to_string(*p.keyed->base_id()) +
                                                          " of an incremental snapshot of '" + p.uid +
                                                          "' is not retained");
  }

  SubtaskManifest sm;
  sm.index = p.subtask;
  sm.files.push_back({name, shared, 0, 0});  // our own file, filled in once written
  ParticipantStats stats;
  bool own_file_used = false;
  auto file = fs.create(path);
  StateFileWriter writer(*file, options.codec);

  std::optional<detail::NativeUpload> native;
  if (p.keyed && p.keyed->native()) {
    // A native snapshot: the backend's own files, new ones uploaded, the rest referenced.
    if (kind_ == SnapshotKind::savepoint)
      throw CheckpointError(errc::invalid_argument, "a savepoint must be canonical; the keyed snapshot of '" + p.uid +
                                                        "' is native (take it with incremental = false)");
    const auto& snap = *p.keyed->native();
    native = detail::upload_native(fs, snap, dir_, id_, p.uid, p.subtask,
                                   storage_.reusable_native(*this, p.uid, p.subtask, snap.db_identity));
    native->manifest.states = p.keyed->states();
    sm.key_group_begin = p.keyed->key_groups().begin;
    sm.key_group_end = p.keyed->key_groups().end;
    sm.raw_bytes = sm.stored_bytes = stats.raw_bytes = stats.stored_bytes = native->bytes_uploaded;
    stats.native_bytes_uploaded = native->bytes_uploaded;
    stats.native_files_uploaded = native->files_uploaded;
    stats.native_files_referenced = native->files_reused;
  }
  std::vector<std::optional<std::uint32_t>> owner;
  if (p.keyed && !native) {
    auto& job = *p.keyed;
    const auto range = job.key_groups();
    sm.key_group_begin = range.begin;
    sm.key_group_end = range.end;
    writer.set_keyed_info({job.max_parallelism(), range.begin, range.end, job.key_type(), job.states()});
    owner.assign(range.size(), std::nullopt);
    storage_.pool_.run(job, options.codec, options.compression_level,
                       [&](std::uint32_t kg, KeyGroupResult r, StoredBlock& block) {
                         const auto slot = kg - range.begin;
                         if (r == KeyGroupResult::written) {
                           writer.add_key_group(kg, block);
                           owner[slot] = 0;
                           own_file_used = true;
                           ++stats.key_groups_written;
                           return;
                         }
                         if (r != KeyGroupResult::unchanged) return;
                         // Unchanged since the base: point at the file that holds it.
                         const KeyGroupSource* src = nullptr;
                         for (const auto& s : base->key_groups)
                           if (kg >= s.begin && kg < s.end) src = &s;
                         if (!src) return;  // empty in the base too
                         const FileRef& ref = base->files[src->file];
                         if (!ref.shared)
                           throw CheckpointError(errc::checkpoint_aborted,
                                                 "incremental checkpoints need their base's files in shared/");
                         auto it = std::find(sm.files.begin() + 1, sm.files.end(), ref);
                         if (it == sm.files.end()) it = sm.files.insert(sm.files.end(), ref);
                         owner[slot] = static_cast<std::uint32_t>(it - sm.files.begin());
                         ++stats.key_groups_referenced;
                       });
  }
  if (p.operator_state && !p.operator_state->states.empty()) {
    std::vector<OperatorStateInfo> infos;
    for (const auto& s : p.operator_state->states)
      infos.push_back({s.name, s.distribution, s.element_type, s.element_version, s.elements.size()});
    Compressor c(options.codec, options.compression_level);
    StoredBlock block;
    compress_block(c, serial::encode(*p.operator_state), block);
    writer.add_operator_state(infos, block);
    sm.operator_states = std::move(infos);
    sm.operator_state_file = 0;
    own_file_used = true;
  }
  if (own_file_used) {
    const auto summary = writer.finish();
    file->commit();
    sm.files[0].size = summary.size;
    sm.files[0].index_checksum = summary.index_checksum;
    sm.raw_bytes = stats.raw_bytes += summary.raw_bytes;
    sm.stored_bytes = stats.stored_bytes += summary.stored_bytes;
  } else {
    // Nothing of our own to store: drop the file, shift references down.
    file->abort();
    sm.files.erase(sm.files.begin());
    for (auto& o : owner)
      if (o) --*o;
  }
  if (p.keyed && !native) sm.key_groups = detail::to_sources(sm.key_group_begin, owner);

  std::lock_guard lock(mutex_);
  if (done_) {
    // abort() ran while we wrote, perhaps before our file appeared: take it away too.
    try {
      if (!shared && !member) fs.remove_all(dir_);
      else if (own_file_used) fs.remove(path);
      if (native)
        for (const auto& f : native->new_shared) fs.remove(f);
    } catch (...) {
      // Left for the next cleanup, as abort() leaves what it cannot remove.
    }
    throw_not_pending();
  }
  if (own_file_used && (shared || member)) shared_files_.push_back(path);
  if (native) {
    shared_files_.insert(shared_files_.end(), native->new_shared.begin(), native->new_shared.end());
    native_.push_back(std::move(native->manifest));
  }
  if (p.keyed && p.keyed->base_id()) base_id_ = p.keyed->base_id();
  auto& entry = operators_[p.uid];
  auto& op = entry.manifest;
  if (entry.present.empty()) {
    op.uid = p.uid;
    op.parallelism = p.parallelism;
    op.subtasks.resize(p.parallelism);
    entry.present.assign(p.parallelism, false);
  }
  if (op.parallelism != p.parallelism)
    throw CheckpointError(errc::invalid_argument, "operator '" + p.uid + "' was written with parallelism " +
                                                      std::to_string(op.parallelism) + " and " +
                                                      std::to_string(p.parallelism));
  if (entry.present[p.subtask])
    throw CheckpointError(errc::already_exists, "operator '" + p.uid + "' subtask " + std::to_string(p.subtask) +
                                                    " was written twice");
  if (p.keyed) {
    op.max_parallelism = p.keyed->max_parallelism();
    op.key_type = p.keyed->key_type();
    op.keyed_states = p.keyed->states();
  }
  entry.present[p.subtask] = true;
  op.subtasks[p.subtask] = std::move(sm);
  return stats;
}

Manifest PendingSnapshot::complete(std::map<std::string, std::string> properties) {
  Manifest m;
  {
    std::lock_guard lock(mutex_);
    if (done_) throw_not_pending();
    m.checkpoint_id = id_;
    m.timestamp_millis = timestamp_;
    m.kind = kind_;
    m.name = name_;
    m.ends_job = ends_job_;
    m.base_checkpoint_id = base_id_;
    m.properties = std::move(properties);
    m.native = native_;
    for (auto& [uid, entry] : operators_) {
      if (storage_.member()) {  // a part: only this member's subtasks (part_manifest.hpp merges them)
        auto op = entry.manifest;
        op.subtasks.clear();
        for (std::size_t i = 0; i < entry.present.size(); ++i)
          if (entry.present[i]) op.subtasks.push_back(entry.manifest.subtasks[i]);
        m.operators.push_back(std::move(op));
        continue;
      }
      for (std::size_t i = 0; i < entry.present.size(); ++i)
        if (!entry.present[i])
          throw CheckpointError(errc::checkpoint_aborted, "operator '" + uid + "' subtask " + std::to_string(i) +
                                                              " did not write its state for checkpoint " +
                                                              std::to_string(id_));
      m.operators.push_back(entry.manifest);
    }
  }
  const auto manifest_name = storage_.member() ? layout::part_manifest_file(storage_.options_.job_member)
                                              : std::string(manifest_file_name);
  storage_.fs_->publish(fs::join(dir_, manifest_name), encode_manifest(m));
  if (storage_.member()) {  // a part completes nothing by itself; nothing to clean up here
    std::lock_guard lock(mutex_);
    done_ = true;
    return m;
  }
  TagRequest tag;
  {
    std::lock_guard lock(mutex_);
    done_ = true;
    tag = tag_;
  }
  std::vector<std::string> pinned;
  {
    std::lock_guard lock(mutex_);
    pinned.swap(pinned_);
  }
  storage_.unpin(pinned);  // what this checkpoint uses its published manifest lists now; the rest may go
  if (kind_ == SnapshotKind::savepoint) storage_.tag_savepoint(*this, tag);
  storage_.on_complete(id_, m);
  return m;
}

void PendingSnapshot::abort() noexcept {
  std::vector<std::string> shared, pinned;
  {
    std::lock_guard lock(mutex_);
    if (done_) return;
    done_ = true;
    shared.swap(shared_files_);
    pinned.swap(pinned_);
  }
  try {
    storage_.unpin(pinned);
    for (const auto& f : shared) storage_.fs_->remove(f);
    if (!storage_.member()) storage_.fs_->remove_all(dir_);  // a member's files are all in `shared`
  } catch (...) {
    // Left for the next cleanup: a directory without a manifest is never restored.
  }
}

SnapshotInfo CheckpointStorage::promote_to_savepoint(std::uint64_t checkpoint_id, std::string name) {
  if (!name.empty()) validate_name("savepoint name", name);  // before reading anything
  auto source = open_checkpoint(checkpoint_id);
  auto pending = begin_savepoint(checkpoint_id, source->manifest().timestamp_millis, std::move(name));
  Manifest m = source->manifest();
  m.kind = SnapshotKind::savepoint;
  m.name = pending->name_;
  m.ends_job = false;
  m.base_checkpoint_id.reset();
  m = publish_copy(*pending, *source, std::move(m));
  tag_savepoint(*pending, PendingSnapshot::TagRequest::none);
  return info(m, pending->directory());
}

SnapshotInfo CheckpointStorage::rollback_to_tag(std::string_view name, const std::vector<CommittedOutput*>& outputs) {
  require_writable("a rollback");
  const auto tag = tags_.find(name);
  if (!tag) throw RestoreError(errc::not_found, "no tag named '" + printable_name(name) + "' in " + uri());
  // The tag's savepoint must verify before anything is changed.
  SnapshotReader source(fs_, tag->savepoint_directory, options_.limits);
  source.verify_all();
  if (source.checkpoint_id() != tag->savepoint_id || source.manifest().kind != SnapshotKind::savepoint)
    throw CorruptionError(errc::corrupt_data, tag->savepoint_directory, "manifest",
                          "tag '" + tag->name + "' names savepoint " + std::to_string(tag->savepoint_id) + " but " +
                              tag->savepoint_directory + " holds " + to_string(source.manifest().kind) + " " +
                              std::to_string(source.checkpoint_id()));
  // 1. The outputs lose what was committed after the tag.
  for (auto* output : outputs) output->rollback_to(tag->savepoint_id);
  // 2. The tag's state becomes the newest checkpoint: a plain restart continues from it.
  const auto copy = copy_as_checkpoint(source, {{"ckpt.rolled-back-to-tag", tag->name}});
  const auto id = copy.id;
  // 3. What came after the tag is an abandoned history.
  {
    std::lock_guard lock(mutex_);
    for (const auto& c : scan_checkpoints()) {
      if (c.id <= tag->savepoint_id || c.id >= id) continue;
      fs_->remove_all(layout::checkpoint_dir(c.id));
      manifests_.erase(c.id);
    }
  }
  for (const auto& t : tags_.list())
    if (t.savepoint_id > tag->savepoint_id) tags_.remove(t);
  cleanup(std::nullopt);
  return copy;
}

SnapshotInfo CheckpointStorage::copy_as_checkpoint(SnapshotReader& source, std::map<std::string, std::string> properties) {
  const auto id = next_checkpoint_id();
  auto pending = begin_checkpoint(id, source.manifest().timestamp_millis);
  Manifest m = source.manifest();
  m.checkpoint_id = id;
  m.kind = SnapshotKind::checkpoint;
  m.name.clear();
  m.ends_job = false;
  m.base_checkpoint_id.reset();
  for (auto& [k, v] : properties) m.properties[k] = std::move(v);
  m.properties[copy_of_property] = source.location();
  m = publish_copy(*pending, source, std::move(m));
  {
    std::lock_guard lock(mutex_);
    manifests_[id] = m;
  }
  return info(m, pending->directory());
}

Manifest CheckpointStorage::publish_copy(PendingSnapshot& pending, SnapshotReader& source, Manifest m) {
  for (auto& op : m.operators) {
    for (auto& s : op.subtasks) {
      s.raw_bytes = s.stored_bytes = 0;
      for (std::uint32_t i = 0; i < s.files.size(); ++i) {
        const FileRef ref = s.files[i];
        const auto from = ref.shared ? fs::join(layout::shared_dir, ref.path) : fs::join(source.directory(), ref.path);
        StateFileReader reader(source.file_system()->open(from), options_.limits, ref.size, ref.index_checksum);
        const auto to_name = op.uid + "-" + std::to_string(s.index) + "-" + std::to_string(i) + std::string(layout::state_suffix);
        auto out = fs_->create(fs::join(pending.directory(), to_name));
        StateFileWriter writer(*out, reader.index().codec);
        if (reader.index().keyed) writer.set_keyed_info(*reader.index().keyed);
        const auto copy = [&](const BlockEntry& block) {
          StoredBlock b;
          reader.read_stored(block, b.stored);  // verified against its checksum
          b.raw_size = block.raw_size;
          b.checksum = block.checksum;
          return b;
        };
        for (const auto& src : s.key_groups) {
          if (src.file != i) continue;
          for (auto kg = src.begin; kg < src.end; ++kg)
            if (const auto* block = reader.find_key_group(kg)) writer.add_key_group(kg, copy(*block));
        }
        if (s.operator_state_file == i)
          if (const auto* block = reader.operator_block()) writer.add_operator_state(reader.index().operator_states, copy(*block));
        const auto summary = writer.finish();
        out->commit();
        s.files[i] = FileRef{to_name, false, summary.size, summary.index_checksum};
        s.raw_bytes += summary.raw_bytes;
        s.stored_bytes += summary.stored_bytes;
      }
    }
  }
  // Native files become the copy's own.
  for (auto& n : m.native) {
    for (auto& f : n.files) {
      auto out = fs_->create(fs::join(pending.directory(), layout::native_own_file(n.uid, n.subtask, f.name)));
      detail::copy_native(*source.file_system(), f, source.directory(), *out);
      out->commit();
      f.path = layout::native_own_file(n.uid, n.subtask, f.name);
      f.shared = false;
    }
  }
  fs_->publish(fs::join(pending.directory(), manifest_file_name), encode_manifest(m));
  std::lock_guard lock(pending.mutex_);
  pending.done_ = true;
  return m;
}

}  // namespace ckpt
