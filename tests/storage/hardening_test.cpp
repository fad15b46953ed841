// Issue 15, storage that never loses a checkpoint: cleanup keeps what an
// unreadable checkpoint may need, an unreadable checkpoint directory is
// skipped with a note, a manifest that disagrees with its directory is
// refused, and a block that fails its checksum during a restore falls back.
#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/runtime/checkpointed_service.hpp>
#include <ckpt/snapshot/state_file_reader.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "forwarding_file_system.hpp"
#include "temp_dir.hpp"
#include "workload.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

namespace {
namespace hardening {

using ::testing::HasSubstr;
constexpr std::uint64_t kKeys = 2000;

void touch(ckpt::test::Operator& op, int round, std::uint32_t nth) { ckpt::test::touch_key_groups(op, kKeys, round, nth); }
using ckpt::test::shared_files;

/// Every restored count equals the live operator's.
void expect_same_counts(ckpt::SnapshotReader& snapshot, ckpt::test::Operator& live) {
  auto restored = ckpt::test::restore_operators(snapshot, "op", 1);
  ASSERT_EQ(restored[0]->keyed.size("count"), kKeys);
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    live.keyed.set_current_key(k);
    restored[0]->keyed.set_current_key(k);
    ASSERT_EQ(restored[0]->count.value(), live.count.value()) << "key " << k;
  }
}

/// Three incremental checkpoints of one operator, retaining one: chk-3
/// references shared files of checkpoints 1, 2 and 3.
std::vector<std::unique_ptr<ckpt::test::Operator>> three_incremental_checkpoints(std::shared_ptr<ckpt::fs::FileSystem> fs) {
  ckpt::CheckpointStorage storage(std::move(fs), ckpt::StorageOptions::incremental_checkpoints(1));
  auto ops = ckpt::test::make_operators("op", 1);
  ops[0]->fill(kKeys, 0);
  ckpt::test::checkpoint(storage, ops, 1, true);
  touch(*ops[0], 1, 4);
  ckpt::test::checkpoint(storage, ops, 2, true);
  touch(*ops[0], 2, 3);
  ckpt::test::checkpoint(storage, ops, 3, true);
  return ops;
}

void replace(ckpt::fs::FileSystem& fs, const std::string& path, const ckpt::Bytes& bytes) {
  fs.remove(path);
  fs.publish(path, bytes);
}

TEST(Cleanup, ADamagedManifestKeepsEverySharedFileItMayUseUntilItIsRepaired) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  auto ops = three_incremental_checkpoints(fs);
  const auto files = shared_files(*fs);
  ASSERT_EQ(files.size(), 3u);
  const auto manifest = ckpt::fs::read_file(*fs, "chk-3/_metadata", 1 << 20);
  auto damaged = manifest;
  damaged[damaged.size() / 2] ^= std::byte{0x5a};
  replace(*fs, "chk-3/_metadata", damaged);
  {
    ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::incremental_checkpoints(1));  // open runs cleanup
    EXPECT_EQ(shared_files(*fs), files) << "cleanup deleted files the unreadable checkpoint uses";
    EXPECT_THROW(storage.restore_latest(), ckpt::RestoreError);
    storage.cleanup();
    EXPECT_EQ(shared_files(*fs), files);
  }
  replace(*fs, "chk-3/_metadata", manifest);  // repaired
  ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::incremental_checkpoints(1));
  auto snapshot = storage.restore_latest();
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->manifest().checkpoint_id, 3u);
  expect_same_counts(*snapshot, *ops[0]);
}

/// A file system on which one directory cannot be looked into (as a directory
/// of mode 000 for a user who is not root).
class DeniedDirectoryFileSystem final : public ckpt::test::ForwardingFileSystem {
 public:
  using ForwardingFileSystem::ForwardingFileSystem;
  std::string denied;

  std::unique_ptr<ckpt::fs::ReadableFile> open(std::string_view p) override {
    check(p);
    return ForwardingFileSystem::open(p);
  }
  std::vector<ckpt::fs::Entry> list(std::string_view d) override {
    check(d);
    return ForwardingFileSystem::list(d);
  }
  bool exists(std::string_view p) override {
    check(p);
    return ForwardingFileSystem::exists(p);
  }
  void remove(std::string_view p) override {
    check(p);
    ForwardingFileSystem::remove(p);
  }
  void remove_all(std::string_view d) override {
    check(d);
    ForwardingFileSystem::remove_all(d);
  }
  void remove_temporaries(std::string_view d) override {
    check(d);
    ForwardingFileSystem::remove_temporaries(d);
  }

