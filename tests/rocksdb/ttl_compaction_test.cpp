// TTL's background cleanup in RocksDB: the compaction filter
// (ttl_compaction_filter.hpp) drops expired values, map entries and list
// elements when RocksDB compacts, driven by a manual clock (no sleeping):
// entries are written, the clock passes their TTL, a full compaction
// (CompactRange) runs, and a raw RocksDB iterator over the column family
// shows what is physically left. States without TTL, or with the filter off,
// keep everything; a native checkpoint taken after the compaction restores
// the live entries.
#include <ckpt/clock.hpp>
#include <ckpt/rocksdb/rocksdb_keyed_state_backend.hpp>
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/state/state_ttl_config.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {
namespace ttl_compaction {

using namespace std::chrono_literals;
using Backend = ckpt::rocksdb::RocksDBKeyedStateBackend<std::string>;
using Visibility = ckpt::StateTtlConfig::Visibility;
constexpr std::uint32_t kMaxParallelism = 128;

/// 100 ms TTL; expired entries stay readable until cleaned up, so a read
/// shows whether an entry is still stored.
ckpt::StateTtlConfig ttl_100ms() {
  return ckpt::StateTtlConfig::of(100ms)
      .with_visibility(Visibility::return_expired_if_not_cleaned_up)
      .with_incremental_cleanup(0);
}
template <class D>
D with_ttl(D d, ckpt::StateTtlConfig ttl = ttl_100ms()) {
  d.enable_time_to_live(ttl);
  return d;
}

/// No background compactions: only the test's CompactRange compacts.
std::unique_ptr<Backend> open_backend(const ckpt::test::TempDir& dir, const ckpt::Clock& clock) {
  return std::make_unique<Backend>(
      ckpt::rocksdb::RocksDBOptions::in(dir.path())
          .with_clock(clock)
          .with_options_factory(
              [](::rocksdb::DBOptions&, ::rocksdb::ColumnFamilyOptions& cf) { cf.disable_auto_compactions = true; }),
      ckpt::KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
}

/// A full compaction of every state (flushes the memtables first).
void compact_all(Backend& b) {
  for (const auto& name : b.instance().column_family_names()) {
    ::rocksdb::CompactRangeOptions o;
    o.bottommost_level_compaction = ::rocksdb::BottommostLevelCompaction::kForce;
    ASSERT_TRUE(b.instance().db().CompactRange(o, b.instance().column_family(name), nullptr, nullptr).ok()) << name;
  }
}

/// Key/value pairs physically stored in a state's column family.
std::size_t stored_entries(Backend& b, const std::string& state) {
  std::unique_ptr<::rocksdb::Iterator> it(
      b.instance().db().NewIterator(::rocksdb::ReadOptions(), b.instance().column_family(state)));
  std::size_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  EXPECT_TRUE(it->status().ok());
  return n;
}

std::shared_ptr<const ckpt::AggregateFunction<int, int, int>> sum_function() {
  return ckpt::make_aggregate_function<int, int, int>(
      [] { return 0; }, [](const int& v, int acc) { return acc + v; }, [](const int& acc) { return acc; },
      [](int x, int y) { return x + y; });
}

class TtlCompaction : public ::testing::Test {
 protected:
  ckpt::ManualClock clock_{1'000'000};
  ckpt::test::TempDir dir_{"ckpt-rocksdb-ttl-compaction"};
  std::unique_ptr<Backend> backend_ = open_backend(dir_, clock_);
};

TEST_F(TtlCompaction, ExpiredValuesMapEntriesAndAggregatesAreDropped) {
  auto& b = *backend_;
  auto value = b.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{"value", 0}));
  auto map = b.get_map_state(with_ttl(ckpt::MapStateDescriptor<std::string, int>{"map"}));
  auto reducing = b.get_reducing_state(
      with_ttl(ckpt::ReducingStateDescriptor<int>{"reducing", [](const int& x, const int& y) { return x + y; }}));
  auto aggregating =
      b.get_aggregating_state(with_ttl(ckpt::AggregatingStateDescriptor<int, int, int>{"aggregating", sum_function()}));
  for (const std::string k : {"a", "b", "c"}) {
    b.set_current_key(k);
    value.update(1);
    map.put("old", 1);
    reducing.add(2);
    aggregating.add(3);
  }
  clock_.advance(60ms);
  b.set_current_key("c");  // written again: lives 100 ms from now
  value.update(2);
  map.put("new", 2);
  reducing.add(5);  // reads the live sum, writes it back stamped now
  aggregating.add(5);
  clock_.advance(60ms);  // "a" and "b" (and c's "old" map entry) are 120 ms old

  compact_all(b);
  EXPECT_EQ(stored_entries(b, "value"), 1u);
  EXPECT_EQ(stored_entries(b, "map"), 1u);
  EXPECT_EQ(stored_entries(b, "reducing"), 1u);
  EXPECT_EQ(stored_entries(b, "aggregating"), 1u);
  EXPECT_EQ(b.keys("value"), std::vector<std::string>{"c"});
  b.set_current_key("c");
  EXPECT_EQ(value.value(), 2);
  EXPECT_FALSE(map.contains("old"));
  EXPECT_EQ(map.get("new"), 2);
  EXPECT_EQ(reducing.get(), 7);
  EXPECT_EQ(aggregating.get(), 8);
  b.set_current_key("a");  // gone, not merely hidden (the visibility would hand it out once)
  EXPECT_FALSE(value.get().has_value());
  EXPECT_FALSE(reducing.get().has_value());
}

TEST_F(TtlCompaction, ListStateLosesItsExpiredElementsAndEmptyListsGo) {
  auto& b = *backend_;
  auto list = b.get_list_state(with_ttl(ckpt::ListStateDescriptor<int>{"list"}));
  b.set_current_key("merged");  // only merge operands
  list.add(1);
  list.add(2);
  b.set_current_key("put");  // a full value, then an operand
  list.update({10, 11});
  b.set_current_key("gone");
  list.update({20});
  list.add(21);
  clock_.advance(60ms);
  b.set_current_key("merged");
  list.add(3);
  b.set_current_key("put");
  list.add(12);
  clock_.advance(60ms);  // the elements written first are expired, the last ones live

  compact_all(b);
  EXPECT_EQ(stored_entries(b, "list"), 2u);
  b.set_current_key("merged");
  EXPECT_EQ(list.get(), std::vector<int>{3});
  b.set_current_key("put");
  EXPECT_EQ(list.get(), std::vector<int>{12});
  b.set_current_key("gone");
  EXPECT_TRUE(list.get().empty());
}

TEST_F(TtlCompaction, StatesWithoutTtlOrWithTheFilterOffAreUntouched) {
  auto& b = *backend_;
  auto plain = b.get_state(ckpt::ValueStateDescriptor<int>{"plain", 0});
  auto plain_list = b.get_list_state(ckpt::ListStateDescriptor<int>{"plain-list"});
  auto off = b.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{"off", 0}, ttl_100ms().cleanup_in_rocksdb_compact_filter(0)));
  auto on = b.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{"on", 0}));
  for (const std::string k : {"a", "b"}) {
    b.set_current_key(k);
    plain.update(1);
    plain_list.add(1);
    off.update(1);
    on.update(1);
  }
  clock_.advance(1h);
  compact_all(b);
  EXPECT_EQ(stored_entries(b, "plain"), 2u);
  EXPECT_EQ(stored_entries(b, "plain-list"), 2u);
  EXPECT_EQ(stored_entries(b, "off"), 2u);
  EXPECT_EQ(stored_entries(b, "on"), 0u);
  b.set_current_key("a");
  EXPECT_EQ(plain.value(), 1);
  EXPECT_EQ(plain_list.get(), std::vector<int>{1});
  EXPECT_EQ(off.value(), 1);  // expired, stored, handed out once (return_expired_if_not_cleaned_up)
}

