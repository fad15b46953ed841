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
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/state/state_ttl_config.hpp>

#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
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

template <class Key>
class RocksDBKeyedStateBackend final : public KeyedStateBackendBase {
 public:
  using key_type = Key;

  RocksDBKeyedStateBackend(RocksDBOptions options, KeyGroupRange range,
                           std::uint32_t max_parallelism = default_max_parallelism)
      : max_parallelism_((validate_parallelism(max_parallelism), max_parallelism)),
        range_(range),
        clock_(options.clock ? options.clock : &SystemClock::instance()),
        db_(std::move(options)),
        control_(range.size()) {
    if (range_.empty() || range_.end > max_parallelism_)
      throw ConfigError(errc::invalid_argument, "key groups " + range_.to_string() +
                                                    " are not a non-empty part of [0, " +
                                                    std::to_string(max_parallelism_) + ")");
  }

  RocksDBKeyedStateBackend(const RocksDBKeyedStateBackend&) = delete;
  RocksDBKeyedStateBackend& operator=(const RocksDBKeyedStateBackend&) = delete;
  /// Waits for a running snapshot job to be released (destroy jobs first):
  /// its RocksDB snapshot must not outlive the database.
  ~RocksDBKeyedStateBackend() override { control_.wait_idle(); }

  std::uint32_t max_parallelism() const noexcept override { return max_parallelism_; }
  KeyGroupRange key_groups() const noexcept override { return range_; }
  std::string key_type_name() const override { return type_name<Key>(); }
  /// Declared states, then restored states not declared (again) yet.
  std::vector<std::string> state_names() const override {
    std::vector<std::string> out;
    for (const auto& e : states_) out.push_back(e.codec->meta().name);
    for (const auto& [name, p] : pending_) out.push_back(name);
    for (const auto& [name, meta] : native_pending_)
      if (!pending_.count(name)) out.push_back(name);  // a mixed restore may have it in both
    return out;
  }

  void set_current_key(const Key& key) {
    const auto kg = key_group_for(key, max_parallelism_);
    if (!range_.contains(kg))
      throw StateError(errc::key_group_out_of_range,
                       "key of type " + type_name<Key>() + " is in key group " + std::to_string(kg) +
                           ", outside this backend's key groups " + range_.to_string() +
                           "; route records by key group to the subtask that owns it");
    ctx_.prefix = state_key(kg, key);
    key_ = key;
  }
  bool has_current_key() const noexcept { return key_.has_value(); }
  const Key& current_key() const {
    (void)ctx_.require();
    return *key_;
  }
  std::uint32_t current_key_group() const { return key_group_of(current_key()); }
  /// The key group of any key under this backend's max parallelism.
  std::uint32_t key_group_of(const Key& key) const { return key_group_for(key, max_parallelism_); }

  template <class T>
  ValueState<T> get_state(const ValueStateDescriptor<T>& d) {
    return ValueState<T>(declare<T, ckpt::detail::ValueStateImpl<T>, CellForms<T>>(
        d, StateKind::value, type_version<T>(), [&](auto ttl, const detail::StateSettings& s) {
          return std::make_shared<RocksDBValueState<T, decltype(ttl)::value>>(s, d.default_value());
        }));
  }
  template <class T>
  ListState<T> get_list_state(const ListStateDescriptor<T>& d) {
    return ListState<T>(declare<std::vector<T>, ckpt::detail::ListStateImpl<T>, ListForms<T>>(
        d, StateKind::list, type_version<T>(), [&](auto ttl, const detail::StateSettings& s) {
          return std::make_shared<RocksDBListState<T, decltype(ttl)::value>>(s);
        }));
  }
  template <class UK, class UV>
  MapState<UK, UV> get_map_state(const MapStateDescriptor<UK, UV>& d) {
    using Plain = typename detail::MapForm<Key, UK, UV>::Plain;
    return MapState<UK, UV>(declare<Plain, ckpt::detail::MapStateImpl<UK, UV>, MapForms<UK, UV>>(
        d, StateKind::map, type_version<UV>(), [&](auto ttl, const detail::StateSettings& s) {
          return std::make_shared<RocksDBMapState<UK, UV, decltype(ttl)::value>>(s);
        }));
  }

