#pragma once
// The order in which a deserializer inserts entries into a hash map.

#include <cstddef>

namespace ckpt::serial::detail {

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
