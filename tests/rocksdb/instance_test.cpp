#include <ckpt/rocksdb/rocksdb_instance.hpp>

#include "temp_dir.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace {

using ckpt::rocksdb::PredefinedOptions;
using ckpt::rocksdb::RocksDBInstance;
using ckpt::rocksdb::RocksDBOptions;
using ckpt::test::TempDir;

RocksDBOptions small(const TempDir& dir) {
  return RocksDBOptions::in(dir.path()).with_memory_budget(std::size_t{8} << 20);
}

/// Opening with `options` throws an IoError of `code` whose message contains `needle`.
void expect_open_fails(RocksDBOptions options, ckpt::errc code, const std::string& needle) {
  try {
    RocksDBInstance db(std::move(options));
    ADD_FAILURE() << "opened " << needle;
  } catch (const ckpt::IoError& e) {
    EXPECT_EQ(e.code(), code);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(RocksDBInstance, OpensWritesAndReadsOneColumnFamilyPerState) {
  TempDir dir("ckpt-rocksdb");
  RocksDBInstance db(small(dir));
  auto* a = db.column_family("counts");
  auto* b = db.column_family("sessions");
  EXPECT_NE(a, b);
  EXPECT_EQ(db.column_family("counts"), a);
  ASSERT_TRUE(db.db().Put({}, a, "k", "1").ok());
  std::string v;
  ASSERT_TRUE(db.db().Get({}, a, "k", &v).ok());
  EXPECT_EQ(v, "1");
  EXPECT_TRUE(db.db().Get({}, b, "k", &v).IsNotFound());
  EXPECT_EQ(db.column_family_names(), (std::vector<std::string>{"counts", "sessions"}));
}

TEST(RocksDBInstance, MissingWorkingDirectoryIsAnErrorNamingIt) {
  TempDir dir("ckpt-rocksdb");
  const auto missing = dir.path() / "nope";
  expect_open_fails(RocksDBOptions::in(missing), ckpt::errc::not_found, missing.string());
}

TEST(RocksDBInstance, AFileIsNotAWorkingDirectory) {
  TempDir dir("ckpt-rocksdb");
  const auto file = dir.path() / "file";
  std::ofstream(file) << "x";
  EXPECT_THROW(RocksDBInstance db(RocksDBOptions::in(file)), ckpt::IoError);
}

TEST(RocksDBInstance, UnwritableWorkingDirectoryIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into a read-only directory";
  TempDir dir("ckpt-rocksdb");
  std::filesystem::permissions(dir.path(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  expect_open_fails(small(dir), ckpt::errc::permission_denied, dir.str());
}

TEST(RocksDBInstance, ADirectoryInUseByAnotherBackendIsRefused) {
  TempDir dir("ckpt-rocksdb");
  RocksDBInstance first(small(dir));
  expect_open_fails(small(dir), ckpt::errc::already_exists, "already used");
}

TEST(RocksDBInstance, TheDirectoryIsFreeAgainAfterClose) {
  TempDir dir("ckpt-rocksdb");
  { RocksDBInstance first(small(dir)); }
  RocksDBInstance second(small(dir));
  SUCCEED();
}

TEST(RocksDBInstance, ProfilesAndTheOptionsFactoryAreApplied) {
  for (auto p : {PredefinedOptions::default_profile, PredefinedOptions::spinning_disk_optimized,
                 PredefinedOptions::flash_ssd_optimized}) {
    TempDir dir("ckpt-rocksdb");
    int calls = 0;
    RocksDBInstance db(small(dir).with_profile(p).with_options_factory(
        [&](rocksdb::DBOptions& o, rocksdb::ColumnFamilyOptions&) {
          o.max_log_file_size = 64 << 20;
          o.keep_log_file_num = 3;
          ++calls;
        }));
    db.column_family("s");
    EXPECT_GE(calls, 2);  // the database and the state's column family
    EXPECT_EQ(db.db().GetDBOptions().keep_log_file_num, 3u);
  }
}

TEST(RocksDBInstance, MemoryBudgetIsOneCacheWithTheWriteBuffersCharged) {
  TempDir dir("ckpt-rocksdb");
  // Flink's split: cache (3 - r) / 3 of the budget, write buffers 2r / 3,
  // so the cache and half the write buffers (their overshoot) make the budget.
  RocksDBInstance db(RocksDBOptions::in(dir.path()).with_memory_budget(std::size_t{48} << 20, 0.5));
  EXPECT_EQ(db.shared().cache->GetCapacity(), std::size_t{40} << 20);
  EXPECT_EQ(db.shared().write_buffer_manager->buffer_size(), std::size_t{16} << 20);
  EXPECT_TRUE(db.shared().write_buffer_manager->cost_to_cache());
}

TEST(RocksDBInstance, ABadBudgetIsAConfigError) {
  TempDir dir("ckpt-rocksdb");
  EXPECT_THROW(RocksDBInstance db(RocksDBOptions::in(dir.path()).with_memory_budget(1024)), ckpt::ConfigError);
  EXPECT_THROW(RocksDBInstance db(RocksDBOptions::in(dir.path()).with_memory_budget(std::size_t{8} << 20, 1.5)),
               ckpt::ConfigError);
}

}  // namespace
