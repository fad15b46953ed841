#pragma once
// One state of every kind, declared alike on the heap and the RocksDB
// backend, with a fill() that writes each key's entries and an
// expect_filled() that checks them: the tests of snapshots between
// backends and of RocksDB checkpoints share them.
#include <ckpt/rocksdb/rocksdb_keyed_state_backend.hpp>
#include <ckpt/state/keyed_state_backend.hpp>

#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::test::all_states {

using ckpt::KeyGroupRange;
using ckpt::rocksdb::RocksDBKeyedStateBackend;
using ckpt::rocksdb::RocksDBOptions;
using ckpt::test::TempDir;

inline constexpr std::uint32_t kMaxParallelism = 128;
inline constexpr std::uint64_t kKeys = 600;

using Heap = ckpt::KeyedStateBackend<std::uint64_t>;
using RocksDB = RocksDBKeyedStateBackend<std::uint64_t>;

inline std::shared_ptr<const ckpt::AggregateFunction<std::string, std::size_t, std::size_t>> chars_function() {
  return ckpt::make_aggregate_function<std::string, std::size_t, std::size_t>(
      [] { return std::size_t{0}; }, [](const std::string& s, std::size_t acc) { return acc + s.size(); },
      [](const std::size_t& acc) { return acc; }, [](std::size_t x, std::size_t y) { return x + y; });
}

/// One state of every kind, declared alike on either backend, plus one that
/// never gets an entry.
struct States {
  template <class Backend>
  explicit States(Backend& b)
      : count(b.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0})),
        history(b.get_list_state(ckpt::ListStateDescriptor<std::string>{"history"})),
        tags(b.get_map_state(ckpt::MapStateDescriptor<std::string, std::int64_t>{"tags"})),
        sum(b.get_reducing_state(ckpt::ReducingStateDescriptor<std::int64_t>{
            "sum", [](std::int64_t x, std::int64_t y) { return x + y; }})),
        chars(b.get_aggregating_state(
            ckpt::AggregatingStateDescriptor<std::string, std::size_t, std::size_t>{"chars", chars_function()})),
        empty(b.get_state(ckpt::ValueStateDescriptor<std::string>{"empty"})) {}

  ckpt::ValueState<std::int64_t> count;
  ckpt::ListState<std::string> history;
  ckpt::MapState<std::string, std::int64_t> tags;
  ckpt::ReducingState<std::int64_t> sum;
  ckpt::AggregatingState<std::string, std::size_t, std::size_t> chars;
  ckpt::ValueState<std::string> empty;
};

template <class Backend>
bool owns(const Backend& b, std::uint64_t k) {
  return b.key_groups().contains(ckpt::key_group_for(k, kMaxParallelism));
}

/// Writes key k's entries in every state but "empty"; keys divisible by 7
/// get no list and no map (those states have fewer keys than the others).
template <class Backend>
void fill(Backend& b, States& s) {
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    if (!owns(b, k)) continue;
    b.set_current_key(k);
    const auto n = static_cast<std::int64_t>(k);
    s.count.update(3 * n + 1);
    if (k % 7 != 0) {
      s.history.add("a" + std::to_string(k));
      s.history.add("b" + std::to_string(k));
      s.tags.put("x", n);
      s.tags.put("y" + std::to_string(k % 3), -n);
    }
    s.sum.add(n);
    s.sum.add(1);
    s.chars.add(std::string(k % 5, 'c'));
    s.chars.add("ab");
  }
}

/// Checks key k's entries in every state (as fill() wrote them) for every
/// key `b` owns; returns how many keys it owns.
template <class Backend>
std::uint64_t expect_filled(Backend& b, States& s) {
  std::uint64_t owned = 0;
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    if (!owns(b, k)) continue;
    ++owned;
    b.set_current_key(k);
    const auto n = static_cast<std::int64_t>(k);
    EXPECT_EQ(s.count.get(), std::optional<std::int64_t>(3 * n + 1)) << "key " << k;
    std::map<std::string, std::int64_t> tags;
    s.tags.for_each([&](const std::string& uk, const std::int64_t& v) { tags[uk] = v; });
    if (k % 7 != 0) {
      EXPECT_EQ(s.history.get(), (std::vector<std::string>{"a" + std::to_string(k), "b" + std::to_string(k)}))
          << "key " << k;
      EXPECT_EQ(tags, (std::map<std::string, std::int64_t>{{"x", n}, {"y" + std::to_string(k % 3), -n}})) << "key " << k;
    } else {
      EXPECT_TRUE(s.history.get().empty()) << "key " << k;
      EXPECT_TRUE(tags.empty()) << "key " << k;
    }
    EXPECT_EQ(s.sum.get(), std::optional<std::int64_t>(n + 1)) << "key " << k;
    EXPECT_EQ(s.chars.get(), std::optional<std::size_t>(k % 5 + 2)) << "key " << k;
    EXPECT_FALSE(s.empty.get().has_value()) << "key " << k;
  }
  return owned;
}

/// The number of RocksDB entries of state `name` (a key outside the
/// backend's key groups would be counted too).
inline std::size_t entries(RocksDB& b, const std::string& name) {
  auto& db = b.instance();
  std::unique_ptr<::rocksdb::Iterator> it(db.db().NewIterator(::rocksdb::ReadOptions(), db.column_family(name)));
  std::size_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return n;
}

inline RocksDBOptions options_in(const TempDir& dir) {
  return RocksDBOptions::in(dir.path()).with_memory_budget(std::size_t{8} << 20);
}

}  // namespace ckpt::test::all_states