  template <class T>
  ReducingState<T> get_reducing_state(const ReducingStateDescriptor<T>& d) {
    return ReducingState<T>(declare<T, ckpt::detail::ReducingStateImpl<T>, CellForms<T>>(
        d, StateKind::reducing, type_version<T>(), [&](auto ttl, const detail::StateSettings& s) {
          return std::make_shared<RocksDBReducingState<T, decltype(ttl)::value>>(s, d.reduce_function());
        }));
  }
  template <class In, class Acc, class Out>
  AggregatingState<In, Acc, Out> get_aggregating_state(const AggregatingStateDescriptor<In, Acc, Out>& d) {
    return AggregatingState<In, Acc, Out>(declare<Acc, ckpt::detail::AggregatingStateImpl<In, Out>, CellForms<Acc>>(
        d, StateKind::aggregating, type_version<Acc>(), [&](auto ttl, const detail::StateSettings& s) {
          return std::make_shared<RocksDBAggregatingState<In, Acc, Out, decltype(ttl)::value>>(
              s, d.aggregate_function());
        }));
  }

  // -- inspection ------------------------------------------------------------

  /// The keys that have an entry in a declared state, in RocksDB key order
  /// (as the heap backend's keys(): expired entries not cleaned up yet count).
  std::vector<Key> keys(std::string_view state) {
    std::vector<Key> out;
    for_each_key(entry(state), [&](Key&& k) { out.push_back(std::move(k)); });
    return out;
  }
  /// Number of keys that have an entry in a declared state (reads the state).
  std::size_t size(std::string_view state) {
    std::size_t n = 0;
    for_each_key(entry(state), [&](Key&&) { ++n; });
    return n;
  }
  /// The clock TTL reads processing time from.
  const Clock& clock() const noexcept { return *clock_; }

  // -- snapshots -------------------------------------------------------------

  /// Marks a snapshot: O(1) on the owner thread (a RocksDB snapshot, after
  /// waiting for a previous job to be released); the job reads each key
  /// group from it, on any thread, while the owner goes on writing.
  /// `incremental`: a native snapshot (begin_native_snapshot()), unless
  /// restored states not declared yet are held in memory (they are not in
  /// RocksDB): then a full canonical one.
  std::unique_ptr<KeyedSnapshotJob> begin_snapshot(std::uint64_t id = 0, bool incremental = false) override {
    if (incremental && pending_.empty()) return begin_native_snapshot(id);
    control_.wait_idle();
    auto views = std::make_shared<detail::SnapshotViews>();
    views->snapshot = db_.snapshot();
    ckpt::detail::SnapshotCut cut;
    cut.id = id;
    cut.max_parallelism = max_parallelism_;
    cut.range = range_;
    cut.key_type = type_name<Key>();
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
    cut.key_type = type_name<Key>();
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
        headers, blocks, fetch, threads, max_parallelism_, type_name<Key>(), range_,
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
      if (part.key_type != type_name<Key>())
        throw StateError(errc::state_type_mismatch, part.origin + ": the snapshot's keys are of type " + part.key_type +
                                                        "; this backend's are " + type_name<Key>());
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
    std::shared_ptr<void> impl;                 // the typed state
    void* interface = nullptr;                  // impl as the interface it was declared through
    const std::type_info* interface_type = nullptr;
  };

  // The Form (rocksdb_snapshot.hpp) of each kind of state, with or without TTL.
  template <class V>
  struct CellForms {
    template <bool Ttl>
    using form = detail::CellForm<Key, V, Ttl>;
  };
  template <class T>
  struct ListForms {
    template <bool Ttl>
    using form = detail::ListForm<Key, T, Ttl>;
  };
  template <class UK, class UV>
  struct MapForms {
    template <bool Ttl>
    using form = detail::MapForm<Key, UK, UV, Ttl>;
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

  /// Calls fn(key) once for every key with an entry in the state of `e`:
  /// its column family in key order, where a key's entries are adjacent.
  template <class Fn>
  void for_each_key(const Entry& e, Fn&& fn) {
    std::string block = "state '" + e.codec->meta().name + "'";
    const serial::ReadContext context{db_.path(), block};
    std::unique_ptr<::rocksdb::Iterator> it(db_.db().NewIterator(::rocksdb::ReadOptions(), e.codec->column_family()));
    std::string last;  // the serialized key last handed out
    bool any = false;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const ByteSpan rest = detail::after_prefix(it->key());
      serial::guarded_read(context, [&] {
        serial::InputArchive ar(rest, context);
        Key key{};
        ar(key);
        const std::string_view bytes(reinterpret_cast<const char*>(rest.data()), ar.position());
        if (any && bytes == last) return;
        any = true;
        last.assign(bytes);
        fn(std::move(key));
      });
    }
    check(it->status(), db_.path(), "iterate " + block);
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