 private:
  void check(std::string_view p) const {
    if (!denied.empty() && (p == denied || p.starts_with(denied + "/")))
      throw ckpt::IoError(ckpt::errc::permission_denied, std::string(p), std::string(p) + ": permission denied");
  }
};

TEST(Cleanup, AnUnreadableCheckpointDirectoryIsSkippedWithANoteAndLosesNothing) {
  auto memory = std::make_shared<ckpt::fs::MemoryFileSystem>();
  auto fs = std::make_shared<DeniedDirectoryFileSystem>(memory);
  std::vector<std::unique_ptr<ckpt::test::Operator>> ops;
  {
    ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::incremental_checkpoints(2));
    ops = ckpt::test::make_operators("op", 1);
    ops[0]->fill(kKeys, 0);
    ckpt::test::checkpoint(storage, ops, 1, true);
    touch(*ops[0], 1, 4);
    ckpt::test::checkpoint(storage, ops, 2, true);
  }
  const auto files = shared_files(*memory);
  fs->denied = "chk-2";
  {
    ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::incremental_checkpoints(2));  // does not throw
    ASSERT_EQ(storage.notes().size(), 1u);
    EXPECT_THAT(storage.notes()[0], HasSubstr("chk-2"));
    EXPECT_THAT(storage.notes()[0], HasSubstr("permission denied"));
    EXPECT_EQ(shared_files(*memory), files);
    auto previous = storage.restore_latest();  // falls back to checkpoint 1, saying why
    ASSERT_TRUE(previous);
    EXPECT_EQ(previous->manifest().checkpoint_id, 1u);
    ASSERT_FALSE(previous->notes().empty());
    EXPECT_THAT(previous->notes()[0], HasSubstr("checkpoint 2 was skipped"));
    EXPECT_THROW(storage.restore_latest(ckpt::RestoreOptions::strict()), ckpt::IoError);
  }
  fs->denied.clear();  // the permission is fixed
  ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::incremental_checkpoints(2));
  auto snapshot = storage.restore_latest();
  EXPECT_EQ(snapshot->manifest().checkpoint_id, 2u);
  expect_same_counts(*snapshot, *ops[0]);
}

/// Restores operator "op" through a CheckpointedService on fresh backends, as
/// each attempt of a Supervisor would.
std::vector<std::unique_ptr<ckpt::test::Operator>> restore_through_a_service(ckpt::CheckpointStorage& storage) {
  auto ops = ckpt::test::make_operators("op", 1);
  ckpt::CheckpointedService service(storage, ckpt::CheckpointConfig::on_demand());
  service.add_participant({.uid = "op", .keyed = &ops[0]->keyed, .operator_state = &ops[0]->store});
  service.restore_latest();
  return ops;
}

/// Checkpoint 1 (round 0, offsets {7}) and checkpoint 2 (round 1, offsets {8}).
void two_checkpoints(std::shared_ptr<ckpt::fs::FileSystem> fs) {
  ckpt::CheckpointStorage storage(std::move(fs), ckpt::StorageOptions::defaults().retain(2));
  auto ops = ckpt::test::make_operators("op", 1);
  ops[0]->fill(kKeys, 0);
  ops[0]->offsets.update({7});
  ckpt::test::checkpoint(storage, ops, 1);
  touch(*ops[0], 1, 1);  // every key changes
  ops[0]->offsets.update({8});
  ckpt::test::checkpoint(storage, ops, 2);
}

