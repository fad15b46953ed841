#pragma once
// KeyedStateBackend<Key>: the keyed state of one operator subtask.
//
//   ckpt::KeyedStateBackend<std::string> backend;
//   auto clicks = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"clicks", 0});
//   backend.set_current_key("alice");
//   clicks.update(clicks.value() + 1);          // alice's count only
//
// The backend owns a contiguous range of key groups (all of them by default)
// and keeps every state partitioned by key group in flat hash maps. It belongs
// to one thread, its owner: state access and set_current_key() are not
// synchronized. Snapshots are the exception: begin_snapshot() is O(1) on the
// owner thread and the returned job may be written from any other thread
// while the owner goes on (see state/detail/snapshot_control.hpp).

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/serial/columns.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/serial/std_types.hpp>
#include <ckpt/serial/type_name.hpp>
#include <ckpt/state/aggregating_state.hpp>
#include <ckpt/state/detail/key_hash.hpp>
#include <ckpt/state/detail/keyed_states.hpp>
#include <ckpt/state/detail/keyed_table.hpp>
#include <ckpt/state/detail/parallel.hpp>
#include <ckpt/state/detail/snapshot_control.hpp>
#include <ckpt/state/detail/state_compatibility.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/keyed_snapshot_job.hpp>
#include <ckpt/state/keyed_state_backend_base.hpp>
#include <ckpt/state/keyed_state_store.hpp>
#include <ckpt/state/keyed_value_state.hpp>
#include <ckpt/state/kv_state.hpp>
#include <ckpt/state/list_state.hpp>
#include <ckpt/state/map_state.hpp>
#include <ckpt/state/reducing_state.hpp>
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/state/state_types.hpp>
#include <ckpt/state/value_state.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt {

struct KeyedStateBackendOptions {
  std::uint32_t max_parallelism = default_max_parallelism;
  /// The key groups this backend owns; all of them when unset.
  std::optional<KeyGroupRange> key_groups;
  /// Processing time for state TTL; the system clock when null.
  const Clock* clock = nullptr;
  /// While a checkpoint's writer drains a snapshot, the most bytes the owner
  /// thread keeps of key groups it copied before writing to them; past it, a
  /// write to a key group not saved yet waits for the writer instead (so a
  /// checkpoint costs at most this much memory beyond the writer's buffers).
  /// 0: never wait, copy without bound.
  std::size_t snapshot_copy_budget = std::size_t{32} << 20;

  /// The backend of subtask `index` of `parallelism`.
  static KeyedStateBackendOptions for_subtask(std::uint32_t index, std::uint32_t parallelism,
                                              std::uint32_t max_parallelism = default_max_parallelism) {
    KeyedStateBackendOptions o;
    o.max_parallelism = max_parallelism;
    o.key_groups = KeyGroupRange::for_subtask(max_parallelism, parallelism, index);
    return o;
  }
};

template <StateKey Key, class Hash = detail::KeyHash<Key>, class KeyEqual = std::equal_to<Key>>
class KeyedStateBackend final : public KeyedStateStore<Key> {
 public:
  using key_type = Key;

  explicit KeyedStateBackend(KeyedStateBackendOptions options = {})
      : max_parallelism_(options.max_parallelism),
        range_(options.key_groups ? *options.key_groups : KeyGroupRange::all(options.max_parallelism)),
        slot_count_(range_.size()),
        reduce_(max_parallelism_),
        control_(range_.size(), options.snapshot_copy_budget) {
    validate_parallelism(max_parallelism_);
    if (range_.empty() || range_.end > max_parallelism_)
      throw ConfigError(errc::invalid_argument, "key-group range " + range_.to_string() +
                                                    " is empty or exceeds max parallelism " +
                                                    std::to_string(max_parallelism_));
    ctx_.control = &control_;
    ctx_.clock = options.clock ? options.clock : &SystemClock::instance();
  }
  KeyedStateBackend(const KeyedStateBackend&) = delete;
  KeyedStateBackend& operator=(const KeyedStateBackend&) = delete;
  /// Waits for a running snapshot job to be released (destroy jobs first).
  ~KeyedStateBackend() override { control_.wait_idle(); }

  std::uint32_t max_parallelism() const noexcept override { return max_parallelism_; }
  KeyGroupRange key_groups() const noexcept override { return range_; }
  std::string key_type_name() const override { return type_name<Key>(); }

