#include <ckpt/clock.hpp>
#include <ckpt/rocksdb/rocksdb_keyed_state_backend.hpp>

#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace {

using ckpt::KeyGroupRange;
using ckpt::ListStateDescriptor;
using ckpt::MapStateDescriptor;
using ckpt::ValueStateDescriptor;
using ckpt::rocksdb::RocksDBKeyedStateBackend;
using ckpt::rocksdb::RocksDBOptions;
using ckpt::test::TempDir;

class RocksDBBackend : public ::testing::Test {
 protected:
  TempDir dir_{"ckpt-rocksdb"};
  RocksDBKeyedStateBackend<std::string> backend_{
      RocksDBOptions::in(dir_.path()).with_memory_budget(std::size_t{8} << 20), KeyGroupRange::all(128), 128};
};

TEST_F(RocksDBBackend, ValueStateIsPerKeyWithItsDefault) {
  auto clicks = backend_.get_state(ValueStateDescriptor<std::int64_t>{"clicks", 5});
  backend_.set_current_key("alice");
  EXPECT_EQ(clicks.value(), 5);
  EXPECT_FALSE(clicks.get().has_value());
  clicks.update(clicks.value() + 1);
  backend_.set_current_key("bob");
  EXPECT_EQ(clicks.value(), 5);
  clicks.update(100);
  backend_.set_current_key("alice");
  EXPECT_EQ(clicks.value(), 6);
  clicks.clear();
  EXPECT_FALSE(clicks.get().has_value());
  backend_.set_current_key("bob");
  EXPECT_EQ(clicks.value(), 100);
}

TEST_F(RocksDBBackend, ListStateAppendsWithTheMergeOperator) {
  auto events = backend_.get_list_state(ListStateDescriptor<std::string>{"events"});
  backend_.set_current_key("alice");
  EXPECT_TRUE(events.get().empty());
  events.add("a");
  events.add_all({"b", "c"});
  EXPECT_EQ(events.get(), (std::vector<std::string>{"a", "b", "c"}));
  backend_.set_current_key("bob");
  EXPECT_TRUE(events.get().empty());
  events.update({"x"});
  events.add("y");
  EXPECT_EQ(events.get(), (std::vector<std::string>{"x", "y"}));
  backend_.set_current_key("alice");
  events.clear();
  EXPECT_TRUE(events.get().empty());
}

TEST_F(RocksDBBackend, MapStateIteratesOnlyTheCurrentKey) {
  auto m = backend_.get_map_state(MapStateDescriptor<std::string, std::int32_t>{"m"});
  // Keys whose serialized forms are prefixes of each other's bytes must not mix.
  for (const std::string k : {"a", "ab", "b"}) {
    backend_.set_current_key(k);
    m.put("one", 1);
    m.put(k, 2);
  }
  backend_.set_current_key("a");
  EXPECT_EQ(m.get("one"), 1);
  EXPECT_EQ(m.get("a"), 2);
  EXPECT_FALSE(m.get("ab").has_value());
  std::map<std::string, std::int32_t> seen;
  m.for_each([&](const std::string& k, const std::int32_t& v) { seen[k] = v; });
  EXPECT_EQ(seen, (std::map<std::string, std::int32_t>{{"a", 2}, {"one", 1}}));
  EXPECT_EQ(m.size(), 2u);
  EXPECT_TRUE(m.remove("one"));
  EXPECT_FALSE(m.remove("one"));
  m.clear();
  EXPECT_EQ(m.size(), 0u);
  backend_.set_current_key("ab");
  EXPECT_EQ(m.size(), 2u);
}

TEST_F(RocksDBBackend, ReducingStateReducesPerKey) {
  auto sum = backend_.get_reducing_state(
      ckpt::ReducingStateDescriptor<std::int64_t>{"sum", [](const std::int64_t& a, const std::int64_t& b) { return a + b; }});
  backend_.set_current_key("alice");
  EXPECT_FALSE(sum.get().has_value());
  sum.add(2);
  sum.add(3);
  backend_.set_current_key("bob");
  sum.add(10);
  backend_.set_current_key("alice");
  EXPECT_EQ(sum.get(), 5);
  sum.clear();
  EXPECT_FALSE(sum.get().has_value());
}

TEST_F(RocksDBBackend, AggregatingStateKeepsTheAccumulator) {
  auto fn = ckpt::make_aggregate_function<std::string, std::size_t, std::size_t>(
      [] { return std::size_t{0}; }, [](const std::string& s, std::size_t acc) { return acc + s.size(); },
      [](const std::size_t& acc) { return acc; }, [](std::size_t x, std::size_t y) { return x + y; });
  auto chars =
      backend_.get_aggregating_state(ckpt::AggregatingStateDescriptor<std::string, std::size_t, std::size_t>{"chars", fn});
  backend_.set_current_key("k");
  EXPECT_FALSE(chars.get().has_value());
  chars.add("abc");
  chars.add("de");
  EXPECT_EQ(chars.get(), 5u);
  backend_.set_current_key("other");
  EXPECT_FALSE(chars.get().has_value());
}

TEST_F(RocksDBBackend, NoCurrentKeyIsAStateError) {
  auto v = backend_.get_state(ValueStateDescriptor<int>{"v"});
  try {
    (void)v.value();
    FAIL() << "read without a current key";
  } catch (const ckpt::StateError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::no_current_key);
  }
}

