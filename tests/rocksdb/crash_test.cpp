// Real crashes of a process taking native RocksDB checkpoints: a child
// (crash_child.cpp) checkpoints in a loop and is SIGKILLed, three times,
// each time right after it reported a completed checkpoint, so the kill lands
// inside the next one (a flush, hard links, uploads, the manifest). Each
// restart restores the latest checkpoint and checks its content; at the end
// the storage, reopened here, holds exactly the shared files its retained
// checkpoints list, and the latest one restores.
#include <ckpt/rocksdb/rocksdb_keyed_state_backend.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "process.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

namespace {

TEST(RocksDBIncrementalCrash, SigkillDuringCheckpointsLeavesTheLatestCompleteOneRestorable) {
  ckpt::test::TempDir root{"ckpt-rocksdb-crash-storage"}, work{"ckpt-rocksdb-crash-work"};
  std::uint64_t last_complete = 0;
  for (int run = 0; run < 3; ++run) {
    ckpt::rel::Child child(CKPT_ROCKSDB_CRASH_CHILD, {root.path().string(), work.path().string()}, {});
    int completes = 0;
    while (auto line = child.next_line()) {
      const auto [word, n] = ckpt::rel::parse_report(*line);
      ASSERT_NE(word, "error") << *line;
      if (word == "restored") {
        EXPECT_GE(n, last_complete) << "restored an older checkpoint than the last complete one";
      }
      if (word == "complete") {
        last_complete = n;
        if (++completes == 3) break;
      }
    }
    child.kill();
    EXPECT_TRUE(child.killed()) << child.describe_status();
  }
  ASSERT_GT(last_complete, 0u);

  auto storage = ckpt::CheckpointStorage::open("file://" + root.path().string(),
                                               ckpt::StorageOptions::incremental_checkpoints(2));
  std::set<std::string> referenced;
  for (const auto& c : storage->checkpoints()) {
    const auto reader = storage->open_checkpoint(c.id);
    for (const auto& n : reader->manifest().native)
      for (const auto& f : n.files)
        if (f.shared) referenced.insert(f.path);
  }
  std::set<std::string> shared;
  for (const auto& e : std::filesystem::directory_iterator(root.path() / "shared"))
    shared.insert(e.path().filename().string());
  EXPECT_EQ(shared, referenced);

  auto reader = storage->restore_latest();
  ASSERT_NE(reader, nullptr);
  EXPECT_GE(reader->checkpoint_id(), last_complete);
  ckpt::test::TempDir dir{"ckpt-rocksdb-crash-restore"};
  ckpt::rocksdb::RocksDBKeyedStateBackend<std::uint64_t> rocks(
      ckpt::rocksdb::RocksDBOptions::in(dir.path()).with_memory_budget(std::size_t{8} << 20),
      ckpt::KeyGroupRange::all(128), 128);
  auto count = rocks.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0});
  reader->restore("op", &rocks, nullptr);
  for (std::uint64_t k = 0; k < 400; ++k) {
    rocks.set_current_key(k);
    EXPECT_EQ(count.value(), static_cast<std::int64_t>(reader->checkpoint_id())) << "key " << k;
  }
}

}  // namespace
