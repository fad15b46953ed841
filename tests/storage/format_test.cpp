// The state-file and manifest formats: round trips, and every kind of damage
// detected with the file and block named.
#include <ckpt/ckpt.hpp>
#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/snapshot/manifest.hpp>
#include <ckpt/snapshot/state_file_reader.hpp>
#include <ckpt/snapshot/state_file_writer.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

namespace {

using ::testing::HasSubstr;

ckpt::KeyedStateSnapshot sample_keyed(std::uint64_t keys = 300) {
  ckpt::KeyedStateBackend<std::uint64_t> b;
  auto v = b.get_state(ckpt::ValueStateDescriptor<std::string>{"v"});
  auto l = b.get_list_state(ckpt::ListStateDescriptor<std::uint64_t>{"l"});
  for (std::uint64_t k = 0; k < keys; ++k) {
    b.set_current_key(k);
    v.update("value-" + std::to_string(k));
    l.add_all({k, k * 2});
  }
  return b.snapshot();
}

// Writes a state file with every key group of `snap` and an operator block.
void write_file(ckpt::fs::FileSystem& fs, const std::string& path, const ckpt::KeyedStateSnapshot& snap) {
  auto file = fs.create(path);
  ckpt::StateFileWriter w(*file, ckpt::Codec::zstd);
  w.set_keyed_info({snap.max_parallelism, snap.key_group_begin, snap.key_group_end, snap.key_type, snap.states});
  ckpt::Compressor c;
  ckpt::StoredBlock block;
  for (const auto& kg : snap.key_groups) {
    ckpt::compress_block(c, kg.data, block);
    w.add_key_group(kg.key_group, block);
  }
  ckpt::OperatorStateStore store;
  store.get_list_state(ckpt::ListStateDescriptor<std::string>{"offsets"}).update({"a", "b", "c"});
  const auto op = store.snapshot();
  ckpt::compress_block(c, ckpt::serial::encode(op), block);
  w.add_operator_state({{"offsets", ckpt::Distribution::even_split, "string", 0, 3}}, block);
  w.finish();
  file->commit();
}

TEST(StateFile, RoundTrip) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  const auto snap = sample_keyed();
  write_file(*fs, "f.state", snap);
  ckpt::StateFileReader r(fs->open("f.state"));
  ASSERT_TRUE(r.index().keyed);
  EXPECT_EQ(r.index().keyed->states, snap.states);
  EXPECT_EQ(r.index().operator_states.at(0).element_count, 3u);
  ckpt::Decompressor d;
  for (const auto& kg : snap.key_groups) {
    const auto* block = r.find_key_group(kg.key_group);
    ASSERT_NE(block, nullptr);
    ckpt::Bytes raw;
    r.read_block(*block, raw, d);
    EXPECT_EQ(raw, kg.data);
  }
  EXPECT_EQ(r.find_key_group(100000), nullptr);
  const auto op = r.read_operator_state(d);
  ASSERT_EQ(op.states.size(), 1u);
  EXPECT_EQ(op.states[0].elements.size(), 3u);
  EXPECT_NO_THROW(r.verify_all());
}

// Everything a reader might be handed after a crash or by an attacker.
void expect_detected(ckpt::fs::FileSystem& fs, const std::string& path, const std::string& why) {
  try {
    ckpt::StateFileReader r(fs.open(path));
    r.verify_all();
    ADD_FAILURE() << "not detected: " << why;
  } catch (const ckpt::CorruptionError& e) {
    EXPECT_EQ(e.path(), path) << why;
    EXPECT_THAT(e.what(), HasSubstr(path)) << why;
    EXPECT_FALSE(e.block().empty()) << why;
  }
}

TEST(StateFile, TruncationAtEveryOffsetIsDetected) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  write_file(*fs, "f.state", sample_keyed(40));
  const auto bytes = ckpt::fs::read_file(*fs, "f.state", 1 << 30);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const auto path = "t" + std::to_string(n) + ".state";
    ckpt::fs::write_file(*fs, path, ckpt::ByteSpan(bytes).first(n));
    expect_detected(*fs, path, "truncated to " + std::to_string(n));
    fs->remove(path);
  }
}

TEST(StateFile, BitFlipInEveryBlockIndexAndFooterIsDetected) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  write_file(*fs, "f.state", sample_keyed(200));
  const auto bytes = ckpt::fs::read_file(*fs, "f.state", 1 << 30);
  ckpt::StateFileReader good(fs->open("f.state"));
  std::vector<std::uint64_t> offsets;
  for (const auto& b : good.index().blocks) offsets.push_back(b.offset + b.stored_size / 2);  // inside each block
  offsets.push_back(bytes.size() - ckpt::state_file_footer_size - 5);                        // the index
  for (std::size_t i = 0; i < ckpt::state_file_footer_size; ++i) offsets.push_back(bytes.size() - 1 - i);  // footer
  for (std::size_t i = 0; i < ckpt::state_file_header_size; ++i) offsets.push_back(i);                       // header
  std::mt19937 rng(7);
  for (const auto at : offsets) {
    auto damaged = bytes;
    damaged[at] ^= static_cast<std::byte>(1u << (rng() % 8));
    const auto path = "flip" + std::to_string(at) + ".state";
    ckpt::fs::write_file(*fs, path, damaged);
    expect_detected(*fs, path, "bit flip at " + std::to_string(at));
    fs->remove(path);
  }
}

