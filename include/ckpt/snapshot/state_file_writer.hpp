#pragma once
// Writes a state file (format in state_file_format.hpp) into a WritableFile.
// Blocks arrive already compressed (compress_block()), so callers can
// compress key groups on several threads and copy verified blocks between
// files without recompressing them. The caller commits the file.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/hash.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/snapshot/codec.hpp>
#include <ckpt/snapshot/state_file_format.hpp>

#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

namespace ckpt {

/// A block ready to be written: stored (compressed) bytes, their checksum and
/// the size they decompress to.
struct StoredBlock {
  Bytes stored;
  std::uint64_t raw_size = 0;
  std::uint64_t checksum = 0;
};

inline void compress_block(Compressor& compressor, ByteSpan raw, StoredBlock& out) {
  compressor.compress(raw, out.stored);
  out.raw_size = raw.size();
  out.checksum = hash64(out.stored);
}

/// What a finished state file holds, for the manifest.
struct StateFileSummary {
  std::uint64_t size = 0;
  std::uint64_t index_checksum = 0;
  std::uint64_t raw_bytes = 0;     // state bytes before compression
  std::uint64_t stored_bytes = 0;  // ... and after
  std::vector<std::uint32_t> key_groups;  // the key groups it holds, ascending
};

class StateFileWriter {
 public:
  StateFileWriter(fs::WritableFile& file, Codec codec) : file_(file) {
    index_.codec = codec;
    std::array<std::byte, state_file_header_size> header{};
    std::memcpy(header.data(), state_file_magic.data(), 8);
    std::memcpy(header.data() + 8, &state_file_format_version, 4);
    append(header);
  }

  void set_keyed_info(KeyedFileInfo info) { index_.keyed = std::move(info); }

  /// Appends a key group's block; key groups must come in ascending order.
  void add_key_group(std::uint32_t key_group, const StoredBlock& block) {
    if (!index_.blocks.empty() &&
        (index_.blocks.back().kind != BlockKind::key_group || index_.blocks.back().key_group >= key_group))
      throw ConfigError(errc::invalid_argument, "state file " + file_.path() + ": key group " + std::to_string(key_group) +
                                              " out of order");
    add(BlockKind::key_group, key_group, block);
    summary_.key_groups.push_back(key_group);
  }

  /// Appends the operator-state block (at most once, after the key groups).
  void add_operator_state(std::vector<OperatorStateInfo> infos, const StoredBlock& block) {
    index_.operator_states = std::move(infos);
    add(BlockKind::operator_state, 0, block);
  }

  /// Writes the index and footer. The caller then commits the file.
  StateFileSummary finish() {
    const auto index_bytes = serial::encode(index_);
    const std::uint64_t index_offset = offset_;
    const std::uint64_t index_size = index_bytes.size();
    summary_.index_checksum = hash64(index_bytes);
    append(index_bytes);
    std::array<std::byte, state_file_footer_size> footer{};
    std::memcpy(footer.data(), &index_offset, 8);
    std::memcpy(footer.data() + 8, &index_size, 8);
    std::memcpy(footer.data() + 16, &summary_.index_checksum, 8);
    std::memcpy(footer.data() + 24, &state_file_format_version, 4);
    std::memcpy(footer.data() + 32, state_file_end_magic.data(), 8);
    append(footer);
    summary_.size = offset_;
    return summary_;
  }

 private:
  void add(BlockKind kind, std::uint32_t key_group, const StoredBlock& block) {
    index_.blocks.push_back({kind, key_group, offset_, block.stored.size(), block.raw_size, block.checksum});
    summary_.raw_bytes += block.raw_size;
    summary_.stored_bytes += block.stored.size();
    append(block.stored);
  }
  void append(ByteSpan bytes) {
    file_.append(bytes);
    offset_ += bytes.size();
  }

  fs::WritableFile& file_;
  FileIndex index_;
  StateFileSummary summary_;
  std::uint64_t offset_ = 0;
};

}  // namespace ckpt
