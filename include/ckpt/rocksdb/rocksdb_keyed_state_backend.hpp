#pragma once
// A keyed state backend whose state lives in RocksDB, for state larger than
// memory. It hands out ckpt's own handle types (ValueState<T>, ListState<T>,
// MapState<UK, UV>) with the heap backend's descriptors and StateErrors:
//
//   ckpt::rocksdb::RocksDBKeyedStateBackend<std::string> backend(
//       ckpt::rocksdb::RocksDBOptions::in("/var/lib/svc/rocksdb"), ckpt::KeyGroupRange::all(128), 128);
//   auto clicks = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"clicks", 0});
//   backend.set_current_key("alice");
//   clicks.update(clicks.value() + 1);
//
// It is a KeyedStateBackendBase: begin_snapshot() takes an O(1) RocksDB
// snapshot and the job writes each key group from it in the heap backend's
// canonical format (rocksdb_snapshot.hpp), and restore() reads such
// snapshots, from either backend and any parallelism, into RocksDB. An
// incremental request (checkpoints with StorageOptions::incremental) gets a
// native snapshot instead: RocksDB's own checkpoint, whose new SST files
// alone are uploaded (rocksdb_native_checkpoint.hpp); restore_native() reads
// those back at any parallelism.
//
// State TTL follows the heap backend (StateTtlConfig per descriptor,
// processing time from RocksDBOptions::clock, the system clock by default);
// a TTL state's snapshot is the heap backend's TTL snapshot, timestamps
// included. Timers: InternalTimerService<Key, RocksDBKeyedStateBackend<Key>>
// (state/timer_service.hpp) keeps them in this backend's map states, rebuilt
// through keys(). TTL's background cleanup is RocksDB's compaction: a
// compaction filter drops expired entries and list elements
// (ttl_compaction_filter.hpp; StateTtlConfig::rocksdb_compaction_query_time_after,
// on by default; incremental_cleanup_size is the heap backend's and ignored).

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/rocksdb/key_layout.hpp>
#include <ckpt/rocksdb/rocksdb_instance.hpp>
#include <ckpt/rocksdb/rocksdb_native_checkpoint.hpp>
#include <ckpt/rocksdb/rocksdb_options.hpp>
#include <ckpt/rocksdb/rocksdb_snapshot.hpp>
#include <ckpt/rocksdb/rocksdb_states.hpp>
#include <ckpt/serial/columns.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/serial/type_name.hpp>
#include <ckpt/state/detail/snapshot_control.hpp>
#include <ckpt/state/detail/state_compatibility.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/keyed_snapshot_job.hpp>
#include <ckpt/state/keyed_state_backend_base.hpp>
#include <ckpt/state/keyed_state_store.hpp>
#include <ckpt/state/kv_keyed_state_backend.hpp>
#include <ckpt/state/kv_state.hpp>
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/state/state_ttl_config.hpp>

#include <unistd.h>

#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <vector>

namespace ckpt::rocksdb {

/// The backend itself, apart from the key type (KvKeyedStateBackend): keys
/// arrive serialized. RocksDBKeyedStateBackend<Key> below is the typed store
/// over it; keyed_backend() makes one per subtask for a job's configuration.
class RocksDBKvBackend final : public KvKeyedStateBackend {
 public:
  RocksDBKvBackend(RocksDBOptions options, KeyGroupRange range, std::uint32_t max_parallelism, KvKeyCodec keys)
      : max_parallelism_((validate_parallelism(max_parallelism), max_parallelism)),
        range_(range),
        keys_(std::move(keys)),
        clock_(options.clock ? options.clock : &SystemClock::instance()),
        db_(std::move(options)),
        control_(range.size()) {
    if (range_.empty() || range_.end > max_parallelism_)
      throw ConfigError(errc::invalid_argument, "key groups " + range_.to_string() +
                                                    " are not a non-empty part of [0, " +
                                                    std::to_string(max_parallelism_) + ")");
  }

