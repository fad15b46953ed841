#pragma once
// cereal support for boost::unordered_flat_map and boost::unordered_flat_set,
// in the same layout cereal uses for std::unordered_map / std::unordered_set
// (a size, then the entries), so either container reads the other's bytes.

#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/map_walk.hpp>

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>
#include <cereal/cereal.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
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

// ckpt's own archives and numbers both ways (MapState<u64, u64> and the like):
// the same bytes as above, a size and then key and value per entry, written
// and read in one pass instead of element by element.
template <class K, class V, class H, class E, class A>
  requires(std::is_arithmetic_v<K> && std::is_arithmetic_v<V>)
void CEREAL_SAVE_FUNCTION_NAME(ckpt::serial::OutputArchive& ar, const boost::unordered_flat_map<K, V, H, E, A>& map) {
  auto& out = ar.buffer();
  const std::uint64_t n = map.size();
  const auto at = out.size();
  out.resize(at + sizeof n + static_cast<std::size_t>(n) * (sizeof(K) + sizeof(V)));
  auto* p = out.data() + at;
  std::memcpy(p, &n, sizeof n);
  p += sizeof n;
  ckpt::serial::detail::for_each_entry(map, [&](const auto& entry) {
    std::memcpy(p, &entry.first, sizeof(K));
    std::memcpy(p + sizeof(K), &entry.second, sizeof(V));
    p += sizeof(K) + sizeof(V);
  });
}

template <class K, class V, class H, class E, class A>
  requires(std::is_arithmetic_v<K> && std::is_arithmetic_v<V>)
void CEREAL_LOAD_FUNCTION_NAME(ckpt::serial::InputArchive& ar, boost::unordered_flat_map<K, V, H, E, A>& map) {
  constexpr std::size_t entry = sizeof(K) + sizeof(V);
  std::uint64_t n = 0;
  ar.loadBinary(&n, sizeof n);
  ar.check_length(n);
  if (n > ar.remaining() / entry)
    ar.fail(ckpt::errc::truncated, "a map claims " + std::to_string(n) + " entries of " + std::to_string(entry) +
                                       " bytes but only " + std::to_string(ar.remaining()) + " bytes remain");
  const auto bytes = ar.take(static_cast<std::size_t>(n) * entry);
  map.clear();
  map.reserve(static_cast<std::size_t>(n));
  ckpt::serial::detail::for_each_interleaved(static_cast<std::size_t>(n), [&](std::size_t i) {
    K key;
    V value;
    std::memcpy(&key, bytes.data() + i * entry, sizeof(K));
    std::memcpy(&value, bytes.data() + i * entry + sizeof(K), sizeof(V));
    map.insert_or_assign(std::move(key), std::move(value));
  });
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
