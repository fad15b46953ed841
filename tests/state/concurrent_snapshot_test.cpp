// Snapshots while the owner thread keeps writing: every key's value in the
// snapshot is its value at the mark (copy-on-write per key group).
#include <ckpt/ckpt.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <thread>
#include <vector>

namespace {
namespace concurrent_snapshot {

using Backend = ckpt::KeyedStateBackend<std::uint64_t>;

#ifdef CKPT_SANITIZED
constexpr std::uint64_t kKeys = 5000;
#else
constexpr std::uint64_t kKeys = 50000;
#endif

std::map<std::uint64_t, std::uint64_t> contents(const ckpt::KeyedStateSnapshot& snap) {
  Backend b;
  b.restore(snap);
  auto v = b.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  std::map<std::uint64_t, std::uint64_t> out;
  for (const auto k : b.keys("v")) {
    b.set_current_key(k);
    out[k] = v.value();
  }
  return out;
}

/// A snapshot of the blocks a job saved (as collect() would have made them).
ckpt::KeyedStateSnapshot assemble(const ckpt::KeyedSnapshotJob& job, std::vector<ckpt::KeyGroupBlock> blocks) {
  ckpt::KeyedStateSnapshot snap;
  snap.max_parallelism = job.max_parallelism();
  snap.key_group_begin = job.key_groups().begin;
  snap.key_group_end = job.key_groups().end;
  snap.key_type = job.key_type();
  snap.states = job.states();
  snap.key_groups = std::move(blocks);
  return snap;
}

void fill(Backend& b, ckpt::ValueState<std::uint64_t>& v, std::uint64_t value) {
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    b.set_current_key(k);
    v.update(value);
  }
}

TEST(ConcurrentSnapshot, WritesAfterTheMarkAreNotInTheSnapshot) {
  Backend b;
  auto v = b.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  fill(b, v, 1);
  auto job = b.begin_snapshot();
  fill(b, v, 2);                 // every key group is saved by the owner before it changes
  b.set_current_key(kKeys + 1);  // a key that did not exist at the mark
  v.update(3);
  const auto snap = job->collect();
  job.reset();
  const auto image = contents(snap);
  ASSERT_EQ(image.size(), kKeys);
  for (const auto& [k, value] : image) ASSERT_EQ(value, 1u) << k;
  b.set_current_key(5);
  EXPECT_EQ(v.value(), 2u);  // the live state moved on
}

// value() leaves the current key's entry writable in place for update();
// a mark in between, with the same current key, must still save the old
// image before the write.
TEST(ConcurrentSnapshot, ReadModifyWriteAcrossAMarkWithTheSameCurrentKey) {
  Backend b;
  auto v = b.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  fill(b, v, 1);
  b.set_current_key(7);
  const auto before = v.value();
  auto job = b.begin_snapshot();
  v.update(before + 1);  // no set_current_key() since value()
  const auto image = contents(job->collect());
  job.reset();
  EXPECT_EQ(image.at(7), 1u);
  EXPECT_EQ(v.value(), 2u);
}

// A key group unchanged since the last completed snapshot: a read-modify-write
// in it must mark it changed, or the next incremental snapshot would skip it.
TEST(ConcurrentSnapshot, ReadModifyWriteMarksTheKeyGroupForTheNextIncrementalSnapshot) {
  Backend b;
  auto v = b.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  fill(b, v, 1);
  (void)b.begin_snapshot(10, ckpt::SnapshotMode::incremental)->collect();
  b.notify_snapshot_complete(10);
  b.set_current_key(7);
  v.update(v.value() + 1);
  auto job = b.begin_snapshot(11, ckpt::SnapshotMode::incremental);
  ASSERT_EQ(job->base_id(), 10u);
  for (auto kg = 0u; kg < 128; ++kg) {
    ckpt::Bytes out;
    EXPECT_EQ(job->save(kg, out), kg == b.key_group_of(7) ? ckpt::KeyGroupResult::written : ckpt::KeyGroupResult::unchanged)
        << "key group " << kg;
  }
}

TEST(ConcurrentSnapshot, BackgroundWriterWhileOwnerWrites) {
  Backend b;
  auto v = b.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  auto list = b.get_list_state(ckpt::ListStateDescriptor<std::uint64_t>{"l"});
  fill(b, v, 7);
  for (int round = 0; round < 3; ++round) {
    auto job = b.begin_snapshot(static_cast<std::uint64_t>(round + 1));
    std::vector<ckpt::KeyGroupBlock> blocks;
    std::atomic<bool> done{false};
    std::thread writer([&] {
      const auto range = job->key_groups();
      for (auto kg = range.begin; kg < range.end; ++kg) {
        ckpt::KeyGroupBlock block{kg, {}};
        if (job->save(kg, block.data) == ckpt::KeyGroupResult::written) blocks.push_back(std::move(block));
      }
      done = true;
    });
    std::uint64_t k = 0;
    while (!done.load()) {  // the owner goes on writing, everywhere, as fast as it can
      b.set_current_key(k % kKeys);
      v.update(100 + static_cast<std::uint64_t>(round));
      list.add(k);
      if (list.get().size() > 4) list.clear();
      k += 7919;
    }
    writer.join();
    const auto snap = assemble(*job, std::move(blocks));
    job.reset();
    b.notify_snapshot_complete(static_cast<std::uint64_t>(round + 1));

    // The image is exactly the state at the mark: all 7 in round 0, then
    // whatever the previous round had left, never a value written after it.
    const auto image = contents(snap);
    ASSERT_EQ(image.size(), kKeys);
    for (const auto& [key, value] : image) {
      if (round == 0) ASSERT_EQ(value, 7u) << key;
      else ASSERT_TRUE(value == 7u || value < 100u + static_cast<std::uint64_t>(round)) << key << " " << value;
    }
    // Compare with a synchronous snapshot taken now on a quiet backend.
    const auto now = contents(b.snapshot());
    for (const auto& [key, value] : now) ASSERT_TRUE(value == 7u || value <= 100u + static_cast<std::uint64_t>(round));
  }
}

TEST(ConcurrentSnapshot, IncrementalSavesOnlyChangedKeyGroups) {
  Backend b;
  auto v = b.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  fill(b, v, 1);
  std::map<std::uint32_t, ckpt::Bytes> base;
  {
    auto job = b.begin_snapshot(10, ckpt::SnapshotMode::incremental);
    EXPECT_FALSE(job->base_id());  // nothing completed yet: a full one
    for (auto kg = 0u; kg < 128; ++kg) {
      ckpt::Bytes out;
      ASSERT_EQ(job->save(kg, out), ckpt::KeyGroupResult::written);
      base[kg] = std::move(out);
    }
  }
  b.notify_snapshot_complete(10);

  // Change keys in exactly two key groups.
  std::set<std::uint32_t> touched{b.key_group_of(0)};
  for (std::uint64_t k = 1; touched.size() < 2; ++k) touched.insert(b.key_group_of(k));
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    if (!touched.count(b.key_group_of(k))) continue;
    b.set_current_key(k);
    v.update(2);
  }
  auto job = b.begin_snapshot(11, ckpt::SnapshotMode::incremental);
  ASSERT_EQ(job->base_id(), 10u);
  std::vector<ckpt::KeyGroupBlock> blocks;
  std::size_t written = 0;
  for (auto kg = 0u; kg < 128; ++kg) {
    ckpt::KeyGroupBlock block{kg, {}};
    const auto r = job->save(kg, block.data);
    if (r == ckpt::KeyGroupResult::unchanged) {
      EXPECT_FALSE(touched.count(kg));
      block.data = base[kg];
    } else {
      EXPECT_EQ(r, ckpt::KeyGroupResult::written);
      EXPECT_TRUE(touched.count(kg));
      ++written;
    }
    blocks.push_back(std::move(block));
  }
  const auto merged = assemble(*job, std::move(blocks));
  job.reset();
  EXPECT_EQ(written, 2u);
  EXPECT_EQ(contents(merged), contents(b.snapshot()));  // the chain restores like a full snapshot
}