TEST(StateFile, HostileIndexAndFramesFailBeforeLargeAllocations) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  // A decompression bomb: a block of 64 MiB of zeros compresses to a few KiB.
  {
    auto file = fs->create("bomb.state");
    ckpt::StateFileWriter w(*file, ckpt::Codec::zstd);
    w.set_keyed_info({128, 0, 128, "u64", {}});
    ckpt::Compressor c;
    ckpt::StoredBlock block;
    ckpt::Bytes zeros(64u << 20);
    std::fill(zeros.begin(), zeros.end(), std::byte{0});
    ckpt::compress_block(c, zeros, block);
    EXPECT_LT(block.stored.size(), 64u << 10);
    w.add_key_group(0, block);
    w.finish();
    file->commit();
  }
  try {
    ckpt::StateFileReader r(fs->open("bomb.state"), ckpt::ReadLimits::tight(1 << 20));
    FAIL() << "a block over the limit was accepted";
  } catch (const ckpt::CorruptionError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::limit_exceeded);
    EXPECT_EQ(e.block(), "key group 0");
  }
  // A footer claiming a 2^62-byte index.
  auto bytes = ckpt::fs::read_file(*fs, "bomb.state", 1 << 30);
  const std::uint64_t huge = 1ULL << 62;
  std::memcpy(bytes.data() + bytes.size() - ckpt::state_file_footer_size + 8, &huge, 8);
  ckpt::fs::write_file(*fs, "huge-index.state", bytes);
  try {
    ckpt::StateFileReader r(fs->open("huge-index.state"));
    FAIL();
  } catch (const ckpt::CorruptionError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::limit_exceeded);
  }
}

TEST(Codec, FrameClaimingAnotherSizeThanTheIndexIsRejected) {
  ckpt::Compressor c;
  ckpt::Bytes raw(1000, std::byte{7});
  ckpt::Bytes frame;
  c.compress(raw, frame);
  ckpt::Decompressor d;
  ckpt::Bytes out;
  EXPECT_NO_THROW(d.decompress(ckpt::Codec::zstd, frame, 1000, out, "f", "b"));
  try {
    d.decompress(ckpt::Codec::zstd, frame, 10, out, "f", "key group 3");
    FAIL();
  } catch (const ckpt::CorruptionError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::limit_exceeded);
    EXPECT_THAT(e.what(), HasSubstr("f, key group 3"));
  }
  frame.push_back(std::byte{0});  // trailing garbage after the frame
  EXPECT_THROW(d.decompress(ckpt::Codec::zstd, frame, 1000, out, "f", "b"), ckpt::CorruptionError);
  EXPECT_THROW(ckpt::Compressor(ckpt::Codec::zstd, 99), ckpt::ConfigError);
}

ckpt::Manifest sample_manifest() {
  ckpt::Manifest m;
  m.checkpoint_id = 42;
  m.timestamp_millis = 1700000000000;
  m.properties = {{"program-version", "1.2.3"}};
  ckpt::OperatorManifest op;
  op.uid = "counter";
  op.parallelism = 2;
  op.max_parallelism = 128;
  op.key_type = "string";
  for (std::uint32_t i = 0; i < 2; ++i) {
    ckpt::SubtaskManifest s;
    s.index = i;
    s.key_group_begin = i * 64;
    s.key_group_end = (i + 1) * 64;
    s.files.push_back({"counter-" + std::to_string(i) + ".state", false, 1234, 99});
    s.key_groups.push_back({0, i * 64, (i + 1) * 64});
    op.subtasks.push_back(s);
  }
  m.operators.push_back(op);
  return m;
}

TEST(Manifest, RoundTripAndValidation) {
  const auto bytes = ckpt::encode_manifest(sample_manifest());
  const auto m = ckpt::decode_manifest(bytes, "chk-42/_metadata");
  EXPECT_EQ(m.checkpoint_id, 42u);
  EXPECT_EQ(m.properties.at("program-version"), "1.2.3");
  EXPECT_NO_THROW(ckpt::validate_manifest(m, "x"));
  auto bad = m;
  bad.operators[0].subtasks[0].files[0].path = "../../etc/passwd";
  EXPECT_THROW(ckpt::validate_manifest(bad, "x"), ckpt::CorruptionError);
  bad = m;
  bad.operators[0].uid = "a/b";
  EXPECT_THROW(ckpt::validate_manifest(bad, "x"), ckpt::CorruptionError);
  bad = m;
  bad.operators[0].subtasks[1].key_groups[0].file = 5;
  EXPECT_THROW(ckpt::validate_manifest(bad, "x"), ckpt::CorruptionError);
  bad = m;
  bad.operators[0].subtasks.pop_back();
  EXPECT_THROW(ckpt::validate_manifest(bad, "x"), ckpt::CorruptionError);
}

TEST(Manifest, TruncationAtEveryOffsetAndEveryBitFlipAreDetected) {
  const auto bytes = ckpt::encode_manifest(sample_manifest());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    try {
      (void)ckpt::decode_manifest(ckpt::ByteSpan(bytes).first(n), "chk-42/_metadata");
      ADD_FAILURE() << "truncation to " << n << " not detected";
    } catch (const ckpt::CorruptionError& e) {
      EXPECT_EQ(e.path(), "chk-42/_metadata");
    }
  }
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; bit += 3) {
      auto damaged = bytes;
      damaged[i] ^= static_cast<std::byte>(1u << bit);
      EXPECT_THROW((void)ckpt::decode_manifest(damaged, "m"), ckpt::CorruptionError) << "byte " << i << " bit " << bit;
    }
  }
  EXPECT_THROW((void)ckpt::decode_manifest(bytes, "m", ckpt::ReadLimits::tight(16)), ckpt::CorruptionError);
}

}  // namespace
