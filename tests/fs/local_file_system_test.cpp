// What only LocalFileSystem promises: modes, symlinks never followed, locks
// across processes, cleanup after killed writers, errno in errors.

#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/fs/temporary_name.hpp>

#include "fs_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace stdfs = std::filesystem;
using ckpt::ConfigError;
using ckpt::CorruptionError;
using ckpt::errc;
using ckpt::IoError;
using ckpt::fs::LocalFileSystem;
using ckpt::fs::test::bytes_of;
using ckpt::fs::test::expect_error;
using ckpt::fs::test::names;
using ckpt::fs::test::read_all;
using ckpt::fs::test::string_of;
using ckpt::fs::test::TempDir;
using ckpt::fs::test::write_all;

unsigned mode_of(const stdfs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return static_cast<unsigned>(st.st_mode) & 07777u;
}

std::vector<std::string> raw_names(const stdfs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : stdfs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string slurp(const stdfs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string out(static_cast<std::size_t>(stdfs::file_size(p)), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return out;
}

void plant(const stdfs::path& p, std::string_view content) {
  std::ofstream out(p, std::ios::binary);
  out << content;
}

/// Sets the umask for one test and puts the old one back.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

/// A child process that runs `body`, reports one byte through a pipe and then
/// blocks until it is killed (or until the parent closes `hold`).
class Child {
 public:
  template <class F>
  explicit Child(F&& body) {
    int report[2];
    int hold[2];
    if (::pipe(report) != 0 || ::pipe(hold) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::close(report[0]);
      ::close(hold[1]);
      char result = 'x';
      try {
        result = body();
      } catch (...) {
        result = 'e';
      }
      if (::write(report[1], &result, 1) != 1) ::_exit(3);
      char ignored;
      while (::read(hold[0], &ignored, 1) > 0) {
      }  // wait for the parent, or for SIGKILL
      ::_exit(0);
    }
    ::close(report[1]);
    ::close(hold[0]);
    report_ = report[0];
    hold_ = hold[1];
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) kill();
    ::close(report_);
    ::close(hold_);
  }

  /// Blocks until the child has reported.
  char result() {
    char c = '?';
    if (::read(report_, &c, 1) != 1) return '!';
    return c;
  }

  /// SIGKILL, then reaps it: whatever it held the kernel now releases.
  void kill() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status));
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int report_ = -1;
  int hold_ = -1;
};

class LocalFileSystemTest : public ::testing::Test {
 protected:
  TempDir tmp_;
  stdfs::path root_ = tmp_.path() / "root";
  stdfs::path outside_ = tmp_.path() / "outside";

  void SetUp() override {
    stdfs::create_directories(outside_);
    plant(outside_ / "secret", "secret");
  }

  std::vector<std::string> outside_names() { return raw_names(outside_); }
};

// ---- Modes -------------------------------------------------------------------

TEST_F(LocalFileSystemTest, DefaultModesAre0600And0700) {
  ScopedUmask mask(0);  // so what we see is what was asked for
  LocalFileSystem fs(root_.string());
  write_all(fs, "dir/sub/file", bytes_of("x"));
  fs.make_directories("made");
  auto lock = fs.try_lock("locks/_lock");
  EXPECT_EQ(mode_of(root_), 0700u);
  EXPECT_EQ(mode_of(root_ / "dir"), 0700u);
  EXPECT_EQ(mode_of(root_ / "dir/sub"), 0700u);
  EXPECT_EQ(mode_of(root_ / "made"), 0700u);
  EXPECT_EQ(mode_of(root_ / "dir/sub/file"), 0600u);
  EXPECT_EQ(mode_of(root_ / "locks/_lock"), 0600u);
}

TEST_F(LocalFileSystemTest, ModesAreConfigurable) {
  ScopedUmask mask(0);
  LocalFileSystem fs(root_.string(),
                     LocalFileSystem::Options::defaults().with_file_mode(0640).with_dir_mode(0750));
  EXPECT_EQ(fs.options().file_mode, 0640u);
  write_all(fs, "dir/file", bytes_of("x"));
  EXPECT_EQ(mode_of(root_), 0750u);
  EXPECT_EQ(mode_of(root_ / "dir"), 0750u);
  EXPECT_EQ(mode_of(root_ / "dir/file"), 0640u);
}

