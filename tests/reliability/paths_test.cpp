// R6, paths and permissions, through CheckpointStorage:
//   - operator uids, state names, savepoint names (tags) with "..", "/", "\",
//     NUL, control characters or over the length cap are refused with
//     errc::invalid_name before any system call;
//   - a manifest naming a file outside its checkpoint ("../", absolute) is
//     refused as corrupt, and nothing outside is read;
//   - files are 0600 and directories 0700 by default, and what is configured
//     otherwise (with the umask cleared, so the modes are ckpt's own);
//   - a symlink planted in the checkpoint directory -- as chk-N, shared,
//     savepoints, _lock, a state file or _metadata, or inside a checkpoint
//     retention deletes -- is never followed: it is ignored or the operation
//     fails with an error saying so, and nothing outside is read or deleted.

#include <ckpt/fs/fault_injecting_file_system.hpp>
#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/names.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "hostile.hpp"
#include "job.hpp"
#include "reliability.hpp"
#include "temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <sys/stat.h>

namespace {
namespace paths {

using ::testing::HasSubstr;
namespace stdfs = std::filesystem;
constexpr std::uint64_t kKeys = 40;

const std::vector<std::string>& bad_names() {
  static const std::vector<std::string> names = {
      "..", ".", "../up", "a/../b", "a/b", "/abs", "back\\slash", std::string("nul\0byte", 8), "new\nline",
      "tab\there", "del\x7f", "esc\x1b[31m", std::string(ckpt::max_name_length + 1, 'n'), "x..y"};
  return names;
}

std::string printable(const std::string& s) { return ckpt::printable_name(s, 40); }

/// Runs `f`, which must throw ConfigError(invalid_name) without a system call.
template <class F>
void expect_refused_untouched(ckpt::fs::FaultInjectingOs& os, const std::string& what, F&& f) {
  const auto before = os.calls();
  try {
    f();
    ADD_FAILURE() << what << ": accepted";
  } catch (const ckpt::ConfigError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::invalid_name) << what << ": " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": not a ConfigError: " << e.what();
  }
  EXPECT_EQ(os.calls(), before) << what << ": storage was touched before the name was refused";
}

TEST(Names, EveryBadNameIsRefusedBeforeStorageIsTouched) {
  auto os = std::make_shared<ckpt::fs::FaultInjectingOs>();
  auto fs = std::make_shared<ckpt::fs::FaultInjectingFileSystem>(os);
  ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::defaults().with_compression_threads(1));
  ckpt::rel::Job job(kKeys);
  job.advance_to(1);
  job.checkpoint(storage, false);
  auto snapshot = storage.restore_latest();
  for (const auto& bad : bad_names()) {
    const auto shown = printable(bad);
    auto pending = storage.begin_checkpoint(2, 0);
    expect_refused_untouched(*os, "uid '" + shown + "'", [&] {
      ckpt::ParticipantSnapshot p;
      p.uid = bad;
      pending->write(std::move(p));
    });
    pending.reset();
    expect_refused_untouched(*os, "savepoint name '" + shown + "'", [&] { (void)storage.begin_savepoint(3, 0, bad); });
    expect_refused_untouched(*os, "promoted savepoint name '" + shown + "'",
                             [&] { (void)storage.promote_to_savepoint(1, bad); });
    expect_refused_untouched(*os, "restored uid '" + shown + "'", [&] {
      ckpt::KeyedStateBackend<std::uint64_t> backend;
      snapshot->restore(bad, &backend, nullptr);
    });
    expect_refused_untouched(*os, "keyed state name '" + shown + "'",
                             [&] { (void)ckpt::ValueStateDescriptor<std::int64_t>{bad}; });
    expect_refused_untouched(*os, "operator state name '" + shown + "'", [&] {
      ckpt::OperatorStateStore store;
      (void)store.get_list_state(ckpt::ListStateDescriptor<std::int64_t>{"fine"});
      (void)store.get_union_list_state(ckpt::ListStateDescriptor<std::int64_t>{bad});
    });
  }
  // The refusals left nothing behind: the storage still works.
  job.advance_to(2);
  job.checkpoint(storage, false);
  EXPECT_EQ(storage.restore_latest()->checkpoint_id(), 2u);
  EXPECT_TRUE(storage.savepoints().empty());
}

