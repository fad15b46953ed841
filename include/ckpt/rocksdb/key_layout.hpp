#pragma once
// The RocksDB key layout, Flink's: every key begins with its key group as two
// big-endian bytes, so a key group is one contiguous key range (a rescale
// keeps or drops ranges, a canonical snapshot reads one key group as one
// seek), then the key as ckpt's binary archive serializes it, then, for map
// state, the serialized user key. Key groups fit two bytes because
// max_max_parallelism is 2^15.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/std_types.hpp>  // the standard types keys and values may be
#include <ckpt/state/detail/kv_encoding.hpp>
#include <ckpt/state/key_group.hpp>

#include <cstdint>
#include <string>

namespace ckpt::rocksdb {

inline constexpr std::size_t key_group_prefix_bytes = 2;
static_assert(max_max_parallelism <= 0x10000, "a key group must fit the two-byte prefix");

/// Appends the two-byte big-endian prefix of `key_group` to `out`.
inline void append_key_group(std::string& out, std::uint32_t key_group) {
  out.push_back(static_cast<char>((key_group >> 8) & 0xffu));
  out.push_back(static_cast<char>(key_group & 0xffu));
}

/// The key group a RocksDB key begins with; CorruptionError if it is too short.
inline std::uint32_t key_group_of(std::string_view rocksdb_key) {
  if (rocksdb_key.size() < key_group_prefix_bytes)
    throw CorruptionError(errc::corrupt_data, "", "rocksdb key",
                          "a RocksDB key of " + std::to_string(rocksdb_key.size()) +
                              " bytes is shorter than its key-group prefix");
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(rocksdb_key[0])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(rocksdb_key[1]));
}

/// Appends `value` serialized by ckpt's binary archive to `out`.
using ckpt::detail::append_serialized;

/// key group + serialized key: the RocksDB key of a value, list, reducing or
/// aggregating state entry, and the prefix of every entry of a map state.
template <class K>
std::string state_key(std::uint32_t key_group, const K& key) {
  std::string out;
  append_key_group(out, key_group);
  append_serialized(out, key);
  return out;
}

/// key group + serialized key + serialized user key: one map state entry.
template <class K, class UK>
std::string map_entry_key(std::uint32_t key_group, const K& key, const UK& user_key) {
  std::string out = state_key(key_group, key);
  append_serialized(out, user_key);
  return out;
}

/// The first key of key group `key_group`'s range; the range of key groups
/// [begin, end) is [key_group_begin(begin), key_group_begin(end)).
inline std::string key_group_begin(std::uint32_t key_group) {
  std::string out;
  append_key_group(out, key_group);
  return out;
}

}  // namespace ckpt::rocksdb