TEST_F(LocalFileSystemTest, TheUmaskStillApplies) {
  ScopedUmask mask(077);
  LocalFileSystem fs(root_.string(),
                     LocalFileSystem::Options::defaults().with_file_mode(0644).with_dir_mode(0755));
  write_all(fs, "dir/file", bytes_of("x"));
  EXPECT_EQ(mode_of(root_ / "dir"), 0700u);
  EXPECT_EQ(mode_of(root_ / "dir/file"), 0600u);
}

TEST_F(LocalFileSystemTest, ModesThatWouldLockUsOutAreRejected) {
  const auto bad = [&](LocalFileSystem::Options o) {
    const auto e =
        expect_error<ConfigError>([&] { LocalFileSystem fs(root_.string(), o); }, errc::invalid_argument);
    if (e) {
      EXPECT_NE(std::string(e->what()).find("mode"), std::string::npos);
    }
  };
  bad(LocalFileSystem::Options::defaults().with_file_mode(0400));
  bad(LocalFileSystem::Options::defaults().with_file_mode(04600));
  bad(LocalFileSystem::Options::defaults().with_dir_mode(0600));
  bad(LocalFileSystem::Options::defaults().with_dir_mode(01777));
  EXPECT_FALSE(stdfs::exists(root_)) << "a rejected configuration must not create anything";
}

// ---- Root ----------------------------------------------------------------------

TEST_F(LocalFileSystemTest, RootAndItsParentsAreCreatedAndNamedInTheUri) {
  const auto deep = root_ / "a" / "b";
  LocalFileSystem fs(deep.string() + "/");
  EXPECT_TRUE(stdfs::is_directory(deep));
  EXPECT_EQ(fs.uri(), "file://" + deep.string());
  EXPECT_EQ(fs.root(), deep.string());
}

TEST_F(LocalFileSystemTest, RelativeRootIsMadeAbsolute) {
  const auto old = stdfs::current_path();
  stdfs::current_path(tmp_.path());
  LocalFileSystem fs("relative/root");
  stdfs::current_path(old);
  EXPECT_EQ(fs.root(), (tmp_.path() / "relative/root").string());
  write_all(fs, "f", bytes_of("x"));
  EXPECT_EQ(slurp(tmp_.path() / "relative/root/f"), "x");
}

TEST_F(LocalFileSystemTest, RootThatIsAFileIsAnError) {
  plant(tmp_.path() / "file", "x");
  const auto e =
      expect_error<IoError>([&] { LocalFileSystem fs((tmp_.path() / "file").string()); }, errc::io_error);
  if (e) {
    EXPECT_EQ(e->system_code().value(), ENOTDIR);
  }
}

// ---- Symlinks are never followed --------------------------------------------------

