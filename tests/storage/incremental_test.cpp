// Incremental checkpoints: unchanged key groups by reference, chains restore
// like full snapshots, shared files counted by the retained manifests, also
// after a crash between a checkpoint's completion and its cleanup.
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "forwarding_file_system.hpp"
#include "workload.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace {
namespace incremental {

constexpr std::uint64_t kKeys = 3000;

/// Forwards to another file system; remove() and remove_all() can be made to fail.
class FlakyRemoveFileSystem final : public ckpt::test::ForwardingFileSystem {
 public:
  using ForwardingFileSystem::ForwardingFileSystem;
  bool fail_removes = false;
  void remove(std::string_view p) override {
    if (fail_removes) throw ckpt::IoError(ckpt::errc::io_error, std::string(p), "injected crash before cleanup");
    ForwardingFileSystem::remove(p);
  }
  void remove_all(std::string_view d) override {
    if (fail_removes) throw ckpt::IoError(ckpt::errc::io_error, std::string(d), "injected crash before cleanup");
    ForwardingFileSystem::remove_all(d);
  }
};

void touch_some(ckpt::test::Operator& op, int round, std::uint32_t every_nth_key_group) {
  ckpt::test::touch_key_groups(op, kKeys, round, every_nth_key_group);
}
using ckpt::test::shared_files;

TEST(Incremental, OnlyChangedKeyGroupsAreWrittenAndChainsRestoreLikeFullSnapshots) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::incremental_checkpoints(3));
  auto ops = ckpt::test::make_operators("op", 2);
  for (auto& op : ops) op->fill(kKeys, 0);
  const auto full = ckpt::test::checkpoint(storage, ops, 1, true);
  EXPECT_FALSE(full.base_checkpoint_id);

  for (int round = 1; round <= 3; ++round) {
    for (auto& op : ops) touch_some(*op, round, 16);  // 8 of 128 key groups
    auto pending = storage.begin_checkpoint(static_cast<std::uint64_t>(round + 1), 0);
    std::uint32_t written = 0, referenced = 0;
    for (auto& op : ops) {
      const auto stats = pending->write(op->snapshot(static_cast<std::uint64_t>(round + 1), true));
      written += stats.key_groups_written;
      referenced += stats.key_groups_referenced;
    }
    const auto m = pending->complete();
    for (auto& op : ops) op->keyed.notify_snapshot_complete(static_cast<std::uint64_t>(round + 1));
    EXPECT_EQ(m.base_checkpoint_id, static_cast<std::uint64_t>(round));
    EXPECT_EQ(written, 8u);
    EXPECT_EQ(referenced, 120u);
    EXPECT_LT(m.stored_bytes() * 8, full.stored_bytes());
  }
  // Restore the chain's head and compare with the live state, key by key.
  auto snapshot = storage.restore_latest();
  auto restored = ckpt::test::restore_operators(*snapshot, "op", 2);
  for (std::uint32_t i = 0; i < 2; ++i) {
    for (std::uint64_t k = 0; k < kKeys; ++k) {
      if (!ops[i]->owns(k)) continue;
      ops[i]->keyed.set_current_key(k);
      restored[i]->keyed.set_current_key(k);
      ASSERT_EQ(restored[i]->count.value(), ops[i]->count.value()) << k;
      ASSERT_EQ(restored[i]->history.get(), ops[i]->history.get()) << k;
    }
  }
  // ...and at another parallelism.
  auto rescaled = ckpt::test::restore_operators(*storage.restore_latest(), "op", 3);
  std::size_t keys = 0;
  for (auto& op : rescaled) keys += op->keyed.size("count");
  EXPECT_EQ(keys, kKeys);
}

