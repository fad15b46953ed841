#pragma once
// Deterministic test bytes and small helpers shared by the S3 tests.
#include <ckpt/bytes.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/file_util.hpp>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>

namespace ckpt::s3::test {

/// `n` pseudo-random bytes determined by `seed`.
inline Bytes pattern(std::size_t n, std::uint64_t seed) {
  Bytes out(n);
  std::mt19937_64 rng(seed);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  for (; i < n; ++i) out[i] = static_cast<std::byte>(rng());
  return out;
}

inline Bytes read_all(fs::FileSystem& fs, std::string_view path) {
  auto f = fs.open(path);
  Bytes out(f->size());
  f->read(0, out);
  return out;
}

using fs::write_file;  // the library's: creates, fills and commits a file

inline bool same(ByteSpan a, ByteSpan b) { return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0; }

}  // namespace ckpt::s3::test