TEST_F(LocalFileSystemTest, SymlinkAsADirectoryComponentIsNeverFollowed) {
  LocalFileSystem fs(root_.string());
  stdfs::create_directory_symlink(outside_, root_ / "link");
  stdfs::create_directories(root_ / "d");
  stdfs::create_directory_symlink(outside_, root_ / "d" / "nested");

  for (const std::string dir : {"link", "d/nested"}) {
    SCOPED_TRACE(dir);
    auto e = expect_error<IoError>([&] { fs.open(dir + "/secret"); }, errc::io_error);
    if (e) {
      EXPECT_EQ(e->system_code().value(), ELOOP);
      EXPECT_EQ(e->path(), dir + "/secret");
      EXPECT_NE(std::string(e->what()).find("symbolic link"), std::string::npos) << e->what();
    }
    expect_error<IoError>([&] { fs.create(dir + "/new"); }, errc::io_error);
    expect_error<IoError>([&] { fs.publish(dir + "/new", bytes_of("x")); }, errc::io_error);
    expect_error<IoError>([&] { fs.list(dir); }, errc::io_error);
    expect_error<IoError>([&] { fs.make_directories(dir + "/sub"); }, errc::io_error);
    expect_error<IoError>([&] { fs.try_lock(dir + "/lock"); }, errc::io_error);
    expect_error<IoError>([&] { fs.remove(dir + "/secret"); }, errc::io_error);
    expect_error<IoError>([&] { fs.remove_temporaries(dir); }, errc::io_error);
    EXPECT_FALSE(fs.exists(dir + "/secret"));
    EXPECT_FALSE(fs.exists(dir));
  }
  EXPECT_EQ(names(fs.list("")), std::vector<std::string>{"d"});  // the link is not there for ckpt
  EXPECT_TRUE(fs.list("d").empty());
  EXPECT_EQ(outside_names(), std::vector<std::string>{"secret"});
  EXPECT_EQ(slurp(outside_ / "secret"), "secret");

  // remove_all unlinks the links themselves and never descends through them.
  fs.remove_all("link");
  fs.remove_all("d");
  EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(root_ / "link")));
  EXPECT_FALSE(stdfs::exists(root_ / "d"));
  EXPECT_EQ(outside_names(), std::vector<std::string>{"secret"});
}

TEST_F(LocalFileSystemTest, SymlinkAsAFileIsNeverFollowed) {
  LocalFileSystem fs(root_.string());
  stdfs::create_symlink(outside_ / "secret", root_ / "f");
  stdfs::create_symlink(outside_ / "would-be-created", root_ / "dangling");

  const auto e = expect_error<IoError>([&] { fs.open("f"); }, errc::io_error);
  if (e) {
    EXPECT_EQ(e->system_code().value(), ELOOP);
  }
  EXPECT_FALSE(fs.exists("f"));
  EXPECT_TRUE(fs.list("").empty());
  for (const std::string name : {"f", "dangling"}) {
    SCOPED_TRACE(name);
    expect_error<IoError>([&] { fs.publish(name, bytes_of("overwritten")); }, errc::already_exists);
    expect_error<IoError>([&] { fs.try_lock(name); }, errc::io_error);
  }
  EXPECT_EQ(slurp(outside_ / "secret"), "secret");
  EXPECT_EQ(outside_names(), std::vector<std::string>{"secret"});

  fs.remove("f");  // removes the link, not its target
  EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(root_ / "f")));
  EXPECT_EQ(slurp(outside_ / "secret"), "secret");
}

TEST_F(LocalFileSystemTest, RemoveAllNeverDescendsIntoALinkedDirectory) {
  LocalFileSystem fs(root_.string());
  write_all(fs, "tree/a", bytes_of("a"));
  write_all(fs, "tree/sub/b", bytes_of("b"));
  stdfs::create_directory_symlink(outside_, root_ / "tree/sub/escape");
  stdfs::create_symlink(outside_ / "secret", root_ / "tree/secret-link");
  fs.remove_all("tree");
  EXPECT_FALSE(stdfs::exists(root_ / "tree"));
  EXPECT_EQ(outside_names(), std::vector<std::string>{"secret"});
  EXPECT_EQ(slurp(outside_ / "secret"), "secret");
}

TEST_F(LocalFileSystemTest, SpecialFilesAreNotThereAndNeverBlock) {
  LocalFileSystem fs(root_.string());
  ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
  // Opening a FIFO for reading would block until a writer came: it must not.
  expect_error<IoError>([&] { fs.open("fifo"); }, errc::not_found);
  expect_error<IoError>([&] { fs.try_lock("fifo"); }, errc::io_error);
  EXPECT_FALSE(fs.exists("fifo"));
  EXPECT_TRUE(fs.list("").empty());
  fs.remove("fifo");
  EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(root_ / "fifo")));
}

TEST_F(LocalFileSystemTest, NamesNoPathCouldAddressAreNotListedButAreRemoved) {
  LocalFileSystem fs(root_.string());
  write_all(fs, "d/ok", bytes_of("ok"));
  plant(root_ / "d" / "back\\slash", "x");
  plant(root_ / "d" / "ctrl\x01", "x");
  EXPECT_EQ(names(fs.list("d")), std::vector<std::string>{"ok"});
  fs.remove_all("d");
  EXPECT_FALSE(stdfs::exists(root_ / "d"));
}

