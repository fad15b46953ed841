#pragma once
// Real snapshots, and hostile ones forged from them: the corruption test
// (in-process, error kinds and messages) and the memory-cap program (the same
// cases under RLIMIT_AS) share these. A forged file is re-signed -- its
// manifest's size and index checksum, the index's checksum, each block's
// checksum recomputed -- so only the hostile part is wrong, as an attacker
// (not bit rot) would make it.

#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/file_util.hpp>
#include <ckpt/hash.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/snapshot/codec.hpp>
#include <ckpt/snapshot/manifest.hpp>
#include <ckpt/snapshot/state_file_format.hpp>
#include <ckpt/snapshot/state_file_reader.hpp>
#include <ckpt/snapshot/state_file_writer.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "job.hpp"

#include <zstd.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::rel {

inline constexpr std::uint64_t huge_count = std::uint64_t{1} << 62;

/// Checkpoints 1..n of the job in `fs`.
inline void write_checkpoints(const std::shared_ptr<fs::FileSystem>& fs, StorageOptions options, std::uint64_t n,
                              std::uint64_t keys = 200) {
  CheckpointStorage storage(fs, options.with_compression_threads(1));
  Job job(keys);
  for (std::uint64_t id = 1; id <= n; ++id) {
    job.advance_to(id);
    job.checkpoint(storage, options.incremental);
  }
}

/// Every file of checkpoint `dir` as a path from the storage root, manifest first.
inline std::vector<std::string> snapshot_files(fs::FileSystem& fs, const std::string& dir) {
  std::vector<std::string> out{fs::join(dir, manifest_file_name)};
  const auto bytes = fs::read_file(fs, out.front(), std::uint64_t{64} << 20);
  const auto m = decode_manifest(bytes, out.front());
  for (const auto& op : m.operators)
    for (const auto& s : op.subtasks)
      for (const auto& f : s.files) {
        auto path = f.shared ? fs::join(layout::shared_dir, f.path) : fs::join(dir, f.path);
        if (std::find(out.begin(), out.end(), path) == out.end()) out.push_back(std::move(path));
      }
  return out;
}

inline void replace_file(fs::FileSystem& fs, const std::string& path, ByteSpan bytes) {
  fs.remove(path);
  fs::write_file(fs, path, bytes);
}

/// A manifest file around `body`, with a correct header and checksum.
inline Bytes frame_manifest(ByteSpan body) {
  Bytes out(manifest_header_size, std::byte{0});
  const std::uint64_t size = body.size();
  const std::uint64_t checksum = hash64(body);
  std::memcpy(out.data(), manifest_magic.data(), 8);
  std::memcpy(out.data() + 8, &manifest_format_version, 4);
  std::memcpy(out.data() + 16, &size, 8);
  std::memcpy(out.data() + 24, &checksum, 8);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

/// Records a rewritten file's size and index checksum in the manifest of `dir`.
inline void resign(fs::FileSystem& fs, const std::string& dir, const std::string& path, std::uint64_t size,
                   std::uint64_t index_checksum) {
  const auto manifest_path = fs::join(dir, manifest_file_name);
  auto m = decode_manifest(fs::read_file(fs, manifest_path, std::uint64_t{64} << 20), manifest_path);
  bool found = false;
  for (auto& op : m.operators)
    for (auto& s : op.subtasks)
      for (auto& f : s.files)
        if ((f.shared ? fs::join(layout::shared_dir, f.path) : fs::join(dir, f.path)) == path) {
          f.size = size;
          f.index_checksum = index_checksum;
          found = true;
        }
  if (!found) throw std::logic_error(path + " is not in " + manifest_path);
  replace_file(fs, manifest_path, frame_manifest(serial::encode(m)));
}

/// A stored block holding `raw`, compressed with `codec`.
inline StoredBlock stored_block(ByteSpan raw, Codec codec = Codec::zstd) {
  Compressor c(codec);
  StoredBlock out;
  compress_block(c, raw, out);
  return out;
}

/// A genuine zstd frame of `size` zero bytes, made without ever holding them:
/// a decompression bomb (a GiB compresses to a few tens of KiB).
inline StoredBlock zero_bomb(std::uint64_t size) {
  std::unique_ptr<ZSTD_CCtx, detail::CCtxDeleter> ctx(ZSTD_createCCtx());
  const auto check = [](std::size_t rc) {
    if (ZSTD_isError(rc)) throw std::runtime_error(ZSTD_getErrorName(rc));
    return rc;
  };
  check(ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, 1));
  check(ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_contentSizeFlag, 1));
  check(ZSTD_CCtx_setPledgedSrcSize(ctx.get(), size));
  const std::vector<std::byte> zeros(std::size_t{1} << 20, std::byte{0});
  Bytes out;
  std::vector<std::byte> buffer(ZSTD_CStreamOutSize());
  std::uint64_t fed = 0;
  for (;;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), size - fed));
    fed += n;
    const auto mode = fed == size ? ZSTD_e_end : ZSTD_e_continue;
    ZSTD_inBuffer in{zeros.data(), n, 0};
    for (;;) {
      ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
      const auto left = check(ZSTD_compressStream2(ctx.get(), &o, &in, mode));
      out.insert(out.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(o.pos));
      if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) break;
    }
    if (mode == ZSTD_e_end) break;
  }
  StoredBlock block;
  block.stored = std::move(out);
  block.raw_size = size;
  block.checksum = hash64(block.stored);
  return block;
}

