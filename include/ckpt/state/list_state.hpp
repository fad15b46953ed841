#pragma once
// ListState<T>: a list per key (keyed state), or a list per operator subtask
// (operator state). The same handle type serves both, as in Flink.

#include <ckpt/state/detail/state_error.hpp>

#include <cstddef>
#include <utility>
#include <vector>

namespace ckpt {
namespace detail {
template <class T>
class ListStateImpl {
 public:
  virtual ~ListStateImpl() = default;
  virtual std::vector<T> get() = 0;
  virtual void add(T value) = 0;
  virtual void add_all(std::vector<T> values) = 0;
  virtual void update(std::vector<T> values) = 0;
  virtual void clear() = 0;
};
}  // namespace detail

template <class T>
class ListState {
 public:
  using value_type = T;
  ListState() = default;
  explicit ListState(detail::ListStateImpl<T>* impl) noexcept : impl_(impl) {}

  /// A copy of the list (empty if there is none).
  std::vector<T> get() const { return impl().get(); }
  void add(T value) { impl().add(std::move(value)); }
  void add_all(std::vector<T> values) { impl().add_all(std::move(values)); }
  /// Replaces the list.
  void update(std::vector<T> values) { impl().update(std::move(values)); }
  void clear() { impl().clear(); }

 private:
  detail::ListStateImpl<T>& impl() const {
    if (!impl_) detail::throw_unbound_state("ListState");
    return *impl_;
  }
  detail::ListStateImpl<T>* impl_ = nullptr;
};

}  // namespace ckpt
