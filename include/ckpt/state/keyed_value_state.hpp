#pragma once
// KeyedValueState<Key, T>: the ValueState<T> handle that KeyedStateBackend<Key>
// returns, with its backend's key type in its own. It is a ValueState<T> (pass
// it, store it, slice it to one: all the same state), but its own value(),
// get(), update() and clear() call the backend's implementation directly, so
// the compiler inlines a read-modify-write into the caller instead of making
// two virtual calls (about 30% fewer instructions per access; see
// docs/benchmarks.md, P3). A state with a time-to-live takes the virtual path.
//
//   ckpt::KeyedStateBackend<std::string> backend;
//   ckpt::KeyedValueState<std::string, std::int64_t> clicks =
//       backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"clicks", 0});

#include <ckpt/state/detail/key_hash.hpp>
#include <ckpt/state/detail/keyed_states.hpp>
#include <ckpt/state/value_state.hpp>

#include <functional>
#include <optional>
#include <utility>

namespace ckpt {

template <class Key, class T, class Hash = detail::KeyHash<Key>, class KeyEqual = std::equal_to<Key>>
class KeyedValueState : public ValueState<T> {
 public:
  using key_type = Key;
  KeyedValueState() = default;
  /// `impl` comes from a KeyedStateBackend<Key, Hash, KeyEqual>.
  explicit KeyedValueState(detail::ValueStateImpl<T>* impl) noexcept
      : ValueState<T>(impl), direct_(dynamic_cast<Direct*>(impl)) {}
  /// Any ValueState<T> of a backend of keys Key (e.g. from a
  /// KeyedStateStore<Key>, as functions declare state): direct calls when the
  /// heap backend made it, the virtual path otherwise (RocksDB).
  KeyedValueState(const ValueState<T>& state) noexcept  // NOLINT(google-explicit-constructor): a handle converts
      : KeyedValueState(ValueState<T>::implementation_of(state)) {}

  T value() const { return direct_ ? this->value_in(*direct_) : ValueState<T>::value(); }
  std::optional<T> get() const { return direct_ ? this->get_in(*direct_) : ValueState<T>::get(); }
  void update(T value) {
    if (direct_) [[likely]]
      direct_->update(std::move(value));
    else
      ValueState<T>::update(std::move(value));
  }
  void clear() {
    if (direct_) [[likely]]
      direct_->clear();
    else
      ValueState<T>::clear();
  }

 private:
  // The implementation without TTL; a final class, so its calls are direct.
  using Direct = detail::KeyedValueStateImpl<Key, T, false, Hash, KeyEqual>;
  Direct* direct_ = nullptr;
};

}  // namespace ckpt
