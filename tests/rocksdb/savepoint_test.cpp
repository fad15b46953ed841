// Canonical snapshots of the RocksDB backend through checkpoint storage: a
// savepoint taken on the heap backend restores into RocksDB backends and the
// other way round, rescaled from 1 to 3 subtasks, for every state kind; every
// key restored exactly once with equal values; a restore into a state
// declared with another type is a StateError; a state without keys survives;
// states with TTL keep their timestamps from heap to RocksDB to heap, and
// timers registered on either backend fire on the other after a rescale.
#include <ckpt/clock.hpp>
#include <ckpt/rocksdb/rocksdb_keyed_state_backend.hpp>
#include <ckpt/state/keyed_state_backend.hpp>
#include <ckpt/state/timer_service.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "all_states.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

using ckpt::KeyGroupRange;
using ckpt::rocksdb::RocksDBKeyedStateBackend;
using ckpt::rocksdb::RocksDBOptions;
using ckpt::test::TempDir;

using namespace ckpt::test::all_states;

/// Writes a savepoint of `backend` as the single subtask of operator "op"
/// and opens it again.
std::unique_ptr<ckpt::SnapshotReader> savepoint(ckpt::CheckpointStorage& storage, ckpt::KeyedStateBackendBase& backend,
                                                std::uint64_t id = 1) {
  auto pending = storage.begin_savepoint(id, 1000 + static_cast<std::int64_t>(id));
  pending->write({"op", 0, 1, backend.begin_snapshot(id), std::nullopt});
  pending->complete();
  return storage.open_savepoint(std::to_string(id));
}

