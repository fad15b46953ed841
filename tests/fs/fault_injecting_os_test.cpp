// The power-loss and fault model itself: if it were lenient, the crash tests
// of LocalFileSystem would prove nothing.

#include <ckpt/fs/fault_injecting_os.hpp>

#include "fs_test_util.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using ckpt::Bytes;
using ckpt::fs::FaultInjectingOs;
using Op = ckpt::fs::FaultInjectingOs::Op;
using ckpt::fs::test::bytes_of;
using ckpt::fs::test::string_of;

constexpr int create_flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
constexpr int dir_flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;

class FaultInjectingOsTest : public ::testing::Test {
 protected:
  FaultInjectingOs os_;

  int open_dir(const char* path) {
    const auto r = os_.open_at(AT_FDCWD, path, dir_flags, 0);
    EXPECT_TRUE(r.ok()) << path << ": errno " << r.error;
    return r.value;
  }

  int create(int dir, const char* name) {
    const auto r = os_.open_at(dir, name, create_flags, 0600);
    EXPECT_TRUE(r.ok()) << name << ": errno " << r.error;
    return r.value;
  }

  void write(int fd, std::string_view data, std::uint64_t offset = 0) {
    const auto b = bytes_of(data);
    const auto r = os_.pwrite(fd, b.data(), b.size(), offset);
    ASSERT_TRUE(r.ok()) << "errno " << r.error;
    ASSERT_EQ(r.value, b.size());
  }

  std::optional<std::string> contents(const char* path) {
    auto c = os_.file_contents(path);
    if (!c) return std::nullopt;
    return string_of(*c);
  }

  /// A durable, empty directory /d with the descriptor returned.
  int durable_dir() {
    EXPECT_EQ(os_.mkdir_at(AT_FDCWD, "/d", 0700), 0);
    const int root = open_dir("/");
    EXPECT_EQ(os_.fsync(root), 0);
    EXPECT_EQ(os_.close(root), 0);
    return open_dir("/d");
  }
};

TEST_F(FaultInjectingOsTest, DataWrittenButNotSyncedIsLost) {
  const int d = durable_dir();
  const int f = create(d, "f");
  ASSERT_EQ(os_.fsync(d), 0);  // the name is durable, the data is not
  write(f, "unsynced");
  EXPECT_EQ(contents("/d/f"), "unsynced");  // readers see the page cache
  os_.crash();
  EXPECT_EQ(contents("/d/f"), "");
}

TEST_F(FaultInjectingOsTest, SyncedDataInADurableNameSurvives) {
  const int d = durable_dir();
  const int f = create(d, "f");
  write(f, "synced");
  ASSERT_EQ(os_.fsync(f), 0);
  ASSERT_EQ(os_.fsync(d), 0);
  write(f, "SY", 0);  // overwritten after the sync: not durable
  os_.crash();
  EXPECT_EQ(contents("/d/f"), "synced");
}

TEST_F(FaultInjectingOsTest, SyncingAFileDoesNotMakeItsNameDurable) {
  const int d = durable_dir();
  const int f = create(d, "f");
  write(f, "data");
  ASSERT_EQ(os_.fsync(f), 0);
  os_.crash();
  EXPECT_EQ(contents("/d/f"), std::nullopt);
}

TEST_F(FaultInjectingOsTest, RenameLinkUnlinkAndMkdirNeedTheDirectorySynced) {
  const int d = durable_dir();
  const int f = create(d, "a");
  write(f, "A");
  ASSERT_EQ(os_.fsync(f), 0);
  ASSERT_EQ(os_.close(f), 0);
  ASSERT_EQ(os_.fsync(d), 0);

  ASSERT_EQ(os_.rename_at(d, "a", d, "b", 0), 0);
  ASSERT_EQ(os_.link_at(d, "b", d, "c"), 0);
  ASSERT_EQ(os_.mkdir_at(d, "sub", 0700), 0);
  EXPECT_EQ(os_.directory_names("/d"), (std::vector<std::string>{"b", "c", "sub"}));
  os_.crash();
  EXPECT_EQ(os_.directory_names("/d"), std::vector<std::string>{"a"});

  const int d2 = open_dir("/d");
  ASSERT_EQ(os_.rename_at(d2, "a", d2, "b", 0), 0);
  ASSERT_EQ(os_.fsync(d2), 0);
  ASSERT_EQ(os_.unlink_at(d2, "b", false), 0);
  os_.crash();
  EXPECT_EQ(os_.directory_names("/d"), std::vector<std::string>{"b"});  // the unlink was not synced
  EXPECT_EQ(contents("/d/b"), "A");
}

