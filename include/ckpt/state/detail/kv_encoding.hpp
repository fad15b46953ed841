#pragma once
// How keyed state is laid out as bytes in an ordered key-value store (the
// RocksDB backend's layout, Flink's): a value is its serialized form (with
// TTL: an 8-byte little-endian timestamp first, as Flink stores TtlValue), a
// list is its elements, each length-prefixed (with TTL: each stamped), and a
// map entry is keyed by the serialized key followed by the serialized user
// key. Backend-independent, so the typed side of a state (kv_state.hpp) and
// the store that keeps its bytes agree without knowing each other.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/std_types.hpp>  // the standard types keys and values may be
#include <ckpt/state/detail/ttl_value.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::detail {

inline ByteSpan span_of(std::string_view s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }
inline ByteSpan span_of(const std::string& s) { return span_of(std::string_view(s)); }
inline std::string_view view_of(ByteSpan b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

/// Appends `value` serialized by ckpt's binary archive to `out`.
template <class T>
void append_serialized(std::string& out, const T& value) {
  thread_local Bytes buf;
  buf.clear();
  serial::save_to(buf, value);
  out.append(reinterpret_cast<const char*>(buf.data()), buf.size());
}
template <class T>
std::string encode(const T& value) {
  std::string out;
  append_serialized(out, value);
  return out;
}

// -- the TTL layout: timestamp, then the serialized value ---------------------

inline constexpr std::size_t timestamp_bytes = 8;

inline void append_timestamp(std::string& out, std::int64_t t) {
  char b[timestamp_bytes];
  std::memcpy(b, &t, timestamp_bytes);
  out.append(b, timestamp_bytes);
}
/// The timestamp a stored value of a state with TTL begins with.
inline std::int64_t timestamp_of(std::string_view raw, const serial::ReadContext& ctx) {
  if (raw.size() < timestamp_bytes)
    throw CorruptionError(errc::corrupt_data, std::string(ctx.file), std::string(ctx.block),
                          std::string(ctx.file) + ", " + std::string(ctx.block) + ": a value of " +
                              std::to_string(raw.size()) + " bytes is shorter than its TTL timestamp");
  std::int64_t t = 0;
  std::memcpy(&t, raw.data(), timestamp_bytes);
  return t;
}
inline void set_timestamp(std::string& raw, std::int64_t t) { std::memcpy(raw.data(), &t, timestamp_bytes); }

/// How a stored value (a plain value, or with TTL a TtlValue) is laid out.
template <class S>
struct StoredBytes {
  static void append(std::string& out, const S& v) { append_serialized(out, v); }
  static S decode(std::string_view raw, const serial::ReadContext& ctx) { return serial::decode<S>(span_of(raw), ctx); }
};
template <class T>
struct StoredBytes<TtlValue<T>> {
  static void append(std::string& out, const TtlValue<T>& v) {
    append_timestamp(out, v.last_access);
    append_serialized(out, v.value);
  }
  static TtlValue<T> decode(std::string_view raw, const serial::ReadContext& ctx) {
    const auto t = timestamp_of(raw, ctx);
    return {serial::decode<T>(span_of(raw.substr(timestamp_bytes)), ctx), t};
  }
};

// -- list values: length-prefixed elements ------------------------------------

/// Appends one list element: u32 little-endian length, then its bytes.
inline void append_element_bytes(std::string& out, std::string_view e) {
  const auto n = static_cast<std::uint32_t>(e.size());
  char len[4];
  std::memcpy(len, &n, 4);
  out.append(len, 4);
  out += e;
}
/// Appends one list element (a T, or with TTL a TtlValue<T>).
template <class E>
void append_element(std::string& out, const E& value) {
  std::string e;
  StoredBytes<E>::append(e, value);
  append_element_bytes(out, e);
}
/// Calls fn(bytes) for each element of a list state value.
template <class Fn>
void for_each_element(std::string_view raw, const serial::ReadContext& ctx, Fn&& fn) {
  std::size_t at = 0;
  while (at < raw.size()) {
    std::uint32_t n = 0;
    if (raw.size() - at < 4 || (std::memcpy(&n, raw.data() + at, 4), raw.size() - at - 4 < n))
      throw CorruptionError(errc::corrupt_data, std::string(ctx.file), std::string(ctx.block),
                            std::string(ctx.file) + ", " + std::string(ctx.block) +
                                ": a list state value ends inside an element");
    fn(raw.substr(at + 4, n));
    at += 4 + n;
  }
}
/// The elements (E: T, or with TTL TtlValue<T>) of a list state value.
template <class E>
std::vector<E> decode_elements(std::string_view raw, const serial::ReadContext& ctx) {
  std::vector<E> out;
  for_each_element(raw, ctx, [&](std::string_view e) { out.push_back(StoredBytes<E>::decode(e, ctx)); });
  return out;
}
/// A list state value of `values`.
template <class E>
std::string encode_elements(const std::vector<E>& values) {
  std::string out;
  for (const auto& v : values) append_element(out, v);
  return out;
}

}  // namespace ckpt::detail