TEST(Incremental, RetentionNeverDeletesAFileARetainedCheckpointNeeds) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::incremental_checkpoints(2));
  auto ops = ckpt::test::make_operators("op", 1);
  ops[0]->fill(kKeys, 0);
  ckpt::test::checkpoint(storage, ops, 1, true);
  const auto first_files = shared_files(*fs);
  ASSERT_EQ(first_files.size(), 1u);
  for (int round = 1; round <= 6; ++round) {
    touch_some(*ops[0], round, 32);
    ckpt::test::checkpoint(storage, ops, static_cast<std::uint64_t>(round + 1), true);
    // Checkpoint 1's file holds most key groups and is referenced all along.
    EXPECT_TRUE(shared_files(*fs).count(*first_files.begin())) << "round " << round;
    EXPECT_LE(shared_files(*fs).size(), 3u);  // two retained checkpoints' own files + the base
    for (const auto& info : storage.checkpoints()) {
      auto restored = ckpt::test::restore_operators(*storage.open_checkpoint(info.id), "op", 1);
      EXPECT_EQ(restored[0]->keyed.size("count"), kKeys);
    }
  }
}

TEST(Incremental, CrashBetweenCompletionAndCleanup) {
  auto memory = std::make_shared<ckpt::fs::MemoryFileSystem>();
  auto flaky = std::make_shared<FlakyRemoveFileSystem>(memory);
  {
    ckpt::CheckpointStorage storage(flaky, ckpt::StorageOptions::incremental_checkpoints(1));
    auto ops = ckpt::test::make_operators("op", 1);
    ops[0]->fill(kKeys, 0);
    ckpt::test::checkpoint(storage, ops, 1, true);
    touch_some(*ops[0], 1, 4);
    ckpt::test::checkpoint(storage, ops, 2, true);
    touch_some(*ops[0], 2, 2);
    flaky->fail_removes = true;  // checkpoint 3 is published, then the process "dies"
    ckpt::test::checkpoint(storage, ops, 3, true);
    EXPECT_EQ(storage.checkpoints().size(), 2u);  // 2 could not be removed
    EXPECT_TRUE(storage.last_cleanup_error());
  }
  flaky->fail_removes = false;
  const auto before = shared_files(*memory);
  ckpt::CheckpointStorage storage(flaky, ckpt::StorageOptions::incremental_checkpoints(1));  // restart
  const auto infos = storage.checkpoints();
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_EQ(infos[0].id, 3u);
  EXPECT_LT(shared_files(*memory).size(), before.size());  // checkpoint 2's own file is gone
  auto restored = ckpt::test::restore_operators(*storage.restore_latest(), "op", 1);
  EXPECT_EQ(restored[0]->keyed.size("count"), kKeys);
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    restored[0]->keyed.set_current_key(k);
    const auto kg = restored[0]->keyed.key_group_of(k);
    const int round = kg % 2 == 0 ? 2 : 0;  // round 2 touched every even key group, after round 1's every fourth
    ASSERT_EQ(restored[0]->count.value(), ckpt::test::expected_count(k, round)) << k;
  }
}

TEST(Incremental, SavepointsAreAlwaysFull) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::incremental_checkpoints(2));
  auto ops = ckpt::test::make_operators("op", 1);
  ops[0]->fill(kKeys, 0);
  ckpt::test::checkpoint(storage, ops, 1, true);
  touch_some(*ops[0], 1, 8);
  ckpt::test::checkpoint(storage, ops, 2, true);
  const auto sp = storage.promote_to_savepoint(2, "tag");
  fs->remove_all("shared");
  fs->remove_all("chk-1");
  fs->remove_all("chk-2");
  auto restored = ckpt::test::restore_operators(*storage.open_savepoint("tag"), "op", 1);
  EXPECT_EQ(restored[0]->keyed.size("count"), kKeys);
  // An incremental snapshot cannot be written into a savepoint.
  auto pending = storage.begin_savepoint(9, 0);
  touch_some(*ops[0], 2, 8);
  EXPECT_THROW(pending->write(ops[0]->snapshot(9, true)), ckpt::CheckpointError);
}

}  // namespace incremental
}  // namespace