// ---- Temporaries -------------------------------------------------------------------

TEST_F(LocalFileSystemTest, TemporaryPrefixIsReservedInEveryPath) {
  LocalFileSystem fs(root_.string());
  for (const std::string p : {".ckpt-tmp-x", "d/.ckpt-tmp-1", ".ckpt-tmp-dir/f"}) {
    SCOPED_TRACE(p);
    expect_error<ConfigError>([&] { fs.create(p); }, errc::invalid_name);
    expect_error<ConfigError>([&] { fs.open(p); }, errc::invalid_name);
    expect_error<ConfigError>([&] { fs.exists(p); }, errc::invalid_name);
    expect_error<ConfigError>([&] { fs.try_lock(p); }, errc::invalid_name);
  }
  EXPECT_TRUE(raw_names(root_).empty());
}

TEST_F(LocalFileSystemTest, UncommittedDataLivesUnderARecognisableTemporaryName) {
  LocalFileSystem fs(root_.string());
  auto file = fs.create("d/f");
  file->append(bytes_of("data"));
  const auto during = raw_names(root_ / "d");
  ASSERT_EQ(during.size(), 1u);
  EXPECT_TRUE(ckpt::fs::is_temporary_name(during[0])) << during[0];
  EXPECT_TRUE(fs.list("d").empty());
  file->commit();
  EXPECT_EQ(raw_names(root_ / "d"), std::vector<std::string>{"f"});  // no temporary left behind
  EXPECT_EQ(slurp(root_ / "d/f"), "data");
}

TEST_F(LocalFileSystemTest, RemoveTemporariesDeletesWhatAKilledWriterLeft) {
  LocalFileSystem fs(root_.string());
  write_all(fs, "d/committed", bytes_of("keep"));
  {
    Child writer([&] {
      LocalFileSystem child_fs(root_.string());
      auto file = child_fs.create("d/in-progress");
      file->append(bytes_of("partial"));
      file.release();  // as if the process died here; the kill below makes it so
      return 'y';
    });
    ASSERT_EQ(writer.result(), 'y');
    writer.kill();
  }
  plant(root_ / "d" / ".ckpt-tmp-planted", "old leftover");
  plant(root_ / ".ckpt-tmp-in-root", "root leftover");

  auto raw = raw_names(root_ / "d");
  EXPECT_EQ(raw.size(), 3u);
  EXPECT_EQ(names(fs.list("d")), std::vector<std::string>{"committed"});

  fs.remove_temporaries("d");
  EXPECT_EQ(raw_names(root_ / "d"), std::vector<std::string>{"committed"});
  EXPECT_EQ(slurp(root_ / "d/committed"), "keep");
  // Only the directory given: the root's leftover waits for its own call.
  EXPECT_TRUE(stdfs::exists(root_ / ".ckpt-tmp-in-root"));
  fs.remove_temporaries("");
  EXPECT_EQ(raw_names(root_), std::vector<std::string>{"d"});
}

// ---- Locks across processes ------------------------------------------------------------

TEST_F(LocalFileSystemTest, LockHeldByAnotherProcessIsExclusiveAndReleasedWhenItIsKilled) {
  LocalFileSystem fs(root_.string());
  Child holder([&] {
    LocalFileSystem child_fs(root_.string());
    auto lock = child_fs.try_lock("job/_lock");
    const char result = lock ? 'y' : 'n';
    static_cast<void>(lock.release());  // held until the process dies
    return result;
  });
  ASSERT_EQ(holder.result(), 'y');
  EXPECT_EQ(fs.try_lock("job/_lock"), nullptr);
  EXPECT_EQ(fs.try_lock("job/_lock"), nullptr);
  holder.kill();  // SIGKILL: no destructor runs; the kernel drops the flock
  auto lock = fs.try_lock("job/_lock");
  EXPECT_NE(lock, nullptr);
}

