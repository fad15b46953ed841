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

  std::size_t current_slot(const std::string& state) const {
    if (!key)
      throw StateError(errc::no_current_key, "keyed state '" + state +
                                                 "' was accessed with no current key; call set_current_key() first");
    return slot;
  }
  std::int64_t now() const { return clock->epoch_millis(); }
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
      return it == map.end() ? nullptr : &it->second;
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
    auto& map = table_.shard(slot);
    if constexpr (!Ttl) {
      map.insert_or_assign(*ctx_.key, std::move(value));
    } else {
      map.insert_or_assign(*ctx_.key, TtlValue<V>{std::move(value), ctx_.now()});
    }
  }

  void erase() {
    const auto slot = ctx_.current_slot(table_.meta().name);
    auto& map = table_.shard(slot);
    const auto it = map.find(*ctx_.key);
    if (it == map.end()) return;
    ctx_.control->before_write(slot);
    map.erase(it);
  }

 private:
  KeyedContext<Key>& ctx_;
  Table& table_;
  std::optional<V> expired_;  // an expired value handed out once
};

template <class Key, class T, bool Ttl, class Hash, class Eq>
class KeyedValueState final : public StateImplBase, public ValueStateImpl<T> {
 public:
  using Table = KeyedTable<Key, T, Ttl, Hash, Eq>;
  KeyedValueState(KeyedContext<Key>& ctx, Table& table, std::optional<T> default_value)
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
class KeyedReducingState final : public StateImplBase, public ReducingStateImpl<T> {
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
class KeyedAggregatingState final : public StateImplBase, public AggregatingStateImpl<In, Out> {
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
class KeyedListState final : public StateImplBase, public ListStateImpl<T> {
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
class KeyedMapState final : public StateImplBase, public MapStateImpl<UK, UV> {
 public:
  using Plain = boost::unordered_flat_map<UK, UV, KeyHash<UK>>;
  using Table = KeyedTable<Key, Plain, Ttl, Hash, Eq>;
  KeyedMapState(KeyedContext<Key>& ctx, Table& table) : ctx_(ctx), table_(table) {}

  const UV* find(const UK& user_key) override {
    const auto slot = ctx_.current_slot(table_.meta().name);
    auto& map = table_.shard(slot);
    if constexpr (Ttl) table_.incremental_cleanup(ctx_.now(), [&](std::size_t s) { ctx_.control->before_write(s); });
    const auto it = map.find(*ctx_.key);
    if (it == map.end()) return nullptr;
    const auto entry = it->second.find(user_key);
    if (entry == it->second.end()) return nullptr;
    if constexpr (!Ttl) {
      return &entry->second;
    } else {
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
    auto& inner = table_.shard(slot)[*ctx_.key];
    if constexpr (Ttl) {
      inner.insert_or_assign(std::move(user_key), TtlValue<UV>{std::move(value), ctx_.now()});
    } else {
      inner.insert_or_assign(std::move(user_key), std::move(value));
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
    map.erase(it);
  }

 private:
  KeyedContext<Key>& ctx_;
  Table& table_;
  std::optional<UV> expired_;
};

}  // namespace ckpt::detail