  RocksDBKvBackend(const RocksDBKvBackend&) = delete;
  RocksDBKvBackend& operator=(const RocksDBKvBackend&) = delete;
  /// Waits for a running snapshot job to be released (destroy jobs first):
  /// its RocksDB snapshot must not outlive the database.
  ~RocksDBKvBackend() override { control_.wait_idle(); }

  std::uint32_t max_parallelism() const noexcept override { return max_parallelism_; }
  KeyGroupRange key_groups() const noexcept override { return range_; }
  std::string key_type_name() const override { return keys_.key_type; }
  /// Declared states, then restored states not declared (again) yet.
  std::vector<std::string> state_names() const override {
    std::vector<std::string> out;
    for (const auto& e : states_) out.push_back(e.codec->meta().name);
    for (const auto& [name, p] : pending_) out.push_back(name);
    for (const auto& [name, meta] : native_pending_)
      if (!pending_.count(name)) out.push_back(name);  // a mixed restore may have it in both
    return out;
  }

  void set_current_key(std::uint32_t key_group, std::string_view key) override {
    ctx_.prefix = key_group_begin(key_group);
    ctx_.prefix += key;
  }
  bool has_current_key() const noexcept override { return !ctx_.prefix.empty(); }

  /// Removes the working directory when the backend closes (after the
  /// database): for a backend a factory made, whose files nobody reads again.
  void remove_working_directory_when_closed() { owned_directory_.emplace(db_.options().working_directory); }

  // -- inspection ------------------------------------------------------------

  /// Every key with an entry in a declared state, in RocksDB key order (as
  /// the heap backend's keys(): expired entries not cleaned up yet count):
  /// its column family, where a key's entries are adjacent.
  void for_each_key(std::string_view state, const std::function<void(std::string_view key)>& fn) override {
    const Entry& e = entry(state);
    std::string block = "state '" + e.codec->meta().name + "'";
    const serial::ReadContext context{db_.path(), block};
    std::unique_ptr<::rocksdb::Iterator> it(db_.db().NewIterator(::rocksdb::ReadOptions(), e.codec->column_family()));
    std::string last;  // the serialized key last handed out
    bool any = false;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const auto rest = detail::view_of(it->key()).substr(key_group_prefix_bytes);
      const auto key = rest.substr(0, keys_.key_size(rest, context));
      if (any && key == last) continue;
      any = true;
      last.assign(key);
      fn(key);
    }
    check(it->status(), db_.path(), "iterate " + block);
  }
  /// The clock TTL reads processing time from.
  const Clock& clock() const noexcept { return *clock_; }

  // -- snapshots -------------------------------------------------------------

  /// Marks a snapshot: O(1) on the owner thread (a RocksDB snapshot, after
  /// waiting for a previous job to be released); the job reads each key
  /// group from it, on any thread, while the owner goes on writing.
  /// SnapshotMode::incremental: a native snapshot (begin_native_snapshot()),
  /// unless restored states not declared yet are held in memory (they are not
  /// in RocksDB): then a full canonical one.
  std::unique_ptr<KeyedSnapshotJob> start_snapshot(std::uint64_t id, SnapshotMode mode) override {
    if (mode == SnapshotMode::incremental && pending_.empty()) return begin_native_snapshot(id);
    control_.wait_idle();
    auto views = std::make_shared<detail::SnapshotViews>();
    views->snapshot = db_.snapshot();
    ckpt::detail::SnapshotCut cut;
    cut.id = id;
    cut.max_parallelism = max_parallelism_;
    cut.range = range_;
    cut.key_type = keys_.key_type;
    cut.now = clock_->epoch_millis();  // what has expired by then is left out (cleanup_in_snapshot)
    for (const auto& e : states_) {
      views->tables.push_back(
          std::make_unique<detail::SnapshotTable>(*e.codec, db_, views->snapshot.get(), range_.begin));
      cut.states.push_back(e.codec->meta());
      cut.tables.push_back(views->tables.back().get());
    }
    for (const auto& [name, p] : pending_) {
      cut.states.push_back(p->meta);
      cut.pending.push_back(p);
    }
    // The owner never copies a key group (the RocksDB snapshot is the
    // image), so the control only hands each key group to the writer once;
    // the views die with the job, before the control's copy of the cut is
    // ever looked at again.
    auto marked = control_.mark(std::move(cut), false);
    return std::make_unique<KeyedSnapshotJob>(std::move(marked), control_, std::move(views));
  }

