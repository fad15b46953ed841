#pragma once
// TimeWindow: the half-open event- or processing-time interval [start, end)
// of a window (Flink's TimeWindow), in milliseconds. Its last instant is
// max_timestamp() = end - 1; the results it emits carry that timestamp. It is
// a map-state key of the window operator, so it is serializable, comparable
// and hashable.

#include <boost/container_hash/hash.hpp>

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>

namespace ckpt {

struct TimeWindow {
  std::int64_t start = 0;
  std::int64_t end = 0;

  constexpr std::int64_t max_timestamp() const noexcept { return end - 1; }
  /// Whether the windows overlap or touch (sessions that touch are merged).
  constexpr bool intersects(const TimeWindow& other) const noexcept {
    return start <= other.end && end >= other.start;
  }
  /// The smallest window holding both.
  constexpr TimeWindow cover(const TimeWindow& other) const noexcept {
    return {std::min(start, other.start), std::max(end, other.end)};
  }

  template <class A>
  void serialize(A& ar) {
    ar(start, end);
  }
  friend constexpr bool operator==(const TimeWindow&, const TimeWindow&) = default;
  friend constexpr auto operator<=>(const TimeWindow&, const TimeWindow&) = default;
  friend std::size_t hash_value(const TimeWindow& w) {
    std::size_t seed = 0;
    boost::hash_combine(seed, w.start);
    boost::hash_combine(seed, w.end);
    return seed;
  }
};

}  // namespace ckpt