  // -- the current key ---------------------------------------------------

  /// Makes `key` the key every state access applies to.
  void set_current_key(const Key& key) override {
    const auto kg = reduce_(stable_key_hash(key));
    const auto slot = kg - range_.begin;  // wraps around below the range
    if (slot >= slot_count_) [[unlikely]]
      key_out_of_range(key, kg);
    ctx_.key = key;
    ctx_.slot = slot;
    ++ctx_.version;
  }
  bool has_current_key() const noexcept override { return ctx_.key.has_value(); }
  const Key& current_key() const override {
    if (!ctx_.key) throw StateError(errc::no_current_key, "no current key; call set_current_key() first");
    return *ctx_.key;
  }
  std::uint32_t current_key_group() const override {
    (void)current_key();
    return range_.begin + static_cast<std::uint32_t>(ctx_.slot);
  }

  // -- declaring state -----------------------------------------------------

  /// A ValueState<T> whose accesses the compiler can inline (see
  /// keyed_value_state.hpp); keep it as `auto` or KeyedValueState<Key, T> on a
  /// hot path, or as a ValueState<T> anywhere.
  template <class T>
  KeyedValueState<Key, T, Hash, KeyEqual> get_state(const ValueStateDescriptor<T>& d) {
    return KeyedValueState<Key, T, Hash, KeyEqual>(declare<T, detail::ValueStateImpl<T>>(d, StateKind::value, type_version<T>(), [&](auto ttl, auto& table) {
      constexpr bool Ttl = decltype(ttl)::value;
      return std::make_unique<detail::KeyedValueStateImpl<Key, T, Ttl, Hash, KeyEqual>>(ctx_, table, d.default_value());
    }));
  }

  template <class T>
  ListState<T> get_list_state(const ListStateDescriptor<T>& d) {
    return ListState<T>(declare<std::vector<T>, detail::ListStateImpl<T>>(d, StateKind::list, type_version<T>(), [&](auto ttl, auto& table) {
      constexpr bool Ttl = decltype(ttl)::value;
      return std::make_unique<detail::KeyedListState<Key, T, Ttl, Hash, KeyEqual>>(ctx_, table);
    }));
  }

  template <class UK, class UV>
  MapState<UK, UV> get_map_state(const MapStateDescriptor<UK, UV>& d) {
    using Plain = typename detail::KeyedMapState<Key, UK, UV, false, Hash, KeyEqual>::Plain;
    return MapState<UK, UV>(declare<Plain, detail::MapStateImpl<UK, UV>>(d, StateKind::map, type_version<UV>(), [&](auto ttl, auto& table) {
      constexpr bool Ttl = decltype(ttl)::value;
      return std::make_unique<detail::KeyedMapState<Key, UK, UV, Ttl, Hash, KeyEqual>>(ctx_, table);
    }));
  }

  template <class T>
  ReducingState<T> get_reducing_state(const ReducingStateDescriptor<T>& d) {
    return ReducingState<T>(declare<T, detail::ReducingStateImpl<T>>(d, StateKind::reducing, type_version<T>(), [&](auto ttl, auto& table) {
      constexpr bool Ttl = decltype(ttl)::value;
      return std::make_unique<detail::KeyedReducingState<Key, T, Ttl, Hash, KeyEqual>>(ctx_, table, d.reduce_function());
    }));
  }

  template <class In, class Acc, class Out>
  AggregatingState<In, Acc, Out> get_aggregating_state(const AggregatingStateDescriptor<In, Acc, Out>& d) {
    return AggregatingState<In, Acc, Out>(declare<Acc, detail::AggregatingStateImpl<In, Out>>(
        d, StateKind::aggregating, type_version<Acc>(), [&](auto ttl, auto& table) {
          constexpr bool Ttl = decltype(ttl)::value;
          return std::make_unique<detail::KeyedAggregatingState<Key, In, Acc, Out, Ttl, Hash, KeyEqual>>(
              ctx_, table, d.aggregate_function());
        }));
  }

  // -- inspection ------------------------------------------------------------