class RocksDBSavepoint : public ::testing::Test {
 protected:
  std::unique_ptr<ckpt::CheckpointStorage> storage_ = ckpt::CheckpointStorage::open(
      "mem://rocksdb-savepoint-" +
      std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  TempDir dirs_[3] = {TempDir{"ckpt-rocksdb-sp"}, TempDir{"ckpt-rocksdb-sp"}, TempDir{"ckpt-rocksdb-sp"}};
};

TEST_F(RocksDBSavepoint, HeapToRocksDBAtParallelismThree) {
  Heap heap(ckpt::KeyedStateBackendOptions::for_subtask(0, 1, kMaxParallelism));
  States heap_states(heap);
  fill(heap, heap_states);
  auto reader = savepoint(*storage_, heap);

  std::uint64_t owned = 0;
  for (std::uint32_t i = 0; i < 3; ++i) {
    RocksDB rocks(options_in(dirs_[i]), KeyGroupRange::for_subtask(kMaxParallelism, 3, i), kMaxParallelism);
    // Subtask 2 declares its states after the restore: they are kept until then.
    std::optional<States> states;
    if (i != 2) states.emplace(rocks);
    reader->restore("op", &rocks, nullptr);
    EXPECT_TRUE(rocks.is_restored());
    if (i == 2) states.emplace(rocks);
    const auto n = expect_filled(rocks, *states);
    EXPECT_EQ(entries(rocks, "count"), n) << "subtask " << i << " holds keys it does not own";
    EXPECT_EQ(entries(rocks, "empty"), 0u);
    owned += n;
  }
  EXPECT_EQ(owned, kKeys);  // every key in exactly one subtask
}

TEST_F(RocksDBSavepoint, RocksDBToHeapAtParallelismThree) {
  RocksDB rocks(options_in(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  States rocks_states(rocks);
  fill(rocks, rocks_states);
  auto reader = savepoint(*storage_, rocks);

  std::map<std::uint64_t, int> owners;
  for (std::uint32_t i = 0; i < 3; ++i) {
    Heap heap(ckpt::KeyedStateBackendOptions::for_subtask(i, 3, kMaxParallelism));
    reader->restore("op", &heap, nullptr);
    // Not declared yet: restored states are listed by name.
    EXPECT_EQ(heap.state_names(), (std::vector<std::string>{"chars", "count", "empty", "history", "sum", "tags"}));
    States states(heap);
    EXPECT_EQ(expect_filled(heap, states), heap.size("count"));
    EXPECT_EQ(heap.size("empty"), 0u);
    for (const auto k : heap.keys("count")) ++owners[k];
  }
  EXPECT_EQ(owners.size(), kKeys);
  for (const auto& [k, n] : owners) EXPECT_EQ(n, 1) << "key " << k << " restored " << n << " times";
}

TEST_F(RocksDBSavepoint, RocksDBToRocksDBRescaledBack) {
  // 1 -> 3 RocksDB subtasks, then their savepoint (three snapshots) -> 1.
  RocksDB first(options_in(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  States first_states(first);
  fill(first, first_states);
  auto reader = savepoint(*storage_, first, 1);
  std::vector<std::unique_ptr<TempDir>> dirs;
  std::vector<std::unique_ptr<RocksDB>> subtasks;
  auto pending = storage_->begin_savepoint(2, 2000);
  for (std::uint32_t i = 0; i < 3; ++i) {
    dirs.push_back(std::make_unique<TempDir>("ckpt-rocksdb-sp"));
    subtasks.push_back(std::make_unique<RocksDB>(options_in(*dirs.back()),
                                                 KeyGroupRange::for_subtask(kMaxParallelism, 3, i), kMaxParallelism));
    reader->restore("op", subtasks.back().get(), nullptr);
    pending->write({"op", i, 3, subtasks.back()->begin_snapshot(2), std::nullopt});
  }
  pending->complete();
  auto back = storage_->open_savepoint("2");
  RocksDB last(options_in(dirs_[1]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  back->restore("op", &last, nullptr);
  States last_states(last);
  EXPECT_EQ(expect_filled(last, last_states), kKeys);
  EXPECT_EQ(entries(last, "count"), kKeys);
}

TEST_F(RocksDBSavepoint, SnapshotIsTheStateAtBeginSnapshot) {
  RocksDB rocks(options_in(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  States states(rocks);
  fill(rocks, states);
  auto job = rocks.begin_snapshot(1);
  // Written after the mark: not in the snapshot.
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    rocks.set_current_key(k);
    states.count.update(-1);
    states.history.add("later");
    states.tags.clear();
  }
  rocks.set_current_key(kKeys + 1);
  states.sum.add(5);
  const auto snapshot = job->collect();
  job.reset();
  ASSERT_EQ(snapshot.states.size(), 6u);

  // Byte-compatible: the heap backend describes the same states the same way.
  Heap heap(ckpt::KeyedStateBackendOptions::for_subtask(0, 1, kMaxParallelism));
  States heap_states(heap);
  const auto heap_snapshot = heap.snapshot();
  EXPECT_EQ(snapshot.key_type, heap_snapshot.key_type);
  EXPECT_EQ(snapshot.states, heap_snapshot.states);
  heap.restore(snapshot);
  EXPECT_EQ(expect_filled(heap, heap_states), kKeys);
  EXPECT_EQ(heap.size("sum"), kKeys);
}

TEST_F(RocksDBSavepoint, MapStateOfKeysThatArePrefixesOfEachOther) {
  // Serialized string keys "a", "ab", "b": each key's map entries stay its own.
  RocksDBKeyedStateBackend<std::string> rocks(options_in(dirs_[0]), KeyGroupRange::all(kMaxParallelism),
                                              kMaxParallelism);
  auto m = rocks.get_map_state(ckpt::MapStateDescriptor<std::string, std::int32_t>{"m"});
  for (const std::string k : {"a", "ab", "b", ""}) {
    rocks.set_current_key(k);
    m.put("one", 1);
    m.put(k, static_cast<std::int32_t>(k.size()) + 10);
  }
  auto reader = savepoint(*storage_, rocks);
  ckpt::KeyedStateBackend<std::string> heap(ckpt::KeyedStateBackendOptions::for_subtask(0, 1, kMaxParallelism));
  reader->restore("op", &heap, nullptr);
  auto hm = heap.get_map_state(ckpt::MapStateDescriptor<std::string, std::int32_t>{"m"});
  EXPECT_EQ(heap.size("m"), 4u);
  for (const std::string k : {"a", "ab", "b", ""}) {
    heap.set_current_key(k);
    std::map<std::string, std::int32_t> seen;
    hm.for_each([&](const std::string& uk, const std::int32_t& v) { seen[uk] = v; });
    EXPECT_EQ(seen, (std::map<std::string, std::int32_t>{{"one", 1}, {k, static_cast<std::int32_t>(k.size()) + 10}}))
        << "key '" << k << "'";
  }
}

TEST_F(RocksDBSavepoint, RestoreIntoAStateOfAnotherTypeIsAStateError) {
  Heap heap(ckpt::KeyedStateBackendOptions::for_subtask(0, 1, kMaxParallelism));
  States heap_states(heap);
  fill(heap, heap_states);
  auto reader = savepoint(*storage_, heap);

  // Declared before the restore: the restore fails.
  {
    RocksDB rocks(options_in(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
    (void)rocks.get_state(ckpt::ValueStateDescriptor<std::string>{"count"});
    try {
      reader->restore("op", &rocks, nullptr);
      FAIL() << "count restored as value<string>";
    } catch (const ckpt::StateError& e) {
      EXPECT_EQ(e.code(), ckpt::errc::state_type_mismatch);
      EXPECT_NE(std::string(e.what()).find("state 'count' is declared as value state of string"), std::string::npos)
          << e.what();
    }
  }
  // Declared after the restore: the declaration fails, as on the heap backend.
  {
    RocksDB rocks(options_in(dirs_[1]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
    reader->restore("op", &rocks, nullptr);
    EXPECT_THROW((void)rocks.get_list_state(ckpt::ListStateDescriptor<std::int64_t>{"count"}), ckpt::StateError);
    EXPECT_THROW((void)rocks.get_map_state(ckpt::MapStateDescriptor<std::string, std::string>{"tags"}),
                 ckpt::StateError);
    // The right types still restore.
    States states(rocks);
    EXPECT_EQ(expect_filled(rocks, states), kKeys);
  }
}

TEST_F(RocksDBSavepoint, AStateWithoutKeys) {
  // Alone: the snapshot describes it and has no key group.
  RocksDB rocks(options_in(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  (void)rocks.get_state(ckpt::ValueStateDescriptor<std::string>{"empty"});
  const auto direct = rocks.snapshot();
  ASSERT_EQ(direct.states.size(), 1u);
  EXPECT_EQ(direct.states[0].name, "empty");
  EXPECT_TRUE(direct.key_groups.empty());
  Heap heap(ckpt::KeyedStateBackendOptions::for_subtask(0, 1, kMaxParallelism));
  heap.restore(direct);
  EXPECT_EQ(heap.state_names(), std::vector<std::string>{"empty"});
  (void)heap.get_state(ckpt::ValueStateDescriptor<std::string>{"empty"});
  EXPECT_EQ(heap.size("empty"), 0u);
  RocksDB again(options_in(dirs_[1]), KeyGroupRange::for_subtask(kMaxParallelism, 3, 0), kMaxParallelism);
  again.restore(heap.snapshot());
  EXPECT_EQ(again.state_names(), std::vector<std::string>{"empty"});
  const auto through = again.snapshot();  // not declared again yet: still described
  ASSERT_EQ(through.states.size(), 1u);
  EXPECT_EQ(through.states[0], direct.states[0]);
  (void)again.get_state(ckpt::ValueStateDescriptor<std::string>{"empty"});
  EXPECT_EQ(entries(again, "empty"), 0u);

  // Beside a state with keys, through a savepoint: known on either side
  // (storage keeps no file for a subtask without any key group).
  auto count = rocks.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0});
  rocks.set_current_key(7);
  count.update(70);
  auto reader = savepoint(*storage_, rocks);
  RocksDB restored(options_in(dirs_[2]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  reader->restore("op", &restored, nullptr);
  EXPECT_EQ(restored.state_names(), (std::vector<std::string>{"count", "empty"}));
  auto empty = restored.get_state(ckpt::ValueStateDescriptor<std::string>{"empty"});
  auto restored_count = restored.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0});
  restored.set_current_key(7);
  EXPECT_FALSE(empty.get().has_value());
  EXPECT_EQ(restored_count.get(), std::optional<std::int64_t>(70));
  EXPECT_EQ(entries(restored, "empty"), 0u);
}

TEST_F(RocksDBSavepoint, StatesWithTtlOnTheHeapRestoreWithoutIt) {
  // Declared without TTL, the RocksDB backend reads states written with TTL
  // as the heap backend does when TTL is switched off (the timestamps
  // dropped), and the heap backend reads them back with TTL starting now.
  ckpt::ManualClock clock(1'000'000);
  auto heap_options = ckpt::KeyedStateBackendOptions::for_subtask(0, 1, kMaxParallelism);
  heap_options.clock = &clock;
  const auto with_ttl = [](auto d) {
    d.enable_time_to_live(ckpt::StateTtlConfig::of(std::chrono::hours(1)));
    return d;
  };
  Heap heap(heap_options);
  auto count = heap.get_state(with_ttl(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0}));
  auto tags = heap.get_map_state(with_ttl(ckpt::MapStateDescriptor<std::string, std::int64_t>{"tags"}));
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    heap.set_current_key(k);
    count.update(static_cast<std::int64_t>(k));
    tags.put("t", static_cast<std::int64_t>(k) + 1);
  }
  RocksDB rocks(options_in(dirs_[0]), KeyGroupRange::for_subtask(kMaxParallelism, 3, 1), kMaxParallelism);
  rocks.restore(heap.snapshot());
  auto rocks_count = rocks.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0});
  auto rocks_tags = rocks.get_map_state(ckpt::MapStateDescriptor<std::string, std::int64_t>{"tags"});
  std::uint64_t owned = 0;
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    if (!owns(rocks, k)) continue;
    ++owned;
    rocks.set_current_key(k);
    EXPECT_EQ(rocks_count.get(), std::optional<std::int64_t>(static_cast<std::int64_t>(k)));
    EXPECT_EQ(rocks_tags.get("t"), std::optional<std::int64_t>(static_cast<std::int64_t>(k) + 1));
  }
  EXPECT_EQ(entries(rocks, "count"), owned);

  auto back_options = ckpt::KeyedStateBackendOptions::for_subtask(1, 3, kMaxParallelism);
  back_options.clock = &clock;
  Heap back(back_options);
  back.restore(rocks.snapshot());
  auto back_count = back.get_state(with_ttl(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0}));
  EXPECT_EQ(back.size("count"), owned);
  for (const auto k : back.keys("count")) {
    back.set_current_key(k);
    EXPECT_EQ(back_count.get(), std::optional<std::int64_t>(static_cast<std::int64_t>(k)));
  }
}

/// One TTL state of every kind (100 ms, on_create_and_write, expired never
/// returned), declared alike on either backend.
struct TtlStates {
  template <class D>
  static D ttl(D d) {
    d.enable_time_to_live(ckpt::StateTtlConfig::of(std::chrono::milliseconds(100)).with_incremental_cleanup(0));
    return d;
  }
  template <class Backend>
  explicit TtlStates(Backend& b)
      : count(b.get_state(ttl(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0}))),
        history(b.get_list_state(ttl(ckpt::ListStateDescriptor<std::string>{"history"}))),
        tags(b.get_map_state(ttl(ckpt::MapStateDescriptor<std::string, std::int64_t>{"tags"}))),
        sum(b.get_reducing_state(ttl(ckpt::ReducingStateDescriptor<std::int64_t>{
            "sum", [](std::int64_t x, std::int64_t y) { return x + y; }}))),
        chars(b.get_aggregating_state(ttl(
            ckpt::AggregatingStateDescriptor<std::string, std::size_t, std::size_t>{"chars", chars_function()}))) {}

  ckpt::ValueState<std::int64_t> count;
  ckpt::ListState<std::string> history;
  ckpt::MapState<std::string, std::int64_t> tags;
  ckpt::ReducingState<std::int64_t> sum;
  ckpt::AggregatingState<std::string, std::size_t, std::size_t> chars;
};

/// Checks, at a time when what was written at t0 has expired and what was
/// written at t0 + 50 ms has not, that key k holds exactly its late writes
/// (even keys wrote again at t0 + 50 ms, odd keys did not).
template <class Backend>
std::uint64_t expect_only_late_writes(Backend& b, TtlStates& s) {
  std::uint64_t owned = 0;
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    if (!owns(b, k)) continue;
    ++owned;
    b.set_current_key(k);
    const auto n = static_cast<std::int64_t>(k);
    std::map<std::string, std::int64_t> tags;
    s.tags.for_each([&](const std::string& uk, const std::int64_t& v) { tags[uk] = v; });
    if (k % 2 == 0) {
      EXPECT_EQ(s.count.get(), std::optional<std::int64_t>(-n)) << "key " << k;
      EXPECT_EQ(s.history.get(), std::vector<std::string>{"late"}) << "key " << k;  // per element
      EXPECT_EQ(tags, (std::map<std::string, std::int64_t>{{"late", n}})) << "key " << k;  // per entry
      EXPECT_EQ(s.sum.get(), std::optional<std::int64_t>(n + 7)) << "key " << k;
      EXPECT_EQ(s.chars.get(), std::optional<std::size_t>(3)) << "key " << k;
    } else {
      EXPECT_FALSE(s.count.get()) << "key " << k;
      EXPECT_TRUE(s.history.get().empty()) << "key " << k;
      EXPECT_TRUE(tags.empty()) << "key " << k;
      EXPECT_FALSE(s.sum.get()) << "key " << k;
      EXPECT_FALSE(s.chars.get()) << "key " << k;
    }
  }
  return owned;
}

TEST_F(RocksDBSavepoint, TtlStatesKeepTheirTimestampsHeapToRocksDBToHeapRescaled) {
  // Heap (1 subtask) -> RocksDB (3) -> heap (2), all with TTL: the entries
  // written at t0 expire at t0 + 100 ms wherever they are, which they would
  // not if a restore had started their time-to-live again.
  const std::int64_t t0 = 1'000'000;
  ckpt::ManualClock clock(t0);
  auto heap_options = ckpt::KeyedStateBackendOptions::for_subtask(0, 1, kMaxParallelism);
  heap_options.clock = &clock;
  Heap heap(heap_options);
  TtlStates hs(heap);
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    heap.set_current_key(k);
    const auto n = static_cast<std::int64_t>(k);
    hs.count.update(n);
    hs.history.add("early");
    hs.tags.put("early", n);
    hs.sum.add(n);
    hs.chars.add("abcd");
  }
  clock.advance(std::chrono::milliseconds(50));
  for (std::uint64_t k = 0; k < kKeys; k += 2) {
    heap.set_current_key(k);
    const auto n = static_cast<std::int64_t>(k);
    hs.count.update(-n);
    hs.history.add("late");
    hs.tags.put("late", n);
    hs.sum.add(7);  // n + 7, stamped now
    hs.chars.clear();
    hs.chars.add("xyz");
  }
  clock.advance(std::chrono::milliseconds(10));  // t0 + 60: nothing expired yet
  auto first = savepoint(*storage_, heap, 1);

  auto pending = storage_->begin_savepoint(2, 2000);
  std::vector<std::unique_ptr<RocksDB>> rocks;
  std::vector<TtlStates> rocks_states;
  for (std::uint32_t i = 0; i < 3; ++i) {
    rocks.push_back(std::make_unique<RocksDB>(options_in(dirs_[i]).with_clock(clock),
                                              KeyGroupRange::for_subtask(kMaxParallelism, 3, i), kMaxParallelism));
    rocks_states.emplace_back(*rocks.back());
    first->restore("op", rocks.back().get(), nullptr);
    pending->write({"op", i, 3, rocks.back()->begin_snapshot(2), std::nullopt});
  }
  pending->complete();
  auto second = storage_->open_savepoint("2");

  clock.advance(std::chrono::milliseconds(40));  // t0 + 100: the early writes expired, the late ones not
  std::uint64_t owned = 0;
  for (std::uint32_t i = 0; i < 3; ++i) owned += expect_only_late_writes(*rocks[i], rocks_states[i]);
  EXPECT_EQ(owned, kKeys);

  owned = 0;
  for (std::uint32_t i = 0; i < 2; ++i) {
    auto options = ckpt::KeyedStateBackendOptions::for_subtask(i, 2, kMaxParallelism);
    options.clock = &clock;
    Heap back(options);
    second->restore("op", &back, nullptr);
    TtlStates bs(back);
    owned += expect_only_late_writes(back, bs);
  }
  EXPECT_EQ(owned, kKeys);
}

TEST_F(RocksDBSavepoint, AStateWithoutTtlRestoredIntoOneWithTtlStartsItsTimeToLiveAtTheRestore) {
  Heap heap(ckpt::KeyedStateBackendOptions::for_subtask(0, 1, kMaxParallelism));
  auto count = heap.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0});
  auto history = heap.get_list_state(ckpt::ListStateDescriptor<std::string>{"history"});
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    heap.set_current_key(k);
    count.update(static_cast<std::int64_t>(k));
    history.add("h");
  }
  ckpt::ManualClock clock(5'000'000);
  RocksDB rocks(options_in(dirs_[0]).with_clock(clock), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  TtlStates s(rocks);
  rocks.restore(heap.snapshot());
  clock.advance(std::chrono::milliseconds(99));
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    rocks.set_current_key(k);
    EXPECT_EQ(s.count.get(), std::optional<std::int64_t>(static_cast<std::int64_t>(k)));
  }
  clock.advance(std::chrono::milliseconds(1));
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    rocks.set_current_key(k);
    EXPECT_FALSE(s.count.get());
    EXPECT_TRUE(s.history.get().empty());
  }
  EXPECT_EQ(entries(rocks, "count"), 0u);  // removed as they were read
  EXPECT_EQ(entries(rocks, "history"), 0u);
}