  /// A native snapshot: flushes the memtables and hard-links the database's
  /// files into a scratch directory (O(write buffer) on this thread); the job
  /// lists them (KeyedSnapshotJob::native()) and removes them when released.
  std::unique_ptr<KeyedSnapshotJob> begin_native_snapshot(std::uint64_t id = 0) {
    control_.wait_idle();
    ckpt::detail::SnapshotCut cut;
    cut.id = id;
    cut.max_parallelism = max_parallelism_;
    cut.range = range_;
    cut.key_type = keys_.key_type;
    cut.now = clock_->epoch_millis();
    for (const auto& e : states_) cut.states.push_back(e.codec->meta());
    for (const auto& [name, meta] : native_pending_) cut.states.push_back(meta);
    auto dir = std::make_shared<const detail::ScratchDirectory>(db_.scratch_path("checkpoint"));
    auto native = std::make_shared<const NativeSnapshot>(detail::take_native_checkpoint(db_, dir->path()));
    auto marked = control_.mark(std::move(cut), false);
    return std::make_unique<KeyedSnapshotJob>(std::move(marked), control_, std::move(native), std::move(dir));
  }

  /// A full snapshot of every key group (or those in `only`), taken on this thread.
  KeyedStateSnapshot snapshot(std::optional<KeyGroupRange> only = std::nullopt) {
    return begin_snapshot()->collect(only);
  }

  void notify_snapshot_complete(std::uint64_t id) override { control_.notify_complete(id); }
  void notify_snapshot_aborted(std::uint64_t id) override { control_.notify_aborted(id); }

  // -- restore ---------------------------------------------------------------

  /// Restores from snapshots of one or more backends (heap or RocksDB) of the
  /// same job: only key groups in this backend's range are read, written
  /// into RocksDB. States not declared yet are kept (in memory, as restored
  /// bytes) and written into RocksDB when declared.
  void restore(std::span<const KeyedStateSnapshot> snapshots) override {
    ckpt::detail::restore_in_memory(*this, snapshots);
  }
  /// The same with blocks fetched on demand, key groups on up to `threads` threads.
  void restore(std::span<const KeyedStateSnapshot> headers, std::span<const KeyedRestoreBlock> blocks,
               const KeyedBlockFetch& fetch, unsigned threads) override {
    control_.wait_idle();
    for (const auto& e : states_)  // the heap backend's checks, in its order
      if (!has_no_entries(*e.codec))
        throw StateError(errc::invalid_argument, "restore() needs an empty backend; state '" + e.codec->meta().name +
                                                     "' already holds entries");
    if (!pending_.empty() || native_restored_)
      throw StateError(errc::invalid_argument, "this backend was already restored");
    const auto now = clock_->epoch_millis();  // TTL starts now for entries written without it
    ckpt::detail::restore_key_groups<Entry>(
        headers, blocks, fetch, threads, max_parallelism_, keys_.key_type, range_,
        [&](const std::string& name) { return find(name); },
        [](const Entry& e) -> const StateMeta& { return e.codec->meta(); }, pending_, pending_origins_,
        [&](Entry& e, std::uint32_t kg, std::size_t, ByteSpan payload, const StateMeta& written,
            const serial::ReadContext& context) { load(*e.codec, kg, payload, written, context, now); });
    restored_ = true;
  }
  void restore(const KeyedStateSnapshot& snapshot) { restore(std::span<const KeyedStateSnapshot>(&snapshot, 1)); }