  /// Declared states, then restored states not declared (again) yet.
  std::vector<std::string> state_names() const override {
    std::vector<std::string> out;
    for (const auto& s : states_) out.push_back(s.table->meta().name);
    for (const auto& [name, p] : pending_) out.push_back(name);
    return out;
  }
  /// Number of keys that have an entry in a declared state.
  std::size_t size(std::string_view state) const { return entry(state).table->size(); }
  std::size_t size(std::string_view state) override { return std::as_const(*this).size(state); }
  std::vector<Key> keys(std::string_view state) override { return std::as_const(*this).keys(state); }
  /// The keys that have an entry in a declared state (in no particular order).
  std::vector<Key> keys(std::string_view state) const {
    const auto& e = entry(state);
    std::vector<Key> out;
    out.reserve(e.table->size());
    e.for_each_key(*e.table, [&](const Key& k) { out.push_back(k); });
    return out;
  }

  // -- snapshots -------------------------------------------------------------

  /// Marks a snapshot: O(1) on the owner thread (after waiting for a previous
  /// job to be released). `id` names it for notify_snapshot_complete(); an
  /// incremental snapshot builds on the last completed one, if any.
  std::unique_ptr<KeyedSnapshotJob> start_snapshot(std::uint64_t id, SnapshotMode mode) override {
    const bool incremental = mode == SnapshotMode::incremental;
    detail::SnapshotCut cut;
    cut.id = id;
    cut.max_parallelism = max_parallelism_;
    cut.range = range_;
    cut.key_type = type_name<Key>();
    cut.now = ctx_.now();
    for (const auto& s : states_) {
      cut.states.push_back(s.table->meta());
      cut.tables.push_back(s.table.get());
    }
    for (const auto& [name, p] : pending_) {
      cut.states.push_back(p->meta);
      cut.pending.push_back(p);
    }
    auto marked = control_.mark(std::move(cut), incremental && id != 0);
    return std::make_unique<KeyedSnapshotJob>(std::move(marked), control_);
  }

  /// A full snapshot of every key group (or those in `only`), taken on this thread.
  KeyedStateSnapshot snapshot(std::optional<KeyGroupRange> only = std::nullopt) {
    return this->begin_snapshot()->collect(only);
  }

  /// The snapshot with this id is durable: the base of later incremental ones.
  void notify_snapshot_complete(std::uint64_t id) override { control_.notify_complete(id); }
  void notify_snapshot_aborted(std::uint64_t id) override { control_.notify_aborted(id); }

  // -- restore ---------------------------------------------------------------

  /// Restores from snapshots taken by one or more backends of the same job
  /// (for a rescale: the old subtasks). Only key groups in this backend's range
  /// are read. States not declared yet are kept and restored when declared.
  void restore(std::span<const KeyedStateSnapshot> snapshots) override { detail::restore_in_memory(*this, snapshots); }

  /// Restores with the blocks fetched on demand (see KeyedStateBackendBase):
  /// key groups are rebuilt on up to `threads` threads, each fetching,
  /// parsing and inserting whole key groups, so a restore reads no block twice
  /// and never holds more than one raw block per thread.
  void restore(std::span<const KeyedStateSnapshot> headers, std::span<const KeyedRestoreBlock> blocks,
               const KeyedBlockFetch& fetch, unsigned threads) override {
    restore_blocks(headers, blocks, fetch, threads);
  }
  void restore(const KeyedStateSnapshot& snapshot) { restore(std::span<const KeyedStateSnapshot>(&snapshot, 1)); }

  /// Whether restore() has run (Flink's isRestored()).
  bool is_restored() const noexcept override { return restored_; }

 private:
  struct StateEntry {
    std::unique_ptr<detail::KeyedTableBase> table;
    std::unique_ptr<detail::StateImplBase> impl;
    std::function<void(const detail::KeyedTableBase&, const std::function<void(const Key&)>&)> for_each_key;
  };

  [[noreturn, gnu::cold, gnu::noinline]] void key_out_of_range(const Key& key, std::uint32_t kg) const {
    throw StateError(errc::key_group_out_of_range,
                     "key of type " + type_name<Key>() + " (stable hash " + std::to_string(stable_key_hash(key)) +
                         ") is in key group " + std::to_string(kg) + ", outside this backend's key groups " +
                         range_.to_string() + "; route records by key group to the subtask that owns it");
  }

