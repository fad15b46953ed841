#pragma once
// MapState<UK, UV>: a map per key (Flink's MapState, the keyed map).

#include <ckpt/state/detail/state_error.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace ckpt {
namespace detail {
template <class UK, class UV>
class MapStateImpl {
 public:
  virtual ~MapStateImpl() = default;
  virtual const UV* find(const UK& key) = 0;
  virtual void put(UK key, UV value) = 0;
  virtual bool remove(const UK& key) = 0;
  virtual void for_each(const std::function<void(const UK&, const UV&)>& fn) = 0;
  virtual std::size_t size() = 0;
  virtual void clear() = 0;
};
}  // namespace detail

template <class UK, class UV>
class MapState {
 public:
  using key_type = UK;
  using mapped_type = UV;
  MapState() = default;
  explicit MapState(detail::MapStateImpl<UK, UV>* impl) noexcept : impl_(impl) {}

  std::optional<UV> get(const UK& key) const {
    if (const UV* v = impl().find(key)) return *v;
    return std::nullopt;
  }
  bool contains(const UK& key) const { return impl().find(key) != nullptr; }
  void put(UK key, UV value) { impl().put(std::move(key), std::move(value)); }
  template <class Range>
  void put_all(const Range& entries) {
    for (const auto& [k, v] : entries) impl().put(k, v);
  }
  /// Removes one entry; true if it was there.
  bool remove(const UK& key) { return impl().remove(key); }
  bool is_empty() const { return impl().size() == 0; }
  std::size_t size() const { return impl().size(); }
  /// Removes the current key's whole map.
  void clear() { impl().clear(); }

  /// Visits every entry without copying (in no particular order). The map must
  /// not be changed from inside `fn`.
  void for_each(const std::function<void(const UK&, const UV&)>& fn) const { impl().for_each(fn); }
  std::vector<std::pair<UK, UV>> entries() const {
    std::vector<std::pair<UK, UV>> out;
    impl().for_each([&](const UK& k, const UV& v) { out.emplace_back(k, v); });
    return out;
  }
  std::vector<UK> keys() const {
    std::vector<UK> out;
    impl().for_each([&](const UK& k, const UV&) { out.push_back(k); });
    return out;
  }
  std::vector<UV> values() const {
    std::vector<UV> out;
    impl().for_each([&](const UK&, const UV& v) { out.push_back(v); });
    return out;
  }

 private:
  detail::MapStateImpl<UK, UV>& impl() const {
    if (!impl_) detail::throw_unbound_state("MapState");
    return *impl_;
  }
  detail::MapStateImpl<UK, UV>* impl_ = nullptr;
};

}  // namespace ckpt