// A manifest naming files outside its checkpoint, re-signed as an attacker
// would: refused as corrupt before anything is opened, though the file it
// names outside is a perfectly valid state file.
TEST(Names, AManifestPointingOutsideItsCheckpointIsRefused) {
  ckpt::test::TempDir dir;
  auto fs = std::make_shared<ckpt::fs::LocalFileSystem>(dir.str() + "/storage");
  ckpt::rel::write_checkpoints(fs, ckpt::StorageOptions::defaults(), 1, kKeys);
  stdfs::copy_file(dir.path() / "storage" / "chk-1" / "counter-0.state", dir.path() / "outside.state");
  for (const std::string escape : {"../../outside.state", "../chk-1/../../outside.state", "/etc/passwd", "a//b"}) {
    auto bytes = ckpt::fs::read_file(*fs, "chk-1/_metadata", 1 << 20);
    auto m = ckpt::decode_manifest(bytes, "chk-1/_metadata");
    const auto original = m;
    m.operators.at(0).subtasks.at(0).files.at(0).path = escape;
    ckpt::rel::replace_file(*fs, "chk-1/_metadata", ckpt::rel::frame_manifest(ckpt::serial::encode(m)));
    try {
      ckpt::CheckpointStorage storage(fs);
      (void)storage.restore_latest(ckpt::RestoreOptions::strict());
      ADD_FAILURE() << escape << ": accepted";
    } catch (const ckpt::CorruptionError& e) {
      EXPECT_EQ(e.path(), "chk-1/_metadata") << e.what();
      EXPECT_EQ(e.code(), ckpt::errc::corrupt_data);
    }
    ckpt::rel::replace_file(*fs, "chk-1/_metadata", ckpt::rel::frame_manifest(ckpt::serial::encode(original)));
  }
}

/// Modes of everything under `root` (not root itself), by relative path.
std::map<std::string, unsigned> modes(const stdfs::path& root) {
  std::map<std::string, unsigned> out;
  for (const auto& e : stdfs::recursive_directory_iterator(root)) {
    struct stat st {};
    if (::lstat(e.path().c_str(), &st) != 0) continue;
    out[stdfs::relative(e.path(), root).string()] = st.st_mode & 07777u;
  }
  return out;
}

/// Checkpoints (incremental, so shared/ exists) and a savepoint, under `options`.
void write_everything(const stdfs::path& root, ckpt::fs::LocalFileSystem::Options options) {
  auto fs = std::make_shared<ckpt::fs::LocalFileSystem>(root.string(), options);
  ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::incremental_checkpoints(2));
  ckpt::rel::Job job(kKeys);
  for (std::uint64_t id = 1; id <= 3; ++id) {
    job.advance_to(id);
    job.checkpoint(storage, true);
  }
  (void)storage.promote_to_savepoint(3, "tagged");
}

class UmaskCleared : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = ::umask(0); }
  void TearDown() override { ::umask(saved_); }
  mode_t saved_ = 0;
};

