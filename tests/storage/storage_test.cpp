// Checkpoint storage: round trips through local disk, retention, cleanup of
// incomplete checkpoints, savepoints, fallback, names, the writer lock.
#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "temp_dir.hpp"
#include "workload.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ckpt::test::Operator;
namespace stdfs = std::filesystem;

constexpr std::uint64_t kKeys = 2000;

std::vector<std::uint64_t> ids(const std::vector<ckpt::SnapshotInfo>& infos) {
  std::vector<std::uint64_t> out;
  for (const auto& i : infos) out.push_back(i.id);
  return out;
}

std::vector<std::string> dirs(const stdfs::path& root) {
  std::vector<std::string> out;
  for (const auto& e : stdfs::directory_iterator(root)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(CheckpointStorage, EveryPrimitiveThroughLocalDisk) {
  ckpt::test::TempDir dir;
  {
    auto storage = ckpt::CheckpointStorage::open(dir.uri());
    auto ops = ckpt::test::make_operators("counter", 1);
    ops[0]->fill(kKeys, 0);
    ops[0]->offsets.update({5, 6, 7});
    const auto m = ckpt::test::checkpoint(*storage, ops, storage->next_checkpoint_id());
    EXPECT_EQ(m.checkpoint_id, 1u);
    EXPECT_GT(m.raw_bytes(), m.stored_bytes());
    EXPECT_EQ(m.operators.at(0).keyed_states.size(), 4u);
    EXPECT_EQ(m.operators.at(0).subtasks.at(0).operator_states.at(0).element_count, 3u);
  }
  EXPECT_TRUE(stdfs::exists(dir.path() / "chk-1" / "_metadata"));
  auto storage = ckpt::CheckpointStorage::open(dir.uri());
  auto snapshot = storage->restore_latest();
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->checkpoint_id(), 1u);
  EXPECT_EQ(snapshot->manifest().properties.at("round"), "1");
  auto ops = ckpt::test::restore_operators(*snapshot, "counter", 1);
  ops[0]->expect(kKeys, 0);
  EXPECT_THAT(ops[0]->offsets.get(), ElementsAre(5, 6, 7));
  EXPECT_NO_THROW(snapshot->check_all_restored(false));
  EXPECT_EQ(storage->next_checkpoint_id(), 2u);  // ids keep growing across restarts
}

TEST(CheckpointStorage, FilesAndDirectoriesAreOwnerOnly) {
  ckpt::test::TempDir dir;
  auto storage = ckpt::CheckpointStorage::open(dir.uri());
  auto ops = ckpt::test::make_operators("op", 1);
  ops[0]->fill(10, 0);
  ckpt::test::checkpoint(*storage, ops, 1);
  for (const auto& e : stdfs::recursive_directory_iterator(dir.path())) {
    const auto perms = e.status().permissions();
    const auto others = stdfs::perms::group_all | stdfs::perms::others_all;
    EXPECT_EQ(perms & others, stdfs::perms::none) << e.path();
  }
}

TEST(CheckpointStorage, CheckpointWithoutManifestIsNeverRestoredAndIsCleanedUp) {
  ckpt::test::TempDir dir;
  {
    auto storage = ckpt::CheckpointStorage::open(dir.uri());
    auto ops = ckpt::test::make_operators("op", 1);
    ops[0]->fill(100, 0);
    ckpt::test::checkpoint(*storage, ops, 1);
  }
  // What a writer killed before publishing checkpoint 2's manifest leaves.
  stdfs::create_directories(dir.path() / "chk-2");
  std::ofstream(dir.path() / "chk-2" / "op-0.state") << "partial";
  auto storage = ckpt::CheckpointStorage::open(dir.uri());  // cleans up at open
  EXPECT_FALSE(stdfs::exists(dir.path() / "chk-2"));
  auto snapshot = storage->restore_latest();
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->checkpoint_id(), 1u);
  EXPECT_EQ(storage->next_checkpoint_id(), 2u);
}

TEST(CheckpointStorage, RetainsTheConfiguredNumber) {
  ckpt::test::TempDir dir;
  auto storage = ckpt::CheckpointStorage::open(dir.uri(), ckpt::StorageOptions::defaults().retain(2));
  auto ops = ckpt::test::make_operators("op", 2);
  for (int round = 0; round < 5; ++round) {
    for (auto& op : ops) op->fill(200, round);
    ckpt::test::checkpoint(*storage, ops, static_cast<std::uint64_t>(round + 1));
  }
  EXPECT_THAT(ids(storage->checkpoints()), ElementsAre(5u, 4u));
  EXPECT_THAT(dirs(dir.path()), ElementsAre("_lock", "chk-4", "chk-5"));
  auto restored = ckpt::test::restore_operators(*storage->open_checkpoint(4), "op", 2);
  for (auto& op : restored) op->expect(200, 3);
}