TEST_F(FaultInjectingOsTest, AFailedFsyncDropsTheDataAndALaterFsyncLies) {
  const int d = durable_dir();
  const int f = create(d, "f");
  ASSERT_EQ(os_.fsync(d), 0);
  write(f, "precious");
  os_.fail_call(Op::fsync, 1, EIO);
  EXPECT_EQ(os_.fsync(f), EIO);
  EXPECT_EQ(os_.fsync(f), 0) << "Linux reports success on the retry";
  EXPECT_EQ(contents("/d/f"), "precious") << "the pages are still readable before the crash";
  os_.crash();
  const auto after = contents("/d/f");
  ASSERT_TRUE(after.has_value());
  EXPECT_NE(*after, "precious") << "a retried fsync must not make lost data durable";
  EXPECT_EQ(after->find("precious"), std::string::npos);
}

TEST_F(FaultInjectingOsTest, AFailedDirectoryFsyncIsNotUndoneByARetry) {
  const int d = durable_dir();
  const int f = create(d, "f");
  ASSERT_EQ(os_.fsync(f), 0);
  os_.fail_call(Op::fsync, 1, EIO);
  EXPECT_EQ(os_.fsync(d), EIO);
  EXPECT_EQ(os_.fsync(d), 0);
  os_.crash();
  EXPECT_EQ(os_.directory_names("/d"), std::vector<std::string>{});
}

TEST_F(FaultInjectingOsTest, ANameChangedAgainAfterAFailedSyncCanBeSyncedAgain) {
  const int d = durable_dir();
  const int f = create(d, "f");
  ASSERT_EQ(os_.fsync(f), 0);
  os_.fail_call(Op::fsync, 1, EIO);
  EXPECT_EQ(os_.fsync(d), EIO);
  ASSERT_EQ(os_.rename_at(d, "f", d, "g", 0), 0);  // a new change of the directory
  ASSERT_EQ(os_.fsync(d), 0);
  os_.crash();
  EXPECT_EQ(os_.directory_names("/d"), std::vector<std::string>{"g"});
}

TEST_F(FaultInjectingOsTest, CrashClosesEveryDescriptorAndNumbersAreNeverReused) {
  const int d = durable_dir();
  const int f = create(d, "f");
  EXPECT_EQ(os_.open_descriptors(), 2u);
  os_.crash();
  EXPECT_EQ(os_.open_descriptors(), 0u);
  const auto b = bytes_of("x");
  EXPECT_EQ(os_.pwrite(f, b.data(), 1, 0).error, EBADF);
  EXPECT_EQ(os_.fsync(d), EBADF);
  const int again = open_dir("/d");
  EXPECT_NE(again, d);
  EXPECT_NE(again, f);
}

TEST_F(FaultInjectingOsTest, CountsCallsByKind) {
  const int d = durable_dir();
  os_.reset_counts();
  const int f = create(d, "f");
  write(f, "ab");
  write(f, "cd", 2);
  ASSERT_EQ(os_.fsync(f), 0);
  ASSERT_EQ(os_.close(f), 0);
  EXPECT_EQ(os_.calls(Op::open), 1u);
  EXPECT_EQ(os_.calls(Op::write), 2u);
  EXPECT_EQ(os_.calls(Op::fsync), 1u);
  EXPECT_EQ(os_.calls(Op::close), 1u);
  EXPECT_EQ(os_.calls(Op::rename), 0u);
  EXPECT_EQ(os_.calls(), 5u);
}

