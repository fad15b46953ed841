#pragma once
// The concepts a state's types must satisfy, checked where a program names
// them (a descriptor, a keyed backend, a keyed function), so a wrong type fails
// at the user's line with the concept's name:
//
//   ckpt::StateValue<T>  a value a state holds: Serializable (cereal can write
//                        and read it), copyable (value() returns a copy) and
//                        default-constructible (a restore loads into one).
//   ckpt::StateKey<K>    what keyed state is keyed by (and a MapState's user
//                        key): a StateValue with ==. Keys are hashed by their
//                        std::hash or hash_value() when they have one, else by
//                        their serialized bytes, so no hash is required.
//   ckpt::KeySelectorOf<F, T>  what Stream<T>::key_by() takes: F(const T&)
//                        returns a StateKey.

#include <ckpt/serial/serializable.hpp>

#include <concepts>
#include <type_traits>

namespace ckpt {

template <class T>
concept StateValue = std::is_object_v<T> && !std::is_const_v<T> && std::copyable<T> && std::default_initializable<T> &&
                     Serializable<T>;

template <class K>
concept StateKey = StateValue<K> && std::equality_comparable<K>;

/// What key_by() takes: a function of a `const T&` whose result is a StateKey.
template <class F, class T>
concept KeySelectorOf = std::invocable<F, const T&> && StateKey<std::decay_t<std::invoke_result_t<F, const T&>>>;

}  // namespace ckpt
