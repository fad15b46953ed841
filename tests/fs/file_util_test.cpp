#include <ckpt/fs/fault_injecting_file_system.hpp>
#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/fs/memory_file_system.hpp>

#include "fs_test_util.hpp"

#include <gtest/gtest.h>

namespace {

using ckpt::ConfigError;
using ckpt::CorruptionError;
using ckpt::errc;
using ckpt::IoError;
using ckpt::fs::copy_file;
using ckpt::fs::read_file;
using ckpt::fs::write_file;
using ckpt::fs::test::bytes_of;
using ckpt::fs::test::expect_error;
using ckpt::fs::test::pattern;
using ckpt::fs::test::read_all;

TEST(FileUtil, WriteThenReadWithinTheLimit) {
  ckpt::fs::MemoryFileSystem fs;
  write_file(fs, "d/f", bytes_of("hello"));
  EXPECT_EQ(read_file(fs, "d/f", 5), bytes_of("hello"));
  EXPECT_EQ(read_file(fs, "d/f", 1 << 20), bytes_of("hello"));
  expect_error<IoError>([&] { write_file(fs, "d/f", bytes_of("again")); }, errc::already_exists);
  write_file(fs, "empty", {});
  EXPECT_TRUE(read_file(fs, "empty", 0).empty());
}

TEST(FileUtil, AFileOverTheLimitIsRefusedNamingIt) {
  ckpt::fs::MemoryFileSystem fs;
  write_file(fs, "d/big", pattern(1001));
  const auto e = expect_error<CorruptionError>([&] { read_file(fs, "d/big", 1000); }, errc::limit_exceeded);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->path(), "d/big");
  EXPECT_NE(std::string(e->what()).find("1001"), std::string::npos) << e->what();
  EXPECT_NE(std::string(e->what()).find("1000"), std::string::npos) << e->what();
  expect_error<IoError>([&] { read_file(fs, "d/missing", 10); }, errc::not_found);
}

TEST(FileUtil, CopyStreamsBetweenFileSystemsInChunks) {
  ckpt::fs::test::TempDir tmp;
  ckpt::fs::MemoryFileSystem from;
  ckpt::fs::LocalFileSystem to(tmp.str());
  const auto data = pattern(3 * (1 << 20) + 123, 3);
  write_file(from, "savepoint/state", data);
  for (const std::size_t chunk :
       {std::size_t{1000}, std::size_t{64} << 10, std::size_t{1} << 20, data.size() * 2}) {
    const auto target = "copy-" + std::to_string(chunk);
    EXPECT_EQ(copy_file(from, "savepoint/state", to, target, chunk), data.size());
    EXPECT_EQ(read_all(to, target), data) << "chunk " << chunk;
  }
  write_file(from, "empty", {});
  EXPECT_EQ(copy_file(from, "empty", to, "empty"), 0u);
  EXPECT_EQ(to.open("empty")->size(), 0u);
}

TEST(FileUtil, FailedCopiesLeaveNothingBehind) {
  ckpt::fs::MemoryFileSystem from;
  ckpt::fs::MemoryFileSystem to;
  write_file(from, "f", pattern(100));
  write_file(to, "taken", bytes_of("keep"));
  expect_error<IoError>([&] { copy_file(from, "f", to, "taken"); }, errc::already_exists);
  EXPECT_EQ(read_all(to, "taken"), bytes_of("keep"));
  expect_error<IoError>([&] { copy_file(from, "missing", to, "x"); }, errc::not_found);
  expect_error<ConfigError>([&] { copy_file(from, "f", to, "y", 0); }, errc::invalid_argument);
  EXPECT_FALSE(to.exists("x"));
  EXPECT_FALSE(to.exists("y"));

  // A read that fails half way: the target is aborted.
  auto os = std::make_shared<ckpt::fs::FaultInjectingOs>();
  ckpt::fs::FaultInjectingFileSystem faulty(os);
  write_file(faulty, "src", pattern(10000));
  os->fail_call(ckpt::fs::FaultInjectingOs::Op::read, 3, EIO);
  const auto e =
      expect_error<IoError>([&] { copy_file(faulty, "src", to, "partial", 1000); }, errc::io_error);
  if (e) {
    EXPECT_EQ(e->path(), "src");
    EXPECT_EQ(e->system_code().value(), EIO);
  }
  EXPECT_FALSE(to.exists("partial"));
}

}  // namespace