TEST(ConcurrentSnapshot, AbandonedJobReleasesTheBackend) {
  Backend b;
  auto v = b.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  fill(b, v, 1);
  {
    auto job = b.begin_snapshot(1);
    ckpt::Bytes out;
    job->save(0, out);  // one key group, then the checkpoint is aborted
  }
  b.notify_snapshot_aborted(1);
  fill(b, v, 2);  // no key group is copied for a snapshot nobody reads
  const auto image = contents(b.snapshot());
  for (const auto& [k, value] : image) ASSERT_EQ(value, 2u);
}

TEST(ConcurrentSnapshot, NextMarkWaitsForThePreviousJob) {
  Backend b;
  auto v = b.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  fill(b, v, 1);
  auto job = b.begin_snapshot(1);
  std::atomic<bool> second_marked{false};
  std::thread writer([&] {
    auto snap = job->collect();
    EXPECT_FALSE(second_marked.load());  // the owner is still waiting for us
    job.reset();
  });
  auto second = b.begin_snapshot(2);  // blocks until the writer releases job 1
  second_marked = true;
  writer.join();
  EXPECT_EQ(contents(second->collect()).size(), kKeys);
}

}  // namespace concurrent_snapshot
}  // namespace

namespace {
namespace concurrent_snapshot {

// A writer that drains the job while the owner writes everywhere: past the
// copy budget the owner waits for the writer, and the image is still exactly
// the state at the mark.
TEST(ConcurrentSnapshot, OwnerKeepsToTheCopyBudgetWhileAWriterDrains) {
  ckpt::KeyedStateBackendOptions options;
  options.snapshot_copy_budget = 16 * 1024;  // a few key groups' worth
  Backend b(options);
  auto v = b.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  fill(b, v, 1);
  for (int round = 0; round < 3; ++round) {
    auto job = b.begin_snapshot(static_cast<std::uint64_t>(round + 1));
    std::vector<ckpt::KeyGroupBlock> blocks;
    std::atomic<bool> done{false};
    std::thread writer([&] {
      const auto draining = job->draining();
      const auto range = job->key_groups();
      for (auto kg = range.begin; kg < range.end; ++kg) {
        ckpt::KeyGroupBlock block{kg, {}};
        if (job->save(kg, block.data) == ckpt::KeyGroupResult::written) blocks.push_back(std::move(block));
      }
      done = true;
    });
    std::uint64_t k = static_cast<std::uint64_t>(round);
    while (!done.load()) {
      b.set_current_key(k % kKeys);
      v.update(10 + static_cast<std::uint64_t>(round));
      k += 7919;
    }
    writer.join();
    const auto snap = assemble(*job, std::move(blocks));
    job.reset();
    const auto image = contents(snap);
    ASSERT_EQ(image.size(), kKeys);
    for (const auto& [key, value] : image) {
      if (round == 0) ASSERT_EQ(value, 1u) << key;
      else ASSERT_TRUE(value == 1u || value < 10u + static_cast<std::uint64_t>(round)) << key << " " << value;
    }
  }
}

// Without a draining writer the owner never waits, however far over budget.
TEST(ConcurrentSnapshot, OwnerCopiesFreelyWhenNobodyDrains) {
  ckpt::KeyedStateBackendOptions options;
  options.snapshot_copy_budget = 1;
  Backend b(options);
  auto v = b.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  fill(b, v, 1);
  auto job = b.begin_snapshot(1);
  fill(b, v, 2);  // copies every key group; must not block
  const auto image = contents(job->collect());
  for (const auto& [k, value] : image) ASSERT_EQ(value, 1u) << k;
}

}  // namespace concurrent_snapshot
}  // namespace
