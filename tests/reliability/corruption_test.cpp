// R4, corrupt and hostile input, on real snapshots written by CheckpointStorage:
// every truncation and random bit flips (many seeds) of the newest
// checkpoint's manifest and state files -- its own and, for incremental
// checkpoints, the shared ones -- are detected on every read path: strict
// restore_latest(), restore_latest() with fallback to the previous checkpoint
// (which must then restore exactly), and SnapshotReader::restore() when only
// reading a block can find the damage. Every error names the damaged file, and
// a CorruptionError the part of it. Hostile snapshots (lengths claiming 2^62
// elements, frames claiming 2^40 bytes, bombs) are refused with
// errc::limit_exceeded naming the file; memory_cap.cpp runs them again under
// RLIMIT_AS to prove nothing large is allocated.

#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/snapshot/manifest.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "hostile.hpp"
#include "job.hpp"
#include "process.hpp"
#include "reliability.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {
namespace corruption {

using ::testing::HasSubstr;
constexpr std::uint64_t kKeys = 60;

// The manifest header's reserved field was left as whatever the heap held
// (Bytes does not zero what it allocates), so a checkpoint could be written
// complete and then refused as damaged ("reserved header field is not 0"; the
// power-loss test found it). To have garbage there every time, the check runs
// in a child whose glibc fills new allocations with a pattern (MALLOC_PERTURB_)
// and has no per-thread cache (which would hand back a just-freed chunk with
// those bytes cleared); ASan fills new allocations anyway.
TEST(ManifestEncoding, HeaderIsFullyDefinedWhateverTheHeapHeld) {
  if (std::getenv("CKPT_REL_PERTURBED_CHILD")) {
    ckpt::Manifest m;
    m.checkpoint_id = 7;
    const auto bytes = ckpt::encode_manifest(m);
    for (std::size_t at = 12; at < 16; ++at) EXPECT_EQ(bytes[at], std::byte{0}) << "reserved byte " << at;
    EXPECT_EQ(ckpt::decode_manifest(bytes, "m").checkpoint_id, 7u);
    return;
  }
  ckpt::rel::Child child("/proc/self/exe", {"--gtest_filter=ManifestEncoding.HeaderIsFullyDefinedWhateverTheHeapHeld"},
                         {{"CKPT_REL_PERTURBED_CHILD", "1"},
                          {"MALLOC_PERTURB_", "90"},
                          {"GLIBC_TUNABLES", "glibc.malloc.tcache_count=0"}});
  child.drain();
  EXPECT_EQ(child.exit_code(), 0) << "the manifest's header holds undefined bytes (" << child.describe_status() << ")";
}

// A bool is one byte, 0 or 1: anything else is damage, not a value (loading
// it into a bool is undefined behaviour; the manifest fuzzer found it within
// seconds, in the manifest's optional base checkpoint id). Both ways ckpt
// reads a bool: through cereal (manifests, indexes) and in bulk (state columns).
TEST(Decoding, ABoolThatIsNeitherZeroNorOneIsCorruption) {
  ckpt::Manifest m;
  m.checkpoint_id = 1;
  auto body = ckpt::serial::encode(m);
  body.at(8 + 8 + 1 + 8) = std::byte{2};  // id, timestamp, kind, empty name, then "has a base id"
  try {
    (void)ckpt::decode_manifest(ckpt::rel::frame_manifest(body), "chk-1/_metadata");
    ADD_FAILURE() << "a bool of 2 was accepted";
  } catch (const ckpt::CorruptionError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::corrupt_data) << e.what();
    EXPECT_EQ(e.path(), "chk-1/_metadata");
  }

  ckpt::KeyedStateBackend<std::uint64_t> backend;
  auto flag = backend.get_state(ckpt::ValueStateDescriptor<bool>{"flag"});
  backend.set_current_key(7);
  flag.update(true);
  auto snapshot = backend.snapshot();
  snapshot.origin = "chk-1/op-0.state";
  ASSERT_EQ(snapshot.key_groups.size(), 1u);
  snapshot.key_groups[0].data.back() = std::byte{2};  // the one value, stored in bulk
  ckpt::KeyedStateBackend<std::uint64_t> restored;
  (void)restored.get_state(ckpt::ValueStateDescriptor<bool>{"flag"});
  try {
    restored.restore(snapshot);
    ADD_FAILURE() << "a bool of 2 was restored";
  } catch (const ckpt::CorruptionError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::corrupt_data) << e.what();
    EXPECT_EQ(e.path(), "chk-1/op-0.state");
  }
}