  /// Restores native snapshots of old subtasks (KeyedStateBackendBase):
  /// each one's files are fetched, verified, into a scratch directory, opened
  /// read-only, and this backend's key groups copied out of every state. The
  /// states must be declared (or get declared) with exactly the types and TTL
  /// they were written with: native files are not converted (a savepoint is).
  void restore_native(std::span<const NativeRestorePart> parts, const NativeFileFetch& fetch) override {
    control_.wait_idle();
    if (native_restored_) throw StateError(errc::invalid_argument, "this backend was already restored");
    if (!restored_)  // after a canonical restore of the same snapshot's other subtasks, its entries are there
      for (const auto& e : states_)
        if (!has_no_entries(*e.codec))
          throw StateError(errc::invalid_argument, "restore() needs an empty backend; state '" +
                                                       e.codec->meta().name + "' already holds entries");
    for (const auto& part : parts) {
      if (part.max_parallelism != max_parallelism_)
        throw RestoreError(errc::state_type_mismatch,
                           part.origin + ": a snapshot taken with max parallelism " +
                               std::to_string(part.max_parallelism) + " cannot be restored with max parallelism " +
                               std::to_string(max_parallelism_) + "; the max parallelism of a job is fixed once it has state");
      if (part.key_type != keys_.key_type)
        throw StateError(errc::state_type_mismatch, part.origin + ": the snapshot's keys are of type " + part.key_type +
                                                        "; this backend's are " + keys_.key_type);
      for (const auto& meta : part.states) check_native(meta, part.origin);
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const auto wanted = range_.intersect(parts[i].key_groups);
      if (wanted.empty()) continue;
      detail::ScratchDirectory dir(db_.scratch_path("restore"));
      std::error_code ec;
      std::filesystem::create_directories(dir.path(), ec);
      if (ec)
        throw IoError(errc::io_error, dir.path().string(),
                      "cannot create '" + dir.path().string() + "': " + ec.message(), ec);
      for (const auto& name : parts[i].files) fetch(i, name, dir.path() / name);  // each verified before the open
      detail::ReadOnlyCheckpoint(db_, dir.path()).restore_into(db_, wanted, wanted == parts[i].key_groups);
    }
    for (const auto& part : parts)
      for (const auto& meta : part.states)
        if (!find(meta.name)) native_pending_.emplace(meta.name, meta);
    restored_ = native_restored_ = true;
  }

  /// Whether restore() has run (Flink's isRestored()).
  bool is_restored() const noexcept override { return restored_; }

  /// The database (for tests and tools: the column family of each state).
  RocksDBInstance& instance() noexcept { return db_; }

 private:
  struct Entry {
    std::unique_ptr<detail::StateCodec> codec;  // its description and canonical form
    ckpt::detail::KvTypedState typed;           // the typed state over its core
  };

  /// A state in a native snapshot is the one declared under its name, to the byte.
  void check_native(const StateMeta& written, const std::string& origin) {
    const StateMeta* declared = nullptr;
    if (const Entry* e = find(written.name)) declared = &e->codec->meta();
    else if (auto it = native_pending_.find(written.name); it != native_pending_.end()) declared = &it->second;
    if (declared) check_native_form(*declared, written, origin);
  }
  static void check_native_form(const StateMeta& declared_meta, const StateMeta& written, const std::string& origin) {
    const StateMeta* declared = &declared_meta;
    ckpt::detail::check_compatible(*declared, written, origin);
    if (declared->ttl != written.ttl || declared->value_version != written.value_version ||
        declared->key_encoding != written.key_encoding || declared->value_encoding != written.value_encoding)
      throw StateError(errc::state_type_mismatch,
                       origin + ": state '" + written.name + "' is in native RocksDB files written " +
                           (written.ttl ? "with" : "without") + " TTL, type version " +
                           std::to_string(written.value_version) + "; it is declared " +
                           (declared->ttl ? "with" : "without") + " TTL, type version " +
                           std::to_string(declared->value_version) +
                           ". Native files are restored as they are: restore a savepoint to change a state's form");
  }