/// The start of a genuine zstd frame whose header claims `claimed` bytes, of
/// which only the first `actual` (zeros) follow: zstd itself wrote it, with
/// `claimed` pledged, flushed before the end.
inline StoredBlock claiming_frame(std::uint64_t claimed, std::size_t actual) {
  std::unique_ptr<ZSTD_CCtx, detail::CCtxDeleter> ctx(ZSTD_createCCtx());
  const auto check = [](std::size_t rc) {
    if (ZSTD_isError(rc)) throw std::runtime_error(ZSTD_getErrorName(rc));
    return rc;
  };
  check(ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_contentSizeFlag, 1));
  check(ZSTD_CCtx_setPledgedSrcSize(ctx.get(), claimed));
  const std::vector<std::byte> zeros(actual, std::byte{0});
  std::vector<std::byte> buffer(ZSTD_compressBound(actual) + 1024);
  ZSTD_inBuffer in{zeros.data(), zeros.size(), 0};
  ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
  while (check(ZSTD_compressStream2(ctx.get(), &o, &in, ZSTD_e_flush)) != 0) {
  }
  StoredBlock block;
  block.stored.assign(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(o.pos));
  block.raw_size = claimed;
  block.checksum = hash64(block.stored);
  if (ZSTD_getFrameContentSize(block.stored.data(), block.stored.size()) != claimed)
    throw std::logic_error("zstd did not write the pledged content size");
  return block;
}

/// Rewrites the state file `path` of checkpoint `dir`, letting `edit` change any
/// block (it gets each block's index entry and stored bytes), and re-signs it.
using BlockEdit = std::function<void(const BlockEntry&, StoredBlock&)>;
inline void forge_state_file(fs::FileSystem& fs, const std::string& dir, const std::string& path, const BlockEdit& edit) {
  FileIndex index;
  std::vector<std::pair<BlockEntry, StoredBlock>> blocks;
  {
    StateFileReader reader(fs.open(path));
    index = reader.index();
    for (const auto& b : index.blocks) {
      StoredBlock s;
      reader.read_stored(b, s.stored);
      s.raw_size = b.raw_size;
      s.checksum = b.checksum;
      edit(b, s);
      blocks.emplace_back(b, std::move(s));
    }
  }
  fs.remove(path);
  auto file = fs.create(path);
  StateFileWriter writer(*file, index.codec);
  if (index.keyed) writer.set_keyed_info(*index.keyed);
  for (auto& [b, s] : blocks)
    if (b.kind == BlockKind::key_group) writer.add_key_group(b.key_group, s);
  for (auto& [b, s] : blocks)
    if (b.kind == BlockKind::operator_state) writer.add_operator_state(index.operator_states, s);
  const auto summary = writer.finish();
  file->commit();
  resign(fs, dir, path, summary.size, summary.index_checksum);
}

