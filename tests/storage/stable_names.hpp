#pragma once
// The states of tests/storage/data/names-v1: a checkpoint written by ckpt
// before type names were made portable (its manifest records libstdc++'s
// std::__cxx11::basic_string<...> inside the names of templates), which
// today's code must keep restoring. fill() wrote it; expect() checks it.

#include <ckpt/ckpt.hpp>
#include <ckpt/function/partitioned_source.hpp>
#include <ckpt/function/transactional_file_sink.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::test {

/// A user template over standard types: its name is the demangled one.
template <class T>
struct Wrapper {
  T value{};
  std::vector<T> more;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(value, more);
  }
  friend bool operator==(const Wrapper&, const Wrapper&) = default;
};

using SinkEntry = TwoPhaseCommitSink<std::string, FileTransaction>::Entry;

struct NamedStates {
  static constexpr std::uint64_t keys = 40;

  NamedStates() : keyed(KeyedStateBackendOptions::for_subtask(0, 1, 128)), store(0, 1) {
    wrapped = keyed.get_state(ValueStateDescriptor<Wrapper<std::string>>{"wrapped"});
    durations = keyed.get_map_state(MapStateDescriptor<std::string, std::chrono::milliseconds>{"durations"});
    sink = store.get_list_state(ListStateDescriptor<SinkEntry>{"two-phase-commit-transactions"});
    offsets = store.get_list_state(ListStateDescriptor<PartitionOffset>{"partition-offsets"});
  }

  static std::string key(std::uint64_t k) { return "key-" + std::to_string(k); }
  static Wrapper<std::string> wrapper(std::uint64_t k) { return {"v" + std::to_string(k), {"a", std::to_string(k * 3)}}; }
  static SinkEntry entry(std::uint64_t id) {
    SinkEntry e;
    e.checkpoint_id = id;
    e.transaction = {"out/.pending-" + std::to_string(id), "out/part-c" + std::to_string(id) + "-0", id == 0};
    return e;
  }

  void fill() {
    for (std::uint64_t k = 0; k < keys; ++k) {
      keyed.set_current_key(key(k));
      wrapped.update(wrapper(k));
      durations.put("spent", std::chrono::milliseconds(static_cast<std::int64_t>(k) * 7));
    }
    sink.update({entry(3), entry(0)});
    offsets.update({{0, 17}, {1, 42}});
  }

  void expect() {
    ASSERT_EQ(keyed.size("wrapped"), keys);
    for (std::uint64_t k = 0; k < keys; ++k) {
      keyed.set_current_key(key(k));
      ASSERT_EQ(wrapped.get(), wrapper(k)) << key(k);
      ASSERT_EQ(durations.get("spent"), std::chrono::milliseconds(static_cast<std::int64_t>(k) * 7)) << key(k);
    }
    const auto entries = sink.get();
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].checkpoint_id, 3u);
    EXPECT_EQ(entries[0].transaction.final_path, "out/part-c3-0");
    EXPECT_EQ(entries[1].checkpoint_id, 0u);
    EXPECT_TRUE(entries[1].transaction.empty);
    EXPECT_EQ(offsets.get(), (std::vector<PartitionOffset>{{0, 17}, {1, 42}}));
  }

  ParticipantSnapshot snapshot(std::uint64_t id) { return {"named", 0, 1, keyed.begin_snapshot(id, ckpt::SnapshotMode::full), store.snapshot()}; }

  KeyedStateBackend<std::string> keyed;
  OperatorStateStore store;
  ValueState<Wrapper<std::string>> wrapped;
  MapState<std::string, std::chrono::milliseconds> durations;
  ListState<SinkEntry> sink;
  ListState<PartitionOffset> offsets;
};

}  // namespace ckpt::test
