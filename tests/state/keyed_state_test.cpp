#include <ckpt/ckpt.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

using Backend = ckpt::KeyedStateBackend<std::string>;

TEST(ValueState, ValuePerKeyWithDefault) {
  Backend b;
  auto count = b.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 10});
  b.set_current_key("ann");
  EXPECT_EQ(count.value(), 10);
  EXPECT_FALSE(count.get().has_value());
  count.update(11);
  EXPECT_EQ(count.value(), 11);
  EXPECT_EQ(count.get(), 11);
  b.set_current_key("bob");
  EXPECT_EQ(count.value(), 10);
  count.update(3);
  b.set_current_key("ann");
  EXPECT_EQ(count.value(), 11);
}

TEST(ValueState, WithoutDefaultIsValueInitialised) {
  Backend b;
  auto name = b.get_state(ckpt::ValueStateDescriptor<std::string>{"name"});
  b.set_current_key("k");
  EXPECT_EQ(name.value(), "");
  name.update("x");
  EXPECT_EQ(name.value(), "x");
}

TEST(ValueState, ClearTouchesTheCurrentKeyOnly) {
  Backend b;
  auto v = b.get_state(ckpt::ValueStateDescriptor<int>{"v"});
  for (const char* k : {"a", "b", "c"}) {
    b.set_current_key(k);
    v.update(static_cast<int>(k[0]));
  }
  b.set_current_key("b");
  v.clear();
  EXPECT_FALSE(v.get());
  b.set_current_key("a");
  EXPECT_EQ(v.get(), 'a');
  b.set_current_key("c");
  EXPECT_EQ(v.get(), 'c');
  EXPECT_EQ(b.size("v"), 2u);
  EXPECT_THAT(b.keys("v"), UnorderedElementsAre("a", "c"));
}

// Reads and writes of one key without set_current_key() in between, through
// clear(), and through two handles of the same state.
TEST(ValueState, ReadModifyWriteOfOneKeyThroughClearAndSecondHandle) {
  ckpt::KeyedStateBackend<std::string> b;
  auto v = b.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"v", -1});
  auto same = b.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"v", -1});
  b.set_current_key("a");
  v.update(v.value() + 2);  // inserted: 1
  EXPECT_EQ(v.value(), 1);
  v.update(v.value() + 1);  // in place: 2
  EXPECT_EQ(same.value(), 2);
  same.update(10);
  EXPECT_EQ(v.value(), 10);
  v.clear();
  EXPECT_FALSE(same.get());
  EXPECT_EQ(v.value(), -1);
  v.update(5);
  EXPECT_EQ(same.get(), std::optional<std::int64_t>(5));
  b.set_current_key("b");
  EXPECT_EQ(v.value(), -1);
  v.update(7);
  b.set_current_key("a");
  EXPECT_EQ(v.value(), 5);
}

// get_state() returns a KeyedValueState, whose accesses skip the virtual call;
// it is a ValueState<T>, and both kinds of handle reach the same entries.
std::int64_t add_through_erased_handle(ckpt::ValueState<std::int64_t>& v, std::int64_t n) {
  v.update(v.value() + n);
  return v.value();
}

TEST(ValueState, KeyedAndKeyErasedHandlesAreTheSameState) {
  Backend b;
  ckpt::KeyedValueState<std::string, std::int64_t> keyed = b.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"n", 100});
  ckpt::ValueState<std::int64_t> erased = keyed;
  b.set_current_key("a");
  EXPECT_EQ(keyed.value(), 100);
  EXPECT_EQ(add_through_erased_handle(keyed, 1), 101);  // the keyed handle passed as a ValueState<T>&
  EXPECT_EQ(keyed.get(), 101);
  keyed.update(keyed.value() + 1);
  EXPECT_EQ(erased.value(), 102);
  erased.update(erased.value() + 1);
  EXPECT_EQ(keyed.value(), 103);
  b.set_current_key("b");
  EXPECT_FALSE(erased.get());
  keyed.update(7);
  EXPECT_EQ(erased.get(), 7);
  erased.clear();
  EXPECT_FALSE(keyed.get());
  EXPECT_EQ(keyed.value(), 100);
  b.set_current_key("a");
  keyed.clear();
  EXPECT_FALSE(erased.get());
  EXPECT_EQ(b.size("n"), 0u);
}