// A section claiming no entries restores to nothing -- without copying 0 bytes
// to or from a null pointer, which is undefined behaviour (the state-file
// fuzzer found it; UBSan in the asan preset checks this test).
TEST(Decoding, ASectionWithNoEntriesRestoresToNothing) {
  ckpt::KeyedStateBackend<std::uint64_t> backend;
  auto tags = backend.get_map_state(ckpt::MapStateDescriptor<std::string, std::int64_t>{"tags"});
  backend.set_current_key(3);
  tags.put("a", 1);
  auto snapshot = backend.snapshot();
  ASSERT_EQ(snapshot.key_groups.size(), 1u);
  ckpt::Bytes block;
  ckpt::serial::OutputArchive ar(block);
  ar(std::uint32_t{1}, std::uint32_t{0}, std::uint64_t{8}, std::uint64_t{0});  // one section of state 0: no entries
  snapshot.key_groups[0].data = block;
  ckpt::KeyedStateBackend<std::uint64_t> restored;
  auto restored_tags = restored.get_map_state(ckpt::MapStateDescriptor<std::string, std::int64_t>{"tags"});
  restored.restore(snapshot);
  restored.set_current_key(3);
  EXPECT_TRUE(restored_tags.is_empty());
}

// A state restored before the program declares it is read when declared; if
// its bytes are damaged then, the error still names the file they came from
// (it used to say "<restored snapshot>"). A snapshot whose types do not match
// what the program declares is named too.
TEST(Decoding, ErrorsOfRestoredStateNameTheFile) {
  ckpt::KeyedStateBackend<std::uint64_t> backend;
  auto count = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count"});
  backend.set_current_key(7);
  count.update(42);
  auto snapshot = backend.snapshot();
  snapshot.origin = "chk-1/counter-0.state";
  ASSERT_EQ(snapshot.key_groups.size(), 1u);
  {  // declared after restore(), with a section claiming 2 entries of which 1 is there
    auto damaged = snapshot;
    auto& data = damaged.key_groups[0].data;
    const std::uint64_t two = 2;
    std::memcpy(data.data() + 4 + 4 + 8, &two, 8);  // count, state index, length, then the entry count
    ckpt::KeyedStateBackend<std::uint64_t> later;
    later.restore(damaged);
    try {
      (void)later.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count"});
      ADD_FAILURE() << "a damaged section was read";
    } catch (const ckpt::CorruptionError& e) {
      EXPECT_EQ(e.path(), "chk-1/counter-0.state") << e.what();
      EXPECT_THAT(e.block(), HasSubstr("key group"));
    }
  }
  for (const bool declared_first : {true, false}) {  // another type
    ckpt::KeyedStateBackend<std::uint64_t> other;
    if (declared_first) (void)other.get_state(ckpt::ValueStateDescriptor<std::string>{"count"});
    try {
      other.restore(snapshot);
      if (!declared_first) (void)other.get_state(ckpt::ValueStateDescriptor<std::string>{"count"});
      ADD_FAILURE() << "restored state of another type";
    } catch (const ckpt::StateError& e) {
      EXPECT_EQ(e.code(), ckpt::errc::state_type_mismatch);
      EXPECT_THAT(e.what(), HasSubstr("chk-1/counter-0.state"));
    }
  }
  ckpt::KeyedStateBackend<std::string> strings;
  try {
    strings.restore(snapshot);
    ADD_FAILURE() << "restored u64 keys as strings";
  } catch (const ckpt::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("chk-1/counter-0.state"));
  }
}

/// A storage with checkpoints 1 and 2 of the job (both retained).
struct Fixture {
  explicit Fixture(bool incremental)
      : fs(std::make_shared<ckpt::fs::MemoryFileSystem>()),
        options((incremental ? ckpt::StorageOptions::incremental_checkpoints(2) : ckpt::StorageOptions::defaults().retain(2))
                    .with_compression_threads(1)) {
    ckpt::rel::write_checkpoints(fs, options, 2, kKeys);
    storage = std::make_unique<ckpt::CheckpointStorage>(fs, options);
    files = ckpt::rel::snapshot_files(*fs, "chk-2");
    const auto older = ckpt::rel::snapshot_files(*fs, "chk-1");
    for (const auto& f : files) {
      original[f] = ckpt::fs::read_file(*fs, f, 1 << 30);
      if (std::find(older.begin(), older.end(), f) != older.end()) shared_with_previous.insert(f);
    }
  }
  void damage(const std::string& file, const ckpt::Bytes& bytes) { ckpt::rel::replace_file(*fs, file, bytes); }
  void repair(const std::string& file) { ckpt::rel::replace_file(*fs, file, original.at(file)); }

  std::shared_ptr<ckpt::fs::MemoryFileSystem> fs;
  ckpt::StorageOptions options;
  std::unique_ptr<ckpt::CheckpointStorage> storage;
  std::vector<std::string> files;  // of checkpoint 2, manifest first
  std::map<std::string, ckpt::Bytes> original;
  std::set<std::string> shared_with_previous;  // files checkpoint 1 needs too
};