/// Replaces the index of state file `path` with `index_bytes` (checksummed,
/// framed by a correct footer) and re-signs it. The blocks stay as they were.
inline void forge_index(fs::FileSystem& fs, const std::string& dir, const std::string& path, ByteSpan index_bytes) {
  auto bytes = fs::read_file(fs, path, std::uint64_t{1} << 30);
  std::uint64_t index_offset = 0;
  std::memcpy(&index_offset, bytes.data() + bytes.size() - state_file_footer_size, 8);
  bytes.resize(static_cast<std::size_t>(index_offset));
  bytes.insert(bytes.end(), index_bytes.begin(), index_bytes.end());
  std::array<std::byte, state_file_footer_size> footer{};
  const std::uint64_t index_size = index_bytes.size();
  const std::uint64_t checksum = hash64(index_bytes);
  std::memcpy(footer.data(), &index_offset, 8);
  std::memcpy(footer.data() + 8, &index_size, 8);
  std::memcpy(footer.data() + 16, &checksum, 8);
  std::memcpy(footer.data() + 24, &state_file_format_version, 4);
  std::memcpy(footer.data() + 32, state_file_end_magic.data(), 8);
  bytes.insert(bytes.end(), footer.begin(), footer.end());
  replace_file(fs, path, bytes);
  resign(fs, dir, path, bytes.size(), checksum);
}

/// One hostile snapshot: how to forge it from a storage holding checkpoint 1
/// of the job, the limits to read it with, and what the reader must say.
struct HostileCase {
  std::string name;
  std::function<void(fs::FileSystem&)> forge;
  errc expected;
  std::string file;   // the file the error must name
  ReadLimits limits{};
};

/// The counter subtask 0 state file of checkpoint 1, and its first key-group block.
inline const std::string hostile_dir = "chk-1";
inline const std::string hostile_file = "chk-1/counter-0.state";

/// Replaces the operator-state block of hostile_file with one state whose
/// element count is `count`, followed by `zeros` zero bytes.
inline void forge_operator_state_count(fs::FileSystem& fs, std::uint64_t count, std::uint64_t zeros) {
  forge_state_file(fs, hostile_dir, hostile_file, [count, zeros](const BlockEntry& b, StoredBlock& s) {
    if (b.kind != BlockKind::operator_state) return;
    Bytes raw;
    serial::OutputArchive ar(raw);
    const std::uint64_t states = 1;
    ar.saveBinary(&states, 8);
    ar(std::string("offsets"), Distribution::even_split, std::string("i64"), std::uint32_t{0});
    ar.saveBinary(&count, 8);
    raw.resize(raw.size() + static_cast<std::size_t>(zeros), std::byte{0});
    s = stored_block(raw);
  });
}