TEST_F(RocksDBBackend, RedeclaringWithAnotherTypeIsAStateError) {
  (void)backend_.get_state(ValueStateDescriptor<int>{"v"});
  EXPECT_NO_THROW((void)backend_.get_state(ValueStateDescriptor<int>{"v"}));
  try {
    (void)backend_.get_list_state(ListStateDescriptor<int>{"v"});
    FAIL() << "declared one name twice with two types";
  } catch (const ckpt::StateError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::state_type_mismatch);
  }
}

TEST(RocksDBBackendRange, AKeyOfAForeignKeyGroupIsAStateError) {
  TempDir dir("ckpt-rocksdb");
  RocksDBKeyedStateBackend<std::uint64_t> backend(RocksDBOptions::in(dir.path()).with_memory_budget(std::size_t{8} << 20),
                                                  KeyGroupRange::for_subtask(128, 4, 0), 128);
  int refused = 0;
  for (std::uint64_t k = 0; k < 64; ++k) {
    const auto kg = ckpt::key_group_for(k, 128);
    if (backend.key_groups().contains(kg)) {
      EXPECT_NO_THROW(backend.set_current_key(k));
    } else {
      try {
        backend.set_current_key(k);
        ADD_FAILURE() << "key " << k << " of key group " << kg << " accepted";
      } catch (const ckpt::StateError& e) {
        EXPECT_EQ(e.code(), ckpt::errc::key_group_out_of_range);
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(RocksDBBackendRange, EachStateIsItsOwnColumnFamily) {
  TempDir dir("ckpt-rocksdb");
  RocksDBKeyedStateBackend<int> backend(RocksDBOptions::in(dir.path()).with_memory_budget(std::size_t{8} << 20),
                                        KeyGroupRange::all(128), 128);
  (void)backend.get_state(ValueStateDescriptor<int>{"a"});
  (void)backend.get_list_state(ListStateDescriptor<int>{"b"});
  (void)backend.get_map_state(MapStateDescriptor<int, int>{"c"});
  EXPECT_EQ(backend.instance().column_family_names(), (std::vector<std::string>{"a", "b", "c"}));
}

}  // namespace

namespace {

TEST(RocksDBBackendRange, DeletingOtherKeyGroupsKeepsExactlyTheRange) {
  TempDir dir("ckpt-rocksdb");
  RocksDBKeyedStateBackend<std::uint64_t> backend(RocksDBOptions::in(dir.path()).with_memory_budget(std::size_t{8} << 20),
                                                  KeyGroupRange::all(128), 128);
  auto v = backend.get_state(ValueStateDescriptor<std::uint64_t>{"v"});
  auto m = backend.get_map_state(MapStateDescriptor<int, int>{"m"});
  for (std::uint64_t k = 0; k < 500; ++k) {
    backend.set_current_key(k);
    v.update(k);
    m.put(1, 1);
  }
  const auto keep = KeyGroupRange::for_subtask(128, 3, 1);
  backend.instance().delete_key_groups_outside(keep, 128);
  int kept = 0;
  for (std::uint64_t k = 0; k < 500; ++k) {
    backend.set_current_key(k);
    const bool mine = keep.contains(ckpt::key_group_for(k, 128));
    EXPECT_EQ(v.get().has_value(), mine) << k;
    EXPECT_EQ(m.contains(1), mine) << k;
    kept += mine ? 1 : 0;
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 500);
}

TEST(RocksDBBackendRange, ASnapshotIsAConsistentViewWhileWritesGoOn) {
  TempDir dir("ckpt-rocksdb");
  RocksDBKeyedStateBackend<int> backend(RocksDBOptions::in(dir.path()).with_memory_budget(std::size_t{8} << 20),
                                        KeyGroupRange::all(128), 128);
  auto v = backend.get_state(ValueStateDescriptor<int>{"v"});
  backend.set_current_key(1);
  v.update(10);
  auto snap = backend.instance().snapshot();
  v.update(20);
  rocksdb::ReadOptions at;
  at.snapshot = snap.get();
  auto* cf = backend.instance().column_family("v");
  std::unique_ptr<rocksdb::Iterator> it(backend.instance().db().NewIterator(at, cf));
  int entries = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++entries;
    EXPECT_EQ(ckpt::serial::decode<int>(ckpt::rocksdb::detail::span_of(it->value())), 10);
  }
  EXPECT_EQ(entries, 1);
  EXPECT_EQ(v.value(), 20);
}

TEST_F(RocksDBBackend, AValueWithTtlIsStoredAsItsTimestampThenItsBytes) {
  ckpt::ManualClock clock(123'456'789);
  TempDir dir{"ckpt-rocksdb-ttl"};
  RocksDBKeyedStateBackend<std::string> backend(
      RocksDBOptions::in(dir.path()).with_memory_budget(std::size_t{8} << 20).with_clock(clock), KeyGroupRange::all(128),
      128);
  ckpt::ValueStateDescriptor<std::int64_t> d{"v"};
  d.enable_time_to_live(ckpt::StateTtlConfig::of(std::chrono::hours(1)));
  auto v = backend.get_state(d);
  backend.set_current_key("k");
  v.update(42);
  std::string raw;
  const auto key = ckpt::rocksdb::state_key(backend.current_key_group(), std::string("k"));
  ASSERT_TRUE(backend.instance().db().Get(rocksdb::ReadOptions(), backend.instance().column_family("v"), key, &raw).ok());
  std::string expected;
  ckpt::rocksdb::detail::append_timestamp(expected, 123'456'789);
  ckpt::rocksdb::append_serialized(expected, std::int64_t{42});
  EXPECT_EQ(raw, expected);
}

}  // namespace