/// What is wrong with how an error reports damage to `file` (empty: nothing).
std::string naming_problem(const ckpt::Error& e, const std::string& file) {
  const std::string what = e.what();
  if (what.find(file) == std::string::npos) return "the message does not name " + file + ": " + what;
  if (const auto* c = dynamic_cast<const ckpt::CorruptionError*>(&e)) {
    if (c->path() != file) return "CorruptionError::path() is '" + c->path() + "', not " + file;
    if (c->block().empty()) return "CorruptionError::block() is empty: " + what;
  } else if (const auto* io = dynamic_cast<const ckpt::IoError*>(&e)) {
    if (io->path() != file) return "IoError::path() is '" + io->path() + "', not " + file;
  }
  return {};
}

struct PathCounts {
  std::uint64_t strict = 0, fell_back = 0, found_by_restore = 0, no_checkpoint_left = 0;
  std::uint64_t unused_by_newest = 0;  // in a shared block only checkpoint 1 reads
};

/// With `file` of checkpoint 2 damaged: every read path detects it and names
/// it; falling back gives checkpoint 1 exactly. Returns what differs.
std::string check_all_paths(Fixture& f, const std::string& file, PathCounts& counts, bool fallback_too = true) {
  try {
    (void)f.storage->restore_latest(ckpt::RestoreOptions::strict());
    return "strict restore_latest() accepted the damage";
  } catch (const ckpt::Error& e) {
    if (auto p = naming_problem(e, file); !p.empty()) return "strict: " + p;
    ++counts.strict;
  }
  if (!fallback_too) return {};
  try {
    auto snapshot = f.storage->restore_latest();  // fallback on, blocks checked only when read
    if (!snapshot) return "restore_latest() found nothing";
    if (snapshot->checkpoint_id() == 2) {
      try {
        ckpt::rel::Job job(kKeys);
        job.restore(snapshot.get());
        // Only a file checkpoint 1 shares can hold bytes checkpoint 2 does not
        // read (blocks of key groups it has written again); then what it reads
        // must be exactly right.
        if (!f.shared_with_previous.count(file)) return "restoring checkpoint 2 accepted the damage";
        if (auto p = job.mismatch(2); !p.empty()) return "restoring checkpoint 2 gave wrong state: " + p;
        ++counts.unused_by_newest;
      } catch (const ckpt::Error& e) {
        if (auto p = naming_problem(e, file); !p.empty()) return "restore(): " + p;
        ++counts.found_by_restore;
      }
    } else {
      if (f.shared_with_previous.count(file)) return "fell back to a checkpoint that needs the damaged file";
      if (snapshot->notes().size() != 1 || snapshot->notes()[0].find(file) == std::string::npos)
        return "the fallback's note does not name " + file;
      if (auto p = ckpt::rel::restored_mismatch(*snapshot, kKeys); !p.empty()) return "fallback: " + p;
      ++counts.fell_back;
    }
  } catch (const ckpt::Error& e) {
    // Nothing left to fall back to: only when checkpoint 1 needs the file too.
    if (!f.shared_with_previous.count(file)) return std::string("fallback failed: ") + e.what();
    if (std::string(e.what()).find(file) == std::string::npos) return std::string("fallback error: ") + e.what();
    ++counts.no_checkpoint_left;
  }
  return {};
}

class Corruption : public ::testing::TestWithParam<bool> {};

TEST_P(Corruption, TruncationAtEveryOffsetOfEveryFileIsDetected) {
  Fixture f(GetParam());
  PathCounts counts;
  std::uint64_t truncations = 0;
  for (const auto& file : f.files) {
    const auto& bytes = f.original.at(file);
    // Every offset (every third under a sanitizer); the fallback path on every
    // fourth in CI, on all of them in long mode.
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      if (ckpt::rel::sanitized && n % 3 != 0) continue;
      f.damage(file, ckpt::Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)));
      ++truncations;
      const auto problem = check_all_paths(f, file, counts, n % 4 == 0 || ckpt::rel::long_mode());
      ASSERT_EQ(problem, "") << file << " truncated to " << n << " of " << bytes.size() << " bytes";
    }
    f.repair(file);
  }
  std::printf("[ R4 ] %s: %llu truncations of %zu files detected: strict %llu, fell back to checkpoint 1 %llu, "
              "found when restoring %llu, nothing left to fall back to %llu\n",
              GetParam() ? "incremental" : "full", static_cast<unsigned long long>(truncations), f.files.size(),
              static_cast<unsigned long long>(counts.strict), static_cast<unsigned long long>(counts.fell_back),
              static_cast<unsigned long long>(counts.found_by_restore),
              static_cast<unsigned long long>(counts.no_checkpoint_left));
  ASSERT_EQ(f.storage->restore_latest(ckpt::RestoreOptions::strict())->checkpoint_id(), 2u);
}