TEST_F(LocalFileSystemTest, LockHeldHereExcludesAnotherProcess) {
  LocalFileSystem fs(root_.string());
  auto lock = fs.try_lock("_lock");
  ASSERT_NE(lock, nullptr);
  {
    Child contender([&] {
      LocalFileSystem child_fs(root_.string());
      return child_fs.try_lock("_lock") ? 'y' : 'n';
    });
    EXPECT_EQ(contender.result(), 'n');
  }
  lock.reset();
  Child contender([&] {
    LocalFileSystem child_fs(root_.string());
    return child_fs.try_lock("_lock") ? 'y' : 'n';
  });
  EXPECT_EQ(contender.result(), 'y');
}

// ---- Errors ------------------------------------------------------------------------------

TEST_F(LocalFileSystemTest, ErrorsNameThePathAndCarryErrno) {
  LocalFileSystem fs(root_.string());
  write_all(fs, "plain", bytes_of("x"));

  auto e = expect_error<IoError>([&] { fs.open("missing"); }, errc::not_found);
  if (e) {
    EXPECT_EQ(e->system_code().value(), ENOENT);
    EXPECT_EQ(e->path(), "missing");
    EXPECT_NE(std::string(e->what()).find(fs.uri()), std::string::npos) << e->what();
  }
  e = expect_error<IoError>([&] { fs.create("plain/child"); }, errc::io_error);
  if (e) {
    EXPECT_EQ(e->system_code().value(), ENOTDIR);
    EXPECT_EQ(e->path(), "plain/child");
    EXPECT_NE(std::string(e->what()).find("plain/child"), std::string::npos) << e->what();
  }
  e = expect_error<IoError>([&] { fs.list("plain"); }, errc::io_error);
  if (e) {
    EXPECT_EQ(e->system_code().value(), ENOTDIR);
  }
  fs.make_directories("dir");
  e = expect_error<IoError>([&] { fs.remove("dir"); }, errc::io_error);
  if (e) {
    EXPECT_EQ(e->system_code().value(), EISDIR);
    EXPECT_EQ(e->path(), "dir");
  }
  e = expect_error<IoError>([&] { fs.open("dir"); }, errc::not_found);
  if (e) {
    EXPECT_EQ(e->path(), "dir");
  }
  EXPECT_FALSE(fs.exists("plain/child"));
}

TEST_F(LocalFileSystemTest, PermissionDeniedCarriesEacces) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  LocalFileSystem fs(root_.string());
  fs.make_directories("ro");
  stdfs::permissions(root_ / "ro", stdfs::perms::owner_read | stdfs::perms::owner_exec);
  const auto e = expect_error<IoError>([&] { fs.publish("ro/f", bytes_of("x")); }, errc::permission_denied);
  if (e) {
    EXPECT_EQ(e->system_code().value(), EACCES);
    EXPECT_EQ(e->path(), "ro/f");
  }
}

TEST_F(LocalFileSystemTest, ReadOfAFileThatShrankIsTruncated) {
  LocalFileSystem fs(root_.string());
  write_all(fs, "f", ckpt::fs::test::pattern(1000));
  auto file = fs.open("f");
  ASSERT_EQ(::truncate((root_ / "f").c_str(), 10), 0);  // someone else cut it after open()
  ckpt::Bytes buffer(100);
  const auto e = expect_error<CorruptionError>([&] { file->read(0, buffer); }, errc::truncated);
  if (e) {
    EXPECT_EQ(e->path(), "f");
  }
}

TEST_F(LocalFileSystemTest, FilesOutliveTheirFileSystem) {
  auto fs = std::make_unique<LocalFileSystem>(root_.string());
  auto writer = fs->create("d/f");
  write_all(*fs, "r", bytes_of("read me"));
  auto reader = fs->open("r");
  fs.reset();
  writer->append(bytes_of("late"));
  writer->commit();
  ckpt::Bytes got(7);
  reader->read(0, got);
  EXPECT_EQ(string_of(got), "read me");
  EXPECT_EQ(slurp(root_ / "d/f"), "late");
}

}  // namespace
