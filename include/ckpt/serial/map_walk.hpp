#pragma once
// How serialization walks a hash map and how deserialization fills one, both
// tuned for boost::unordered_flat_map.

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstddef>
#include <type_traits>

namespace ckpt::serial::detail {

template <class T>
struct is_flat_map : std::false_type {};
template <class K, class V, class H, class E, class A>
struct is_flat_map<boost::unordered_flat_map<K, V, H, E, A>> : std::true_type {};

/// Calls fn(entry) for every entry of `map`, reading only. The iterator of
/// boost::unordered_flat_map moves slot by slot, reloading its group's
/// metadata at every step; erase_if() walks group by group. With a predicate
/// that never erases it is a read-only visit, about 5x faster (Boost 1.81 has
/// no visit() for this container).
template <class Map, class F>
void for_each_entry(const Map& map, F&& fn) {
  if constexpr (is_flat_map<Map>::value) {
    boost::unordered::erase_if(const_cast<Map&>(map), [&](const auto& entry) {
      fn(entry);
      return false;
    });
  } else {
    for (const auto& entry : map) fn(entry);
  }
}

/// Calls fn(i) for every i in [0, n), in an order that rebuilds hash maps
/// fast. Entries are written in the slot order of the map they came from, so
/// consecutive ones land in the same slot group of the map being rebuilt and
/// each insertion stalls on the one before it (the group's metadata was just
/// written). Taking them from 8 interleaved runs keeps each run sequential but
/// neighbours far apart: inserting is about 3x faster.
template <class F>
void for_each_interleaved(std::size_t n, F&& fn) {
  constexpr std::size_t runs = 8;
  if (n < 4 * runs) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  const std::size_t step = (n + runs - 1) / runs;
  for (std::size_t j = 0; j < step; ++j)
    for (std::size_t i = j; i < n; i += step) fn(i);
}

}  // namespace ckpt::serial::detail
