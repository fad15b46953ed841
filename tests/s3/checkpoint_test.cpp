// Checkpoints on a real S3-compatible server: a full checkpoint, restore and
// rescale, incremental checkpoints, savepoints, and a SIGKILL during a
// checkpoint's upload after which the previous checkpoint restores.
#include <ckpt/s3/file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "child_process.hpp"
#include "s3_checkpoint_workload.hpp"
#include "server_env.hpp"
#include "workload.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>

namespace {

using namespace std::chrono_literals;
using ckpt::s3::S3FileSystem;
using ckpt::s3::test::server_options;
using ckpt::s3::test::unique_root;

constexpr std::uint64_t kKeys = 3000;

TEST(S3Checkpoint, FullCheckpointRestoreAndRescale) {
  CKPT_REQUIRE_S3_SERVER(env);
  const auto root = unique_root(env);
  {
    ckpt::CheckpointStorage storage(S3FileSystem::make(root, server_options(env)));
    auto ops = ckpt::test::make_operators("counter", 2);
    for (auto& op : ops) op->fill(kKeys, 0);
    ckpt::test::checkpoint(storage, ops, 1);
    for (auto& op : ops) op->fill(kKeys, 1);
    ckpt::test::checkpoint(storage, ops, 2);
    EXPECT_EQ(storage.checkpoints().size(), 1u);  // retention on S3 too
  }
  // Another process (or machine) restores from the bucket, at parallelism 3.
  ckpt::CheckpointStorage storage(S3FileSystem::make(root, server_options(env)));
  auto snapshot = storage.restore_latest();
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->checkpoint_id(), 2u);
  snapshot->verify_all();
  auto ops = ckpt::test::restore_operators(*snapshot, "counter", 3);
  std::size_t keys = 0;
  for (auto& op : ops) {
    op->expect(kKeys, 1);
    keys += op->keyed.size("count");
  }
  EXPECT_EQ(keys, kKeys);
}

TEST(S3Checkpoint, IncrementalCheckpointsAndSavepoints) {
  CKPT_REQUIRE_S3_SERVER(env);
  const auto root = unique_root(env);
  ckpt::CheckpointStorage storage(S3FileSystem::make(root, server_options(env)),
                                  ckpt::StorageOptions::incremental_checkpoints(2));
  auto ops = ckpt::test::make_operators("op", 1);
  ops[0]->fill(kKeys, 0);
  ckpt::test::checkpoint(storage, ops, 1, true);
  ops[0]->keyed.set_current_key(7);
  ops[0]->count.update(-7);
  const auto m = ckpt::test::checkpoint(storage, ops, 2, true);
  EXPECT_EQ(m.base_checkpoint_id, 1u);
  storage.promote_to_savepoint(2, "on-s3");
  auto restored = ckpt::test::restore_operators(*storage.open_savepoint("on-s3"), "op", 2);
  for (auto& op : restored)
    if (op->owns(7)) {
      op->keyed.set_current_key(7);
      EXPECT_EQ(op->count.value(), -7);
    }
}

TEST(S3Checkpoint, SigkillDuringACheckpointUploadLeavesThePreviousOneRestorable) {
  CKPT_REQUIRE_S3_SERVER(env);
  std::mt19937 rng(12345);
  for (int iteration = 0; iteration < 3; ++iteration) {
    const auto root = unique_root(env);
    constexpr std::uint64_t keys = 1000;
    ckpt::s3::test::ChildProcess child({CKPT_S3_KILL_CHILD, "checkpoint", root, std::to_string(keys)});
    ASSERT_EQ(child.read_line(), "complete 1");
    // Kill it while checkpoint 2 (16 MiB of state) is on its way up.
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 200));  // a random moment, not a wait for an event
    child.kill(SIGKILL);
    child.wait();

    // The killed writer's lock lease was taken on the real clock; skip past it.
    auto clock = std::make_shared<ckpt::ManualClock>(ckpt::SystemClock().epoch_millis());
    clock->advance(2min);
    ckpt::CheckpointStorage storage(S3FileSystem::make(root, server_options(env).with_clock(clock)));
    auto snapshot = storage.restore_latest();
    ASSERT_TRUE(snapshot) << "iteration " << iteration;
    ckpt::s3::test::BlobOperator op;
    snapshot->restore("blobs", &op.backend, nullptr);
    const auto id = snapshot->checkpoint_id();
    ASSERT_TRUE(id == 1 || id == 2);
    EXPECT_TRUE(op.holds(id == 1 ? keys : keys * 16, static_cast<int>(id))) << "checkpoint " << id;
    for (const auto& info : storage.checkpoints()) EXPECT_LE(info.id, 2u);
  }
}

}  // namespace
