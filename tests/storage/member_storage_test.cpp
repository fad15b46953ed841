// A storage shared by the members of one job (StorageOptions::job_member):
// each member writes only its own files and a part manifest, never cleans
// another's, aborts only its own; the committer merges verified parts into
// the global _metadata, which restores at any parallelism.
#include <ckpt/ckpt.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>
#include <ckpt/storage/part_manifest.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {
namespace member_storage {

constexpr std::uint64_t kKeys = 40;

ckpt::StorageOptions member(std::uint32_t i) {
  return ckpt::StorageOptions::defaults().with_compression_threads(1).as_job_member("m" + std::to_string(i));
}

/// Member i of `n`: its keys counted to key + 1.
struct Member {
  Member(std::shared_ptr<ckpt::fs::FileSystem> fs, std::uint32_t i, std::uint32_t n)
      : index(i), parallelism(n), storage(std::move(fs), member(i)),
        backend(ckpt::KeyedStateBackendOptions::for_subtask(i, n)) {
    counts = backend.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"count", 0});
    for (std::uint64_t k = 0; k < kKeys; ++k) {
      if (!backend.key_groups().contains(backend.key_group_of(k))) continue;
      backend.set_current_key(k);
      counts.update(k + 1);
    }
  }
  std::unique_ptr<ckpt::PendingSnapshot> write(std::uint64_t id) {
    auto pending = storage.begin_checkpoint(id, 0);
    pending->write({"counter", index, parallelism, backend.begin_snapshot(id), std::nullopt});
    return pending;
  }
  std::uint32_t index, parallelism;
  ckpt::CheckpointStorage storage;
  ckpt::KeyedStateBackend<std::uint64_t> backend;
  ckpt::ValueState<std::uint64_t> counts;
};

TEST(MemberStorage, PartsMergeIntoAGlobalMetadataThatRestoresAtAnyParallelism) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  std::vector<ckpt::PartRef> parts;
  for (std::uint32_t i = 0; i < 3; ++i) {
    Member m(fs, i, 3);
    m.write(5)->complete();
    EXPECT_TRUE(fs->exists("chk-5/m" + std::to_string(i) + "~counter-" + std::to_string(i) + ".state"));
    parts.push_back(ckpt::describe_part(*fs, 5, "m" + std::to_string(i)));
  }
  EXPECT_FALSE(fs->exists("chk-5/_metadata"));  // parts alone are never restorable
  EXPECT_EQ(ckpt::CheckpointStorage(fs, ckpt::StorageOptions::read_only_access()).restore_latest(), nullptr);

  const auto global = ckpt::publish_global_manifest(*fs, 5, parts);
  ASSERT_EQ(global.operators.size(), 1u);
  EXPECT_EQ(global.operators[0].subtasks.size(), 3u);
  ckpt::CheckpointStorage reader(fs, ckpt::StorageOptions::read_only_access());
  auto snapshot = reader.restore_latest();
  ASSERT_NE(snapshot, nullptr);
  for (std::uint32_t n : {1u, 2u}) {  // rescaled: 3 -> 1 and 3 -> 2
    std::uint64_t seen = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
      ckpt::KeyedStateBackend<std::uint64_t> backend(ckpt::KeyedStateBackendOptions::for_subtask(i, n));
      auto counts = backend.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"count", 0});
      snapshot->restore("counter", &backend, nullptr);
      for (auto k : backend.keys("count")) {
        backend.set_current_key(k);
        EXPECT_EQ(counts.value(), k + 1);
        ++seen;
      }
    }
    EXPECT_EQ(seen, kKeys) << "at parallelism " << n;
  }
}

TEST(MemberStorage, APartUnlikeItsReportOrAMissingOrDoubleSubtaskIsRefused) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  std::vector<ckpt::PartRef> parts;
  for (std::uint32_t i = 0; i < 2; ++i) {
    Member m(fs, i, 2);
    m.write(3)->complete();
    parts.push_back(ckpt::describe_part(*fs, 3, "m" + std::to_string(i)));
  }
  auto tampered = parts;
  tampered[1].checksum ^= 1;
  EXPECT_THROW(ckpt::merge_parts(*fs, 3, tampered), ckpt::CorruptionError);
  tampered = parts;
  tampered[1].path = "chk-3/_part-m0";
  EXPECT_THROW(ckpt::merge_parts(*fs, 3, tampered), ckpt::CorruptionError);
  try {
    ckpt::merge_parts(*fs, 3, {parts[0]});
    FAIL() << "a missing subtask was merged";
  } catch (const ckpt::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("no member wrote operator 'counter' subtask 1 of 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ckpt::merge_parts(*fs, 3, {parts[0], parts[0], parts[1]}), ckpt::CheckpointError);
  EXPECT_THROW(ckpt::merge_parts(*fs, 4, parts), ckpt::Error);  // not checkpoint 4's parts
  EXPECT_FALSE(fs->exists("chk-3/_metadata"));
}

TEST(MemberStorage, AMemberNeverCleansAnothersFilesAndAnAbortRemovesOnlyItsOwn) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  Member m0(fs, 0, 2);
  auto in_flight = m0.write(7);  // not complete: no part manifest yet
  {
    Member m1(fs, 1, 2);  // opening does not clean m0's in-progress files
    EXPECT_TRUE(fs->exists("chk-7/m0~counter-0.state"));
    m1.write(7)->abort();
    EXPECT_FALSE(fs->exists("chk-7/m1~counter-1.state"));
    EXPECT_TRUE(fs->exists("chk-7/m0~counter-0.state"));
    try {
      ckpt::CheckpointStorage again(fs, member(1));
      FAIL() << "a second process took member m1's lock";
    } catch (const ckpt::IoError& e) {
      EXPECT_EQ(e.code(), ckpt::errc::locked);
    }
    // The one writer, whose opening cleans up, refuses a directory members are using.
    try {
      ckpt::CheckpointStorage single(fs);
      FAIL() << "a single writer opened a storage its members use";
    } catch (const ckpt::IoError& e) {
      EXPECT_EQ(e.code(), ckpt::errc::locked);
      EXPECT_NE(std::string(e.what()).find("_members/m"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(fs->exists("chk-7/m0~counter-0.state"));
  }
  in_flight->complete();
  EXPECT_TRUE(fs->exists("chk-7/_part-m0"));
  EXPECT_EQ(ckpt::remove_member_files(*fs, 7, "m0"), 2u);  // its state file and its part
  EXPECT_FALSE(fs->exists("chk-7/m0~counter-0.state"));
  // The committer, after committing 8, removes 7 (no _metadata).
  m0.storage.cleanup_committed(8);
  EXPECT_FALSE(fs->exists("chk-7"));
  EXPECT_THROW(m0.storage.begin_savepoint(9, 0), ckpt::ConfigError);
  EXPECT_THROW(ckpt::CheckpointStorage(fs, ckpt::StorageOptions::defaults().with_incremental(true).as_job_member("m2")),
               ckpt::ConfigError);
  EXPECT_THROW(ckpt::CheckpointStorage(fs, ckpt::StorageOptions::defaults().as_job_member("a~b")), ckpt::ConfigError);
}

}  // namespace member_storage
}  // namespace