TEST(CheckpointStorage, DefaultRetainsOne) {
  ckpt::test::TempDir dir;
  auto storage = ckpt::CheckpointStorage::open(dir.uri());
  auto ops = ckpt::test::make_operators("op", 1);
  for (std::uint64_t id = 1; id <= 3; ++id) ckpt::test::checkpoint(*storage, ops, id);
  EXPECT_THAT(ids(storage->checkpoints()), ElementsAre(3u));
}

TEST(CheckpointStorage, MissingParticipantFailsTheCheckpoint) {
  ckpt::test::TempDir dir;
  auto storage = ckpt::CheckpointStorage::open(dir.uri());
  auto ops = ckpt::test::make_operators("op", 2);
  auto pending = storage->begin_checkpoint(1, 0);
  pending->write(ops[0]->snapshot(1));
  EXPECT_THROW(pending->complete(), ckpt::CheckpointError);
  pending.reset();  // aborted
  EXPECT_FALSE(stdfs::exists(dir.path() / "chk-1"));
  EXPECT_FALSE(storage->restore_latest());
}

TEST(CheckpointStorage, SavepointMovedToAnotherDirectoryStillRestores) {
  ckpt::test::TempDir dir;
  ckpt::test::TempDir elsewhere;
  {
    auto storage = ckpt::CheckpointStorage::open(dir.uri());
    auto ops = ckpt::test::make_operators("op", 2);
    for (auto& op : ops) op->fill(500, 0);
    auto pending = storage->begin_savepoint(7, 0, "before-upgrade");
    for (auto& op : ops) pending->write(op->snapshot(7));
    pending->complete();
    EXPECT_THAT(ids(storage->savepoints()), ElementsAre(7u));
    EXPECT_EQ(storage->savepoints().at(0).name, "before-upgrade");
    // Retention never touches savepoints.
    for (std::uint64_t id = 8; id < 11; ++id) ckpt::test::checkpoint(*storage, ops, id);
    EXPECT_TRUE(stdfs::exists(dir.path() / "savepoints" / "savepoint-7-before-upgrade" / "_metadata"));
    EXPECT_EQ(storage->open_savepoint("before-upgrade")->checkpoint_id(), 7u);
  }
  stdfs::rename(dir.path() / "savepoints" / "savepoint-7-before-upgrade", elsewhere.path() / "moved");
  auto snapshot = ckpt::CheckpointStorage::open_snapshot(elsewhere.uri() + "/moved");
  EXPECT_EQ(snapshot->manifest().kind, ckpt::SnapshotKind::savepoint);
  auto ops = ckpt::test::restore_operators(*snapshot, "op", 3);  // and at another parallelism
  for (auto& op : ops) op->expect(500, 0);
}

TEST(CheckpointStorage, FallsBackToThePreviousCheckpointWhenTheNewestIsCorrupt) {
  ckpt::test::TempDir dir;
  {
    auto storage = ckpt::CheckpointStorage::open(dir.uri(), ckpt::StorageOptions::defaults().retain(2));
    auto ops = ckpt::test::make_operators("op", 1);
    ops[0]->fill(300, 0);
    ckpt::test::checkpoint(*storage, ops, 1);
    ops[0]->fill(300, 1);
    ckpt::test::checkpoint(*storage, ops, 2);
  }
  const auto victim = dir.path() / "chk-2" / "op-0.state";
  stdfs::resize_file(victim, stdfs::file_size(victim) - 10);
  auto storage = ckpt::CheckpointStorage::open(dir.uri(), ckpt::StorageOptions::defaults().retain(2));
  try {
    storage->restore_latest(ckpt::RestoreOptions::strict());
    FAIL() << "a corrupt newest checkpoint was restored";
  } catch (const ckpt::CorruptionError& e) {
    EXPECT_EQ(e.path(), "chk-2/op-0.state");
    EXPECT_THAT(e.what(), HasSubstr("chk-2/op-0.state"));
  }
  auto snapshot = storage->restore_latest();
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->checkpoint_id(), 1u);
  ASSERT_EQ(snapshot->notes().size(), 1u);
  EXPECT_THAT(snapshot->notes()[0], HasSubstr("checkpoint 2 was skipped"));
  EXPECT_THAT(snapshot->notes()[0], HasSubstr("chk-2/op-0.state"));
  auto ops = ckpt::test::restore_operators(*snapshot, "op", 1);
  ops[0]->expect(300, 0);
}