TEST(ValueState, KeyedHandleOfAStateWithTtlKeepsItsTtl) {
  ckpt::ManualClock clock{1'000};
  ckpt::KeyedStateBackendOptions o;
  o.clock = &clock;
  Backend b(o);
  ckpt::ValueStateDescriptor<int> d{"t", -1};
  d.enable_time_to_live(ckpt::StateTtlConfig::of(std::chrono::milliseconds(10)));
  auto keyed = b.get_state(d);
  b.set_current_key("k");
  keyed.update(keyed.value() + 2);
  EXPECT_EQ(keyed.get(), 1);
  clock.advance(std::chrono::milliseconds(10));
  EXPECT_FALSE(keyed.get());  // expired at last access + TTL
  EXPECT_EQ(keyed.value(), -1);
  keyed.update(5);
  keyed.clear();
  EXPECT_FALSE(keyed.get());
}

TEST(ValueState, DefaultConstructedKeyedHandleIsAnError) {
  ckpt::KeyedValueState<std::string, int> v;
  EXPECT_THROW(v.update(1), ckpt::StateError);
  EXPECT_THROW((void)v.value(), ckpt::StateError);
  EXPECT_THROW((void)v.get(), ckpt::StateError);
  EXPECT_THROW(v.clear(), ckpt::StateError);
}

TEST(ListState, AddAddAllUpdateGetClear) {
  Backend b;
  auto list = b.get_list_state(ckpt::ListStateDescriptor<int>{"events"});
  b.set_current_key("k1");
  EXPECT_THAT(list.get(), IsEmpty());
  list.add(1);
  list.add(2);
  list.add_all({3, 4});
  EXPECT_THAT(list.get(), ElementsAre(1, 2, 3, 4));
  b.set_current_key("k2");
  list.add(9);
  EXPECT_THAT(list.get(), ElementsAre(9));
  b.set_current_key("k1");
  list.update({7, 8});
  EXPECT_THAT(list.get(), ElementsAre(7, 8));
  list.update({});  // as in Flink: an empty update clears
  EXPECT_THAT(list.get(), IsEmpty());
  EXPECT_EQ(b.size("events"), 1u);
  b.set_current_key("k2");
  list.clear();
  EXPECT_THAT(list.get(), IsEmpty());
  EXPECT_EQ(b.size("events"), 0u);
}

TEST(MapState, FullApiPerKey) {
  Backend b;
  auto m = b.get_map_state(ckpt::MapStateDescriptor<std::string, double>{"prices"});
  b.set_current_key("shop-1");
  EXPECT_TRUE(m.is_empty());
  m.put("apple", 1.5);
  m.put_all(std::map<std::string, double>{{"pear", 2.0}, {"plum", 0.5}});
  EXPECT_EQ(m.get("apple"), 1.5);
  EXPECT_FALSE(m.get("kiwi"));
  EXPECT_TRUE(m.contains("pear"));
  EXPECT_FALSE(m.contains("kiwi"));
  EXPECT_EQ(m.size(), 3u);
  EXPECT_THAT(m.keys(), UnorderedElementsAre("apple", "pear", "plum"));
  EXPECT_THAT(m.values(), UnorderedElementsAre(1.5, 2.0, 0.5));
  EXPECT_THAT(m.entries(), UnorderedElementsAre(std::pair<std::string, double>{"apple", 1.5},
                                                std::pair<std::string, double>{"pear", 2.0},
                                                std::pair<std::string, double>{"plum", 0.5}));
  double total = 0;
  m.for_each([&](const std::string&, const double& v) { total += v; });
  EXPECT_DOUBLE_EQ(total, 4.0);
  EXPECT_TRUE(m.remove("pear"));
  EXPECT_FALSE(m.remove("pear"));
  m.put("apple", 1.75);  // overwrite
  EXPECT_EQ(m.get("apple"), 1.75);

  b.set_current_key("shop-2");
  EXPECT_TRUE(m.is_empty());
  m.put("apple", 9);
  b.set_current_key("shop-1");
  m.clear();
  EXPECT_TRUE(m.is_empty());
  b.set_current_key("shop-2");
  EXPECT_EQ(m.get("apple"), 9);
  m.remove("apple");  // the last entry: the key disappears
  EXPECT_EQ(b.size("prices"), 0u);
}

TEST(ReducingState, CombinesWithTheReduceFunction) {
  Backend b;
  auto max = b.get_reducing_state(ckpt::ReducingStateDescriptor<int>{"max", [](int a, int c) { return std::max(a, c); }});
  auto sum = b.get_reducing_state(ckpt::ReducingStateDescriptor<std::int64_t>{"sum", std::plus<>{}});
  b.set_current_key("x");
  EXPECT_FALSE(max.get());
  for (int v : {3, 9, 4}) {
    max.add(v);
    sum.add(v);
  }
  EXPECT_EQ(max.get(), 9);
  EXPECT_EQ(sum.get(), 16);
  b.set_current_key("y");
  sum.add(1);
  EXPECT_EQ(sum.get(), 1);
  sum.clear();
  EXPECT_FALSE(sum.get());
  b.set_current_key("x");
  EXPECT_EQ(sum.get(), 16);
}

struct Average final : ckpt::AggregateFunction<double, std::pair<double, std::int64_t>, double> {
  std::pair<double, std::int64_t> create_accumulator() const override { return {0.0, 0}; }
  std::pair<double, std::int64_t> add(const double& v, std::pair<double, std::int64_t> acc) const override {
    return {acc.first + v, acc.second + 1};
  }
  double get_result(const std::pair<double, std::int64_t>& acc) const override {
    return acc.second ? acc.first / static_cast<double>(acc.second) : 0.0;
  }
  std::pair<double, std::int64_t> merge(std::pair<double, std::int64_t> a, std::pair<double, std::int64_t> c) const override {
    return {a.first + c.first, a.second + c.second};
  }
};

TEST(AggregatingState, FoldsInputsIntoAnAccumulator) {
  Backend b;
  auto avg = b.get_aggregating_state(
      ckpt::AggregatingStateDescriptor<double, std::pair<double, std::int64_t>, double>{"avg", std::make_shared<Average>()});
  b.set_current_key("sensor-1");
  EXPECT_FALSE(avg.get());
  avg.add(1.0);
  avg.add(2.0);
  avg.add(6.0);
  EXPECT_DOUBLE_EQ(*avg.get(), 3.0);
  b.set_current_key("sensor-2");
  avg.add(10.0);
  EXPECT_DOUBLE_EQ(*avg.get(), 10.0);
  avg.clear();
  EXPECT_FALSE(avg.get());
}

TEST(AggregatingState, FromLambdas) {
  Backend b;
  auto fn = ckpt::make_aggregate_function<std::string, std::size_t, std::size_t>(
      [] { return std::size_t{0}; }, [](const std::string& s, std::size_t acc) { return acc + s.size(); },
      [](const std::size_t& acc) { return acc; }, [](std::size_t x, std::size_t y) { return x + y; });
  auto chars = b.get_aggregating_state(ckpt::AggregatingStateDescriptor<std::string, std::size_t, std::size_t>{"chars", fn});
  b.set_current_key("k");
  chars.add("abc");
  chars.add("de");
  EXPECT_EQ(chars.get(), 5u);
}

TEST(KeyedState, AccessWithoutCurrentKeyIsAClearError) {
  Backend b;
  auto v = b.get_state(ckpt::ValueStateDescriptor<int>{"clicks"});
  try {
    v.update(1);
    FAIL() << "expected a StateError";
  } catch (const ckpt::StateError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::no_current_key);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("'clicks'"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("set_current_key"));
  }
  EXPECT_THROW((void)v.value(), ckpt::StateError);
  EXPECT_THROW((void)b.current_key(), ckpt::StateError);
}

