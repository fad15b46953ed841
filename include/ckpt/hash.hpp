#pragma once
// The one hash ckpt uses for anything that is stored or must agree between
// builds: XXH3-64 (seed 0) from the xxHash library. Its output is frozen by the
// library since 0.8.0, so key groups and checksums computed by one build are
// recomputed identically by any other.

#include <ckpt/bytes.hpp>

#include <cstdint>

// xxHash forces inlining, which GCC refuses at -Og ("inlining failed in call
// to always_inline"): build with -DXXH_NO_INLINE_HINTS=1 there, as ckpt's
// sanitizer presets do.
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#define CKPT_DEFINED_XXH_INLINE_ALL
#endif
#include <xxhash.h>
#ifdef CKPT_DEFINED_XXH_INLINE_ALL
#undef XXH_INLINE_ALL
#undef CKPT_DEFINED_XXH_INLINE_ALL
#endif

namespace ckpt {

/// XXH3-64 of `data`: key-group hashing and block checksums.
inline std::uint64_t hash64(ByteSpan data) noexcept { return XXH3_64bits(data.data(), data.size()); }
inline std::uint64_t hash64(const void* data, std::size_t size) noexcept { return XXH3_64bits(data, size); }
/// The same hash of exactly `Size` bytes (a number key): flattened, so the
/// length dispatch folds away and a key's hash is a few instructions inline
/// instead of a call (GCC otherwise keeps XXH3_64bits out of line).
template <std::size_t Size>
[[gnu::flatten]] inline std::uint64_t hash64_fixed(const void* data) noexcept {
  return XXH3_64bits(data, Size);
}

/// Incremental XXH3-64, for data that arrives in pieces (a whole file's checksum).
class Hasher64 {
 public:
  Hasher64() noexcept { XXH3_64bits_reset(&state_); }
  void update(ByteSpan data) noexcept { XXH3_64bits_update(&state_, data.data(), data.size()); }
  std::uint64_t digest() const noexcept { return XXH3_64bits_digest(&state_); }

 private:
  XXH3_state_t state_;
};

}  // namespace ckpt