TEST(CheckpointStorage, BlockDamageIsFoundByDeepVerification) {
  ckpt::test::TempDir dir;
  {
    auto storage = ckpt::CheckpointStorage::open(dir.uri(), ckpt::StorageOptions::defaults().retain(2));
    auto ops = ckpt::test::make_operators("op", 1);
    ops[0]->fill(300, 0);
    ckpt::test::checkpoint(*storage, ops, 1);
    ckpt::test::checkpoint(*storage, ops, 2);
  }
  {  // flip a byte in the middle of the first block
    std::fstream f(dir.path() / "chk-2" / "op-0.state", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x55');
  }
  auto storage = ckpt::CheckpointStorage::open(dir.uri(), ckpt::StorageOptions::defaults().retain(2));
  ckpt::RestoreOptions deep;
  deep.verify_blocks = true;
  EXPECT_EQ(storage->restore_latest(deep)->checkpoint_id(), 1u);
  // Without deep verification the damage surfaces when the block is read, naming it.
  auto shallow = storage->restore_latest();
  ASSERT_EQ(shallow->checkpoint_id(), 2u);
  ckpt::test::Operator op("op", 0, 1);
  try {
    shallow->restore("op", &op.keyed, &op.store);
    FAIL();
  } catch (const ckpt::CorruptionError& e) {
    EXPECT_EQ(e.path(), "chk-2/op-0.state");
    EXPECT_THAT(e.block(), HasSubstr("key group"));
  }
}

TEST(CheckpointStorage, NamesAreValidated) {
  auto storage = std::make_unique<ckpt::CheckpointStorage>(std::make_shared<ckpt::fs::MemoryFileSystem>());
  for (const std::string& bad : {std::string("../x"), std::string("a/b"), std::string("a\0b", 3), std::string("tab\t"),
                                std::string(".."), std::string(300, 'u')}) {
    auto pending = storage->begin_checkpoint(1, 0);
    ckpt::ParticipantSnapshot p;
    p.uid = bad;
    EXPECT_THROW(pending->write(std::move(p)), ckpt::ConfigError) << bad;
    EXPECT_THROW(storage->begin_savepoint(2, 0, bad), ckpt::ConfigError) << bad;
    EXPECT_THROW(storage->promote_to_savepoint(1, bad), ckpt::Error) << bad;
  }
}

TEST(CheckpointStorage, StateForAnOperatorTheProgramNoLongerHas) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  std::vector<std::unique_ptr<Operator>> ops;
  ops.push_back(std::make_unique<Operator>("kept", 0, 1));
  ops.push_back(std::make_unique<Operator>("removed", 0, 1));
  ckpt::test::checkpoint(storage, ops, 1);
  auto snapshot = storage.restore_latest();
  Operator kept("kept", 0, 1);
  snapshot->restore("kept", &kept.keyed, &kept.store);
  EXPECT_THAT(snapshot->unclaimed(), ElementsAre("removed"));
  try {
    snapshot->check_all_restored(false);
    FAIL();
  } catch (const ckpt::RestoreError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::non_restored_state);
    EXPECT_THAT(e.what(), HasSubstr("'removed'"));
    EXPECT_THAT(e.what(), HasSubstr("allow_non_restored_state"));
  }
  EXPECT_NO_THROW(snapshot->check_all_restored(true));
}

TEST(CheckpointStorage, OneWriterPerDirectory) {
  ckpt::test::TempDir dir;
  auto first = ckpt::CheckpointStorage::open(dir.uri());
  try {
    auto second = ckpt::CheckpointStorage::open(dir.uri());
    FAIL();
  } catch (const ckpt::Error& e) {
    EXPECT_EQ(e.code(), ckpt::errc::locked);
    // Not "another process": this one holds it, through `first`.
    EXPECT_THAT(e.what(), HasSubstr("locked by another CheckpointStorage in this process"));
  }
  first.reset();
  EXPECT_NO_THROW(ckpt::CheckpointStorage::open(dir.uri()));
}

TEST(CheckpointStorage, PromoteCheckpointToSavepoint) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  auto ops = ckpt::test::make_operators("op", 2);
  for (auto& op : ops) op->fill(400, 0);
  ckpt::test::checkpoint(storage, ops, 3);
  const auto sp = storage.promote_to_savepoint(3, "imported");
  EXPECT_EQ(sp.kind, ckpt::SnapshotKind::savepoint);
  EXPECT_EQ(sp.directory, "savepoints/savepoint-3-imported");
  // The savepoint is self-contained: deleting every checkpoint leaves it whole.
  fs->remove_all("chk-3");
  auto snapshot = storage.open_savepoint("imported");
  snapshot->verify_all();
  auto restored = ckpt::test::restore_operators(*snapshot, "op", 2);
  for (auto& op : restored) op->expect(400, 0);
}

TEST(CheckpointStorage, DeleteOnCancellationKeepsSavepoints) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(
      fs, ckpt::StorageOptions::defaults().with_cancellation_policy(ckpt::CancellationPolicy::delete_on_cancellation));
  auto ops = ckpt::test::make_operators("op", 1);
  ckpt::test::checkpoint(storage, ops, 1);
  storage.promote_to_savepoint(1);
  storage.on_job_cancelled();
  EXPECT_TRUE(storage.checkpoints().empty());
  EXPECT_EQ(storage.savepoints().size(), 1u);
}

}  // namespace