  void restore_blocks(std::span<const KeyedStateSnapshot> headers, std::span<const KeyedRestoreBlock> blocks,
                      const KeyedBlockFetch& fetch, unsigned threads) {
    control_.wait_idle();
    for (const auto& s : states_)
      if (s.table->size() != 0)
        throw StateError(errc::invalid_argument, "restore() needs an empty backend; state '" +
                                                     s.table->meta().name + "' already holds entries");
    if (!pending_.empty()) throw StateError(errc::invalid_argument, "this backend was already restored");
    const auto now = ctx_.now();

    detail::restore_key_groups<StateEntry>(
        headers, blocks, fetch, threads, max_parallelism_, type_name<Key>(), range_,
        [&](const std::string& name) { return find(name); },
        [](const StateEntry& e) -> const StateMeta& { return e.table->meta(); }, pending_, pending_origins_,
        [&](StateEntry& e, std::uint32_t, std::size_t slot, ByteSpan payload, const StateMeta& written,
            const serial::ReadContext& context) { e.table->read_key_group(slot, payload, written, context, now); });
    restored_ = true;
    ++ctx_.version;  // no state may keep a pointer into a map across a restore
    control_.reset_after_restore();
  }

  StateEntry* find(std::string_view name) {
    for (auto& s : states_)
      if (s.table->meta().name == name) return &s;
    return nullptr;
  }
  const StateEntry& entry(std::string_view name) const {
    for (const auto& s : states_)
      if (s.table->meta().name == name) return s;
    throw StateError(errc::invalid_argument, "no keyed state named '" + std::string(name) + "' is declared");
  }

  static std::string describe(const StateMeta& m) { return detail::describe_state(m); }

  /// Registers a state (or finds it again) and returns its implementation.
  template <class Plain, class Interface, class Descriptor, class Make>
  Interface* declare(const Descriptor& d, StateKind kind, std::uint32_t version, Make make) {
    const bool ttl = d.ttl().has_value();
    const StateMeta meta = detail::describe_state_of<Key, Plain>(d, kind, version);

    if (auto* existing = find(meta.name)) {
      const auto& m = existing->table->meta();
      auto* impl = dynamic_cast<Interface*>(existing->impl.get());
      if (m.kind != kind || m.value_type != meta.value_type || m.ttl != ttl || !impl)
        throw StateError(errc::state_type_mismatch, "state '" + meta.name + "' is already declared as " +
                                                        describe(m) + (m.ttl ? " with TTL" : "") +
                                                        "; it cannot also be " + describe(meta) +
                                                        (ttl ? " with TTL" : ""));
      return impl;
    }

    StateEntry e;
    Interface* result = nullptr;
    const auto build = [&](auto ttl_tag) {
      constexpr bool Ttl = decltype(ttl_tag)::value;
      using Table = detail::KeyedTable<Key, Plain, Ttl, Hash, KeyEqual>;
      auto table = std::make_unique<Table>(meta, range_.size(), d.ttl());
      auto impl = make(ttl_tag, *table);
      result = impl.get();
      e.for_each_key = [](const detail::KeyedTableBase& t, const std::function<void(const Key&)>& fn) {
        const auto& typed = static_cast<const Table&>(t);
        for (std::size_t i = 0; i < typed.slots(); ++i)
          for (const auto& [k, v] : typed.shard(i)) fn(k);
      };
      e.table = std::move(table);
      e.impl = std::move(impl);
    };
    if (ttl) build(std::true_type{});
    else build(std::false_type{});

    // Restored earlier but not declared until now: check and load it.
    std::optional<std::int64_t> now;  // one time for every section, read only if there are any
    detail::load_pending(pending_, pending_origins_, meta, range_.begin,
                         [&](std::size_t slot, ByteSpan payload, const StateMeta& written,
                             const serial::ReadContext& context) {
                           if (!now) now = ctx_.now();
                           e.table->read_key_group(slot, payload, written, context, *now);
                         });
    states_.push_back(std::move(e));
    return result;
  }

  std::uint32_t max_parallelism_;
  KeyGroupRange range_;
  std::uint32_t slot_count_;  // range_.size(), for the hot path
  detail::KeyGroupReducer reduce_;
  detail::SnapshotControl control_;
  detail::KeyedContext<Key> ctx_;
  std::vector<StateEntry> states_;
  detail::PendingStates pending_;
  detail::PendingOrigins pending_origins_;
  bool restored_ = false;
};

}  // namespace ckpt
