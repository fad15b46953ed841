#pragma once
// Snapshot format v1: the state file of one participant (an operator subtask).
//
//   header   16 bytes   "CKPTSTAT", u32 format version (1), u32 flags (0)
//   blocks              one per key group with state, then one for operator
//                       state: each a zstd frame (or raw bytes, codec none)
//   index               FileIndex through ckpt's binary archive: the keyed
//                       metadata (max parallelism, key-group range, key type,
//                       every state's name, kind, types and version), the
//                       operator states (name, distribution, element type,
//                       version, element count), and for every block its
//                       kind, key group, offset, stored and raw size and the
//                       XXH3-64 checksum of its stored bytes
//   footer   40 bytes   u64 index offset, u64 index size, u64 XXH3-64 of the
//                       index, u32 format version, u32 reserved, "CKPTEND1"
//
// All integers little-endian. A reader checks the footer, then the index's
// checksum, then each block's checksum before decompressing it, so nothing
// unverified is ever decompressed or deserialized. The manifest records each
// file's size and index checksum: a chain from the manifest to every byte.

#include <ckpt/serial/portable_type_name.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/snapshot/codec.hpp>

#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <unistd.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ckpt {

inline constexpr std::uint32_t state_file_format_version = 1;
inline constexpr std::array<char, 8> state_file_magic{'C', 'K', 'P', 'T', 'S', 'T', 'A', 'T'};
inline constexpr std::array<char, 8> state_file_end_magic{'C', 'K', 'P', 'T', 'E', 'N', 'D', '1'};
inline constexpr std::size_t state_file_header_size = 16;
inline constexpr std::size_t state_file_footer_size = 40;

enum class BlockKind : std::uint8_t { key_group = 1, operator_state = 2 };

struct BlockEntry {
  BlockKind kind = BlockKind::key_group;
  std::uint32_t key_group = 0;  // for key_group blocks
  std::uint64_t offset = 0;
  std::uint64_t stored_size = 0;
  std::uint64_t raw_size = 0;
  std::uint64_t checksum = 0;  // XXH3-64 of the stored bytes

  template <class Archive>
  void serialize(Archive& ar) {
    ar(kind, key_group, offset, stored_size, raw_size, checksum);
  }
  friend bool operator==(const BlockEntry&, const BlockEntry&) = default;
};

/// The keyed side of a state file: what its key-group blocks hold.
struct KeyedFileInfo {
  std::uint32_t max_parallelism = 0;
  std::uint32_t key_group_begin = 0;
  std::uint32_t key_group_end = 0;
  std::string key_type;
  std::vector<StateMeta> states;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(max_parallelism, key_group_begin, key_group_end, key_type, states);
    serial::portable_on_load(ar, key_type);
  }
  friend bool operator==(const KeyedFileInfo&, const KeyedFileInfo&) = default;
};

/// One operator state as the index describes it (its elements are in the block).
struct OperatorStateInfo {
  std::string name;
  Distribution distribution = Distribution::even_split;
  std::string element_type;
  std::uint32_t element_version = 0;
  std::uint64_t element_count = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, distribution, element_type, element_version, element_count);
    serial::portable_on_load(ar, element_type);
  }
  friend bool operator==(const OperatorStateInfo&, const OperatorStateInfo&) = default;
};

struct FileIndex {
  Codec codec = Codec::zstd;
  std::optional<KeyedFileInfo> keyed;
  std::vector<OperatorStateInfo> operator_states;
  std::vector<BlockEntry> blocks;  // key-group blocks ascending, then the operator-state block

  template <class Archive>
  void serialize(Archive& ar) {
    ar(codec, keyed, operator_states, blocks);
  }
};

/// Limits on what a reader accepts, so a hostile file cannot make it allocate
/// without bound.
/// The machine's physical memory: more decoded state than that cannot be
/// restored onto the heap anyway.
inline std::uint64_t physical_memory_bytes() noexcept {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page)
                               : std::uint64_t{1} << 40;
}

struct ReadLimits {
  std::uint64_t max_block_size = std::uint64_t{1} << 30;    // a block's decompressed size
  std::uint64_t max_index_size = std::uint64_t{64} << 20;   // a state file's index
  std::uint64_t max_manifest_size = std::uint64_t{64} << 20;
  /// Decompressed bytes one snapshot reader may decode over all its restores
  /// (what the indexes promise, counted before anything is decompressed): a
  /// small file claiming gigabytes is refused up front. Default: physical memory.
  std::uint64_t max_restore_bytes = physical_memory_bytes();

  static ReadLimits defaults() { return {}; }
  /// Small limits, for tests that prove memory stays under a cap.
  static ReadLimits tight(std::uint64_t bytes) { return {bytes, bytes, bytes, bytes}; }
};

}  // namespace ckpt
