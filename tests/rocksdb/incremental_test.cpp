// Native (incremental) checkpoints of the RocksDB backend through checkpoint
// storage: a round trip with every state kind and a TTL state on file:// and
// mem://; a second checkpoint uploads only the SST files that are new, and
// each checkpoint has its own MANIFEST, OPTIONS and CURRENT; with retain(2)
// a shared SST goes only when no retained checkpoint lists it, also when the
// storage is reopened after a crash, or while a checkpoint in flight still
// references it; a restore at the same parallelism moves the SST files in
// and the backend goes on from them; a rescale 1 -> 4 -> 3 restores every key
// exactly once on its owner; a flipped bit, a truncated or a missing SST is a
// CorruptionError naming the file and the previous checkpoint restores; the
// heap backend refuses native files with a clear error; a checkpoint mixing
// native and canonical subtasks restores; savepoints stay canonical and a
// promoted native checkpoint is self-contained.
#include <ckpt/clock.hpp>
#include <ckpt/rocksdb/rocksdb_keyed_state_backend.hpp>
#include <ckpt/state/keyed_state_backend.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "all_states.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace ckpt::test::all_states;
using namespace std::chrono_literals;

/// A checkpoint of `backends` (subtasks of operator "op", in order), native
/// where the storage is incremental.
std::vector<ckpt::ParticipantStats> checkpoint(ckpt::CheckpointStorage& storage,
                                               const std::vector<ckpt::KeyedStateBackendBase*>& backends,
                                               std::uint64_t id) {
  auto pending = storage.begin_checkpoint(id, 1000 + static_cast<std::int64_t>(id));
  std::vector<ckpt::ParticipantStats> stats;
  const auto n = static_cast<std::uint32_t>(backends.size());
  for (std::uint32_t i = 0; i < n; ++i)
    stats.push_back(pending->write({"op", i, n, backends[i]->begin_snapshot(id, ckpt::SnapshotMode::incremental), std::nullopt}));
  pending->complete();
  for (auto* b : backends) b->notify_snapshot_complete(id);
  return stats;
}

ckpt::ParticipantStats checkpoint(ckpt::CheckpointStorage& storage, ckpt::KeyedStateBackendBase& backend,
                                  std::uint64_t id) {
  return checkpoint(storage, std::vector<ckpt::KeyedStateBackendBase*>{&backend}, id).at(0);
}

