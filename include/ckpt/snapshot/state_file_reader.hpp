#pragma once
// Reads and verifies a state file (format in state_file_format.hpp). Opening
// checks the header, footer and the index's checksum and bounds; every block
// is checked against its checksum before it is decompressed, and decompressed
// into no more than the size the verified index gives. Every error names the
// file and the block.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/hash.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/snapshot/codec.hpp>
#include <ckpt/snapshot/state_file_format.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace ckpt {

class StateFileReader {
 public:
  /// Opens `file` and verifies its structure. When `expected_size` or
  /// `expected_index_checksum` are given (from a manifest) they must match.
  explicit StateFileReader(std::unique_ptr<fs::ReadableFile> file, ReadLimits limits = {},
                           std::optional<std::uint64_t> expected_size = std::nullopt,
                           std::optional<std::uint64_t> expected_index_checksum = std::nullopt)
      : file_(std::move(file)), limits_(limits) {
    const auto size = file_->size();
    if (expected_size && size != *expected_size)
      fail(errc::truncated, "file", "is " + std::to_string(size) + " bytes; the manifest says " +
                                        std::to_string(*expected_size));
    if (size < state_file_header_size + state_file_footer_size)
      fail(errc::truncated, "file", "is " + std::to_string(size) + " bytes, too short for a state file");
    std::array<std::byte, state_file_header_size> header;
    file_->read(0, header);
    if (std::memcmp(header.data(), state_file_magic.data(), 8) != 0)
      fail(errc::corrupt_data, "header", "is not a ckpt state file (bad magic)");
    check_version(header.data() + 8, "header");
    check_zero(header.data() + 12, "header");

    std::array<std::byte, state_file_footer_size> footer;
    file_->read(size - state_file_footer_size, footer);
    if (std::memcmp(footer.data() + 32, state_file_end_magic.data(), 8) != 0)
      fail(errc::corrupt_data, "footer", "bad magic (the file is truncated or damaged)");
    check_version(footer.data() + 24, "footer");
    check_zero(footer.data() + 28, "footer");
    std::uint64_t index_offset = 0, index_size = 0;
    std::memcpy(&index_offset, footer.data(), 8);
    std::memcpy(&index_size, footer.data() + 8, 8);
    std::memcpy(&index_checksum_, footer.data() + 16, 8);
    if (index_size > limits_.max_index_size)
      fail(errc::limit_exceeded, "footer", "claims an index of " + std::to_string(index_size) +
                                               " bytes; the limit is " + std::to_string(limits_.max_index_size));
    index_end_ = size - state_file_footer_size;
    if (index_offset < state_file_header_size || index_offset > index_end_ || index_end_ - index_offset != index_size)
      fail(errc::corrupt_data, "footer", "index offset " + std::to_string(index_offset) + " and size " +
                                             std::to_string(index_size) + " do not fit a file of " +
                                             std::to_string(size) + " bytes");
    if (expected_index_checksum && index_checksum_ != *expected_index_checksum)
      fail(errc::corrupt_data, "index", "checksum differs from the manifest's (the file was replaced or damaged)");
    Bytes index_bytes(static_cast<std::size_t>(index_size));
    file_->read(index_offset, index_bytes);
    if (hash64(index_bytes) != index_checksum_) fail(errc::corrupt_data, "index", "checksum mismatch");
    serial::load_from(index_bytes, {file_->path(), "index"}, index_);
    validate_index(index_offset);
  }

  const std::string& path() const noexcept { return file_->path(); }
  const FileIndex& index() const noexcept { return index_; }
  std::uint64_t index_checksum() const noexcept { return index_checksum_; }
  std::uint64_t size() const noexcept { return file_->size(); }

  /// The block of `key_group`, or nullptr if the file holds none.
  const BlockEntry* find_key_group(std::uint32_t key_group) const {
    // Key-group blocks come first, ascending (checked when opening).
    const auto end = index_.blocks.begin() + static_cast<std::ptrdiff_t>(key_group_blocks_);
    const auto it = std::lower_bound(index_.blocks.begin(), end, key_group,
                                     [](const BlockEntry& b, std::uint32_t kg) { return b.key_group < kg; });
    return it != end && it->key_group == key_group ? &*it : nullptr;
  }
  const BlockEntry* operator_block() const {
    for (const auto& b : index_.blocks)
      if (b.kind == BlockKind::operator_state) return &b;
    return nullptr;
  }

  /// Reads a block's stored bytes and checks their checksum.
  void read_stored(const BlockEntry& block, Bytes& stored) {
    stored.resize(static_cast<std::size_t>(block.stored_size));
    file_->read(block.offset, stored);
    if (hash64(stored) != block.checksum) fail(errc::corrupt_data, name(block), "checksum mismatch");
  }
  /// Reads, verifies and decompresses a block.
  void read_block(const BlockEntry& block, Bytes& raw, Decompressor& d) {
    read_stored(block, scratch_);
    d.decompress(index_.codec, scratch_, block.raw_size, raw, path(), name(block));
  }