TEST_P(Corruption, RandomBitFlipsAreDetectedOnEveryPath) {
  Fixture f(GetParam());
  PathCounts counts;
  const auto seeds = ckpt::rel::iterations(2000, 50000, 100);
  std::map<std::string, std::uint64_t> per_file;
  for (std::uint64_t seed = 0; seed < seeds; ++seed) {
    std::mt19937_64 rng(seed);
    const auto& file = f.files[rng() % f.files.size()];
    auto bytes = f.original.at(file);
    const auto flips = 1 + rng() % 3;
    for (std::uint64_t i = 0; i < flips; ++i) bytes[rng() % bytes.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
    if (bytes == f.original.at(file)) continue;  // flipped one bit twice
    f.damage(file, bytes);
    ++per_file[file];
    const auto problem = check_all_paths(f, file, counts);
    ASSERT_EQ(problem, "") << file << ", seed " << seed;
    f.repair(file);
  }
  std::string spread;
  for (const auto& [file, n] : per_file) spread += " " + file + "=" + std::to_string(n);
  std::printf("[ R4 ] %s: %llu seeds of 1-3 bit flips detected:%s; strict %llu, fell back %llu, found when "
              "restoring %llu, nothing left %llu, in a shared block only checkpoint 1 reads %llu\n",
              GetParam() ? "incremental" : "full", static_cast<unsigned long long>(seeds), spread.c_str(),
              static_cast<unsigned long long>(counts.strict), static_cast<unsigned long long>(counts.fell_back),
              static_cast<unsigned long long>(counts.found_by_restore),
              static_cast<unsigned long long>(counts.no_checkpoint_left),
              static_cast<unsigned long long>(counts.unused_by_newest));
  EXPECT_GT(counts.found_by_restore, 0u) << "no flip reached the block-reading path";
}

INSTANTIATE_TEST_SUITE_P(Snapshots, Corruption, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? std::string("Incremental") : std::string("Full");
                         });

TEST(Corruption, DamagedSavepointIsAnErrorNamingTheFile) {
  Fixture f(false);
  ckpt::rel::Job job(kKeys);
  job.advance_to(3);
  auto pending = f.storage->begin_savepoint(3, 0, "before-upgrade");
  job.write(*pending, false);
  pending->complete({{"round", "3"}});
  const auto file = ckpt::rel::snapshot_files(*f.fs, "savepoints/savepoint-3-before-upgrade").at(1);
  auto bytes = ckpt::fs::read_file(*f.fs, file, 1 << 30);
  bytes[bytes.size() / 2] ^= std::byte{0x10};
  f.damage(file, bytes);
  try {
    auto snapshot = f.storage->open_savepoint("before-upgrade");
    ckpt::rel::Job restored(kKeys);
    restored.restore(snapshot.get());
    FAIL() << "a damaged savepoint restored";
  } catch (const ckpt::Error& e) {
    EXPECT_EQ(naming_problem(e, file), "");
  }
  // Opened by its own URI, its files are named relative to the savepoints directory.
  try {
    auto snapshot = ckpt::CheckpointStorage::open_snapshot(f.fs->uri() + "/savepoints/savepoint-3-before-upgrade");
    snapshot->verify_all();
    FAIL() << "open_snapshot() verified a damaged savepoint";
  } catch (const ckpt::Error& e) {
    EXPECT_EQ(naming_problem(e, file.substr(std::string("savepoints/").size())), "");
  }
}

TEST(Hostile, EveryHostileSnapshotIsRefusedNamingItsFile) {
  for (const auto& c : ckpt::rel::hostile_cases()) {
    auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
    ckpt::rel::write_checkpoints(fs, ckpt::StorageOptions::defaults(), 1);
    c.forge(*fs);
    try {
      ckpt::rel::restore_everything(fs, c.limits);
      ADD_FAILURE() << c.name << ": accepted";
    } catch (const ckpt::Error& e) {
      EXPECT_EQ(e.code(), ckpt::make_error_code(c.expected)) << c.name << ": " << e.what();
      EXPECT_THAT(e.what(), HasSubstr(c.file)) << c.name;
      if (const auto* corruption = dynamic_cast<const ckpt::CorruptionError*>(&e)) {
        EXPECT_EQ(corruption->path(), c.file) << c.name;
        EXPECT_FALSE(corruption->block().empty()) << c.name;
      }
    }
  }
}

}  // namespace corruption
}  // namespace