TEST_F(UmaskCleared, FilesAre0600AndDirectories0700ByDefault) {
  ckpt::test::TempDir dir;
  const auto root = dir.path() / "storage";
  write_everything(root, ckpt::fs::LocalFileSystem::Options::defaults());
  const auto all = modes(root);
  std::size_t files = 0, dirs = 0;
  for (const auto& [path, mode] : all) {
    if (stdfs::is_directory(root / path)) {
      ++dirs;
      EXPECT_EQ(mode, 0700u) << path;
    } else {
      ++files;
      EXPECT_EQ(mode, 0600u) << path;
    }
  }
  EXPECT_GE(dirs, 4u);  // chk-*, shared, savepoints, savepoint-3-tagged
  EXPECT_GE(files, 5u);
  struct stat st {};
  ASSERT_EQ(::stat(root.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777u, 0700u) << "the root ckpt created";
}

TEST_F(UmaskCleared, ModesAreConfigurable) {
  ckpt::test::TempDir dir;
  const auto root = dir.path() / "storage";
  write_everything(root, ckpt::fs::LocalFileSystem::Options::defaults().with_file_mode(0640).with_dir_mode(0750));
  for (const auto& [path, mode] : modes(root))
    EXPECT_EQ(mode, stdfs::is_directory(root / path) ? 0750u : 0640u) << path;
  EXPECT_THROW(ckpt::fs::LocalFileSystem(root.string(), ckpt::fs::LocalFileSystem::Options::defaults().with_file_mode(0444)),
               ckpt::ConfigError);
}

// ---- symlinks --------------------------------------------------------------

/// Everything under a directory with its bytes: to prove nothing changed.
std::map<std::string, std::string> snapshot_tree(const stdfs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : stdfs::recursive_directory_iterator(root)) {
    const auto rel = stdfs::relative(e.path(), root).string();
    if (e.is_regular_file()) {
      std::ifstream in(e.path(), std::ios::binary);
      std::ostringstream bytes;
      bytes << in.rdbuf();
      out[rel] = bytes.str();
    } else {
      out[rel] = "<dir>";
    }
  }
  return out;
}

/// A storage root with checkpoints 1 and 2 (retain 2) of the job, and an
/// "outside" directory holding a complete, valid checkpoint 50 of another
/// history -- what a followed symlink would find.
struct Planted {
  Planted() : root(dir.path() / "storage"), outside(dir.path() / "outside") {
    auto fs = std::make_shared<ckpt::fs::LocalFileSystem>(root.string());
    ckpt::rel::write_checkpoints(fs, options(), 2, kKeys);
    {  // checkpoint 50 of the same job, in another storage
      ckpt::CheckpointStorage other(std::make_shared<ckpt::fs::LocalFileSystem>((dir.path() / "other").string()));
      ckpt::rel::Job job(kKeys);
      job.advance_to(50);
      job.checkpoint(other, false);
    }
    stdfs::create_directories(outside);
    stdfs::copy(dir.path() / "other" / "chk-50", outside / "chk-50", stdfs::copy_options::recursive);
    stdfs::copy(dir.path() / "other" / "chk-50", outside / "loose", stdfs::copy_options::recursive);
    before = snapshot_tree(outside);
  }
  static ckpt::StorageOptions options() { return ckpt::StorageOptions::defaults().retain(2); }
  std::unique_ptr<ckpt::CheckpointStorage> open() {
    return std::make_unique<ckpt::CheckpointStorage>(std::make_shared<ckpt::fs::LocalFileSystem>(root.string()),
                                                     options());
  }
  void expect_outside_untouched() { EXPECT_EQ(snapshot_tree(outside), before) << "something outside was changed"; }

  ckpt::test::TempDir dir;
  stdfs::path root, outside;
  std::map<std::string, std::string> before;
};

void expect_symlink_error(const std::function<void()>& f, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << what << ": no error";
  } catch (const ckpt::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("symbolic link")) << what;
  }
}

TEST(Symlinks, AsACheckpointDirectoryIsIgnored) {
  Planted p;
  stdfs::create_directory_symlink(p.outside / "chk-50", p.root / "chk-50");
  {
    auto storage = p.open();
    auto snapshot = storage->restore_latest(ckpt::RestoreOptions::strict());
    ASSERT_TRUE(snapshot);
    EXPECT_EQ(snapshot->checkpoint_id(), 2u) << "followed chk-50";
    EXPECT_EQ(ckpt::rel::restored_mismatch(*snapshot, kKeys), "");
    for (const auto& info : storage->checkpoints()) EXPECT_NE(info.id, 50u);
    EXPECT_THROW((void)storage->open_checkpoint(50), ckpt::Error);
    // Retention goes on around it.
    ckpt::rel::Job job(kKeys);
    job.restore(snapshot.get());
    for (std::uint64_t id = 3; id <= 5; ++id) {
      job.advance_to(id);
      job.checkpoint(*storage, false);
    }
  }
  EXPECT_TRUE(stdfs::is_symlink(p.root / "chk-50"));
  p.expect_outside_untouched();
}