TEST(KeyedState, KeyOutsideTheKeyGroupRangeIsAClearError) {
  // "alice" is in key group 26 of 128; subtask 1 of 2 owns [64, 128).
  ckpt::KeyedStateBackend<std::string> b(ckpt::KeyedStateBackendOptions::for_subtask(1, 2));
  try {
    b.set_current_key("alice");
    FAIL() << "expected a StateError";
  } catch (const ckpt::StateError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::key_group_out_of_range);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("key group 26"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("[64, 128)"));
  }
  EXPECT_FALSE(b.has_current_key());
  EXPECT_THROW(b.set_current_key("bob"), ckpt::StateError);  // key group 53
  EXPECT_NO_THROW(b.set_current_key(std::string(300, 'x')));  // key group 127
  EXPECT_EQ(b.current_key_group(), 127u);
}

TEST(KeyedState, RedeclaringWithAnotherTypeIsAnError) {
  Backend b;
  auto first = b.get_state(ckpt::ValueStateDescriptor<int>{"s"});
  auto again = b.get_state(ckpt::ValueStateDescriptor<int>{"s"});  // same type: same state
  b.set_current_key("k");
  first.update(5);
  EXPECT_EQ(again.value(), 5);
  try {
    b.get_state(ckpt::ValueStateDescriptor<std::string>{"s"});
    FAIL();
  } catch (const ckpt::StateError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::state_type_mismatch);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("i32"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("string"));
  }
  EXPECT_THROW(b.get_list_state(ckpt::ListStateDescriptor<int>{"s"}), ckpt::StateError);
}