TEST(BlockDamage, EveryDamagedBlockFallsBackToThePreviousCheckpointsExactState) {
  std::vector<ckpt::BlockEntry> blocks;
  std::string path;
  {
    auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
    two_checkpoints(fs);
    auto reader = ckpt::CheckpointStorage::open_snapshot(fs->uri() + "/chk-2");
    path = "chk-2/" + reader->manifest().find("op")->subtasks[0].files[0].path;
    blocks = ckpt::StateFileReader(fs->open(path)).index().blocks;
  }
  ASSERT_GT(blocks.size(), 100u);  // 128 key groups and the operator state
  for (const auto& block : blocks) {
    SCOPED_TRACE("block at offset " + std::to_string(block.offset));
    auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
    two_checkpoints(fs);
    auto damaged = ckpt::fs::read_file(*fs, path, 1 << 26);
    damaged[block.offset + block.stored_size / 2] ^= std::byte{0x01};
    replace(*fs, path, damaged);
    ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::defaults().retain(2));
    // The first attempt meets the bad block halfway and fails; the storage
    // remembers, so what comes next restores checkpoint 1, saying why...
    EXPECT_THROW(restore_through_a_service(storage), ckpt::CorruptionError);
    auto previous = storage.restore_latest();
    EXPECT_EQ(previous->manifest().checkpoint_id, 1u);
    ASSERT_FALSE(previous->notes().empty());
    EXPECT_THAT(previous->notes()[0], HasSubstr("checkpoint 2 was skipped: an earlier restore found it damaged"));
    EXPECT_THAT(previous->notes()[0], HasSubstr("checksum mismatch"));
    // ...unless told not to fall back; a strict restore checks every block first.
    ckpt::RestoreOptions no_fallback;
    no_fallback.fallback_to_previous = false;
    EXPECT_EQ(storage.restore_latest(no_fallback)->manifest().checkpoint_id, 2u);
    EXPECT_THROW(storage.restore_latest(ckpt::RestoreOptions::strict()), ckpt::CorruptionError);
    // The next attempt (fresh backends) gets checkpoint 1's exact state, and
    // makes it the restore point (a copy newer than the damaged one).
    auto ops = restore_through_a_service(storage);
    for (std::uint64_t k = 0; k < kKeys; ++k) {
      ops[0]->keyed.set_current_key(k);
      ASSERT_EQ(ops[0]->count.value(), ckpt::test::expected_count(k, 0)) << "key " << k;
    }
    EXPECT_EQ(ops[0]->offsets.get(), std::vector<std::int64_t>{7});
    const auto restore_point = storage.restore_latest();
    EXPECT_EQ(restore_point->manifest().checkpoint_id, 3u);
    EXPECT_THAT(restore_point->manifest().properties.at("ckpt.copy-of"), ::testing::EndsWith("/chk-1"));
  }
}

void copy_directory(ckpt::fs::FileSystem& fs, const std::string& from, const std::string& to) {
  fs.make_directories(to);
  for (const auto& e : fs.list(from))
    ckpt::fs::write_file(fs, to + "/" + e.name, ckpt::fs::read_file(fs, from + "/" + e.name, 1 << 26));
}

TEST(Consistency, AManifestThatDisagreesWithItsDirectoryIsRefusedAndTheFallbackApplies) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  two_checkpoints(fs);
  {
    ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::defaults().retain(2));
    storage.promote_to_savepoint(1);
  }
  copy_directory(*fs, "chk-1", "chk-9");                 // cp -a chk-1 chk-9
  copy_directory(*fs, "savepoints/savepoint-1", "chk-10");  // a savepoint copied in as a checkpoint
  ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::defaults().retain(2));
  const auto ids = [&] {
    std::vector<std::uint64_t> out;
    for (const auto& c : storage.checkpoints()) out.push_back(c.id);
    return out;
  };
  EXPECT_EQ(ids(), (std::vector<std::uint64_t>{2, 1})) << "the copies count for nothing, and retention kept both";
  auto snapshot = storage.restore_latest();
  EXPECT_EQ(snapshot->manifest().checkpoint_id, 2u);
  ASSERT_EQ(snapshot->notes().size(), 2u);
  EXPECT_THAT(snapshot->notes()[0], HasSubstr("describes savepoint 1, but its directory is 'chk-10'"));
  EXPECT_THAT(snapshot->notes()[1], HasSubstr("describes checkpoint 1, but its directory is 'chk-9'"));
  EXPECT_THROW(storage.restore_latest(ckpt::RestoreOptions::strict()), ckpt::CorruptionError);
  EXPECT_THROW(storage.open_checkpoint(9), ckpt::CorruptionError);
  EXPECT_THROW(ckpt::CheckpointStorage::open_snapshot(fs->uri() + "/chk-9"), ckpt::CorruptionError);
  EXPECT_EQ(storage.next_checkpoint_id(), 11u) << "ids still grow past every directory";
}

