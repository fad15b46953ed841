#pragma once
// cereal support for boost::unordered_flat_map and boost::unordered_flat_set,
// in the same layout cereal uses for std::unordered_map / std::unordered_set
// (a size, then the entries), so either container reads the other's bytes.

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>
#include <cereal/cereal.hpp>

#include <utility>

namespace cereal {

template <class Archive, class K, class V, class H, class E, class A>
void CEREAL_SAVE_FUNCTION_NAME(Archive& ar, const boost::unordered_flat_map<K, V, H, E, A>& map) {
  ar(make_size_tag(static_cast<size_type>(map.size())));
  for (const auto& [key, value] : map) ar(make_map_item(key, value));
}

template <class Archive, class K, class V, class H, class E, class A>
void CEREAL_LOAD_FUNCTION_NAME(Archive& ar, boost::unordered_flat_map<K, V, H, E, A>& map) {
  size_type size = 0;
  ar(make_size_tag(size));
  map.clear();
  map.reserve(static_cast<std::size_t>(size));
  for (size_type i = 0; i < size; ++i) {
    K key;
    V value;
    ar(make_map_item(key, value));
    map.insert_or_assign(std::move(key), std::move(value));
  }
}

template <class Archive, class K, class H, class E, class A>
void CEREAL_SAVE_FUNCTION_NAME(Archive& ar, const boost::unordered_flat_set<K, H, E, A>& set) {
  ar(make_size_tag(static_cast<size_type>(set.size())));
  for (const auto& key : set) ar(key);
}

template <class Archive, class K, class H, class E, class A>
void CEREAL_LOAD_FUNCTION_NAME(Archive& ar, boost::unordered_flat_set<K, H, E, A>& set) {
  size_type size = 0;
  ar(make_size_tag(size));
  set.clear();
  set.reserve(static_cast<std::size_t>(size));
  for (size_type i = 0; i < size; ++i) {
    K key;
    ar(key);
    set.insert(std::move(key));
  }
}

}  // namespace cereal
