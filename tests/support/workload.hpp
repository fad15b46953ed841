#pragma once
// A small stateful operator for storage and runtime tests: keyed state of
// every kind plus operator list state, filled deterministically so any
// restored copy can be checked key by key.

#include <ckpt/ckpt.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace ckpt::test {

/// The value every state holds for key `k` after `round` updates.
inline std::int64_t expected_count(std::uint64_t k, int round) { return static_cast<std::int64_t>(k * 10 + round); }

class Operator {
 public:
  Operator(std::string uid_, std::uint32_t subtask_, std::uint32_t parallelism_, std::uint32_t max_parallelism = 128)
      : uid(std::move(uid_)),
        subtask(subtask_),
        parallelism(parallelism_),
        keyed(KeyedStateBackendOptions::for_subtask(subtask_, parallelism_, max_parallelism)),
        store(subtask_, parallelism_) {
    count = keyed.get_state(ValueStateDescriptor<std::int64_t>{"count", -1});
    history = keyed.get_list_state(ListStateDescriptor<std::string>{"history"});
    tags = keyed.get_map_state(MapStateDescriptor<std::string, std::int64_t>{"tags"});
    sum = keyed.get_reducing_state(ReducingStateDescriptor<std::int64_t>{"sum", std::plus<>{}});
    offsets = store.get_list_state(ListStateDescriptor<std::int64_t>{"offsets"});
  }

  bool owns(std::uint64_t k) const { return keyed.key_groups().contains(keyed.key_group_of(k)); }

  /// Writes round `round` for every owned key in [0, keys).
  void fill(std::uint64_t keys, int round) {
    for (std::uint64_t k = 0; k < keys; ++k) {
      if (!owns(k)) continue;
      keyed.set_current_key(k);
      count.update(expected_count(k, round));
      history.add("r" + std::to_string(round));
      tags.put("last", round);
      sum.add(round);
    }
  }

  /// Checks every owned key in [0, keys) holds round `round` (after rounds 0..round).
  void expect(std::uint64_t keys, int round) {
    for (std::uint64_t k = 0; k < keys; ++k) {
      if (!owns(k)) continue;
      keyed.set_current_key(k);
      ASSERT_EQ(count.value(), expected_count(k, round)) << uid << " key " << k;
      ASSERT_EQ(history.get().size(), static_cast<std::size_t>(round + 1)) << "key " << k;
      ASSERT_EQ(tags.get("last"), round) << "key " << k;
      ASSERT_EQ(sum.get(), round * (round + 1) / 2) << "key " << k;
    }
  }

  ParticipantSnapshot snapshot(std::uint64_t checkpoint_id, bool incremental = false) {
    return {uid, subtask, parallelism, keyed.begin_snapshot(checkpoint_id, incremental ? ckpt::SnapshotMode::incremental : ckpt::SnapshotMode::full), store.snapshot()};
  }

  std::string uid;
  std::uint32_t subtask;
  std::uint32_t parallelism;
  KeyedStateBackend<std::uint64_t> keyed;
  OperatorStateStore store;
  ValueState<std::int64_t> count;
  ListState<std::string> history;
  MapState<std::string, std::int64_t> tags;
  ReducingState<std::int64_t> sum;
  ListState<std::int64_t> offsets;
};

/// Sets the count of every owned key in [0, keys) whose key group is a
/// multiple of `every_nth_key_group` to round `round` (an incremental change).
inline void touch_key_groups(Operator& op, std::uint64_t keys, int round, std::uint32_t every_nth_key_group) {
  for (std::uint64_t k = 0; k < keys; ++k) {
    if (!op.owns(k) || op.keyed.key_group_of(k) % every_nth_key_group != 0) continue;
    op.keyed.set_current_key(k);
    op.count.update(expected_count(k, round));
  }
}

/// The names of the files in a storage's shared/ directory.
inline std::set<std::string> shared_files(fs::FileSystem& fs) {
  std::set<std::string> out;
  for (const auto& e : fs.list("shared")) out.insert(e.name);
  return out;
}

/// Writes one checkpoint of all `ops` and completes it.
inline Manifest checkpoint(CheckpointStorage& storage, std::vector<std::unique_ptr<Operator>>& ops,
                           std::uint64_t id, bool incremental = false) {
  auto pending = storage.begin_checkpoint(id, 1000 + static_cast<std::int64_t>(id));
  for (auto& op : ops) pending->write(op->snapshot(id, incremental));
  auto m = pending->complete({{"round", std::to_string(id)}});
  for (auto& op : ops) op->keyed.notify_snapshot_complete(id);
  return m;
}

inline std::vector<std::unique_ptr<Operator>> make_operators(const std::string& uid, std::uint32_t parallelism) {
  std::vector<std::unique_ptr<Operator>> ops;
  for (std::uint32_t i = 0; i < parallelism; ++i) ops.push_back(std::make_unique<Operator>(uid, i, parallelism));
  return ops;
}

/// Operators of `uid` at `parallelism`, restored from `snapshot`.
inline std::vector<std::unique_ptr<Operator>> restore_operators(SnapshotReader& snapshot, const std::string& uid,
                                                                std::uint32_t parallelism) {
  auto ops = make_operators(uid, parallelism);
  for (auto& op : ops) snapshot.restore(uid, &op->keyed, &op->store);
  return ops;
}

}  // namespace ckpt::test
