#pragma once
// The hash the in-memory flat maps use (not the stable key-group hash, whose
// low bits are the same for every key of a key group and would crowd a map).
// boost::hash for numbers and strings, std::hash or an ADL hash_value() where
// the type has one, and the stable serialized-bytes hash otherwise, so any
// cereal-serializable type with operator== can be a key.

#include <ckpt/state/key_group.hpp>

#include <boost/container_hash/hash.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

namespace ckpt::detail {

template <class K, class = void>
struct has_std_hash : std::false_type {};
template <class K>
struct has_std_hash<K, std::void_t<decltype(std::hash<K>{}(std::declval<const K&>()))>> : std::true_type {};

template <class K, class = void>
struct has_adl_hash_value : std::false_type {};
template <class K>
struct has_adl_hash_value<K, std::void_t<decltype(hash_value(std::declval<const K&>()))>> : std::true_type {};

template <class K>
struct KeyHash {
  std::size_t operator()(const K& key) const {
    if constexpr (std::is_arithmetic_v<K> || std::is_enum_v<K> || std::is_same_v<K, std::string>) {
      return boost::hash<K>{}(key);
    } else if constexpr (has_std_hash<K>::value) {
      return std::hash<K>{}(key);
    } else if constexpr (has_adl_hash_value<K>::value) {
      return boost::hash<K>{}(key);
    } else {
      return static_cast<std::size_t>(stable_key_hash(key));
    }
  }
};

}  // namespace ckpt::detail
