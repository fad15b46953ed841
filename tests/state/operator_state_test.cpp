#include <ckpt/ckpt.hpp>
#include <ckpt/serial/archive.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::vector<ckpt::OperatorStateSnapshot> take(std::vector<std::vector<std::int64_t>> lists, bool as_union = false) {
  std::vector<ckpt::OperatorStateSnapshot> out;
  for (std::uint32_t i = 0; i < lists.size(); ++i) {
    ckpt::OperatorStateStore store(i, static_cast<std::uint32_t>(lists.size()));
    auto s = as_union ? store.get_union_list_state(ckpt::ListStateDescriptor<std::int64_t>{"offsets"})
                      : store.get_list_state(ckpt::ListStateDescriptor<std::int64_t>{"offsets"});
    s.update(lists[i]);
    out.push_back(store.snapshot());
  }
  return out;
}

std::vector<std::vector<std::int64_t>> restore_all(const std::vector<ckpt::OperatorStateSnapshot>& old, std::uint32_t p,
                                                   bool as_union = false) {
  std::vector<std::vector<std::int64_t>> out;
  for (std::uint32_t i = 0; i < p; ++i) {
    ckpt::OperatorStateStore store(i, p);
    store.restore(old);
    auto s = as_union ? store.get_union_list_state(ckpt::ListStateDescriptor<std::int64_t>{"offsets"})
                      : store.get_list_state(ckpt::ListStateDescriptor<std::int64_t>{"offsets"});
    out.push_back(s.get());
  }
  return out;
}

TEST(OperatorState, ListStateEvenSplitOnRescale) {
  const auto old = take({{1, 2}, {3}, {4, 5}});
  EXPECT_EQ(restore_all(old, 2), (std::vector<std::vector<std::int64_t>>{{1, 2, 3}, {4, 5}}));
  EXPECT_EQ(restore_all(old, 3), (std::vector<std::vector<std::int64_t>>{{1, 2}, {3}, {4, 5}}));
  EXPECT_EQ(restore_all(old, 6), (std::vector<std::vector<std::int64_t>>{{1}, {2}, {3}, {4}, {5}, {}}));
}

TEST(OperatorState, UnionListStateGivesEveryoneEverything) {
  const auto old = take({{1}, {2, 3}}, true);
  EXPECT_EQ(restore_all(old, 3, true), (std::vector<std::vector<std::int64_t>>{{1, 2, 3}, {1, 2, 3}, {1, 2, 3}}));
}

TEST(OperatorState, BroadcastStateCopies) {
  std::vector<ckpt::OperatorStateSnapshot> old;
  for (std::uint32_t i = 0; i < 2; ++i) {
    ckpt::OperatorStateStore store(i, 2);
    auto rules = store.get_broadcast_state(ckpt::MapStateDescriptor<std::string, int>{"rules"});
    rules.put("limit", 10 + static_cast<int>(i));
    rules.put_all(std::map<std::string, int>{{"burst", 3}});
    old.push_back(store.snapshot());
  }
  for (std::uint32_t i = 0; i < 5; ++i) {
    ckpt::OperatorStateStore store(i, 5);
    store.restore(old);
    auto rules = store.get_broadcast_state(ckpt::MapStateDescriptor<std::string, int>{"rules"});
    EXPECT_EQ(rules.get("limit"), 10 + static_cast<int>(i % 2));
    EXPECT_EQ(rules.size(), 2u);
    EXPECT_TRUE(rules.contains("burst"));
    EXPECT_TRUE(rules.remove("burst"));
    EXPECT_THAT(rules.entries(), ElementsAre(std::pair<std::string, int>{"limit", 10 + static_cast<int>(i % 2)}));
  }
}

TEST(OperatorState, ThroughBytesAndStatesDeclaredLater) {
  ckpt::OperatorStateStore a;
  a.get_list_state(ckpt::ListStateDescriptor<std::string>{"names"}).update({"x", "y"});
  a.get_union_list_state(ckpt::ListStateDescriptor<int>{"u"}).add(7);
  const auto bytes = ckpt::serial::encode(a.snapshot());

  ckpt::OperatorStateStore b;
  b.restore(ckpt::serial::decode<ckpt::OperatorStateSnapshot>(bytes));
  EXPECT_TRUE(b.is_restored());
  EXPECT_THAT(b.state_names(), UnorderedElementsAre("names", "u"));
  // "u" is never declared again but survives the next snapshot.
  EXPECT_THAT(b.get_list_state(ckpt::ListStateDescriptor<std::string>{"names"}).get(), ElementsAre("x", "y"));
  ckpt::OperatorStateStore c;
  c.restore(b.snapshot());
  EXPECT_THAT(c.get_union_list_state(ckpt::ListStateDescriptor<int>{"u"}).get(), ElementsAre(7));
}

