// libFuzzer target: the state-file reader, the whole way a restore goes --
// open (header, footer, index), read and verify every block, parse every
// key-group block's sections, read the operator state, then restore the file
// through SnapshotReader (with a manifest that lists it) into a keyed backend
// and an operator state store declaring the reliability job's states, and
// snapshot what was restored. Each input is tried as it is and re-signed: the
// footer's index checksum and every block's checksum (and raw size) made to
// agree with the bytes, so mutations reach the decompressor, the section
// parser and the state tables instead of stopping at a checksum.

#include <ckpt/ckpt.hpp>
#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/snapshot/state_file_reader.hpp>
#include <ckpt/storage/snapshot_reader.hpp>

#include "fuzz_common.hpp"

#include <zstd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace {

const std::string kDir = "chk-1";
const std::string kFile = "counter-0.state";
const std::string kPath = kDir + "/" + kFile;

/// The input with consistent checksums, or nothing if its footer or index
/// does not even parse.
std::optional<ckpt::Bytes> resign(ckpt::ByteSpan in) {
  using namespace ckpt;
  if (in.size() < state_file_header_size + state_file_footer_size) return std::nullopt;
  const auto footer = in.subspan(in.size() - state_file_footer_size);
  std::uint64_t index_offset = 0, index_size = 0;
  std::memcpy(&index_offset, footer.data(), 8);
  std::memcpy(&index_size, footer.data() + 8, 8);
  const std::uint64_t index_end = in.size() - state_file_footer_size;
  if (index_offset > index_end || index_end - index_offset != index_size) return std::nullopt;
  FileIndex index;
  try {
    serial::load_from(in.subspan(index_offset, index_size), {"resign", "index"}, index);
  } catch (const Error&) {
    return std::nullopt;
  }
  for (auto& b : index.blocks) {
    if (b.offset > index_offset || b.stored_size > index_offset - b.offset) continue;
    const auto stored = in.subspan(b.offset, b.stored_size);
    b.checksum = hash64(stored);
    if (index.codec == Codec::none) {
      b.raw_size = b.stored_size;
    } else if (const auto claimed = ZSTD_getFrameContentSize(stored.data(), stored.size());
               claimed <= fuzz::limits().max_block_size) {
      b.raw_size = claimed;
    }
  }
  const auto new_index = serial::encode(index);
  Bytes out(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(index_offset));
  out.insert(out.end(), new_index.begin(), new_index.end());
  std::array<std::byte, state_file_footer_size> f{};
  std::memcpy(f.data(), footer.data(), state_file_footer_size);
  const std::uint64_t size = new_index.size(), checksum = hash64(new_index);
  std::memcpy(f.data() + 8, &size, 8);
  std::memcpy(f.data() + 16, &checksum, 8);
  out.insert(out.end(), f.begin(), f.end());
  return out;
}

/// A keyed backend and an operator state store declaring the job's states.
struct Target {
  explicit Target(std::uint32_t max_parallelism)
      : keyed(ckpt::KeyedStateBackendOptions{max_parallelism, std::nullopt, nullptr}), store(0, 1) {
    (void)keyed.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count"});
    (void)keyed.get_list_state(ckpt::ListStateDescriptor<std::string>{"recent"});
    (void)keyed.get_map_state(ckpt::MapStateDescriptor<std::string, std::int64_t>{"tags"});
    (void)keyed.get_reducing_state(ckpt::ReducingStateDescriptor<std::int64_t>{"sum", std::plus<>{}});
    (void)store.get_list_state(ckpt::ListStateDescriptor<std::int64_t>{"offsets"});
    (void)store.get_list_state(ckpt::ListStateDescriptor<std::int64_t>{"positions"});
    (void)store.get_union_list_state(ckpt::ListStateDescriptor<std::string>{"watermark"});
  }
  ckpt::KeyedStateBackend<std::uint64_t> keyed;
  ckpt::OperatorStateStore store;
};

void exercise(ckpt::ByteSpan bytes) {
  using namespace ckpt;
  auto fs = std::make_shared<fs::MemoryFileSystem>();
  fs::write_file(*fs, kPath, bytes);
  try {
    StateFileReader reader(fs->open(kPath), fuzz::limits());
    reader.verify_all();  // every block read, verified, decompressed; key-group sections parsed
    Decompressor d;
    (void)reader.read_operator_state(d);

    // The manifest a checkpoint holding this file would have, then a real restore.
    const auto& index = reader.index();
    Manifest m;
    m.checkpoint_id = 1;
    m.properties["fuzz"] = "1";
    OperatorManifest op;
    op.uid = "counter";
    SubtaskManifest s;
    s.files.push_back({kFile, false, reader.size(), reader.index_checksum()});
    if (index.keyed) {
      op.max_parallelism = index.keyed->max_parallelism;
      op.key_type = index.keyed->key_type;
      op.keyed_states = index.keyed->states;
      s.key_group_begin = index.keyed->key_group_begin;
      s.key_group_end = index.keyed->key_group_end;
      s.key_groups.push_back({0, s.key_group_begin, s.key_group_end});
    }
    if (reader.operator_block()) {
      s.operator_state_file = 0;
      s.operator_states = index.operator_states;
    }
    op.subtasks.push_back(s);
    m.operators.push_back(op);
    fs->publish(kDir + "/" + manifest_file_name, encode_manifest(m));

    SnapshotReader snapshot(fs, kDir, fuzz::limits());
    snapshot.verify_files();
    Target target(index.keyed ? index.keyed->max_parallelism : default_max_parallelism);
    snapshot.restore("counter", index.keyed ? &target.keyed : nullptr, &target.store);
    (void)target.keyed.snapshot();  // what was restored serializes again
    (void)target.store.snapshot();
  } catch (const Error& e) {
    fuzz::check_error(e, kPath);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ckpt::ByteSpan bytes(reinterpret_cast<const std::byte*>(data), size);
  exercise(bytes);
  if (const auto fixed = resign(bytes)) exercise(*fixed);
  return 0;
}