TEST_F(FaultInjectingOsTest, TheNthCallFailsWithoutEffectAndIsReported) {
  const int d = durable_dir();
  const int f = create(d, "f");
  os_.fail_call(Op::write, 2, ENOSPC);
  write(f, "first");
  const auto b = bytes_of("second");
  EXPECT_EQ(os_.pwrite(f, b.data(), b.size(), 5).error, ENOSPC);
  EXPECT_EQ(contents("/d/f"), "first");
  write(f, "third", 5);  // only the armed call fails
  const auto fired = os_.fired();
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].op, Op::write);
  EXPECT_EQ(fired[0].path, "/d/f");
  EXPECT_FALSE(fired[0].directory);
  EXPECT_EQ(fired[0].error, ENOSPC);

  os_.fail_call(Op::mkdir, 1, EIO);
  EXPECT_EQ(os_.mkdir_at(d, "sub", 0700), EIO);
  EXPECT_EQ(os_.directory_names("/d"), std::vector<std::string>{"f"});
}

TEST_F(FaultInjectingOsTest, ShortWritesAndADiskFillingUp) {
  const int d = durable_dir();
  const int f = create(d, "f");
  os_.short_write(1);
  const auto b = bytes_of("abcdefgh");
  auto r = os_.pwrite(f, b.data(), b.size(), 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value, 4u);
  EXPECT_EQ(contents("/d/f"), "abcd");

  os_.short_write(1, ENOSPC);
  r = os_.pwrite(f, b.data(), b.size(), 4);
  EXPECT_EQ(r.value, 4u);
  r = os_.pwrite(f, b.data() + 4, 4, 8);
  EXPECT_EQ(r.error, ENOSPC);
  EXPECT_EQ(contents("/d/f"), "abcdabcd");
}

TEST_F(FaultInjectingOsTest, AfterThePowerIsCutNothingChanges) {
  const int d = durable_dir();
  os_.power_cut_after(2);
  const int f = create(d, "f");
  write(f, "x");
  const auto b = bytes_of("y");
  EXPECT_EQ(os_.pwrite(f, b.data(), 1, 1).error, EIO);
  EXPECT_EQ(os_.fsync(f), EIO);
  EXPECT_EQ(os_.fsync(d), EIO);
  EXPECT_EQ(os_.mkdir_at(d, "sub", 0700), EIO);
  EXPECT_TRUE(os_.power_is_cut());
  EXPECT_EQ(contents("/d/f"), "x");
  os_.crash();
  EXPECT_FALSE(os_.power_is_cut());
  EXPECT_EQ(os_.directory_names("/d"), std::vector<std::string>{});
}

TEST_F(FaultInjectingOsTest, RandomCrashesKeepPartsOfWhatWasNotDurableButNeverLoseWhatWas) {
  bool some_kept = false;
  bool some_dropped = false;
  for (std::uint64_t seed = 0; seed < 64; ++seed) {
    FaultInjectingOs os;
    ASSERT_EQ(os.mkdir_at(AT_FDCWD, "/d", 0700), 0);
    const int root = os.open_at(AT_FDCWD, "/", dir_flags, 0).value;
    ASSERT_EQ(os.fsync(root), 0);
    const int d = os.open_at(AT_FDCWD, "/d", dir_flags, 0).value;
    const int durable = os.open_at(d, "durable", create_flags, 0600).value;
    const auto data = bytes_of("durable data");
    ASSERT_EQ(os.pwrite(durable, data.data(), data.size(), 0).value, data.size());
    ASSERT_EQ(os.fsync(durable), 0);
    ASSERT_EQ(os.fsync(d), 0);
    const auto more = bytes_of("+unsynced tail");
    ASSERT_EQ(os.pwrite(durable, more.data(), more.size(), data.size()).value, more.size());
    static_cast<void>(os.open_at(d, "pending", create_flags, 0600));

    os.crash(FaultInjectingOs::CrashMode::random, seed);
    const auto got = string_of(*os.file_contents("/d/durable"));
    ASSERT_EQ(got.substr(0, data.size()), "durable data") << "seed " << seed;
    EXPECT_EQ(got, std::string("durable data+unsynced tail").substr(0, got.size()))
        << "only a prefix is kept";
    (got.size() > data.size() ? some_kept : some_dropped) = true;
    const auto listed = *os.directory_names("/d");
    EXPECT_TRUE(listed == std::vector<std::string>{"durable"} ||
                listed == (std::vector<std::string>{"durable", "pending"}));
  }
  EXPECT_TRUE(some_kept);
  EXPECT_TRUE(some_dropped);
}

