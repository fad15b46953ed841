#pragma once
// What the fuzz targets share: the limits they read with, the rule every
// error must follow, and "re-signing" -- making an input's checksums agree with
// its bytes, so mutations reach the parsers behind them instead of stopping at
// a checksum mismatch.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/hash.hpp>
#include <ckpt/snapshot/manifest.hpp>
#include <ckpt/snapshot/state_file_format.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ckpt::fuzz {

/// Small limits: with them no input may make the reader allocate more than a
/// few times 16 MiB (fuzz.sh runs with -malloc_limit_mb=128 to prove it).
inline ReadLimits limits() {
  constexpr std::uint64_t cap = std::uint64_t{16} << 20;
  return ReadLimits{cap, cap, cap};
}

/// Every ckpt::Error from reading `path` must name it; a CorruptionError also
/// the part of the file. Anything else is a bug: abort, so libFuzzer keeps it.
inline void check_error(const Error& e, const std::string& path) {
  const std::string what = e.what();
  if (const auto* c = dynamic_cast<const CorruptionError*>(&e)) {
    if (c->path().empty() || what.find(c->path()) == std::string::npos || c->block().empty()) {
      std::fprintf(stderr, "a CorruptionError that does not name its file and block: %s\n", what.c_str());
      std::abort();
    }
  } else if (const auto* io = dynamic_cast<const IoError*>(&e)) {
    if (io->path().empty() || what.find(io->path()) == std::string::npos) {
      std::fprintf(stderr, "an IoError that does not name its file: %s\n", what.c_str());
      std::abort();
    }
  }
  (void)path;
}

/// The manifest with its header's size and checksum made to match its body.
inline Bytes resign_manifest(ByteSpan in) {
  Bytes out(in.begin(), in.end());
  if (out.size() < manifest_header_size) return out;
  const std::uint64_t size = out.size() - manifest_header_size;
  const std::uint64_t checksum = hash64(ByteSpan(out).subspan(manifest_header_size));
  std::memcpy(out.data() + 16, &size, 8);
  std::memcpy(out.data() + 24, &checksum, 8);
  return out;
}

}  // namespace ckpt::fuzz
