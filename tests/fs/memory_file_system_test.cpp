// What only MemoryFileSystem promises: named stores shared in-process (a
// restart without a process), prefixes, anonymous stores.

#include <ckpt/fs/memory_file_system.hpp>

#include "fs_test_util.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

using ckpt::ConfigError;
using ckpt::errc;
using ckpt::IoError;
using ckpt::fs::EntryType;
using ckpt::fs::MemoryFileSystem;
using ckpt::fs::MemoryStore;
using ckpt::fs::test::bytes_of;
using ckpt::fs::test::expect_error;
using ckpt::fs::test::names;
using ckpt::fs::test::read_all;
using ckpt::fs::test::string_of;
using ckpt::fs::test::write_all;

/// A named store dropped when the test ends.
class NamedStore {
 public:
  explicit NamedStore(std::string name) : name_(std::move(name)) {}
  ~NamedStore() { MemoryStore::drop(name_); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

TEST(MemoryFileSystem, ANamedStoreOutlivesItsFileSystemsUntilDropped) {
  NamedStore store("restart-test");
  {
    auto fs = MemoryFileSystem::open_named(store.name(), "job-1");
    fs->publish("chk-1/_metadata", bytes_of("manifest"));
  }  // the "process" is gone
  auto restarted = MemoryFileSystem::open_named(store.name(), "job-1");
  EXPECT_EQ(string_of(read_all(*restarted, "chk-1/_metadata")), "manifest");
  EXPECT_EQ(restarted->uri(), "mem://restart-test/job-1");

  EXPECT_TRUE(MemoryStore::drop(store.name()));
  EXPECT_FALSE(MemoryStore::drop(store.name()));
  EXPECT_TRUE(restarted->exists("chk-1/_metadata")) << "an open file system keeps its store";
  EXPECT_FALSE(MemoryFileSystem::open_named(store.name(), "job-1")->exists("chk-1/_metadata"));
}

TEST(MemoryFileSystem, TwoInstancesOnOneStoreSeeEachOthersCommitsAndLocks) {
  NamedStore store("two-instances");
  auto a = MemoryFileSystem::open_named(store.name());
  auto b = MemoryFileSystem::open_named(store.name());
  auto file = a->create("f");
  file->append(bytes_of("x"));
  EXPECT_FALSE(b->exists("f"));
  file->commit();
  EXPECT_TRUE(b->exists("f"));
  expect_error<IoError>([&] { b->publish("f", bytes_of("y")); }, errc::already_exists);
  auto lock = a->try_lock("_lock");
  ASSERT_NE(lock, nullptr);
  EXPECT_EQ(b->try_lock("_lock"), nullptr);
  lock.reset();
  EXPECT_NE(b->try_lock("_lock"), nullptr);
}

TEST(MemoryFileSystem, PrefixesIsolateFileSystemsOfOneStore) {
  NamedStore store("prefixes");
  auto a = MemoryFileSystem::open_named(store.name(), "jobs/a");
  auto b = MemoryFileSystem::open_named(store.name(), "jobs/b");
  auto whole = MemoryFileSystem::open_named(store.name());
  a->publish("f", bytes_of("a"));
  b->publish("f", bytes_of("b"));
  EXPECT_EQ(string_of(read_all(*a, "f")), "a");
  EXPECT_EQ(string_of(read_all(*b, "f")), "b");
  EXPECT_EQ(names(whole->list("jobs")), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(string_of(read_all(*whole, "jobs/b/f")), "b");
  a->remove_all("f");
  EXPECT_TRUE(b->exists("f"));
  expect_error<ConfigError>([&] { MemoryFileSystem::open_named(store.name(), "../escape"); },
                            errc::invalid_name);
}

TEST(MemoryFileSystem, AnonymousStoresAreSeparateAndReachableByNameWhileAlive) {
  MemoryFileSystem a;
  MemoryFileSystem b;
  a.publish("f", bytes_of("x"));
  EXPECT_FALSE(b.exists("f"));
  EXPECT_NE(a.uri(), b.uri());
  ASSERT_EQ(a.uri().rfind("mem://", 0), 0u);
  const auto name = a.store()->name();
  EXPECT_EQ(MemoryStore::named(name), a.store());
}

TEST(MemoryFileSystem, StoreNamesAreChecked) {
  for (const std::string& bad :
       std::vector<std::string>{"", "has/slash", "has space", "ctrl\x01", std::string(300, 'x')}) {
    expect_error<ConfigError>([&] { MemoryStore::named(bad); }, errc::invalid_name);
  }
}

TEST(MemoryFileSystem, TemporaryPrefixIsReservedAsOnDisk) {
  MemoryFileSystem fs;
  expect_error<ConfigError>([&] { fs.create(".ckpt-tmp-x"); }, errc::invalid_name);
  expect_error<ConfigError>([&] { fs.open("d/.ckpt-tmp-x"); }, errc::invalid_name);
}

TEST(MemoryFileSystem, AFileInTheWayOfADirectoryIsAnError) {
  MemoryFileSystem fs;
  write_all(fs, "f", bytes_of("x"));
  expect_error<IoError>([&] { fs.create("f/child"); }, errc::io_error);
  expect_error<IoError>([&] { fs.make_directories("f/sub"); }, errc::io_error);
  expect_error<IoError>([&] { fs.list("f"); }, errc::io_error);
  fs.make_directories("dir");
  expect_error<IoError>([&] { fs.remove("dir"); }, errc::io_error);
  expect_error<IoError>([&] { fs.open("dir"); }, errc::not_found);
  EXPECT_FALSE(fs.exists("f/child"));
}

TEST(MemoryFileSystem, TheLockFileIsThereAsOnDisk) {
  MemoryFileSystem fs;
  auto lock = fs.try_lock("job/_lock");
  ASSERT_NE(lock, nullptr);
  EXPECT_EQ(fs.list("job"), (std::vector<ckpt::fs::Entry>{{"_lock", EntryType::file, 0}}));
}

TEST(MemoryFileSystem, AReaderKeepsWhatItOpened) {
  MemoryFileSystem fs;
  write_all(fs, "f", bytes_of("old"));
  auto reader = fs.open("f");
  fs.remove("f");
  write_all(fs, "f", bytes_of("new!"));
  ckpt::Bytes got(3);
  reader->read(0, got);
  EXPECT_EQ(string_of(got), "old");
  EXPECT_EQ(reader->size(), 3u);
}

TEST(MemoryFileSystem, RemovedDataIsFreed) {
  MemoryFileSystem fs;
  write_all(fs, "a/b", ckpt::fs::test::pattern(1000));
  write_all(fs, "a/c/d", ckpt::fs::test::pattern(500));
  EXPECT_EQ(fs.store()->bytes_used(), 1500u);
  fs.remove_all("a");
  EXPECT_EQ(fs.store()->bytes_used(), 0u);
}

TEST(MemoryFileSystem, InstancesOnOneStoreRaceSafely) {
  NamedStore store("race");
  constexpr int threads = 6;
  std::atomic<int> winners{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto fs = MemoryFileSystem::open_named(store.name(), "p");
      for (int i = 0; i < 50; ++i) {
        try {
          fs->publish("n" + std::to_string(i), bytes_of(std::to_string(t)));
          winners.fetch_add(1);
        } catch (const IoError&) {
        }
        fs->list("");
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(winners.load(), 50);
}

}  // namespace