  /// Registers a state (or finds it again) and returns its implementation:
  /// described as the heap backend describes it (with TTL: the TtlForm's
  /// encoding and the ttl flag), so snapshots are alike. `make(ttl tag,
  /// settings)` builds the state, `Forms::form<Ttl>` is its snapshot form.
  template <class Plain, class Interface, class Forms, class Descriptor, class Make>
  Interface* declare(const Descriptor& d, StateKind kind, std::uint32_t version, Make make) {
    const bool ttl = d.ttl().has_value();
    StateMeta meta;
    meta.name = d.name();
    meta.kind = kind;
    meta.key_type = type_name<Key>();
    meta.value_type = type_name<Plain>();
    meta.value_version = version;
    meta.key_encoding = encoding_of<Key>();
    meta.value_encoding =
        ttl ? encoding_of<typename ckpt::detail::TtlForm<Plain>::type>() : encoding_of<Plain>();
    meta.ttl = ttl;
    if (Entry* existing = find(meta.name)) {
      const auto& m = existing->codec->meta();
      if (m.kind != kind || m.value_type != meta.value_type || m.ttl != ttl ||
          *existing->interface_type != typeid(Interface))
        throw StateError(errc::state_type_mismatch, "state '" + meta.name + "' is already declared as " +
                                                        ckpt::detail::describe_state(m) + (m.ttl ? " with TTL" : "") +
                                                        "; it cannot also be " + ckpt::detail::describe_state(meta) +
                                                        (ttl ? " with TTL" : ""));
      return static_cast<Interface*>(existing->interface);
    }
    if (auto it = native_pending_.find(meta.name); it != native_pending_.end()) {
      check_native_form(meta, it->second, "the restored native snapshot");  // its entries are in the column family already
      native_pending_.erase(it);
    }
    auto* cf = db_.column_family(meta.name);
    if (const auto& t = d.ttl(); t && t->rocksdb_compaction_query_time_after != 0)
      db_.set_ttl_filter(meta.name, TtlFilterSpec{kind == StateKind::list ? TtlLayout::element_list
                                                                          : TtlLayout::timestamped_value,
                                                  *t, clock_});
    const detail::StateSettings settings{db_, cf, ctx_, meta.name, clock_, d.ttl()};
    Entry e;
    Interface* result = nullptr;
    const auto build = [&](auto ttl_tag) {
      constexpr bool Ttl = decltype(ttl_tag)::value;
      e.codec = std::make_unique<detail::Codec<Key, Plain, typename Forms::template form<Ttl>>>(meta, cf, d.ttl());
      auto impl = make(ttl_tag, settings);
      result = impl.get();
      e.interface = result;
      e.interface_type = &typeid(Interface);
      e.impl = std::move(impl);
    };
    if (ttl) build(std::true_type{});
    else build(std::false_type{});
    // Restored earlier but not declared until now: check it and write it into RocksDB.
    std::optional<std::int64_t> now;  // one time for every section, read only if there are any
    ckpt::detail::load_pending(pending_, pending_origins_, meta, range_.begin,
                               [&](std::size_t slot, ByteSpan payload, const StateMeta& written,
                                   const serial::ReadContext& context) {
                                 if (!now) now = clock_->epoch_millis();
                                 load(*e.codec, range_.begin + static_cast<std::uint32_t>(slot), payload, written,
                                      context, *now);
                               });
    states_.push_back(std::move(e));
    return result;
  }

  std::uint32_t max_parallelism_;
  KeyGroupRange range_;
  const Clock* clock_;  // before db_: read from the options before they are moved
  RocksDBInstance db_;
  ckpt::detail::SnapshotControl control_;  // after db_: destroyed first
  KeyContext ctx_;
  std::optional<Key> key_;
  std::vector<Entry> states_;  // in declaration order, as snapshots list them
  ckpt::detail::PendingStates pending_;
  ckpt::detail::PendingOrigins pending_origins_;
  std::map<std::string, StateMeta> native_pending_;  // restored from native files, not declared yet
  bool restored_ = false;
  bool native_restored_ = false;
};

}  // namespace ckpt::rocksdb
