#pragma once
// The keyed implementations behind the state handles: each reads and writes
// the current key's entry in its table, calls the snapshot write barrier
// before every change, and applies the state's TTL rules.

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/state/aggregating_state.hpp>
#include <ckpt/state/detail/key_hash.hpp>
#include <ckpt/state/detail/keyed_table.hpp>
#include <ckpt/state/detail/snapshot_control.hpp>
#include <ckpt/state/list_state.hpp>
#include <ckpt/state/map_state.hpp>
#include <ckpt/state/reducing_state.hpp>
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/state/value_state.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::detail {

/// The backend's current key and what every state needs from the backend.
template <class Key>
struct KeyedContext {
  SnapshotControl* control = nullptr;
  const Clock* clock = nullptr;
  std::optional<Key> key;
  std::size_t slot = 0;  // the current key's key group - first key group
  /// Changes with every set_current_key() (and restore): a state may keep
  /// where it found the current key's entry until the version changes.
  std::uint64_t version = 1;

  std::size_t current_slot(const std::string& state) const {
    if (!key) [[unlikely]]
      no_current_key(state);
    return slot;
  }
  std::int64_t now() const { return clock->epoch_millis(); }

  [[noreturn, gnu::cold, gnu::noinline]] static void no_current_key(const std::string& state) {
    throw StateError(errc::no_current_key, "keyed state '" + state +
                                               "' was accessed with no current key; call set_current_key() first");
  }
};

/// Owns an implementation; lets the backend find it again by its interface.
class StateImplBase {
 public:
  virtual ~StateImplBase() = default;
};

/// The current key's single stored value (value, reducing and aggregating
/// state), with TTL semantics when Ttl.
template <class Key, class V, bool Ttl, class Hash, class Eq>
class Cell {
 public:
  using Table = KeyedTable<Key, V, Ttl, Hash, Eq>;
  Cell(KeyedContext<Key>& ctx, Table& table) : ctx_(ctx), table_(table) {}

  const V* find() {
    const auto slot = ctx_.current_slot(table_.meta().name);
    auto& map = table_.shard(slot);
    if constexpr (!Ttl) {
      const auto it = map.find(*ctx_.key);
      if (it == map.end()) return nullptr;
      remember(&it->second);
      return &it->second;
    } else {
      const auto now = ctx_.now();
      table_.incremental_cleanup(now, [&](std::size_t s) { ctx_.control->before_write(s); });
      const auto it = map.find(*ctx_.key);
      if (it == map.end()) return nullptr;
      const auto& ttl = *table_.ttl();
      if (expired(it->second.last_access, ttl, now)) {
        ctx_.control->before_write(slot);
        const bool give = ttl.visibility == StateTtlConfig::Visibility::return_expired_if_not_cleaned_up;
        if (give) expired_ = std::move(it->second.value);
        map.erase(it);
        return give ? &*expired_ : nullptr;
      }
      if (ttl.update_type == StateTtlConfig::UpdateType::on_read_and_write) {
        ctx_.control->before_write(slot);
        it->second.last_access = now;
      }
      return &it->second.value;
    }
  }

  void put(V value) {
    const auto slot = ctx_.current_slot(table_.meta().name);
    ctx_.control->before_write(slot);
    if constexpr (!Ttl) {
      // Read-modify-write (value() then update()) finds the entry once.
      if (cached_version_ == ctx_.version) [[likely]] {
        *cached_ = std::move(value);
        return;
      }
    }
    insert(slot, std::move(value));
  }

  void erase() {
    const auto slot = ctx_.current_slot(table_.meta().name);
    auto& map = table_.shard(slot);
    const auto it = map.find(*ctx_.key);
    if (it == map.end()) return;
    ctx_.control->before_write(slot);
    cached_version_ = 0;
    map.erase(it);
  }

 private:
  // Out of line: the read-modify-write above stays a few instructions.
  [[gnu::noinline]] void insert(std::size_t slot, V value) {
    if constexpr (!Ttl) {
      const auto [it, inserted] = table_.shard(slot).insert_or_assign(*ctx_.key, std::move(value));
      (void)inserted;
      remember(&it->second);
    } else {
      table_.shard(slot).insert_or_assign(*ctx_.key, TtlValue<V>{std::move(value), ctx_.now()});
    }
  }

  // Where the current key's entry is, valid while the key version is the
  // same: only this object inserts into or erases from its table, and it
  // forgets the entry when it erases (inserting another key needs another
  // current key first).
  void remember(V* entry) noexcept {
    cached_ = entry;
    cached_version_ = ctx_.version;
  }

  KeyedContext<Key>& ctx_;
  Table& table_;
  std::optional<V> expired_;  // an expired value handed out once
  V* cached_ = nullptr;
  std::uint64_t cached_version_ = 0;
};

// Each implementation lists its interface first, so calls through a handle
// need no this-adjusting thunk.
template <class Key, class T, bool Ttl, class Hash, class Eq>
class KeyedValueStateImpl final : public ValueStateImpl<T>, public StateImplBase {
 public:
  using Table = KeyedTable<Key, T, Ttl, Hash, Eq>;
  KeyedValueStateImpl(KeyedContext<Key>& ctx, Table& table, std::optional<T> default_value)
      : cell_(ctx, table), default_(default_value ? std::move(*default_value) : T{}) {}
  const T* find() override { return cell_.find(); }
  const T& default_value() const override { return default_; }
  void update(T value) override { cell_.put(std::move(value)); }
  void clear() override { cell_.erase(); }

 private:
  Cell<Key, T, Ttl, Hash, Eq> cell_;
  T default_;
};

template <class Key, class T, bool Ttl, class Hash, class Eq>
class KeyedReducingState final : public ReducingStateImpl<T>, public StateImplBase {
 public:
  using Table = KeyedTable<Key, T, Ttl, Hash, Eq>;
  KeyedReducingState(KeyedContext<Key>& ctx, Table& table, typename ReducingStateDescriptor<T>::ReduceFunction reduce)
      : cell_(ctx, table), reduce_(std::move(reduce)) {}
  const T* find() override { return cell_.find(); }
  void add(T value) override {
    if (const T* current = cell_.find()) value = reduce_(*current, value);
    cell_.put(std::move(value));
  }
  void clear() override { cell_.erase(); }

 private:
  Cell<Key, T, Ttl, Hash, Eq> cell_;
  typename ReducingStateDescriptor<T>::ReduceFunction reduce_;
};

template <class Key, class In, class Acc, class Out, bool Ttl, class Hash, class Eq>
class KeyedAggregatingState final : public AggregatingStateImpl<In, Out>, public StateImplBase {
 public:
  using Table = KeyedTable<Key, Acc, Ttl, Hash, Eq>;
  using Function = AggregateFunction<In, Acc, Out>;
  KeyedAggregatingState(KeyedContext<Key>& ctx, Table& table, std::shared_ptr<const Function> fn)
      : cell_(ctx, table), fn_(std::move(fn)) {}
  std::optional<Out> get() override {
    if (const Acc* acc = cell_.find()) return fn_->get_result(*acc);
    return std::nullopt;
  }
  void add(const In& value) override {
    const Acc* current = cell_.find();
    cell_.put(fn_->add(value, current ? *current : fn_->create_accumulator()));
  }
  void clear() override { cell_.erase(); }

 private:
  Cell<Key, Acc, Ttl, Hash, Eq> cell_;
  std::shared_ptr<const Function> fn_;
};

template <class Key, class T, bool Ttl, class Hash, class Eq>
class KeyedListState final : public ListStateImpl<T>, public StateImplBase {
 public:
  using Plain = std::vector<T>;
  using Table = KeyedTable<Key, Plain, Ttl, Hash, Eq>;
  KeyedListState(KeyedContext<Key>& ctx, Table& table) : ctx_(ctx), table_(table) {}

  std::vector<T> get() override {
    const auto slot = ctx_.current_slot(table_.meta().name);
    auto& map = table_.shard(slot);
    if constexpr (!Ttl) {
      const auto it = map.find(*ctx_.key);
      return it == map.end() ? std::vector<T>{} : it->second;
    } else {
      const auto now = ctx_.now();
      table_.incremental_cleanup(now, [&](std::size_t s) { ctx_.control->before_write(s); });
      const auto it = map.find(*ctx_.key);
      if (it == map.end()) return {};
      const auto& ttl = *table_.ttl();
      const bool give_expired = ttl.visibility == StateTtlConfig::Visibility::return_expired_if_not_cleaned_up;
      const bool touch = ttl.update_type == StateTtlConfig::UpdateType::on_read_and_write;
      std::vector<T> out;
      bool any_expired = false;
      for (const auto& e : it->second) {
        const bool gone = expired(e.last_access, ttl, now);
        any_expired |= gone;
        if (!gone || give_expired) out.push_back(e.value);
      }
      if (any_expired || touch) {
        ctx_.control->before_write(slot);
        if (TtlForm<Plain>::prune(it->second, ttl, now)) {
          map.erase(it);
        } else if (touch) {
          for (auto& e : it->second) e.last_access = now;
        }
      }
      return out;
    }
  }
  void add(T value) override {
    auto& list = writable_list();
    list.push_back(stored(std::move(value)));
  }
  void add_all(std::vector<T> values) override {
    if (values.empty()) return;
    auto& list = writable_list();
    for (auto& v : values) list.push_back(stored(std::move(v)));
  }
  void update(std::vector<T> values) override {
    if (values.empty()) return clear();  // as in Flink: an empty update clears
    auto& list = writable_list();
    list.clear();
    for (auto& v : values) list.push_back(stored(std::move(v)));
  }
  void clear() override {
    const auto slot = ctx_.current_slot(table_.meta().name);
    auto& map = table_.shard(slot);
    const auto it = map.find(*ctx_.key);
    if (it == map.end()) return;
    ctx_.control->before_write(slot);
    map.erase(it);
  }

 private:
  using Element = std::conditional_t<Ttl, TtlValue<T>, T>;
  Element stored(T&& v) const {
    if constexpr (Ttl) {
      return {std::move(v), ctx_.now()};
    } else {
      return std::move(v);
    }
  }
  typename Table::Stored& writable_list() {
    const auto slot = ctx_.current_slot(table_.meta().name);
    ctx_.control->before_write(slot);
    return table_.shard(slot)[*ctx_.key];
  }

  KeyedContext<Key>& ctx_;
  Table& table_;
};

template <class Key, class UK, class UV, bool Ttl, class Hash, class Eq>
class KeyedMapState final : public MapStateImpl<UK, UV>, public StateImplBase {
 public:
  using Plain = boost::unordered_flat_map<UK, UV, KeyHash<UK>>;
  using Table = KeyedTable<Key, Plain, Ttl, Hash, Eq>;
  KeyedMapState(KeyedContext<Key>& ctx, Table& table) : ctx_(ctx), table_(table) {}

  const UV* find(const UK& user_key) override {
    const auto slot = ctx_.current_slot(table_.meta().name);
    auto& map = table_.shard(slot);
    if constexpr (!Ttl) {
      Plain* inner = cached_map();
      if (!inner) {
        const auto it = map.find(*ctx_.key);
        if (it == map.end()) return nullptr;
        inner = remember_map(&it->second);
      }
      const auto entry = inner->find(user_key);
      if (entry == inner->end()) return nullptr;
      cached_entry_ = &*entry;
      return &entry->second;
    } else {
      table_.incremental_cleanup(ctx_.now(), [&](std::size_t s) { ctx_.control->before_write(s); });
      const auto it = map.find(*ctx_.key);
      if (it == map.end()) return nullptr;
      const auto entry = it->second.find(user_key);
      if (entry == it->second.end()) return nullptr;
      const auto now = ctx_.now();
      const auto& ttl = *table_.ttl();
      if (expired(entry->second.last_access, ttl, now)) {
        ctx_.control->before_write(slot);
        const bool give = ttl.visibility == StateTtlConfig::Visibility::return_expired_if_not_cleaned_up;
        if (give) expired_ = std::move(entry->second.value);
        it->second.erase(entry);
        if (it->second.empty()) map.erase(it);
        return give ? &*expired_ : nullptr;
      }
      if (ttl.update_type == StateTtlConfig::UpdateType::on_read_and_write) {
        ctx_.control->before_write(slot);
        entry->second.last_access = now;
      }
      return &entry->second.value;
    }
  }

  void put(UK user_key, UV value) override {
    const auto slot = ctx_.current_slot(table_.meta().name);
    ctx_.control->before_write(slot);
    if constexpr (Ttl) {
      table_.shard(slot)[*ctx_.key].insert_or_assign(std::move(user_key), TtlValue<UV>{std::move(value), ctx_.now()});
    } else {
      Plain* inner = cached_map();
      if (!inner) inner = remember_map(&table_.shard(slot)[*ctx_.key]);
      // get() then put() of the same entry finds it once.
      if (cached_entry_ && cached_entry_->first == user_key) {
        cached_entry_->second = std::move(value);
        return;
      }
      const auto [entry, inserted] = inner->insert_or_assign(std::move(user_key), std::move(value));
      (void)inserted;
      cached_entry_ = &*entry;
    }
  }

  bool remove(const UK& user_key) override {
    const auto slot = ctx_.current_slot(table_.meta().name);
    auto& map = table_.shard(slot);
    const auto it = map.find(*ctx_.key);
    if (it == map.end()) return false;
    const auto entry = it->second.find(user_key);
    if (entry == it->second.end()) return false;
    ctx_.control->before_write(slot);
    forget();
    it->second.erase(entry);
    if (it->second.empty()) map.erase(it);
    return true;
  }

  void for_each(const std::function<void(const UK&, const UV&)>& fn) override {
    const auto slot = ctx_.current_slot(table_.meta().name);
    auto& map = table_.shard(slot);
    const auto it = map.find(*ctx_.key);
    if (it == map.end()) return;
    if constexpr (!Ttl) {
      for (const auto& [k, v] : it->second) fn(k, v);
    } else {
      const auto now = ctx_.now();
      const auto& ttl = *table_.ttl();
      const bool give_expired = ttl.visibility == StateTtlConfig::Visibility::return_expired_if_not_cleaned_up;
      const bool touch = ttl.update_type == StateTtlConfig::UpdateType::on_read_and_write;
      bool any_expired = false;
      for (const auto& [k, v] : it->second) {
        const bool gone = expired(v.last_access, ttl, now);
        any_expired |= gone;
        if (!gone || give_expired) fn(k, v.value);
      }
      if (any_expired || touch) {
        ctx_.control->before_write(slot);
        if (TtlForm<Plain>::prune(it->second, ttl, now)) {
          map.erase(it);
        } else if (touch) {
          for (auto& [k, v] : it->second) v.last_access = now;
        }
      }
    }
  }

  std::size_t size() override {
    const auto slot = ctx_.current_slot(table_.meta().name);
    auto& map = table_.shard(slot);
    const auto it = map.find(*ctx_.key);
    if (it == map.end()) return 0;
    if constexpr (!Ttl) {
      return it->second.size();
    } else {
      const auto now = ctx_.now();
      const auto& ttl = *table_.ttl();
      std::size_t n = 0;
      for (const auto& [k, v] : it->second) n += expired(v.last_access, ttl, now) ? 0 : 1;
      return n;
    }
  }

  void clear() override {
    const auto slot = ctx_.current_slot(table_.meta().name);
    auto& map = table_.shard(slot);
    const auto it = map.find(*ctx_.key);
    if (it == map.end()) return;
    ctx_.control->before_write(slot);
    forget();
    map.erase(it);
  }

 private:
  using Entry = typename Plain::value_type;

  // The current key's map and the entry last found or written in it, valid
  // while the key version is the same: only this object inserts into or
  // erases from its table, it forgets both whenever it erases, and the entry
  // is replaced whenever it inserts into the map (which may move entries).
  Plain* cached_map() noexcept {
    if (cached_version_ == ctx_.version) return cached_map_;
    cached_entry_ = nullptr;
    return nullptr;
  }
  Plain* remember_map(Plain* m) noexcept {
    cached_map_ = m;
    cached_entry_ = nullptr;
    cached_version_ = ctx_.version;
    return m;
  }
  void forget() noexcept {
    cached_version_ = 0;
    cached_map_ = nullptr;
    cached_entry_ = nullptr;
  }

  KeyedContext<Key>& ctx_;
  Table& table_;
  std::optional<UV> expired_;
  Plain* cached_map_ = nullptr;
  Entry* cached_entry_ = nullptr;
  std::uint64_t cached_version_ = 0;
};

}  // namespace ckpt::detail
