#pragma once
// ValueState<T>: one value per key.

#include <ckpt/state/detail/state_error.hpp>

#include <cstdint>
#include <optional>
#include <utility>

namespace ckpt {
namespace detail {
/// The current key's value as the last lookup left it: readable, and
/// writable in place, while the backend's key version is still `version`.
/// The implementation sets it only when a write to that key group needs no
/// snapshot work (nothing to save, already marked changed), and resets it when
/// it erases; set_current_key(), a snapshot and a restore change the version.
template <class T>
struct InPlaceEntry {
  T* entry = nullptr;
  std::uint64_t version = 0;  // 0: none (key versions start at 1)
};

template <class T>
class ValueStateImpl {
 public:
  explicit ValueStateImpl(const std::uint64_t& key_version) noexcept : key_version_(&key_version) {}
  virtual ~ValueStateImpl() = default;
  virtual const T* find() = 0;  // the current key's value, or nullptr
  virtual const T& default_value() const = 0;
  virtual void update(T value) = 0;
  virtual void clear() = 0;

  /// The handle's fast path: no virtual call for a read-modify-write.
  T* in_place() const noexcept { return in_place_.version == *key_version_ ? in_place_.entry : nullptr; }

 protected:
  InPlaceEntry<T> in_place_;

 private:
  const std::uint64_t* key_version_;
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
  T value() const {
    if (const T* v = find()) return *v;
    return impl().default_value();
  }
  /// The current key's value, or nothing if it has none (Flink's null).
  std::optional<T> get() const {
    if (const T* v = find()) return *v;
    return std::nullopt;
  }
  void update(T value) {
    if (T* entry = impl().in_place()) [[likely]]
      *entry = std::move(value);
    else
      impl().update(std::move(value));
  }
  /// Removes the current key's value (other keys are untouched).
  void clear() { impl().clear(); }

 private:
  const T* find() const {
    if (const T* entry = impl().in_place()) return entry;
    return impl().find();
  }
  detail::ValueStateImpl<T>& impl() const {
    if (!impl_) detail::throw_unbound_state("ValueState");
    return *impl_;
  }
  detail::ValueStateImpl<T>* impl_ = nullptr;
};

}  // namespace ckpt
