#pragma once
// Helpers for testing a FileSystem backend with GoogleTest (used by the
// conformance suite, file_system_conformance.hpp, and usable on their own):
// deterministic data, whole-file reads and writes through the interface, and
// an expectation that an exception of a ckpt::Error kind is thrown with a code.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/file_util.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace ckpt::fs::test {

/// Runs `f` and returns the exception of type E it throws, after checking its
/// code; fails the test (and returns nullopt) if it throws nothing or another type.
template <class E, class F>
std::optional<E> expect_error(F&& f, errc code) {
  try {
    f();
  } catch (const E& e) {
    EXPECT_EQ(e.code(), make_error_code(code)) << e.what();
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << typeid(E).name() << " (" << make_error_code(code).message() << "), got "
                  << typeid(e).name() << ": " << e.what();
    return std::nullopt;
  }
  ADD_FAILURE() << "expected " << typeid(E).name() << " (" << make_error_code(code).message()
                << "), nothing was thrown";
  return std::nullopt;
}

/// Deterministic, position-dependent bytes: a misplaced chunk shows up.
inline Bytes pattern(std::size_t size, std::uint32_t seed = 1) {
  Bytes out(size);
  std::uint32_t x = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<std::byte>(x & 0xff);
  }
  return out;
}

inline Bytes bytes_of(std::string_view s) { return to_bytes(as_bytes(s)); }

inline std::string string_of(ByteSpan b) { return std::string(as_string_view(b)); }

/// The whole file at `path`, read through the interface.
inline Bytes read_all(FileSystem& fs, std::string_view path) {
  return read_file(fs, path, std::numeric_limits<std::uint64_t>::max());
}

/// Creates, fills and commits `path`.
inline void write_all(FileSystem& fs, std::string_view path, ByteSpan data) { write_file(fs, path, data); }

inline std::vector<std::string> names(const std::vector<Entry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.name);
  return out;
}

}  // namespace ckpt::fs::test