  Entry* find(const std::string& name) {
    for (auto& e : states_)
      if (e.codec->meta().name == name) return &e;
    return nullptr;
  }
  const Entry& entry(std::string_view name) const {
    for (const auto& e : states_)
      if (e.codec->meta().name == name) return e;
    throw StateError(errc::invalid_argument, "no keyed state named '" + std::string(name) + "' is declared");
  }

  bool has_no_entries(const detail::StateCodec& codec) {
    ::rocksdb::ReadOptions ro;
    std::unique_ptr<::rocksdb::Iterator> it(db_.db().NewIterator(ro, codec.column_family()));
    it->SeekToFirst();
    check(it->status(), db_.path(), "look into state '" + codec.meta().name + "'");
    return !it->Valid();
  }

  /// Writes the entries of one restored section into RocksDB, in one batch.
  void load(const detail::StateCodec& codec, std::uint32_t kg, ByteSpan payload, const StateMeta& written,
            const serial::ReadContext& context, std::int64_t now) {
    ::rocksdb::WriteBatch batch;
    codec.read_key_group(kg, payload, written, context, now, batch);
    ::rocksdb::WriteOptions w;
    w.disableWAL = true;  // durability comes from checkpoints
    check(db_.db().Write(w, &batch), db_.path(),
          "restore " + std::string(context.block) + " of state '" + codec.meta().name + "'");
  }

  /// Registers a state (or finds it again) and returns its typed state as
  /// *spec.interface: described as the heap backend describes it (the
  /// spec's StateMeta), so snapshots are alike.
  void* declare_kv(const KvStateSpec& spec) override {
    const StateMeta& meta = spec.meta;
    if (Entry* existing = find(meta.name)) {
      const auto& m = existing->codec->meta();
      if (m.kind != meta.kind || m.value_type != meta.value_type || m.ttl != meta.ttl ||
          *existing->codec->spec().interface != *spec.interface)
        throw StateError(errc::state_type_mismatch, "state '" + meta.name + "' is already declared as " +
                                                        ckpt::detail::describe_state(m) + (m.ttl ? " with TTL" : "") +
                                                        "; it cannot also be " + ckpt::detail::describe_state(meta) +
                                                        (meta.ttl ? " with TTL" : ""));
      return existing->typed.interface;
    }
    if (auto it = native_pending_.find(meta.name); it != native_pending_.end()) {
      check_native_form(meta, it->second, "the restored native snapshot");  // its entries are in the column family already
      native_pending_.erase(it);
    }
    auto* cf = db_.column_family(meta.name);
    if (const auto& t = spec.ttl; t && t->rocksdb_compaction_query_time_after != 0)
      db_.set_ttl_filter(meta.name, TtlFilterSpec{meta.kind == StateKind::list ? TtlLayout::element_list
                                                                               : TtlLayout::timestamped_value,
                                                  *t, clock_});
    const detail::StateSettings settings{db_, cf, ctx_, meta.name, clock_, spec.ttl};
    ckpt::detail::KvCores cores;
    switch (meta.kind) {
      case StateKind::list: cores.list = std::make_shared<RocksDBList>(settings); break;
      case StateKind::map: cores.map = std::make_shared<RocksDBMap>(settings); break;
      default: cores.cell = std::make_shared<RocksDBCell>(settings); break;
    }
    Entry e;
    e.typed = spec.make(cores);
    e.codec = std::make_unique<detail::StateCodec>(spec, cf);
    // Restored earlier but not declared until now: check it and write it into RocksDB.
    std::optional<std::int64_t> now;  // one time for every section, read only if there are any
    ckpt::detail::load_pending(pending_, pending_origins_, meta, range_.begin,
                               [&](std::size_t slot, ByteSpan payload, const StateMeta& written,
                                   const serial::ReadContext& context) {
                                 if (!now) now = clock_->epoch_millis();
                                 load(*e.codec, range_.begin + static_cast<std::uint32_t>(slot), payload, written,
                                      context, *now);
                               });
    void* result = e.typed.interface;
    states_.push_back(std::move(e));
    return result;
  }

