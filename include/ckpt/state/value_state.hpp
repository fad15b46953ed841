#pragma once
// ValueState<T>: one value per key.

#include <ckpt/state/detail/state_error.hpp>

#include <optional>
#include <utility>

namespace ckpt {
namespace detail {
template <class T>
class ValueStateImpl {
 public:
  virtual ~ValueStateImpl() = default;
  virtual const T* find() = 0;  // the current key's value, or nullptr
  virtual const T& default_value() const = 0;
  virtual void update(T value) = 0;
  virtual void clear() = 0;
};
}  // namespace detail

/// A handle to a value per key, obtained from KeyedStateBackend::get_state().
/// Every call applies to the backend's current key. Handles are cheap to copy
/// and stay valid while their backend lives.
template <class T>
class ValueState {
 public:
  using value_type = T;
  ValueState() = default;
  explicit ValueState(detail::ValueStateImpl<T>* impl) noexcept : impl_(impl) {}

  /// The current key's value; the descriptor's default (or T{}) if it has none.
  T value() const { return value_in(impl()); }
  /// The current key's value, or nothing if it has none (Flink's null).
  std::optional<T> get() const { return get_in(impl()); }
  void update(T value) { impl().update(std::move(value)); }
  /// Removes the current key's value (other keys are untouched).
  void clear() { impl().clear(); }

 protected:
  // Shared with KeyedValueState, which passes its implementation's final type.
  static detail::ValueStateImpl<T>* implementation_of(const ValueState& state) noexcept { return state.impl_; }
  template <class Impl>
  static T value_in(Impl& impl) {
    if (const T* v = impl.find()) return *v;
    return impl.default_value();
  }
  template <class Impl>
  static std::optional<T> get_in(Impl& impl) {
    if (const T* v = impl.find()) return *v;
    return std::nullopt;
  }

 private:
  detail::ValueStateImpl<T>& impl() const {
    if (!impl_) detail::throw_unbound_state("ValueState");
    return *impl_;
  }
  detail::ValueStateImpl<T>* impl_ = nullptr;
};

}  // namespace ckpt