TEST(Symlinks, AsTheSharedOrSavepointsDirectoryOrTheLockFailsClearly) {
  for (const std::string name : {"shared", "savepoints", "_lock"}) {
    Planted p;
    if (name == "_lock") {
      stdfs::remove(p.root / "_lock");
      stdfs::create_symlink(p.outside / "loose" / "_metadata", p.root / name);
    } else {
      stdfs::create_directory_symlink(p.outside / "loose", p.root / name);
    }
    expect_symlink_error([&] { (void)p.open(); }, name);
    p.expect_outside_untouched();
  }
}

TEST(Symlinks, AsAStateFileOrManifestIsNeverFollowed) {
  {  // a state file: strict restore names it; with fallback, checkpoint 1
    Planted p;
    const auto victim = p.root / "chk-2" / "counter-0.state";
    stdfs::copy_file(victim, p.outside / "counter-0.state");  // the very same bytes
    p.before = snapshot_tree(p.outside);
    stdfs::remove(victim);
    stdfs::create_symlink(p.outside / "counter-0.state", victim);
    auto storage = p.open();
    try {
      (void)storage->restore_latest(ckpt::RestoreOptions::strict());
      ADD_FAILURE() << "restored through a symlink";
    } catch (const ckpt::IoError& e) {
      EXPECT_EQ(e.path(), "chk-2/counter-0.state");
      EXPECT_THAT(e.what(), HasSubstr("symbolic link"));
    }
    auto snapshot = storage->restore_latest();
    ASSERT_TRUE(snapshot);
    EXPECT_EQ(snapshot->checkpoint_id(), 1u);
    ASSERT_EQ(snapshot->notes().size(), 1u);
    EXPECT_THAT(snapshot->notes()[0], HasSubstr("chk-2/counter-0.state"));
    EXPECT_EQ(ckpt::rel::restored_mismatch(*snapshot, kKeys), "");
    p.expect_outside_untouched();
  }
  {  // the manifest: checkpoint 2 is incomplete, removed at open without following
    Planted p;
    const auto victim = p.root / "chk-2" / "_metadata";
    stdfs::remove(victim);
    stdfs::create_symlink(p.outside / "loose" / "_metadata", victim);
    auto storage = p.open();
    EXPECT_FALSE(stdfs::exists(p.root / "chk-2"));
    auto snapshot = storage->restore_latest(ckpt::RestoreOptions::strict());
    ASSERT_TRUE(snapshot);
    EXPECT_EQ(snapshot->checkpoint_id(), 1u);
    p.expect_outside_untouched();
  }
}

TEST(Symlinks, InsideACheckpointRetentionDeletesAreUnlinkedNotFollowed) {
  Planted p;
  stdfs::create_directory_symlink(p.outside / "loose", p.root / "chk-1" / "evil-dir");
  stdfs::create_symlink(p.outside / "loose" / "_metadata", p.root / "chk-1" / "evil-file");
  {
    auto storage = p.open();
    ckpt::rel::Job job(kKeys);
    job.restore(storage->restore_latest().get());
    for (std::uint64_t id = 3; id <= 4; ++id) {
      job.advance_to(id);
      job.checkpoint(*storage, false);  // retains 3 and 4: deletes chk-1 and chk-2
    }
    EXPECT_EQ(storage->last_cleanup_error(), std::nullopt);
  }
  EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(p.root / "chk-1")));
  p.expect_outside_untouched();
}

}  // namespace paths
}  // namespace
