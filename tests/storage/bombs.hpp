#pragma once
// Allocation and decompression bombs: real snapshots of the reliability job
// (tests/reliability/job.hpp) whose blocks are replaced, re-signed, by small
// files that decode to a lot -- list-state blocks claiming 128 MiB each, one
// claiming 1000 MiB, an operator-state block whose element count is its
// remaining bytes - 1, keyed sections whose entry counts are huge -- and the
// hostile snapshots of tests/reliability/hostile.hpp. Each forged file is
// a few KiB; each block's index entry states its true decompressed size.

#include <ckpt/fs/file_system.hpp>
#include <ckpt/hash.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/snapshot/codec.hpp>
#include <ckpt/snapshot/state_file_reader.hpp>

#include "hostile.hpp"

#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ckpt::test {

inline constexpr std::uint64_t MiB = std::uint64_t{1} << 20;

/// One zstd frame holding `prefix` then `zeros` zero bytes, with its content
/// size in the header, made without ever holding the zeros.
inline StoredBlock prefixed_zeros(ByteSpan prefix, std::uint64_t zeros) {
  std::unique_ptr<ZSTD_CCtx, ckpt::detail::CCtxDeleter> ctx(ZSTD_createCCtx());
  const auto check = [](std::size_t rc) {
    if (ZSTD_isError(rc)) throw std::runtime_error(ZSTD_getErrorName(rc));
    return rc;
  };
  const std::uint64_t size = prefix.size() + zeros;
  check(ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, 1));
  check(ZSTD_CCtx_setPledgedSrcSize(ctx.get(), size));
  const std::vector<std::byte> chunk(std::size_t{1} << 20, std::byte{0});
  std::vector<std::byte> buffer(ZSTD_CStreamOutSize());
  StoredBlock block;
  const auto feed = [&](ByteSpan piece, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{piece.data(), piece.size(), 0};
    for (;;) {
      ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
      const auto left = check(ZSTD_compressStream2(ctx.get(), &o, &in, mode));
      block.stored.insert(block.stored.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(o.pos));
      if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) return;
    }
  };
  feed(prefix, zeros == 0 ? ZSTD_e_end : ZSTD_e_continue);
  for (std::uint64_t fed = 0; fed < zeros;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), zeros - fed));
    fed += n;
    feed(ByteSpan(chunk.data(), n), fed == zeros ? ZSTD_e_end : ZSTD_e_continue);
  }
  block.raw_size = size;
  block.checksum = hash64(block.stored);
  return block;
}

/// The index of keyed state `name` in rel::hostile_file.
inline std::uint32_t state_index(fs::FileSystem& fs, const std::string& name) {
  const StateFileReader reader(fs.open(rel::hostile_file));
  const auto& states = reader.index().keyed.value().states;
  for (std::uint32_t i = 0; i < states.size(); ++i)
    if (states[i].name == name) return i;
  throw std::logic_error("no keyed state '" + name + "' in " + rel::hostile_file);
}

/// A key-group block of one section for state `state`, `size` bytes in all:
/// `head` (the start of the payload), then zeros.
inline StoredBlock section_block(std::uint32_t state, ByteSpan head, std::uint64_t size) {
  Bytes prefix(16);
  const std::uint32_t sections = 1;
  const std::uint64_t length = size - prefix.size();
  std::memcpy(prefix.data(), &sections, 4);
  std::memcpy(prefix.data() + 4, &state, 4);
  std::memcpy(prefix.data() + 8, &length, 8);
  prefix.insert(prefix.end(), head.begin(), head.end());
  return prefixed_zeros(prefix, size - prefix.size());
}

/// A block of `size` bytes for the list state "recent" (u64 key ->
/// vector<string>): one key whose list claims every remaining 8 bytes as an
/// empty string, so that decoding it holds 32 bytes of std::string per 8
/// bytes of block.
inline StoredBlock list_block(std::uint32_t state, std::uint64_t size) {
  const std::uint64_t head[] = {1, 7, (size - 16 - 24) / 8};  // one entry, key 7, its list's length
  return section_block(state, ByteSpan(reinterpret_cast<const std::byte*>(head), sizeof head), size);
}

/// Replaces the first `blocks` key-group blocks of rel::hostile_file with list blocks of `size` bytes.
inline void forge_list_blocks(fs::FileSystem& fs, int blocks, std::uint64_t size) {
  const auto state = state_index(fs, "recent");
  rel::forge_state_file(fs, rel::hostile_dir, rel::hostile_file, [&, left = blocks](const BlockEntry& b, StoredBlock& s) mutable {
    if (b.kind != BlockKind::key_group || left == 0) return;
    s = list_block(state, size);
    --left;
  });
}

/// Replaces the first key-group block with a section of state `name` whose
/// entry count is `count`, padded with zeros to `size` bytes.
inline void forge_section_count(fs::FileSystem& fs, const std::string& name, std::uint64_t count, std::uint64_t size) {
  const auto state = state_index(fs, name);
  rel::forge_state_file(fs, rel::hostile_dir, rel::hostile_file, [&, done = false](const BlockEntry& b, StoredBlock& s) mutable {
    if (b.kind != BlockKind::key_group || done) return;
    s = section_block(state, ByteSpan(reinterpret_cast<const std::byte*>(&count), sizeof count), size);
    done = true;
  });
}

/// One bomb: how to forge it from a storage holding checkpoint 1 of the
/// job, and the file its error must name.
struct Bomb {
  std::string name;
  std::function<void(fs::FileSystem&)> forge;
  std::string file;
  ReadLimits limits{};  // max_restore_bytes is set by the test
};

inline std::vector<Bomb> bombs() {
  std::vector<Bomb> out;
  const std::string file = rel::hostile_file;
  out.push_back({"four list blocks claiming 128 MiB each", [](fs::FileSystem& fs) { forge_list_blocks(fs, 4, 128 * MiB); }, file});
  out.push_back({"eight list blocks claiming 16 MiB each", [](fs::FileSystem& fs) { forge_list_blocks(fs, 8, 16 * MiB); }, file});
  out.push_back({"one list block claiming 1000 MiB", [](fs::FileSystem& fs) { forge_list_blocks(fs, 1, 1000 * MiB); }, file});
  out.push_back({"an operator-state block of 32 MiB claiming its remaining bytes - 1 elements",
                 [](fs::FileSystem& fs) { rel::forge_operator_state_count(fs, 32 * MiB - 1, 32 * MiB); }, file});
  out.push_back({"a map-state section of 48 MiB claiming 2^62 entries",
                 [](fs::FileSystem& fs) { forge_section_count(fs, "tags", rel::huge_count, 48 * MiB); }, file});
  out.push_back({"a value-state section of 48 MiB claiming its remaining bytes - 1 entries",
                 [](fs::FileSystem& fs) { forge_section_count(fs, "count", 48 * MiB - 16 - 8 - 1, 48 * MiB); }, file});
  for (auto& c : rel::hostile_cases()) out.push_back({c.name, c.forge, c.file, c.limits});
  return out;
}

}  // namespace ckpt::test