  std::uint32_t max_parallelism_;
  KeyGroupRange range_;
  KvKeyCodec keys_;
  const Clock* clock_;  // before db_: read from the options before they are moved
  std::optional<detail::ScratchDirectory> owned_directory_;  // before db_: removed after it closes
  RocksDBInstance db_;
  ckpt::detail::SnapshotControl control_;  // after db_: destroyed first
  KeyContext ctx_;
  std::vector<Entry> states_;  // in declaration order, as snapshots list them
  ckpt::detail::PendingStates pending_;
  ckpt::detail::PendingOrigins pending_origins_;
  std::map<std::string, StateMeta> native_pending_;  // restored from native files, not declared yet
  bool restored_ = false;
  bool native_restored_ = false;
};

/// The RocksDB backend for keys of type Key: construct it directly (a
/// service's own backend), or let a job make one per keyed subtask from
/// keyed_backend() below.
template <class Key>
class RocksDBKeyedStateBackend final : public KvKeyedStateStore<Key> {
 public:
  using key_type = Key;
  RocksDBKeyedStateBackend(RocksDBOptions options, KeyGroupRange range,
                           std::uint32_t max_parallelism = default_max_parallelism)
      : KvKeyedStateStore<Key>(
            std::make_unique<RocksDBKvBackend>(std::move(options), range, max_parallelism, KvKeyCodec::of<Key>())) {}

  /// A native snapshot (RocksDBKvBackend::begin_native_snapshot()).
  std::unique_ptr<KeyedSnapshotJob> begin_native_snapshot(std::uint64_t id = 0) {
    return rocks().begin_native_snapshot(id);
  }
  /// The clock TTL reads processing time from.
  const Clock& clock() const noexcept { return static_cast<const RocksDBKvBackend&>(this->core()).clock(); }
  /// The database (for tests and tools: the column family of each state).
  RocksDBInstance& instance() noexcept { return rocks().instance(); }

 private:
  RocksDBKvBackend& rocks() noexcept { return static_cast<RocksDBKvBackend&>(this->core()); }
};

/// A KeyedBackendFactory for a job's configuration: each keyed subtask gets
/// a RocksDB backend in its own directory under `options.working_directory`
/// (subtask-<i>-<pid>-<n>, n counting the backends made in this process, so
/// an operator restarted while its predecessor closes, or two jobs or
/// harnesses on one directory, never meet a lock), removed when the backend
/// closes; every other option is shared.
inline KeyedBackendFactory keyed_backend(RocksDBOptions options) {
  return [options = std::move(options)](const KeyedBackendSettings& s) -> std::unique_ptr<KvKeyedStateBackend> {
    static std::atomic<std::uint64_t> made{0};
    RocksDBOptions o = options;
    o.working_directory /= "subtask-" + std::to_string(s.subtask) + "-" + std::to_string(::getpid()) + "-" +
                           std::to_string(made.fetch_add(1));
    if (s.clock && !options.clock) o.clock = s.clock;
    std::error_code ec;
    std::filesystem::create_directories(o.working_directory, ec);
    if (ec)
      throw IoError(errc::io_error, o.working_directory.string(),
                    "cannot create the RocksDB working directory '" + o.working_directory.string() + "': " + ec.message(),
                    ec);
    auto backend = std::make_unique<RocksDBKvBackend>(std::move(o), s.key_groups, s.max_parallelism, s.keys);
    backend->remove_working_directory_when_closed();
    return backend;
  };
}

}  // namespace ckpt::rocksdb