inline std::vector<HostileCase> hostile_cases() {
  std::vector<HostileCase> out;
  out.push_back({"a manifest whose operator list claims 2^62 entries",
                 [](fs::FileSystem& fs) {
                   Bytes body;
                   serial::OutputArchive ar(body);
                   ar(std::uint64_t{1}, std::int64_t{1001}, SnapshotKind::checkpoint, std::string(),
                      std::optional<std::uint64_t>());
                   ar.saveBinary(&huge_count, 8);
                   replace_file(fs, fs::join(hostile_dir, manifest_file_name), frame_manifest(body));
                 },
                 errc::limit_exceeded, "chk-1/_metadata"});
  out.push_back({"a manifest of 65 MiB (over the 64 MiB limit)",
                 [](fs::FileSystem& fs) {
                   // Sparse where the file system allows: written in 1 MiB pieces.
                   const auto path = fs::join(hostile_dir, manifest_file_name);
                   fs.remove(path);
                   auto file = fs.create(path);
                   const Bytes chunk(std::size_t{1} << 20, std::byte{0});
                   for (int i = 0; i < 65; ++i) file->append(chunk);
                   file->commit();
                 },
                 errc::limit_exceeded, "chk-1/_metadata"});
  out.push_back({"a state-file index whose block list claims 2^62 entries",
                 [](fs::FileSystem& fs) {
                   Bytes index;
                   serial::OutputArchive ar(index);
                   ar(Codec::zstd, std::optional<KeyedFileInfo>(), std::vector<OperatorStateInfo>());
                   ar.saveBinary(&huge_count, 8);
                   forge_index(fs, hostile_dir, hostile_file, index);
                 },
                 errc::limit_exceeded, hostile_file});
  out.push_back({"a footer claiming an index of 2^62 bytes",
                 [](fs::FileSystem& fs) {
                   auto bytes = fs::read_file(fs, hostile_file, std::uint64_t{1} << 30);
                   std::memcpy(bytes.data() + bytes.size() - state_file_footer_size + 8, &huge_count, 8);
                   replace_file(fs, hostile_file, bytes);  // same size and index checksum: no re-signing needed
                 },
                 errc::limit_exceeded, hostile_file});
  out.push_back({"a key-group section claiming 2^62 entries",
                 [](fs::FileSystem& fs) {
                   forge_state_file(fs, hostile_dir, hostile_file, [](const BlockEntry& b, StoredBlock& s) {
                     if (b.kind != BlockKind::key_group) return;
                     Bytes raw;
                     const std::uint32_t sections = 1, state = 0;
                     const std::uint64_t length = 24;
                     serial::OutputArchive ar(raw);
                     ar(sections, state, length, huge_count, std::uint64_t{0}, std::uint64_t{0});
                     s = stored_block(raw);
                   });
                 },
                 errc::limit_exceeded, hostile_file});
  out.push_back({"an operator-state entry claiming 2^62 elements",
                 [](fs::FileSystem& fs) { forge_operator_state_count(fs, huge_count, 0); },
                 errc::limit_exceeded, hostile_file});
  out.push_back({"an operator-state entry claiming as many elements as its 16 MiB block has bytes",
                 [](fs::FileSystem& fs) {
                   // Each element needs 8 bytes of length at least: a reader that
                   // sized its list by the count first would ask for 384 MiB.
                   forge_operator_state_count(fs, std::uint64_t{16} << 20, std::uint64_t{16} << 20);
                 },
                 errc::truncated, hostile_file});
  out.push_back({"a zstd frame claiming 2^40 bytes, as its index does",
                 [](fs::FileSystem& fs) {
                   forge_state_file(fs, hostile_dir, hostile_file, [](const BlockEntry& b, StoredBlock& s) {
                     if (b.kind == BlockKind::key_group) s = claiming_frame(std::uint64_t{1} << 40, 64 << 10);
                   });
                 },
                 errc::limit_exceeded, hostile_file});
  out.push_back({"a zstd frame claiming 2^40 bytes where its index says 1 KiB",
                 [](fs::FileSystem& fs) {
                   forge_state_file(fs, hostile_dir, hostile_file, [](const BlockEntry& b, StoredBlock& s) {
                     if (b.kind != BlockKind::key_group) return;
                     s = claiming_frame(std::uint64_t{1} << 40, 64 << 10);
                     s.raw_size = 1024;
                   });
                 },
                 errc::limit_exceeded, hostile_file});
  out.push_back({"a decompression bomb of 512 MiB whose index claims 1 KiB",
                 [](fs::FileSystem& fs) {
                   forge_state_file(fs, hostile_dir, hostile_file, [done = false](const BlockEntry& b, StoredBlock& s) mutable {
                     if (b.kind != BlockKind::key_group || done) return;
                     s = zero_bomb(std::uint64_t{512} << 20);
                     s.raw_size = 1024;
                     done = true;
                   });
                 },
                 errc::limit_exceeded, hostile_file});
  out.push_back({"a decompression bomb of 512 MiB, read with a 64 MiB block limit",
                 [](fs::FileSystem& fs) {
                   forge_state_file(fs, hostile_dir, hostile_file, [done = false](const BlockEntry& b, StoredBlock& s) mutable {
                     if (b.kind != BlockKind::key_group || done) return;
                     s = zero_bomb(std::uint64_t{512} << 20);
                     done = true;
                   });
                 },
                 errc::limit_exceeded, hostile_file, ReadLimits{std::uint64_t{64} << 20, std::uint64_t{64} << 20,
                                                                std::uint64_t{64} << 20}});
  out.push_back({"a 16 MiB manifest whose operator list claims as many entries as it has bytes",
                 [](fs::FileSystem& fs) {
                   Bytes body;
                   serial::OutputArchive ar(body);
                   ar(std::uint64_t{1}, std::int64_t{1001}, SnapshotKind::checkpoint, std::string(),
                      std::optional<std::uint64_t>());
                   const std::uint64_t count = std::uint64_t{16} << 20;
                   ar.saveBinary(&count, 8);
                   body.resize(body.size() + count, std::byte{0x01});
                   replace_file(fs, fs::join(hostile_dir, manifest_file_name), frame_manifest(body));
                 },
                 errc::limit_exceeded, "chk-1/_metadata"});
  return out;
}

/// Opens the storage in `fs` and restores its newest checkpoint into the job,
/// verifying every block: what a restarted program does.
inline void restore_everything(const std::shared_ptr<fs::FileSystem>& fs, ReadLimits limits) {
  CheckpointStorage storage(fs, StorageOptions::defaults().with_limits(limits).with_compression_threads(1));
  auto snapshot = storage.restore_latest(RestoreOptions::strict());
  if (!snapshot) throw std::logic_error("nothing to restore");
  Job job;
  job.restore(snapshot.get());
}

}  // namespace ckpt::rel