std::set<std::string> listed(const std::filesystem::path& dir) {
  std::set<std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

/// The shared files the retained checkpoints' manifests list.
std::set<std::string> referenced_shared(ckpt::CheckpointStorage& storage) {
  std::set<std::string> out;
  for (const auto& c : storage.checkpoints()) {
    const auto reader = storage.open_checkpoint(c.id);
    for (const auto& n : reader->manifest().native)
      for (const auto& f : n.files)
        if (f.shared) out.insert(f.path);
  }
  return out;
}

/// Without background compactions, which would replace SSTs whenever they
/// happen to run: the tests say when files become obsolete (compact()).
RocksDBOptions fixed_files(const TempDir& dir) {
  return options_in(dir).with_options_factory(
      [](::rocksdb::DBOptions&, ::rocksdb::ColumnFamilyOptions& cf) { cf.disable_auto_compactions = true; });
}

/// Compacts every state of `b`: each SST is replaced by a new one.
void compact(RocksDB& b) {
  for (const auto& name : b.instance().column_family_names())
    ASSERT_TRUE(b.instance().db().CompactRange(::rocksdb::CompactRangeOptions(), b.instance().column_family(name),
                                               nullptr, nullptr).ok());
}

/// Adds 1000 to "count" of every key divisible by 50 (a few updates).
void touch(RocksDB& b, States& s) {
  for (std::uint64_t k = 0; k < kKeys; k += 50) {
    if (!owns(b, k)) continue;
    b.set_current_key(k);
    s.count.update(*s.count.get() + 1000);
  }
}

class RocksDBIncremental : public ::testing::Test {
 protected:
  std::unique_ptr<ckpt::CheckpointStorage> open_storage(std::uint32_t retain = 3) {
    return ckpt::CheckpointStorage::open("file://" + root_.path().string(),
                                         ckpt::StorageOptions::incremental_checkpoints(retain));
  }
  std::filesystem::path shared_dir() const { return root_.path() / "shared"; }

  TempDir root_{"ckpt-rocksdb-incr-storage"};
  TempDir dirs_[4] = {TempDir{"ckpt-rocksdb-incr"}, TempDir{"ckpt-rocksdb-incr"}, TempDir{"ckpt-rocksdb-incr"},
                      TempDir{"ckpt-rocksdb-incr"}};
};

class RocksDBIncrementalRoundTrip : public RocksDBIncremental, public ::testing::WithParamInterface<const char*> {};

TEST_P(RocksDBIncrementalRoundTrip, EveryStateKindAndTtlAtTheSameParallelism) {
  const std::string scheme = GetParam();
  auto storage = scheme == "file"
                     ? open_storage()
                     : ckpt::CheckpointStorage::open("mem://rocksdb-incr-roundtrip",
                                                     ckpt::StorageOptions::incremental_checkpoints(3));
  ckpt::ManualClock clock(5000);
  auto ttl_descriptor = ckpt::ValueStateDescriptor<std::string>{"seen"};
  ttl_descriptor.enable_time_to_live(ckpt::StateTtlConfig::of(1h));
  {
    RocksDB rocks(options_in(dirs_[0]).with_clock(clock), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
    States states(rocks);
    auto seen = rocks.get_state(ttl_descriptor);
    fill(rocks, states);
    for (std::uint64_t k = 0; k < kKeys; k += 3) {
      rocks.set_current_key(k);
      seen.update("s" + std::to_string(k));
    }
    const auto stats = checkpoint(*storage, rocks, 1);
    EXPECT_GT(stats.native_files_uploaded, 0u);
    EXPECT_EQ(stats.native_files_referenced, 0u);
    // The local checkpoint went with its job.
    EXPECT_TRUE(listed(dirs_[0].path() / "scratch").empty());
  }
  auto reader = storage->restore_latest();
  ASSERT_NE(reader, nullptr);
  ASSERT_EQ(reader->manifest().native.size(), 1u);
  const auto& native = reader->manifest().native[0];
  EXPECT_FALSE(native.db_identity.empty());
  bool sst = false, current = false, manifest = false;
  for (const auto& f : native.files) {
    sst |= f.shared && f.name.ends_with(".sst");
    current |= !f.shared && f.name == "CURRENT";
    manifest |= !f.shared && f.name.starts_with("MANIFEST-");
  }
  EXPECT_TRUE(sst && current && manifest);

  clock.advance(10min);  // within the TTL: still there
  RocksDB restored(options_in(dirs_[1]).with_clock(clock), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  States states(restored);  // declared before the restore, "seen" after
  reader->restore("op", &restored, nullptr);
  EXPECT_TRUE(restored.is_restored());
  EXPECT_EQ(expect_filled(restored, states), kKeys);
  auto seen = restored.get_state(ttl_descriptor);
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    restored.set_current_key(k);
    EXPECT_EQ(seen.value(), k % 3 == 0 ? "s" + std::to_string(k) : std::string()) << "key " << k;
  }
  clock.advance(2h);  // the timestamps came along: now expired
  restored.set_current_key(0);
  EXPECT_FALSE(seen.get().has_value());
}

INSTANTIATE_TEST_SUITE_P(Storage, RocksDBIncrementalRoundTrip, ::testing::Values("file", "mem"));

TEST_F(RocksDBIncremental, SecondCheckpointUploadsOnlyNewSstFiles) {
  auto storage = open_storage();
  RocksDB rocks(fixed_files(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  States states(rocks);
  fill(rocks, states);
  checkpoint(*storage, rocks, 1);
  const auto first = storage->open_checkpoint(1)->manifest().native.at(0);
  const auto shared_after_first = listed(shared_dir());

  touch(rocks, states);
  const auto stats = checkpoint(*storage, rocks, 2);
  const auto second = storage->open_checkpoint(2)->manifest().native.at(0);
  EXPECT_EQ(second.db_identity, first.db_identity);

  std::map<std::string, ckpt::NativeFileRef> before;
  for (const auto& f : first.files) before[f.name] = f;
  std::uint64_t new_bytes = 0, new_files = 0, reused = 0;
  for (const auto& f : second.files) {
    if (!f.shared) {  // this checkpoint's own: in its directory
      EXPECT_TRUE(std::filesystem::exists(root_.path() / "chk-2" / f.path)) << f.path;
      new_bytes += f.stored_bytes();
      ++new_files;
      continue;
    }
    const auto it = before.find(f.name);
    if (it != before.end()) {
      EXPECT_EQ(f, it->second) << f.name << " was uploaded again";
      ++reused;
    } else {
      EXPECT_EQ(ckpt::layout::parse_shared_file_checkpoint(f.path), std::optional<std::uint64_t>(2)) << f.path;
      new_bytes += f.stored_bytes();
      ++new_files;
    }
  }
  // Nothing compacts: every SST of checkpoint 1 is reused (the four states
  // not touched have nothing else), only "count" has new ones.
  const auto first_ssts = static_cast<std::uint64_t>(
      std::count_if(first.files.begin(), first.files.end(), [](const ckpt::NativeFileRef& f) { return f.shared; }));
  EXPECT_EQ(reused, first_ssts);
  EXPECT_GE(reused, 4u);
  EXPECT_EQ(stats.native_files_referenced, reused);
  EXPECT_EQ(stats.native_files_uploaded, new_files);
  EXPECT_EQ(stats.native_bytes_uploaded, new_bytes);
  // shared/ grew by exactly the new SSTs.
  auto shared_after_second = listed(shared_dir());
  for (const auto& f : shared_after_first) shared_after_second.erase(f);
  std::uint64_t new_ssts = 0;
  for (const auto& f : second.files) new_ssts += f.shared && !before.count(f.name);
  EXPECT_EQ(shared_after_second.size(), new_ssts);
  EXPECT_GE(new_ssts, 1u);
  // Each checkpoint has its own metadata files.
  for (const char* chk : {"chk-1", "chk-2"}) {
    const auto own = listed(root_.path() / chk);
    EXPECT_TRUE(own.count("op-0-native-CURRENT")) << chk;
    EXPECT_TRUE(std::any_of(own.begin(), own.end(), [](const std::string& n) {
      return n.starts_with("op-0-native-MANIFEST-");
    })) << chk;
    EXPECT_TRUE(std::any_of(own.begin(), own.end(), [](const std::string& n) {
      return n.starts_with("op-0-native-OPTIONS-");
    })) << chk;
  }
  // ... stored compressed when that is smaller (the OPTIONS text always is),
  // with the size and checksum of the file RocksDB wrote.
  for (const auto& f : second.files) {
    if (f.shared) continue;
    if (f.name.starts_with("OPTIONS-")) EXPECT_TRUE(f.compressed()) << f.name;
    if (f.compressed()) {
      EXPECT_LT(f.stored_size, f.size) << f.name;
      EXPECT_EQ(std::filesystem::file_size(root_.path() / "chk-2" / f.path), f.stored_size) << f.name;
    }
  }
}

TEST_F(RocksDBIncremental, RetainedCheckpointsKeepTheirSharedFilesAlsoAfterACrash) {
  {
    auto storage = open_storage(2);
    RocksDB rocks(fixed_files(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
    States states(rocks);
    fill(rocks, states);
    std::set<std::string> ever;
    for (std::uint64_t id = 1; id <= 6; ++id) {
      if (id > 1) touch(rocks, states);
      if (id == 4) compact(rocks);  // every SST so far becomes obsolete
      checkpoint(*storage, rocks, id);
      const auto referenced = referenced_shared(*storage);
      EXPECT_EQ(listed(shared_dir()), referenced) << "after checkpoint " << id;
      ever.insert(referenced.begin(), referenced.end());
    }
    EXPECT_EQ(storage->checkpoints().size(), 2u);
    // Files of dropped checkpoints went: none of checkpoints 1-3 is left.
    EXPECT_GT(ever.size(), listed(shared_dir()).size());
    for (const auto& f : listed(shared_dir())) EXPECT_GE(ckpt::layout::parse_shared_file_checkpoint(f), 4u) << f;
  }
  // A writer that died: a checkpoint without _metadata, and an SST it uploaded.
  std::filesystem::create_directories(root_.path() / "chk-7");
  std::ofstream(root_.path() / "chk-7" / "op-0-native-CURRENT") << "MANIFEST-000009\n";
  std::ofstream(shared_dir() / "op-0-7-0123456789ab.sst") << "orphan";
  {
    auto storage = open_storage(2);
    EXPECT_FALSE(std::filesystem::exists(root_.path() / "chk-7"));
    EXPECT_FALSE(std::filesystem::exists(shared_dir() / "op-0-7-0123456789ab.sst"));
    EXPECT_EQ(listed(shared_dir()), referenced_shared(*storage));
    auto reader = storage->restore_latest();
    ASSERT_NE(reader, nullptr);
    EXPECT_EQ(reader->checkpoint_id(), 6u);
    RocksDB restored(options_in(dirs_[1]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
    reader->restore("op", &restored, nullptr);
    States states(restored);
    restored.set_current_key(50);
    EXPECT_EQ(states.count.get(), std::optional<std::int64_t>(151 + 5 * 1000));
  }
}

TEST_F(RocksDBIncremental, SharedFilesAnInFlightCheckpointReferencesOutliveTheCheckpointThatListedThem) {
  auto storage = open_storage(1);
  RocksDB rocks(fixed_files(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  States states(rocks);
  fill(rocks, states);
  checkpoint(*storage, rocks, 1);
  touch(rocks, states);
  // Checkpoint 3 references checkpoint 1's SSTs; before it completes,
  // checkpoint 2 (no native state) completes and retain(1) drops checkpoint 1.
  auto third = storage->begin_checkpoint(3, 3);
  const auto stats = third->write({"op", 0, 1, rocks.begin_snapshot(3, ckpt::SnapshotMode::incremental), std::nullopt});
  std::uint32_t first_ssts = 0;
  const auto first = storage->open_checkpoint(1)->manifest().native.at(0);
  for (const auto& f : first.files) first_ssts += f.shared;
  EXPECT_EQ(stats.native_files_referenced, first_ssts);  // nothing compacts: all of them
  {
    Heap other(ckpt::KeyedStateBackendOptions::for_subtask(0, 1, kMaxParallelism));
    auto second = storage->begin_checkpoint(2, 2);
    second->write({"other", 0, 1, other.begin_snapshot(2), std::nullopt});
    second->complete();
  }
  EXPECT_EQ(storage->checkpoints().size(), 1u);
  third->complete();
  rocks.notify_snapshot_complete(3);
  EXPECT_EQ(listed(shared_dir()), referenced_shared(*storage));
  auto reader = storage->restore_latest();
  ASSERT_EQ(reader->checkpoint_id(), 3u);
  RocksDB b(options_in(dirs_[1]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  States restored(b);
  reader->restore("op", &b, nullptr);
  b.set_current_key(0);
  EXPECT_EQ(restored.count.get(), std::optional<std::int64_t>(1 + 1000));
  b.set_current_key(1);
  EXPECT_EQ(restored.count.get(), std::optional<std::int64_t>(4));
}

TEST_F(RocksDBIncremental, RescaleOneToFourToThree) {
  auto storage = open_storage();
  {
    RocksDB one(options_in(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
    States states(one);
    fill(one, states);
    checkpoint(*storage, one, 1);
  }
  {
    std::vector<std::unique_ptr<RocksDB>> four;
    std::vector<std::optional<States>> states(4);
    std::uint64_t owned = 0;
    auto reader = storage->restore_latest();
    for (std::uint32_t i = 0; i < 4; ++i) {
      four.push_back(std::make_unique<RocksDB>(options_in(dirs_[i]), KeyGroupRange::for_subtask(kMaxParallelism, 4, i),
                                               kMaxParallelism));
      if (i % 2 == 0) states[i].emplace(*four[i]);  // the others declare after the restore
      reader->restore("op", four[i].get(), nullptr);
      if (i % 2 == 1) states[i].emplace(*four[i]);
      const auto n = expect_filled(*four[i], *states[i]);
      EXPECT_EQ(entries(*four[i], "count"), n) << "subtask " << i << " of 4 holds keys it does not own";
      EXPECT_EQ(entries(*four[i], "empty"), 0u);
      owned += n;
    }
    EXPECT_EQ(owned, kKeys);
    checkpoint(*storage, {four[0].get(), four[1].get(), four[2].get(), four[3].get()}, 2);
    EXPECT_EQ(storage->open_checkpoint(2)->manifest().native.size(), 4u);
  }
  std::map<std::uint64_t, int> owners;
  auto reader = storage->restore_latest();
  ASSERT_EQ(reader->checkpoint_id(), 2u);
  for (std::uint32_t i = 0; i < 3; ++i) {
    RocksDB b(options_in(dirs_[i]), KeyGroupRange::for_subtask(kMaxParallelism, 3, i), kMaxParallelism);
    reader->restore("op", &b, nullptr);
    States states(b);
    const auto n = expect_filled(b, states);
    for (const char* state : {"count", "sum", "chars"}) EXPECT_EQ(entries(b, state), n) << state << ", subtask " << i;
    for (const auto k : b.keys("count")) ++owners[k];
    EXPECT_TRUE(listed(dirs_[i].path() / "scratch").empty()) << "restore scratch files left behind";
  }
  EXPECT_EQ(owners.size(), kKeys);
  for (const auto& [k, n] : owners) EXPECT_EQ(n, 1) << "key " << k << " restored " << n << " times";
}

/// Entries of state `name` in `b`'s memtables (0 when all are in SST files).
std::uint64_t in_memtables(RocksDB& b, const std::string& name) {
  std::uint64_t active = 0, immutable = 0;
  auto* cf = b.instance().column_family(name);
  EXPECT_TRUE(b.instance().db().GetIntProperty(cf, ::rocksdb::DB::Properties::kNumEntriesActiveMemTable, &active));
  EXPECT_TRUE(b.instance().db().GetIntProperty(cf, ::rocksdb::DB::Properties::kNumEntriesImmMemTables, &immutable));
  return active + immutable;
}

TEST_F(RocksDBIncremental, SameParallelismRestoreMovesTheFilesInAndTheBackendGoesOn) {
  auto storage = open_storage();
  {
    RocksDB one(options_in(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
    States states(one);
    fill(one, states);
    checkpoint(*storage, one, 1);
  }
  {
    // States declared after the restore (as tasks and services do): their
    // SST files are moved in, no entry is written through a memtable.
    RocksDB restored(options_in(dirs_[1]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
    storage->restore_latest()->restore("op", &restored, nullptr);
    States states(restored);
    EXPECT_EQ(expect_filled(restored, states), kKeys);
    for (const char* state : {"count", "history", "tags", "sum", "chars"})
      EXPECT_EQ(in_memtables(restored, state), 0u) << state << " was copied, not moved in";
    EXPECT_TRUE(listed(dirs_[1].path() / "scratch").empty()) << "restore scratch files left behind";
    // It goes on: updates, a compaction over the moved files, a new checkpoint.
    touch(restored, states);
    compact(restored);
    checkpoint(*storage, restored, 2);
  }
  RocksDB again(options_in(dirs_[2]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  storage->restore_latest()->restore("op", &again, nullptr);
  States states(again);
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    again.set_current_key(k);
    EXPECT_EQ(states.count.get(), std::optional<std::int64_t>(3 * static_cast<std::int64_t>(k) + 1 + (k % 50 == 0 ? 1000 : 0)))
        << "key " << k;
  }
}

/// Flips `mask` in the byte in the middle of the file at `path`.
void flip_middle_bit(const std::filesystem::path& path, char mask) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  const auto at = static_cast<std::streamoff>(std::filesystem::file_size(path) / 2);
  f.seekg(at);
  char c = 0;
  f.get(c);
  f.seekp(at);
  f.put(static_cast<char>(c ^ mask));
}

enum class Damage { flip_bit, truncate, remove };

class RocksDBIncrementalDamage : public RocksDBIncremental, public ::testing::WithParamInterface<Damage> {};

TEST_P(RocksDBIncrementalDamage, IsACorruptionErrorNamingTheFileAndThePreviousCheckpointRestores) {
  auto storage = open_storage(2);
  {
    RocksDB rocks(options_in(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
    States states(rocks);
    fill(rocks, states);
    checkpoint(*storage, rocks, 1);
    touch(rocks, states);
    checkpoint(*storage, rocks, 2);
  }
  // The SST checkpoint 2 uploaded (the "count" state's new one).
  std::string victim;
  const auto second = storage->open_checkpoint(2)->manifest().native.at(0);
  for (const auto& f : second.files)
    if (f.shared && ckpt::layout::parse_shared_file_checkpoint(f.path) == std::optional<std::uint64_t>(2)) victim = f.path;
  ASSERT_FALSE(victim.empty());
  const auto path = shared_dir() / victim;
  const auto size = std::filesystem::file_size(path);
  switch (GetParam()) {
    case Damage::flip_bit:
      flip_middle_bit(path, 0x10);
      break;
    case Damage::truncate:
      std::filesystem::resize_file(path, size - 7);
      break;
    case Damage::remove:
      std::filesystem::remove(path);
      break;
  }

  auto reader = storage->restore_latest();
  ASSERT_NE(reader, nullptr);
  if (GetParam() == Damage::flip_bit) {
    // Sizes agree: found when the file is fetched, before RocksDB opens it.
    ASSERT_EQ(reader->checkpoint_id(), 2u);
    RocksDB b(options_in(dirs_[1]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
    try {
      reader->restore("op", &b, nullptr);
      FAIL() << "a damaged SST was restored";
    } catch (const ckpt::CorruptionError& e) {
      EXPECT_NE(std::string(e.what()).find(victim), std::string::npos) << e.what();
      EXPECT_NE(e.path().find(victim), std::string::npos) << e.path();
      storage->mark_damaged(*reader, e.what());
    }
    reader = storage->restore_latest();
  } else {
    EXPECT_THROW(
        {
          try {
            (void)storage->open_checkpoint(2);
          } catch (const ckpt::CorruptionError& e) {
            EXPECT_NE(std::string(e.what()).find(victim), std::string::npos) << e.what();
            throw;
          }
        },
        ckpt::CorruptionError);
  }
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->checkpoint_id(), 1u);
  ASSERT_FALSE(reader->notes().empty());
  RocksDB b(options_in(dirs_[2]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  States states(b);
  reader->restore("op", &b, nullptr);
  EXPECT_EQ(expect_filled(b, states), kKeys);  // checkpoint 1: before touch()
}

INSTANTIATE_TEST_SUITE_P(Files, RocksDBIncrementalDamage,
                         ::testing::Values(Damage::flip_bit, Damage::truncate, Damage::remove));

TEST_F(RocksDBIncremental, ADamagedCompressedMetadataFileIsACorruptionErrorAndThePreviousCheckpointRestores) {
  auto storage = open_storage(2);
  {
    RocksDB rocks(options_in(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
    States states(rocks);
    fill(rocks, states);
    checkpoint(*storage, rocks, 1);
    touch(rocks, states);
    checkpoint(*storage, rocks, 2);
  }
  std::string victim;
  const auto second = storage->open_checkpoint(2)->manifest().native.at(0);
  for (const auto& f : second.files)
    if (!f.shared && f.compressed() && f.name.starts_with("MANIFEST-")) victim = f.path;
  ASSERT_FALSE(victim.empty());
  const auto path = root_.path() / "chk-2" / victim;
  flip_middle_bit(path, 0x01);
  auto reader = storage->restore_latest();
  ASSERT_EQ(reader->checkpoint_id(), 2u);
  RocksDB b(options_in(dirs_[1]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  try {
    reader->restore("op", &b, nullptr);
    FAIL() << "a damaged MANIFEST was restored";
  } catch (const ckpt::CorruptionError& e) {
    EXPECT_NE(e.path().find(victim), std::string::npos) << e.path();
    storage->mark_damaged(*reader, e.what());
  }
  reader = storage->restore_latest();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->checkpoint_id(), 1u);
  RocksDB c(options_in(dirs_[2]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  States states(c);
  reader->restore("op", &c, nullptr);
  EXPECT_EQ(expect_filled(c, states), kKeys);
}

TEST_F(RocksDBIncremental, CheckpointMixingNativeAndCanonicalSubtasksRestores) {
  auto storage = open_storage();
  {
    Heap heap(ckpt::KeyedStateBackendOptions::for_subtask(0, 1, kMaxParallelism));
    States states(heap);
    fill(heap, states);
    auto savepoint = storage->begin_savepoint(1, 1000);
    savepoint->write({"op", 0, 1, heap.begin_snapshot(1), std::nullopt});
    savepoint->complete();
  }
  {
    auto reader = storage->open_savepoint("1");
    // Subtask 0 has not declared its restored states (they are in memory):
    // its checkpoint is canonical. Subtask 1 has: native.
    RocksDB a(options_in(dirs_[0]), KeyGroupRange::for_subtask(kMaxParallelism, 2, 0), kMaxParallelism);
    RocksDB b(options_in(dirs_[1]), KeyGroupRange::for_subtask(kMaxParallelism, 2, 1), kMaxParallelism);
    reader->restore("op", &a, nullptr);
    reader->restore("op", &b, nullptr);
    States declared(b);
    checkpoint(*storage, {&a, &b}, 2);
    const auto m = storage->open_checkpoint(2)->manifest();
    ASSERT_EQ(m.native.size(), 1u);
    EXPECT_EQ(m.native[0].subtask, 1u);
  }
  RocksDB one(options_in(dirs_[2]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  auto reader = storage->restore_latest();
  ASSERT_EQ(reader->checkpoint_id(), 2u);
  reader->restore("op", &one, nullptr);
  EXPECT_EQ(one.state_names(), (std::vector<std::string>{"chars", "count", "empty", "history", "sum", "tags"}));
  States states(one);
  EXPECT_EQ(expect_filled(one, states), kKeys);
  EXPECT_EQ(entries(one, "count"), kKeys);
}

TEST_F(RocksDBIncremental, HeapBackendRefusesNativeFilesClearly) {
  auto storage = open_storage();
  {
    RocksDB rocks(options_in(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
    States states(rocks);
    fill(rocks, states);
    checkpoint(*storage, rocks, 1);
  }
  Heap heap(ckpt::KeyedStateBackendOptions::for_subtask(0, 1, kMaxParallelism));
  try {
    storage->restore_latest()->restore("op", &heap, nullptr);
    FAIL() << "the heap backend restored native RocksDB files";
  } catch (const ckpt::StateError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("incremental RocksDB checkpoint"), std::string::npos) << what;
    EXPECT_NE(what.find("savepoint"), std::string::npos) << what;
  }
}

TEST_F(RocksDBIncremental, SavepointsStayCanonicalAndPromotedCheckpointsAreSelfContained) {
  auto storage = open_storage(1);
  RocksDB rocks(options_in(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  States states(rocks);
  fill(rocks, states);
  EXPECT_EQ(rocks.begin_snapshot(1, ckpt::SnapshotMode::full)->native(), nullptr);
  {
    auto pending = storage->begin_savepoint(1, 1000);
    EXPECT_THROW(pending->write({"op", 0, 1, rocks.begin_snapshot(1, ckpt::SnapshotMode::incremental), std::nullopt}), ckpt::CheckpointError);
  }
  checkpoint(*storage, rocks, 2);
  storage->promote_to_savepoint(2, "kept");
  touch(rocks, states);
  checkpoint(*storage, rocks, 3);  // retain(1): checkpoint 2 and its own SSTs go
  auto reader = storage->open_savepoint("kept");
  for (const auto& n : reader->manifest().native)
    for (const auto& f : n.files) EXPECT_FALSE(f.shared) << f.path;
  RocksDB b(options_in(dirs_[1]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  States restored(b);
  reader->restore("op", &b, nullptr);
  EXPECT_EQ(expect_filled(b, restored), kKeys);
}

}  // namespace