TEST_F(FaultInjectingOsTest, RenameNoreplace) {
  const int d = durable_dir();
  static_cast<void>(create(d, "a"));
  static_cast<void>(create(d, "b"));
  EXPECT_EQ(os_.rename_at(d, "a", d, "b", ckpt::fs::Os::rename_noreplace), EEXIST);
  EXPECT_EQ(os_.rename_at(d, "a", d, "c", ckpt::fs::Os::rename_noreplace), 0);
  EXPECT_EQ(os_.link_at(d, "c", d, "b"), EEXIST);

  FaultInjectingOs old_fs(FaultInjectingOs::Options::without_rename_noreplace());
  ASSERT_EQ(old_fs.mkdir_at(AT_FDCWD, "/x", 0700), 0);
  const int x = old_fs.open_at(AT_FDCWD, "/x", dir_flags, 0).value;
  static_cast<void>(old_fs.open_at(x, "a", create_flags, 0600));
  EXPECT_EQ(old_fs.rename_at(x, "a", x, "c", ckpt::fs::Os::rename_noreplace), EINVAL);
  EXPECT_EQ(old_fs.link_at(x, "a", x, "c"), 0);
}

TEST_F(FaultInjectingOsTest, FlockIsPerDescriptorAndReleasedByCloseAndCrash) {
  const int d = durable_dir();
  const int a = os_.open_at(d, "lock", O_RDWR | O_CREAT, 0600).value;
  const int b = os_.open_at(d, "lock", O_RDWR | O_CREAT, 0600).value;
  EXPECT_EQ(os_.flock(a, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(os_.flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
  ASSERT_EQ(os_.close(a), 0);
  EXPECT_EQ(os_.flock(b, LOCK_EX | LOCK_NB), 0);
  os_.crash();
  const int d2 = open_dir("/d");
  const int c = os_.open_at(d2, "lock", O_RDWR | O_CREAT, 0600).value;
  EXPECT_EQ(os_.flock(c, LOCK_EX | LOCK_NB), 0);
}

TEST_F(FaultInjectingOsTest, PathsResolveLikeTheKernel) {
  const int d = durable_dir();
  static_cast<void>(create(d, "file"));
  EXPECT_EQ(os_.open_at(d, "file", dir_flags, 0).error, ENOTDIR);
  EXPECT_EQ(os_.open_at(d, "missing", O_RDONLY, 0).error, ENOENT);
  EXPECT_EQ(os_.open_at(AT_FDCWD, "/d/file/x", O_RDONLY, 0).error, ENOTDIR);
  EXPECT_EQ(os_.open_at(d, "file", create_flags, 0600).error, EEXIST);
  EXPECT_EQ(os_.mkdir_at(d, "file", 0700), EEXIST);
  EXPECT_EQ(os_.unlink_at(AT_FDCWD, "/d", true), ENOTEMPTY);
  EXPECT_EQ(os_.unlink_at(AT_FDCWD, "/d", false), EISDIR);
  EXPECT_EQ(os_.unlink_at(d, "file", true), ENOTDIR);
  const auto st = os_.stat_at(d, "file");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st.value.type, ckpt::fs::FileType::regular);
  EXPECT_EQ(st.value.mode, 0600u);
  EXPECT_EQ(os_.stat_at(AT_FDCWD, "/d").value.mode, 0700u);
  EXPECT_EQ(os_.read_dir(d).value, std::vector<std::string>{"file"});
}

}  // namespace