TEST_F(TtlCompaction, ANativeCheckpointAfterTheCompactionRestoresTheLiveEntries) {
  const auto declare = [](Backend& b) {
    return std::make_pair(b.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{"value", 0})),
                          b.get_list_state(with_ttl(ckpt::ListStateDescriptor<int>{"list"})));
  };
  auto [value, list] = declare(*backend_);
  for (const std::string k : {"old1", "old2"}) {
    backend_->set_current_key(k);
    value.update(1);
    list.add(1);
  }
  clock_.advance(60ms);
  for (const std::string k : {"live1", "live2", "old1"}) {
    backend_->set_current_key(k);
    value.update(2);
    list.add(2);
  }
  clock_.advance(60ms);
  compact_all(*backend_);
  ASSERT_EQ(stored_entries(*backend_, "value"), 3u);

  ckpt::test::TempDir root{"ckpt-rocksdb-ttl-compaction-storage"};
  auto storage =
      ckpt::CheckpointStorage::open("file://" + root.path().string(), ckpt::StorageOptions::incremental_checkpoints(1));
  auto pending = storage->begin_checkpoint(1, 1001);
  pending->write({"op", 0, 1, backend_->begin_snapshot(1, ckpt::SnapshotMode::incremental), std::nullopt});
  pending->complete();
  backend_->notify_snapshot_complete(1);
  ASSERT_FALSE(storage->open_checkpoint(1)->manifest().native.empty());  // RocksDB's own files

  ckpt::test::TempDir other{"ckpt-rocksdb-ttl-compaction-restored"};
  auto restored = open_backend(other, clock_);
  auto [rvalue, rlist] = declare(*restored);
  storage->restore_latest()->restore("op", restored.get(), nullptr);
  EXPECT_EQ(restored->keys("value"), (std::vector<std::string>{"live1", "live2", "old1"}));
  for (const std::string k : {"live1", "live2", "old1"}) {
    restored->set_current_key(k);
    EXPECT_EQ(rvalue.value(), 2) << k;
    EXPECT_EQ(rlist.get(), std::vector<int>{2}) << k;
  }
  restored->set_current_key("old2");
  EXPECT_FALSE(rvalue.get().has_value());
  EXPECT_TRUE(rlist.get().empty());
}

}  // namespace ttl_compaction
}  // namespace