TEST(ReadLimits, WhatOneSnapshotMayDecodeInAllIsBoundedBeforeAnythingIsDecompressed) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  two_checkpoints(fs);
  std::uint64_t raw = 0;
  {
    const ckpt::StateFileReader file(fs->open("chk-2/op-0.state"));
    for (const auto& b : file.index().blocks)
      if (b.kind == ckpt::BlockKind::key_group) raw += b.raw_size;
  }
  auto limits = ckpt::ReadLimits::defaults();
  limits.max_restore_bytes = raw - 1;  // every block is within max_block_size; together they are not
  {
    ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::defaults().retain(2).with_limits(limits));
    auto snapshot = storage.open_checkpoint(2);
    auto ops = ckpt::test::make_operators("op", 1);
    try {
      snapshot->restore("op", &ops[0]->keyed, &ops[0]->store);
      ADD_FAILURE() << "restored more than max_restore_bytes";
    } catch (const ckpt::CorruptionError& e) {
      EXPECT_EQ(e.code(), ckpt::errc::limit_exceeded);
      EXPECT_THAT(e.what(), HasSubstr("chk-2/op-0.state"));
      EXPECT_THAT(e.what(), HasSubstr("max_restore_bytes"));
    }
    EXPECT_EQ(ops[0]->keyed.size("count"), 0u) << "nothing was decoded before the limit was checked";
  }
  limits.max_restore_bytes = raw + (std::uint64_t{1} << 20);  // and the operator state
  ckpt::CheckpointStorage enough(fs, ckpt::StorageOptions::defaults().retain(2).with_limits(limits));
  auto restored = ckpt::test::restore_operators(*enough.open_checkpoint(2), "op", 1);
  EXPECT_EQ(restored[0]->keyed.size("count"), kKeys);
  EXPECT_GE(ckpt::ReadLimits::defaults().max_restore_bytes, std::uint64_t{1} << 28) << "the default is physical memory";
}

TEST(OneWriter, ALockFileDeletedByHandLetsNoSecondWriterIn) {
  ckpt::test::TempDir dir;
  auto first = ckpt::CheckpointStorage::open(dir.uri());
  auto ops = ckpt::test::make_operators("op", 1);
  ops[0]->fill(100, 0);
  auto pending = first->begin_checkpoint(1, 0);  // in flight: no manifest yet
  pending->write(ops[0]->snapshot(1));
  std::filesystem::remove(dir.path() / "_lock");
  try {
    ckpt::CheckpointStorage::open(dir.uri());  // would sweep checkpoint 1 as a crashed writer's leftover
    ADD_FAILURE() << "a second writer got in";
  } catch (const ckpt::IoError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::locked);
  }
  pending->complete();
  EXPECT_EQ(first->checkpoints().size(), 1u);
  first.reset();
  auto second = ckpt::CheckpointStorage::open(dir.uri());  // the holder is gone: free
  auto restored = ckpt::test::restore_operators(*second->restore_latest(), "op", 1);
  EXPECT_EQ(restored[0]->keyed.size("count"), 100u);
}

TEST(Consistency, AForgedStateNameInAManifestIsRefusedAsOnWrite) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  two_checkpoints(fs);
  const std::string path = "chk-2/_metadata";
  auto m = ckpt::decode_manifest(ckpt::fs::read_file(*fs, path, 1 << 20), path);
  m.operators.at(0).keyed_states.at(0).name = "count\x1b]0;pwned\x07";
  replace(*fs, path, ckpt::encode_manifest(m));  // re-signed: only the name is wrong
  try {
    ckpt::CheckpointStorage::open_snapshot(fs->uri() + "/chk-2");
    ADD_FAILURE() << "a manifest with a control character in a state name was accepted";
  } catch (const ckpt::CorruptionError& e) {
    EXPECT_THAT(e.what(), HasSubstr("state name 'count\\x1b]0;pwned\\x07' must not contain NUL or control characters"));
  }
  ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::defaults().retain(2));
  EXPECT_EQ(storage.restore_latest()->manifest().checkpoint_id, 1u);  // the fallback applies
}

/// Every path under `root` with its size and modification time, for
/// before-and-after comparisons.
std::set<std::string> tree(const std::filesystem::path& root) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    auto line = e.path().string();
    if (e.is_regular_file())
      line += " " + std::to_string(e.file_size()) + " " +
              std::to_string(e.last_write_time().time_since_epoch().count());
    out.insert(line);
  }
  return out;
}