TEST_F(RocksDBSavepoint, TimersOfTheHeapBackendFireOnRocksDBAfterARescale) {
  Heap heap(ckpt::KeyedStateBackendOptions::for_subtask(0, 1, kMaxParallelism));
  {
    ckpt::InternalTimerService<std::uint64_t> timers(heap, [] { return std::int64_t{0}; });
    for (std::uint64_t k = 0; k < kKeys; ++k) {
      heap.set_current_key(k);
      timers.register_event_time_timer(static_cast<std::int64_t>(kKeys - k));
    }
  }
  auto reader = savepoint(*storage_, heap);
  std::vector<std::uint64_t> fired;
  for (std::uint32_t i = 0; i < 3; ++i) {
    RocksDB rocks(options_in(dirs_[i]), KeyGroupRange::for_subtask(kMaxParallelism, 3, i), kMaxParallelism);
    reader->restore("op", &rocks, nullptr);
    ckpt::InternalTimerService<std::uint64_t, RocksDB> timers(rocks, [] { return std::int64_t{0}; });
    std::int64_t last = 0;
    timers.advance_watermark(static_cast<std::int64_t>(kKeys), [&](const std::uint64_t& k, std::int64_t t,
                                                                    ckpt::TimeDomain) {
      EXPECT_EQ(t, static_cast<std::int64_t>(kKeys - k));
      EXPECT_LT(last, t);  // in timestamp order
      last = t;
      EXPECT_TRUE(owns(rocks, k));
      fired.push_back(k);
    });
    EXPECT_EQ(entries(rocks, "_timers_event_time"), 0u);
  }
  std::sort(fired.begin(), fired.end());
  EXPECT_EQ(fired.size(), kKeys);
  EXPECT_EQ(std::unique(fired.begin(), fired.end()), fired.end());
}

