#pragma once
// Key groups: the unit in which keyed state is partitioned, snapshotted and
// moved between subtasks (Flink's design, kept on purpose).
//
//   key_group(key) = XXH3_64(key_bytes(key)) mod max_parallelism
//
// key_bytes(key) is the key serialized by ckpt's binary archive: the
// little-endian object representation for arithmetic and enum types, a u64
// length followed by the characters for std::string, and the cereal
// serialization for anything else. XXH3-64 with seed 0 is frozen by xxHash, so
// a key lands in the same key group on every build, compiler and machine.
//
// Subtask i of p owns the contiguous range Flink assigns:
//   begin = ceil(i * max_parallelism / p), end = ceil((i + 1) * max_parallelism / p)
// and key group g belongs to subtask  g * p / max_parallelism.

#include <ckpt/error.hpp>
#include <ckpt/hash.hpp>
#include <ckpt/serial/archive.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace ckpt {

inline constexpr std::uint32_t default_max_parallelism = 128;
/// Flink's upper bound, and ours: 2^15 key groups.
inline constexpr std::uint32_t max_max_parallelism = 32768;

/// Throws ConfigError unless 1 <= parallelism <= max_parallelism <= 32768.
inline void validate_parallelism(std::uint32_t max_parallelism, std::uint32_t parallelism = 1) {
  if (max_parallelism < 1 || max_parallelism > max_max_parallelism)
    throw ConfigError(errc::invalid_argument, "max parallelism " + std::to_string(max_parallelism) +
                                                  " is outside [1, " + std::to_string(max_max_parallelism) + "]");
  if (parallelism < 1 || parallelism > max_parallelism)
    throw ConfigError(errc::invalid_argument, "parallelism " + std::to_string(parallelism) +
                                                  " is outside [1, max parallelism " +
                                                  std::to_string(max_parallelism) + "]");
}

/// A half-open range [begin, end) of key groups.
struct KeyGroupRange {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;

  constexpr std::uint32_t size() const noexcept { return end > begin ? end - begin : 0; }
  constexpr bool empty() const noexcept { return size() == 0; }
  constexpr bool contains(std::uint32_t key_group) const noexcept {
    return key_group >= begin && key_group < end;
  }
  constexpr KeyGroupRange intersect(const KeyGroupRange& o) const noexcept {
    const auto b = begin > o.begin ? begin : o.begin;
    const auto e = end < o.end ? end : o.end;
    return e > b ? KeyGroupRange{b, e} : KeyGroupRange{b, b};
  }
  std::string to_string() const { return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")"; }

  /// Every key group of a job with this max parallelism.
  static KeyGroupRange all(std::uint32_t max_parallelism) {
    validate_parallelism(max_parallelism);
    return {0, max_parallelism};
  }
  /// The key groups subtask `index` of `parallelism` owns.
  static KeyGroupRange for_subtask(std::uint32_t max_parallelism, std::uint32_t parallelism, std::uint32_t index) {
    validate_parallelism(max_parallelism, parallelism);
    if (index >= parallelism)
      throw ConfigError(errc::invalid_argument, "subtask index " + std::to_string(index) +
                                                    " is not below parallelism " + std::to_string(parallelism));
    const auto m = static_cast<std::uint64_t>(max_parallelism);
    const auto p = static_cast<std::uint64_t>(parallelism);
    return {static_cast<std::uint32_t>((index * m + p - 1) / p),
            static_cast<std::uint32_t>(((index + 1) * m + p - 1) / p)};
  }

  friend constexpr bool operator==(const KeyGroupRange&, const KeyGroupRange&) = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(begin, end);
  }
};

/// The subtask of `parallelism` that owns `key_group`.
inline std::uint32_t subtask_for_key_group(std::uint32_t max_parallelism, std::uint32_t parallelism,
                                           std::uint32_t key_group) {
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(key_group) * parallelism / max_parallelism);
}

/// The stable hash of a key: XXH3-64 of its serialized bytes (see above).
template <class K>
std::uint64_t stable_key_hash(const K& key) {
  if constexpr (std::is_arithmetic_v<K> || std::is_enum_v<K>) {
    return hash64_fixed<sizeof key>(&key);
  } else if constexpr (std::is_same_v<K, std::string> || std::is_same_v<K, std::string_view>) {
    // Same bytes as the archive writes (u64 length, characters) without it.
    const std::uint64_t n = key.size();
    if (n <= 248) {
      std::array<std::byte, 256> buf;
      std::memcpy(buf.data(), &n, 8);
      if (n != 0) std::memcpy(buf.data() + 8, key.data(), key.size());
      return hash64(buf.data(), 8 + key.size());
    }
    Hasher64 h;
    h.update({reinterpret_cast<const std::byte*>(&n), 8});
    h.update(as_bytes(std::string_view(key)));
    return h.digest();
  } else {
    thread_local Bytes buf;
    buf.clear();
    serial::save_to(buf, key);
    return hash64(buf);
  }
}

/// The key group of `key`.
template <class K>
std::uint32_t key_group_for(const K& key, std::uint32_t max_parallelism) {
  return static_cast<std::uint32_t>(stable_key_hash(key) % max_parallelism);
}

namespace detail {
/// `hash mod max_parallelism` without a division when max parallelism is a
/// power of two (the default, 128): the same key groups, for the hot path.
class KeyGroupReducer {
 public:
  explicit KeyGroupReducer(std::uint32_t max_parallelism) noexcept
      : max_(max_parallelism),
        mask_(max_parallelism - 1),
        pow2_(max_parallelism != 0 && (max_parallelism & (max_parallelism - 1)) == 0) {}
  std::uint32_t operator()(std::uint64_t hash) const noexcept {
    return static_cast<std::uint32_t>(pow2_ ? hash & mask_ : hash % max_);
  }

 private:
  std::uint64_t max_;
  std::uint64_t mask_;
  bool pow2_;
};
}  // namespace detail

}  // namespace ckpt