TEST(KeyedState, DefaultConstructedHandleIsAnError) {
  ckpt::ValueState<int> v;
  EXPECT_THROW(v.update(1), ckpt::StateError);
  ckpt::MapState<int, int> m;
  EXPECT_THROW((void)m.is_empty(), ckpt::StateError);
}

TEST(KeyedState, InvalidStateNamesAreRejected) {
  EXPECT_THROW(ckpt::ValueStateDescriptor<int>{""}, ckpt::ConfigError);
  EXPECT_THROW(ckpt::ValueStateDescriptor<int>{"a/b"}, ckpt::ConfigError);
  EXPECT_THROW(ckpt::ValueStateDescriptor<int>{".."}, ckpt::ConfigError);
  EXPECT_THROW(ckpt::ValueStateDescriptor<int>{std::string("a\0b", 3)}, ckpt::ConfigError);
  EXPECT_THROW(ckpt::ValueStateDescriptor<int>{"tab\there"}, ckpt::ConfigError);
  EXPECT_THROW(ckpt::ValueStateDescriptor<int>{std::string(201, 'x')}, ckpt::ConfigError);
}

struct Point {
  int x = 0;
  int y = 0;
  friend bool operator==(const Point&, const Point&) = default;
  template <class A>
  void serialize(A& ar) {
    ar(x, y);
  }
};

TEST(KeyedState, AnyCerealSerializableKeyWithEquality) {
  ckpt::KeyedStateBackend<Point> b;
  auto v = b.get_state(ckpt::ValueStateDescriptor<std::string>{"label"});
  for (int i = 0; i < 50; ++i) {
    b.set_current_key(Point{i, -i});
    v.update("p" + std::to_string(i));
  }
  b.set_current_key(Point{7, -7});
  EXPECT_EQ(v.value(), "p7");
  EXPECT_EQ(b.size("label"), 50u);
  EXPECT_EQ(b.key_group_of(Point{7, -7}), ckpt::key_group_for(Point{7, -7}, 128));
}

TEST(KeyedState, ManyKeysAcrossKeyGroups) {
  ckpt::KeyedStateBackend<std::uint64_t> b;
  auto v = b.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  for (std::uint64_t k = 0; k < 20000; ++k) {
    b.set_current_key(k);
    v.update(k * 3);
  }
  for (std::uint64_t k = 0; k < 20000; k += 97) {
    b.set_current_key(k);
    ASSERT_EQ(v.value(), k * 3);
  }
  EXPECT_EQ(b.size("v"), 20000u);
}

}  // namespace