  OperatorStateSnapshot read_operator_state(Decompressor& d) {
    OperatorStateSnapshot out;
    out.origin = path();
    const auto* block = operator_block();
    if (!block) return out;
    Bytes raw;
    read_block(*block, raw, d);
    serial::load_from(raw, {path(), "operator state"}, out);
    out.origin = path();
    if (out.states.size() != index_.operator_states.size())
      fail(errc::corrupt_data, "operator state", "holds " + std::to_string(out.states.size()) +
                                                    " states; the index lists " +
                                                    std::to_string(index_.operator_states.size()));
    return out;
  }

  /// Reads and verifies every block, one at a time; `progress(done, total)`
  /// after each. A block larger than a whole restore may decode
  /// (ReadLimits::max_restore_bytes) is refused before it is decompressed:
  /// no restore could use it, and verifying it would cost its size.
  void verify_all(const std::function<void(std::size_t, std::size_t)>& progress = {}) {
    Decompressor d;
    Bytes raw;
    for (std::size_t i = 0; i < index_.blocks.size(); ++i) {
      if (index_.blocks[i].raw_size > limits_.max_restore_bytes)
        fail(errc::limit_exceeded, name(index_.blocks[i]),
             "decompresses to " + std::to_string(index_.blocks[i].raw_size) +
                 " bytes; a restore may decode at most " + std::to_string(limits_.max_restore_bytes));
      read_block(index_.blocks[i], raw, d);
      if (index_.blocks[i].kind == BlockKind::key_group && index_.keyed)
        serial::parse_sections(raw, index_.keyed->states.size(), {path(), name(index_.blocks[i])});
      if (progress) progress(i + 1, index_.blocks.size());
    }
  }

  static std::string name(const BlockEntry& b) {
    return b.kind == BlockKind::key_group ? "key group " + std::to_string(b.key_group) : "operator state";
  }

 private:
  [[noreturn]] void fail(errc code, const std::string& block, const std::string& what) const {
    throw CorruptionError(code, file_->path(), block, file_->path() + ", " + block + ": " + what);
  }
  void check_version(const std::byte* at, const char* where) const {
    std::uint32_t v = 0;
    std::memcpy(&v, at, 4);
    if (v != state_file_format_version)
      fail(errc::unsupported_version, where, "format version " + std::to_string(v) + "; this build reads version " +
                                                 std::to_string(state_file_format_version));
  }
  /// Version 1 defines no flags: a set bit is damage, not a feature.
  void check_zero(const std::byte* at, const char* where) const {
    std::uint32_t v = 0;
    std::memcpy(&v, at, 4);
    if (v != 0) fail(errc::corrupt_data, where, "reserved field is " + std::to_string(v) + ", expected 0");
  }
  void validate_index(std::uint64_t index_offset) {
    if (index_.codec != Codec::zstd && index_.codec != Codec::none)
      fail(errc::unsupported_version, "index", "unknown codec");
    std::optional<std::uint32_t> last_key_group;
    bool operator_seen = false;
    for (const auto& b : index_.blocks) {
      const auto n = name(b);
      if (b.offset < state_file_header_size || b.offset > index_offset || index_offset - b.offset < b.stored_size)
        fail(errc::corrupt_data, n, "lies outside the file's block area");
      if (b.raw_size > limits_.max_block_size)
        fail(errc::limit_exceeded, n, "claims " + std::to_string(b.raw_size) + " bytes decompressed; the limit is " +
                                          std::to_string(limits_.max_block_size));
      if (b.kind == BlockKind::key_group) {
        if (!index_.keyed) fail(errc::corrupt_data, n, "a key-group block in a file without keyed state");
        if (b.key_group < index_.keyed->key_group_begin || b.key_group >= index_.keyed->key_group_end)
          fail(errc::corrupt_data, n, "is outside the file's key-group range");
        if (last_key_group && b.key_group <= *last_key_group) fail(errc::corrupt_data, n, "out of order or repeated");
        if (operator_seen) fail(errc::corrupt_data, n, "after the operator-state block");
        last_key_group = b.key_group;
        ++key_group_blocks_;
      } else if (b.kind == BlockKind::operator_state) {
        if (operator_seen) fail(errc::corrupt_data, n, "repeated");
        operator_seen = true;
      } else {
        fail(errc::corrupt_data, "index", "unknown block kind");
      }
    }
    if (index_.keyed && (index_.keyed->max_parallelism == 0 || index_.keyed->max_parallelism > 32768 ||
                         index_.keyed->key_group_end > index_.keyed->max_parallelism ||
                         index_.keyed->key_group_begin >= index_.keyed->key_group_end))
      fail(errc::corrupt_data, "index", "invalid key-group range or max parallelism");
  }

  std::unique_ptr<fs::ReadableFile> file_;
  ReadLimits limits_;
  FileIndex index_;
  std::uint64_t index_checksum_ = 0;
  std::uint64_t index_end_ = 0;
  std::size_t key_group_blocks_ = 0;
  Bytes scratch_;
};

}  // namespace ckpt