TEST_F(RocksDBSavepoint, TimersOfTheRocksDBBackendFireOnTheHeapAfterARescale) {
  RocksDB rocks(options_in(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  {
    ckpt::InternalTimerService<std::uint64_t, RocksDB> timers(rocks, [] { return std::int64_t{0}; });
    for (std::uint64_t k = 0; k < kKeys; ++k) {
      rocks.set_current_key(k);
      timers.register_processing_time_timer(static_cast<std::int64_t>(k % 50));
    }
  }
  auto reader = savepoint(*storage_, rocks);
  std::vector<std::uint64_t> fired;
  for (std::uint32_t i = 0; i < 2; ++i) {
    Heap heap(ckpt::KeyedStateBackendOptions::for_subtask(i, 2, kMaxParallelism));
    reader->restore("op", &heap, nullptr);
    ckpt::InternalTimerService<std::uint64_t> timers(heap, [] { return std::int64_t{0}; });
    std::int64_t last = 0;
    timers.advance_processing_time(100, [&](const std::uint64_t& k, std::int64_t t, ckpt::TimeDomain) {
      EXPECT_EQ(t, static_cast<std::int64_t>(k % 50));
      EXPECT_LE(last, t);  // in timestamp order
      last = t;
      EXPECT_TRUE(owns(heap, k));
      fired.push_back(k);
    });
  }
  std::sort(fired.begin(), fired.end());
  EXPECT_EQ(fired.size(), kKeys);
  EXPECT_EQ(std::unique(fired.begin(), fired.end()), fired.end());
}

TEST_F(RocksDBSavepoint, RestoreNeedsAnEmptyBackend) {
  RocksDB rocks(options_in(dirs_[0]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  States states(rocks);
  fill(rocks, states);
  const auto snapshot = rocks.snapshot();
  EXPECT_THROW(rocks.restore(snapshot), ckpt::StateError);
  RocksDB other(options_in(dirs_[1]), KeyGroupRange::all(kMaxParallelism), kMaxParallelism);
  other.restore(snapshot);
  EXPECT_THROW(other.restore(snapshot), ckpt::StateError);
}

}  // namespace
