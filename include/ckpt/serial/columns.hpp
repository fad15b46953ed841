#pragma once
// The entry layout of a keyed-state section: a count, then all keys, then all
// values. A column of arithmetic or enum values is written in bulk as its
// little-endian object representation; any other type goes through cereal.
// Specialize ckpt::is_bulk_serializable<T> for a type whose object
// representation is its serialized form (no padding, no pointers, no version).

#include <ckpt/bytes.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/map_walk.hpp>
#include <ckpt/serial/snapshot_data.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

namespace ckpt {

template <class T>
struct is_bulk_serializable : std::bool_constant<std::is_arithmetic_v<T> || std::is_enum_v<T>> {};
template <class T>
inline constexpr bool is_bulk_serializable_v = is_bulk_serializable<T>::value;

template <class T>
constexpr Encoding encoding_of() noexcept {
  return is_bulk_serializable_v<T> ? Encoding::raw : Encoding::cereal;
}

namespace serial {

/// Appends `u64 count, keys, values` for the (key, value) pairs of `map`.
template <class K, class V, class Map>
void write_entries(Bytes& out, const Map& map) {
  const std::uint64_t n = map.size();
  const auto head = out.size();
  out.resize(head + sizeof n);
  std::memcpy(out.data() + head, &n, sizeof n);
  if constexpr (is_bulk_serializable_v<K> && is_bulk_serializable_v<V>) {
    // One pass, both columns: the common case of numeric keys and values.
    const auto at = out.size();
    out.resize(at + n * (sizeof(K) + sizeof(V)));
    auto* kp = out.data() + at;
    auto* vp = kp + n * sizeof(K);
    detail::for_each_entry(map, [&](const auto& entry) {
      std::memcpy(kp, &entry.first, sizeof(K));
      std::memcpy(vp, &entry.second, sizeof(V));
      kp += sizeof(K);
      vp += sizeof(V);
    });
    return;
  }
  const auto column = [&](auto project, auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (is_bulk_serializable_v<T>) {
      const auto at = out.size();
      out.resize(at + n * sizeof(T));
      auto* p = out.data() + at;
      detail::for_each_entry(map, [&](const auto& entry) {
        std::memcpy(p, &project(entry), sizeof(T));
        p += sizeof(T);
      });
    } else {
      OutputArchive ar(out);
      detail::for_each_entry(map, [&](const auto& entry) { ar(project(entry)); });
    }
  };
  column([](const auto& e) -> const K& { return e.first; }, std::type_identity<K>{});
  column([](const auto& e) -> const V& { return e.second; }, std::type_identity<V>{});
}

namespace detail {
/// A bool stored in bulk is a byte, 0 or 1: any other byte is damage (and
/// copying it into a bool would be undefined behaviour).
inline void check_bools(InputArchive& ar, ByteSpan bytes) {
  for (const auto b : bytes)
    if (static_cast<std::uint8_t>(b) > 1)
      ar.fail(errc::corrupt_data, "a bool holds " + std::to_string(static_cast<unsigned>(b)));
}

/// Reads a column of n values of T, checking n against the remaining bytes.
template <class T>
std::vector<T> read_column(InputArchive& ar, std::uint64_t n) {
  std::vector<T> out;
  if constexpr (std::is_same_v<T, bool>) {
    // std::vector<bool> has no data(): one byte per value, each 0 or 1.
    if (n > ar.remaining())
      ar.fail(errc::limit_exceeded, "a section claims " + std::to_string(n) + " bool entries but only " +
                                        std::to_string(ar.remaining()) + " bytes remain");
    const auto bytes = ar.take(static_cast<std::size_t>(n));
    check_bools(ar, bytes);
    out.reserve(bytes.size());
    for (const auto b : bytes) out.push_back(b != std::byte{0});
  } else if constexpr (is_bulk_serializable_v<T>) {
    if (n > ar.remaining() / sizeof(T))
      ar.fail(errc::limit_exceeded, "a section claims " + std::to_string(n) + " entries of " +
                                        std::to_string(sizeof(T)) + " bytes but only " +
                                        std::to_string(ar.remaining()) + " bytes remain");
    const auto bytes = ar.take(static_cast<std::size_t>(n) * sizeof(T));
    out.resize(static_cast<std::size_t>(n));
    if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());  // memcpy from or to null is UB, even for 0 bytes
  } else {
    ar.check_length(n);
    // No more than the bytes left could hold: a length is not a promise.
    out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n, ar.remaining() / sizeof(T))));
    for (std::uint64_t i = 0; i < n; ++i) {
      T value{};
      ar(value);
      out.push_back(std::move(value));
    }
  }
  return out;
}
}  // namespace detail

/// Reads what write_entries() wrote and calls insert(key&&, value&&) for each
/// entry. The whole payload must be consumed. reserve(n) is called once
/// before the first insert, with a count the payload has proven (its bytes
/// hold n fixed-size entries, or n entries were decoded): never an untrusted one.
template <class K, class V, class Insert, class Reserve>
void read_entries(ByteSpan payload, const ReadContext& context, Insert&& insert, Reserve&& reserve) {
  guarded_read(context, [&] {
    InputArchive ar(payload, context);
    std::uint64_t n = 0;
    ar(n);
    ar.check_length(n);
    if constexpr (is_bulk_serializable_v<K> && is_bulk_serializable_v<V>) {
      if (n > ar.remaining() / (sizeof(K) + sizeof(V)))
        ar.fail(errc::limit_exceeded, "a section claims " + std::to_string(n) + " entries but only " +
                                          std::to_string(ar.remaining()) + " bytes remain");
      const auto keys = ar.take(static_cast<std::size_t>(n) * sizeof(K));
      const auto values = ar.take(static_cast<std::size_t>(n) * sizeof(V));
      reserve(static_cast<std::size_t>(n));
      if constexpr (std::is_same_v<K, bool>) detail::check_bools(ar, keys);
      if constexpr (std::is_same_v<V, bool>) detail::check_bools(ar, values);
      detail::for_each_interleaved(static_cast<std::size_t>(n), [&](std::size_t i) {
        K key;
        V value;
        std::memcpy(&key, keys.data() + i * sizeof(K), sizeof(K));
        std::memcpy(&value, values.data() + i * sizeof(V), sizeof(V));
        insert(std::move(key), std::move(value));
      });
    } else {
      auto keys = detail::read_column<K>(ar, n);
      auto values = detail::read_column<V>(ar, n);
      reserve(keys.size());
      detail::for_each_interleaved(keys.size(), [&](std::size_t i) { insert(std::move(keys[i]), std::move(values[i])); });
    }
    if (ar.remaining() != 0)
      ar.fail(errc::corrupt_data, std::to_string(ar.remaining()) + " unexpected bytes after the entries");
  });
}

template <class K, class V, class Insert>
void read_entries(ByteSpan payload, const ReadContext& context, Insert&& insert) {
  read_entries<K, V>(payload, context, std::forward<Insert>(insert), [](std::size_t) {});
}

/// The entry count at the start of a section payload, as written: untrusted
/// in a file read back (read_entries' reserve callback gets a proven one).
inline std::uint64_t entry_count(ByteSpan payload) noexcept {
  std::uint64_t n = 0;
  if (payload.size() >= sizeof n) std::memcpy(&n, payload.data(), sizeof n);
  return n;
}

}  // namespace serial
}  // namespace ckpt
