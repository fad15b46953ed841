#pragma once
// BroadcastState<K, V>: a map every parallel subtask holds a copy of (Flink's
// broadcast state). On restore at another parallelism, new subtask i gets old
// subtask (i mod N)'s copy.

#include <ckpt/state/detail/state_error.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace ckpt {
namespace detail {
template <class K, class V>
class BroadcastStateImpl {
 public:
  virtual ~BroadcastStateImpl() = default;
  virtual const V* find(const K& key) const = 0;
  virtual void put(K key, V value) = 0;
  virtual bool remove(const K& key) = 0;
  virtual void for_each(const std::function<void(const K&, const V&)>& fn) const = 0;
  virtual std::size_t size() const = 0;
  virtual void clear() = 0;
};
}  // namespace detail

template <class K, class V>
class BroadcastState {
 public:
  BroadcastState() = default;
  explicit BroadcastState(detail::BroadcastStateImpl<K, V>* impl) noexcept : impl_(impl) {}

  std::optional<V> get(const K& key) const {
    if (const V* v = impl().find(key)) return *v;
    return std::nullopt;
  }
  bool contains(const K& key) const { return impl().find(key) != nullptr; }
  void put(K key, V value) { impl().put(std::move(key), std::move(value)); }
  template <class Range>
  void put_all(const Range& entries) {
    for (const auto& [k, v] : entries) impl().put(k, v);
  }
  bool remove(const K& key) { return impl().remove(key); }
  std::size_t size() const { return impl().size(); }
  bool is_empty() const { return impl().size() == 0; }
  void clear() { impl().clear(); }
  void for_each(const std::function<void(const K&, const V&)>& fn) const { impl().for_each(fn); }
  std::vector<std::pair<K, V>> entries() const {
    std::vector<std::pair<K, V>> out;
    impl().for_each([&](const K& k, const V& v) { out.emplace_back(k, v); });
    return out;
  }

 private:
  detail::BroadcastStateImpl<K, V>& impl() const {
    if (!impl_) detail::throw_unbound_state("BroadcastState");
    return *impl_;
  }
  detail::BroadcastStateImpl<K, V>* impl_ = nullptr;
};

/// A read-only view of a BroadcastState: what the keyed side of a
/// KeyedBroadcastProcessFunction gets, as in Flink, since only the broadcast
/// side, which every subtask sees identically, may change it. It has no
/// writing members, so a write attempt does not compile.
template <class K, class V>
class ReadOnlyBroadcastState {
 public:
  ReadOnlyBroadcastState() = default;
  explicit ReadOnlyBroadcastState(BroadcastState<K, V> state) noexcept : state_(std::move(state)) {}

  std::optional<V> get(const K& key) const { return state_.get(key); }
  bool contains(const K& key) const { return state_.contains(key); }
  std::size_t size() const { return state_.size(); }
  bool is_empty() const { return state_.is_empty(); }
  void for_each(const std::function<void(const K&, const V&)>& fn) const { state_.for_each(fn); }
  std::vector<std::pair<K, V>> entries() const { return state_.entries(); }

 private:
  BroadcastState<K, V> state_;
};

}  // namespace ckpt