TEST(ReadPaths, ReadingAMissingPathCreatesNothing) {
  ckpt::test::TempDir dir;
  {
    auto storage = ckpt::CheckpointStorage::open(dir.uri() + "/job");  // a first start creates its directory
    auto ops = ckpt::test::make_operators("op", 1);
    ckpt::test::checkpoint(*storage, ops, 1);
  }
  const auto before = tree(dir.path());
  const auto missing = dir.uri() + "/nothing-here";
  EXPECT_THROW(ckpt::CheckpointStorage::open_snapshot(missing + "/chk-1"), ckpt::IoError);
  EXPECT_THROW(ckpt::CheckpointStorage::open_snapshot(dir.uri() + "/job/chk-7"), ckpt::Error);
  try {
    ckpt::CheckpointStorage::open(missing, ckpt::StorageOptions::defaults().must_exist());
    ADD_FAILURE() << "a storage that must exist opened on a missing directory";
  } catch (const ckpt::IoError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::not_found);
    EXPECT_THAT(e.what(), HasSubstr("nothing-here"));
  }
  EXPECT_EQ(tree(dir.path()), before) << "a read path changed the disk";
  // A storage that must exist opens when it does.
  EXPECT_NO_THROW(ckpt::CheckpointStorage::open(dir.uri() + "/job", ckpt::StorageOptions::defaults().must_exist()));
}

TEST(ReadPaths, AReadOnlyStorageListsRestoresAndOpensSavepointsBesideItsWriterAndChangesNothing) {
  ckpt::test::TempDir dir;
  const auto uri = dir.uri() + "/job";
  auto writer = ckpt::CheckpointStorage::open(uri, ckpt::StorageOptions::defaults().retain(2));  // holds the lock
  auto ops = ckpt::test::make_operators("op", 1);
  ops[0]->fill(kKeys, 0);
  ckpt::test::checkpoint(*writer, ops, 1);
  writer->promote_to_savepoint(1, "before-upgrade");
  ops[0]->fill(kKeys, 1);
  ckpt::test::checkpoint(*writer, ops, 2);
  std::filesystem::create_directories(dir.path() / "job" / "chk-9");  // a crashed writer's leftover: kept
  const auto before = tree(dir.path());

  auto reader = ckpt::CheckpointStorage::open(uri, ckpt::StorageOptions::read_only_access());
  EXPECT_EQ(reader->checkpoints().size(), 2u);
  ASSERT_EQ(reader->savepoints().size(), 1u);
  expect_same_counts(*reader->restore_latest(), *ops[0]);
  auto savepoint = reader->open_savepoint("before-upgrade");
  auto restored = ckpt::test::restore_operators(*savepoint, "op", 1);
  restored[0]->expect(kKeys, 0);
  (void)reader->open_checkpoint(1);

  // Whatever would write is refused, naming the storage and the option.
  const auto refused = [&](const char* what, auto&& call) {
    try {
      call();
      ADD_FAILURE() << what << " wrote through a read-only storage";
    } catch (const ckpt::ConfigError& e) {
      EXPECT_EQ(e.code(), ckpt::errc::invalid_argument) << what;
      EXPECT_THAT(e.what(), HasSubstr("read_only_access()")) << what;
      EXPECT_THAT(e.what(), HasSubstr(uri)) << what;
    }
  };
  refused("a checkpoint", [&] { (void)reader->begin_checkpoint(3, 0); });
  refused("a savepoint", [&] { (void)reader->begin_savepoint(3, 0, "x"); });
  refused("a promotion", [&] { (void)reader->promote_to_savepoint(2, "y"); });
  refused("a tag", [&] { (void)reader->create_tag("t", 1, 0); });
  refused("cleanup", [&] { reader->cleanup(); });
  refused("a rollback", [&] { (void)reader->rollback_to_tag("t", {}); });
  refused("adopting a restore point", [&] { (void)reader->adopt_restore_point(*savepoint); });
  EXPECT_EQ(tree(dir.path()), before) << "a read-only storage changed the disk";

  // On a missing directory it is an error naming the path, and creates nothing.
  try {
    ckpt::CheckpointStorage::open(dir.uri() + "/nothing-here", ckpt::StorageOptions::read_only_access());
    ADD_FAILURE() << "a read-only storage opened on a missing directory";
  } catch (const ckpt::IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("nothing-here"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "nothing-here"));
}

TEST(ReadPaths, AUriWithoutItsSlashesIsRefusedWithAdvice) {
  try {
    ckpt::fs::Uri::parse("file:relative/dir");
    ADD_FAILURE() << "file:relative parsed as a directory named 'file:relative'";
  } catch (const ckpt::ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("file:///absolute/path"));
  }
  EXPECT_THROW(ckpt::fs::Uri::parse("s3:bucket/prefix"), ckpt::ConfigError);
  EXPECT_EQ(ckpt::fs::Uri::parse("./file:relative").path, "./file:relative");
  EXPECT_EQ(ckpt::fs::Uri::parse("relative/dir:1").path, "relative/dir:1");
}

}  // namespace hardening
}  // namespace