TEST(OperatorState, TypeAndModeMismatchesAreErrors) {
  ckpt::OperatorStateStore a;
  a.get_list_state(ckpt::ListStateDescriptor<int>{"s"}).add(1);
  const auto snap = a.snapshot();
  {
    ckpt::OperatorStateStore b;
    b.restore(snap);
    EXPECT_THROW(b.get_list_state(ckpt::ListStateDescriptor<std::string>{"s"}), ckpt::StateError);
  }
  {
    ckpt::OperatorStateStore b;
    b.restore(snap);
    EXPECT_THROW(b.get_union_list_state(ckpt::ListStateDescriptor<int>{"s"}), ckpt::StateError);
  }
  EXPECT_THROW(a.get_union_list_state(ckpt::ListStateDescriptor<int>{"s"}), ckpt::StateError);
  EXPECT_THROW(ckpt::OperatorStateStore(2, 2), ckpt::ConfigError);
}

// A source that reads partitions and keeps one offset per partition.
struct Offset {
  int partition = 0;
  std::int64_t offset = 0;
  friend bool operator==(const Offset&, const Offset&) = default;
  template <class A>
  void serialize(A& ar) {
    ar(partition, offset);
  }
};

class PartitionReader final : public ckpt::ListCheckpointed<Offset> {
 public:
  std::vector<Offset> positions;
  std::vector<Offset> snapshot_state(std::uint64_t, std::int64_t) override { return positions; }
  void restore_state(std::vector<Offset> state) override { positions = std::move(state); }
};

TEST(ListCheckpointed, PartitionsMoveOnRescale) {
  std::vector<ckpt::OperatorStateSnapshot> old;
  for (std::uint32_t i = 0; i < 2; ++i) {
    ckpt::OperatorStateStore store(i, 2);
    PartitionReader reader;
    ckpt::ListCheckpointedBinding<Offset> binding(reader, store);
    reader.positions = {{static_cast<int>(2 * i), 100 + i}, {static_cast<int>(2 * i + 1), 200 + i}};
    binding.snapshot(1, 0);
    old.push_back(store.snapshot());
  }
  std::vector<Offset> all;
  for (std::uint32_t i = 0; i < 3; ++i) {
    ckpt::OperatorStateStore store(i, 3);
    store.restore(old);
    PartitionReader reader;
    ckpt::ListCheckpointedBinding<Offset> binding(reader, store);
    all.insert(all.end(), reader.positions.begin(), reader.positions.end());
    EXPECT_LE(reader.positions.size(), 2u);
  }
  EXPECT_THAT(all, ElementsAre(Offset{0, 100}, Offset{1, 200}, Offset{2, 101}, Offset{3, 201}));
}

class Counter final : public ckpt::CheckpointedFunction {
 public:
  std::int64_t count = 0;
  bool restored = false;
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    restored = ctx.is_restored();
    state_ = ctx.operator_state_store().get_list_state(ckpt::ListStateDescriptor<std::int64_t>{"count"});
    for (auto c : state_.get()) count += c;
  }
  void snapshot_state(const ckpt::FunctionSnapshotContext&) override { state_.update({count}); }

 private:
  ckpt::ListState<std::int64_t> state_;
};

TEST(CheckpointedFunction, InitializeSnapshotRestore) {
  ckpt::OperatorStateStore store;
  Counter c;
  ckpt::SimpleInitializationContext init(store);
  c.initialize_state(init);
  EXPECT_FALSE(c.restored);
  c.count = 41;
  c.snapshot_state(ckpt::SimpleSnapshotContext(1, 1000));
  const auto snap = store.snapshot();

  ckpt::OperatorStateStore store2;
  store2.restore(snap);
  Counter c2;
  ckpt::SimpleInitializationContext init2(store2, nullptr, 1);
  c2.initialize_state(init2);
  EXPECT_TRUE(c2.restored);
  EXPECT_EQ(c2.count, 41);
  EXPECT_EQ(init2.restored_checkpoint_id(), 1u);
}

TEST(CheckpointedFunction, KeyedBackendFromTheContext) {
  ckpt::OperatorStateStore store;
  ckpt::KeyedStateBackend<std::string> keyed;
  ckpt::SimpleInitializationContext ctx(store, &keyed);
  EXPECT_EQ(&ctx.keyed_state_backend<std::string>(), &keyed);
  EXPECT_THROW(ctx.keyed_state_backend<int>(), ckpt::StateError);
  ckpt::SimpleInitializationContext not_keyed(store);
  EXPECT_THROW(not_keyed.keyed_state_backend<std::string>(), ckpt::StateError);
}

}  // namespace
