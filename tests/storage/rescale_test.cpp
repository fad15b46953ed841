// Rescaling restore through storage: 4 -> 2 -> 3, every key restored exactly
// once, operator lists redistributed by even split.
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "workload.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace {
namespace rescale {

using ::testing::ElementsAre;

constexpr std::uint64_t kKeys = 4000;

TEST(Rescale, FourToTwoToThree) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::defaults().retain(3));

  auto gen1 = ckpt::test::make_operators("agg", 4);
  for (auto& op : gen1) {
    op->fill(kKeys, 0);
    // Subtask i reads partitions 2i and 2i+1; offsets are "partition*1000 + i".
    op->offsets.update({static_cast<std::int64_t>(2 * op->subtask * 1000), static_cast<std::int64_t>((2 * op->subtask + 1) * 1000)});
  }
  ckpt::test::checkpoint(storage, gen1, 1);

  const auto restore_at = [&](std::uint32_t parallelism) {
    auto snapshot = storage.restore_latest();
    auto ops = ckpt::test::restore_operators(*snapshot, "agg", parallelism);
    std::map<std::uint64_t, int> owners;
    for (auto& op : ops)
      for (const auto k : op->keyed.keys("count")) ++owners[k];
    EXPECT_EQ(owners.size(), kKeys);
    for (const auto& [k, n] : owners) EXPECT_EQ(n, 1) << "key " << k << " restored " << n << " times";
    return ops;
  };

  auto gen2 = restore_at(2);
  // 8 offsets over 2 subtasks: 4 each, in old-subtask order.
  EXPECT_THAT(gen2[0]->offsets.get(), ElementsAre(0, 1000, 2000, 3000));
  EXPECT_THAT(gen2[1]->offsets.get(), ElementsAre(4000, 5000, 6000, 7000));
  for (auto& op : gen2) {
    op->expect(kKeys, 0);
    op->fill(kKeys, 1);
  }
  ckpt::test::checkpoint(storage, gen2, 2);

  auto gen3 = restore_at(3);
  // 8 over 3: 3, 3, 2.
  EXPECT_THAT(gen3[0]->offsets.get(), ElementsAre(0, 1000, 2000));
  EXPECT_THAT(gen3[1]->offsets.get(), ElementsAre(3000, 4000, 5000));
  EXPECT_THAT(gen3[2]->offsets.get(), ElementsAre(6000, 7000));
  for (auto& op : gen3) op->expect(kKeys, 1);
}

TEST(Rescale, ReadsOnlyTheKeyGroupsItNeeds) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  auto ops = ckpt::test::make_operators("agg", 1);
  ops[0]->fill(kKeys, 0);
  ckpt::test::checkpoint(storage, ops, 1);
  auto snapshot = storage.restore_latest();
  const auto range = ckpt::KeyGroupRange::for_subtask(128, 8, 3);
  const auto snaps = snapshot->keyed_state("agg", range);
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_EQ(snaps[0].key_groups.size(), range.size());
  for (const auto& b : snaps[0].key_groups) EXPECT_TRUE(range.contains(b.key_group));
}

}  // namespace rescale
}  // namespace
