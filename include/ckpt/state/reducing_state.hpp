#pragma once
// ReducingState<T>: a value per key that add() combines with the descriptor's
// reduce function.

#include <ckpt/state/detail/state_error.hpp>

#include <optional>
#include <utility>

namespace ckpt {
namespace detail {
template <class T>
class ReducingStateImpl {
 public:
  virtual ~ReducingStateImpl() = default;
  virtual const T* find() = 0;
  virtual void add(T value) = 0;
  virtual void clear() = 0;
};
}  // namespace detail

template <class T>
class ReducingState {
 public:
  using value_type = T;
  ReducingState() = default;
  explicit ReducingState(detail::ReducingStateImpl<T>* impl) noexcept : impl_(impl) {}

  /// The reduced value, or nothing if nothing was added for the current key.
  std::optional<T> get() const {
    if (const T* v = impl().find()) return *v;
    return std::nullopt;
  }
  void add(T value) { impl().add(std::move(value)); }
  void clear() { impl().clear(); }

 private:
  detail::ReducingStateImpl<T>& impl() const {
    if (!impl_) detail::throw_unbound_state("ReducingState");
    return *impl_;
  }
  detail::ReducingStateImpl<T>* impl_ = nullptr;
};

}  // namespace ckpt
