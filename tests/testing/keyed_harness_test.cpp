// The keyed harness on its own: output with timestamps, event-time and
// processing-time timers, snapshots, failures, restores and rescales, and
// the checks it makes.
#include <ckpt/testing/gtest.hpp>
#include <ckpt/testing/keyed_process_function_test_harness.hpp>

#include "test_functions.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>
#include "keyed_backend_under_test.hpp"

namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using ckpt::record_is;
using ckpt::harness_test::Event;
using ckpt::harness_test::key_of;
using ckpt::harness_test::make_sum;
using Harness = ckpt::KeyedProcessFunctionTestHarness<ckpt::harness_test::SumWithTimers>;

/// Every key's state in a harness, as text, by key.
std::map<std::string, std::string> dump(Harness& h) {
  std::map<std::string, std::string> out;
  for (const auto& key : h.keyed_state_backend().keys("sum"))
    out[key] = h.with_key(key, [&] { return h.function().describe(); });
  return out;
}

TEST(KeyedHarness, EmitsWithTheInputTimestampAndTheRecordsKeyCurrent) {
  // The function type deduced from the factory.
  ckpt::KeyedProcessFunctionTestHarness h(make_sum, key_of, ckpt::test::on_backend());
  static_assert(std::is_same_v<decltype(h), Harness>);
  h.process_element({"a", 1}, 10);
  h.process_element({"b", 2});  // without a timestamp
  h.process_element({"a", 3}, 12);
  EXPECT_THAT(h.output(), ElementsAre(record_is("a sum 1", 10), record_is("b sum 2", ckpt::no_timestamp),
                                      record_is("a sum 4", 12)));
  EXPECT_THAT(h.take_output_values(), ElementsAre("a sum 1", "b sum 2", "a sum 4"));
  EXPECT_THAT(h.output(), IsEmpty());
  EXPECT_EQ(h.with_key("a", [&] { return h.function().describe(); }), "sum=4 values=1,3, deadline=110");
  EXPECT_EQ(h.with_key("b", [&] { return h.function().describe(); }), "sum=2 values=2,");
}

TEST(KeyedHarness, WatermarksFireEventTimeTimersInTimestampOrderOnceEachAndArePassedOn) {
  Harness h(make_sum, key_of, ckpt::test::on_backend());
  h.process_element({"a", 1}, 10);  // timer at 110
  h.process_element({"b", 1}, 5);   // 105
  h.process_element({"c", 1}, 50);  // 150
  h.clear_output();
  EXPECT_THAT(h.event_time_timers(), ElementsAre(Pair(105, "b"), Pair(110, "a"), Pair(150, "c")));
  h.process_watermark(109);
  EXPECT_THAT(h.output(), ElementsAre(record_is("b fired 105 sum 1", 105)));  // stamped with the timer's time
  h.process_watermark(109);  // not above the current one: ignored, as in the runtime
  h.process_watermark(100);
  h.process_watermark(200);
  h.process_watermark(300);
  EXPECT_THAT(h.extract_output_values(), ElementsAre("b fired 105 sum 1", "a fired 110 sum 1", "c fired 150 sum 1"));
  EXPECT_THAT(h.emitted_watermarks(), ElementsAre(109, 200, 300));
  EXPECT_EQ(h.current_watermark(), 300);
  EXPECT_EQ(h.num_event_time_timers(), 0u);
}

TEST(KeyedHarness, ProcessingTimeTimersFireAsTheManualClockAdvances) {
  Harness h(make_sum, key_of, ckpt::test::on_backend(ckpt::TestHarnessOptions::defaults().with_processing_time(5000)));
  h.process_element({"a", 1});  // processing-time timer at 6000
  h.advance_processing_time(500ms);
  h.process_element({"b", 1});  // 6500
  h.clear_output();
  EXPECT_THAT(h.processing_time_timers(), ElementsAre(Pair(6000, "a"), Pair(6500, "b")));
  h.advance_processing_time(499ms);
  EXPECT_THAT(h.output(), IsEmpty());
  h.set_processing_time(6000);
  EXPECT_THAT(h.output(), ElementsAre(record_is("a processing-time 6000", ckpt::no_timestamp)));
  h.clock().advance(1s);           // moved behind the harness's back...
  EXPECT_EQ(h.output().size(), 1u);
  h.process_element({"c", 1});     // ...the due timer fires before the next input
  EXPECT_THAT(h.extract_output_values(), ElementsAre("a processing-time 6000", "b processing-time 6500", "c sum 1"));
  EXPECT_THROW(h.set_processing_time(0), ckpt::ConfigError);
}

TEST(KeyedHarness, AFailureLosesWhatCameAfterTheCheckpointAndRestoresTheRest) {
  Harness h(make_sum, key_of, ckpt::test::on_backend());
  h.process_element({"a", 1}, 10);
  h.process_element({"b", 2}, 11);
  const auto checkpoint = h.snapshot(1);
  EXPECT_EQ(checkpoint.checkpoint_id, 1u);
  ASSERT_EQ(checkpoint.keyed_state.size(), 1u);
  EXPECT_FALSE(checkpoint.keyed_state[0].key_groups.empty());
  h.process_element({"a", 10}, 12);  // after the checkpoint: lost in the failure
  EXPECT_FALSE(h.is_restored());

  h.restore(checkpoint);  // the instance is thrown away un-notified; a fresh one from checkpoint 1
  EXPECT_TRUE(h.is_restored());
  EXPECT_EQ(h.restored_checkpoint_id(), 1u);
  EXPECT_TRUE(h.function().restored());
  EXPECT_EQ(h.function().restored_from(), 1u);
  EXPECT_EQ(h.function().initializations, 1);
  EXPECT_THAT(h.output(), IsEmpty());
  EXPECT_EQ(h.function().records(), 2);  // its operator state
  EXPECT_EQ(dump(h), (std::map<std::string, std::string>{{"a", "sum=1 values=1, deadline=110"},
                                                         {"b", "sum=2 values=2, deadline=111"}}));
  h.process_element({"a", 5}, 13);
  EXPECT_THAT(h.extract_output_values(), ElementsAre("a sum 6"));
  EXPECT_THAT(h.function().completed, IsEmpty());
}

TEST(KeyedHarness, TimersAreInTheSnapshotAndFireOnceAfterARestore) {
  Harness h(make_sum, key_of, ckpt::test::on_backend());
  h.process_element({"a", 1}, 10);  // 110
  h.process_element({"b", 1}, 20);  // 120
  h.process_watermark(115);         // a's fires before the checkpoint
  const auto checkpoint = h.snapshot(1);
  h.process_watermark(1000);        // b's fires in the instance that then fails
  EXPECT_THAT(h.extract_output_values(), ElementsAre("a sum 1", "b sum 1", "a fired 110 sum 1", "b fired 120 sum 1"));

  h.restore(checkpoint);
  EXPECT_EQ(h.current_watermark(), ckpt::no_timestamp);  // watermarks are not state
  EXPECT_THAT(h.event_time_timers(), ElementsAre(Pair(120, "b")));
  // Timers of one timestamp fire in registration order, which a restore does not keep.
  EXPECT_THAT(h.processing_time_timers(), UnorderedElementsAre(Pair(1000, "a"), Pair(1000, "b")));
  h.process_watermark(1000);
  h.process_watermark(2000);
  EXPECT_THAT(h.take_output_values(), ElementsAre("b fired 120 sum 1"));
  h.set_processing_time(1000);
  EXPECT_THAT(h.extract_output_values(), UnorderedElementsAre("a processing-time 1000", "b processing-time 1000"));
  h.set_processing_time(5000);
  EXPECT_EQ(h.num_event_time_timers() + h.num_processing_time_timers(), 0u);
  EXPECT_EQ(h.output().size(), 2u);
}

TEST(KeyedHarness, NotificationsSnapshotsAndCloseReachTheFunction) {
  Harness h(make_sum, key_of, ckpt::test::on_backend());
  h.process_element({"a", 1});
  (void)h.snapshot(1);
  (void)h.snapshot(2, 12345);
  h.notify_aborted(1);
  h.notify_complete(2);
  EXPECT_THAT(h.function().snapshots, ElementsAre(1u, 2u));
  EXPECT_THAT(h.function().aborted, ElementsAre(1u));
  EXPECT_THAT(h.function().completed, ElementsAre(2u));
  EXPECT_THROW((void)h.snapshot(0), ckpt::ConfigError);
  const auto checkpoint = h.snapshot(3);
  EXPECT_EQ(checkpoint.checkpoint_timestamp, 0);
  h.close();
  EXPECT_TRUE(h.function().closed);
  EXPECT_TRUE(h.is_closed());
  EXPECT_THROW(h.process_element({"a", 1}), ckpt::StateError);
  h.restore(checkpoint);  // a closed harness can still start over from a checkpoint
  EXPECT_FALSE(h.is_closed());
  EXPECT_FALSE(h.function().closed);
}

TEST(KeyedHarness, StartingWithRestoreMakesOnlyTheRestoredInstance) {
  int made = 0;
  auto counting = [&made](std::uint32_t) {
    ++made;
    return std::make_unique<ckpt::harness_test::SumWithTimers>();
  };
  Harness first(counting, key_of, ckpt::test::on_backend());
  EXPECT_EQ(made, 0);  // made when first needed
  first.process_element({"a", 1});
  EXPECT_EQ(made, 1);
  const auto checkpoint = first.snapshot(3);
  Harness second(counting, key_of, ckpt::test::on_backend());
  second.restore(checkpoint);
  EXPECT_EQ(made, 2);
  EXPECT_TRUE(second.function().restored());
  EXPECT_EQ(made, 2);
}

TEST(KeyedHarness, RescaleSplitsKeyedStateByKeyGroupAndTimersMoveWithTheirKeys) {
  Harness one(make_sum, key_of, ckpt::test::on_backend());
  for (int i = 0; i < 60; ++i) one.process_element({"k" + std::to_string(i % 20), i}, i);
  const auto expected = dump(one);
  ASSERT_EQ(expected.size(), 20u);
  const auto checkpoint = one.snapshot(1);

  auto three = one.rescale(checkpoint, 3);
  ASSERT_EQ(three.size(), 3u);
  std::map<std::string, std::string> seen;
  std::int64_t records = 0;
  std::size_t timers = 0;
  for (std::uint32_t i = 0; i < 3; ++i) {
    auto& h = three[i];
    EXPECT_EQ(h.subtask_index(), i);
    EXPECT_EQ(h.parallelism(), 3u);
    for (const auto& [key, state] : dump(h)) {
      EXPECT_EQ(h.subtask_for(Event{key, 0}), i) << key << " restored on a subtask that does not own it";
      EXPECT_TRUE(seen.emplace(key, state).second) << key << " restored twice";
    }
    for (const auto& [t, key] : h.event_time_timers()) EXPECT_TRUE(h.owns(Event{key, 0})) << key;
    timers += h.num_event_time_timers();
    records += h.function().records();
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(timers, 20u);
  EXPECT_EQ(records, 60);  // the operator state list, split evenly: all of it on one subtask

  // Every timer fires once, on the subtask that owns its key.
  std::multiset<std::string> fired;
  for (auto& h : three) {
    h.clear_output();
    h.process_watermark(10'000);
    h.process_watermark(20'000);
    for (const auto& v : h.extract_output_values()) fired.insert(v.substr(0, v.find(' ')));
  }
  EXPECT_EQ(fired.size(), 20u);
  EXPECT_EQ(std::set<std::string>(fired.begin(), fired.end()).size(), 20u);

  // On to two subtasks, from the snapshots of all three.
  for (int i = 0; i < 30; ++i) {
    const Event e{"k" + std::to_string(i % 25), 1000 + i};
    three[three[0].subtask_for(e)].process_element(e, 20'000 + i);
  }
  std::map<std::string, std::string> before;
  std::vector<ckpt::OperatorSubtaskState> states;
  for (auto& h : three) {
    before.merge(dump(h));
    states.push_back(h.snapshot(2));
  }
  auto two = three[0].rescale(states, 2);
  std::map<std::string, std::string> after;
  std::int64_t records_after = 0;
  for (auto& h : two) {
    after.merge(dump(h));
    records_after += h.function().records();
  }
  EXPECT_EQ(after.size(), 25u);
  EXPECT_EQ(after, before);
  EXPECT_EQ(records_after, 90);
}

TEST(KeyedHarness, ElementsWhoseKeyIsAnotherSubtasksAreRejected) {
  Harness h(make_sum, key_of, ckpt::test::on_backend(ckpt::TestHarnessOptions::for_subtask(0, 2)));
  int i = 0;
  while (h.owns(Event{"k" + std::to_string(i), 0})) ++i;
  try {
    h.process_element({"k" + std::to_string(i), 0});
    FAIL() << "an element of subtask 1 was accepted";
  } catch (const ckpt::StateError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::key_group_out_of_range);
  }
}

TEST(KeyedHarness, RestoreNeedsTheSnapshotsOfEveryOldSubtaskOfOneCheckpoint) {
  Harness a(make_sum, key_of, ckpt::test::on_backend(ckpt::TestHarnessOptions::for_subtask(0, 2)));
  Harness b(make_sum, key_of, ckpt::test::on_backend(ckpt::TestHarnessOptions::for_subtask(1, 2)));
  const auto a1 = a.snapshot(1);
  const auto b1 = b.snapshot(1);
  const auto b2 = b.snapshot(2);
  Harness h(make_sum, key_of, ckpt::test::on_backend());
  h.process_element({"x", 7});
  EXPECT_THROW(h.restore(a1), ckpt::ConfigError);        // half of the old subtasks
  EXPECT_THROW(h.restore({a1, b2}), ckpt::ConfigError);  // two checkpoints
  EXPECT_THROW(h.restore({a1, a1}), ckpt::ConfigError);  // one subtask twice
  EXPECT_THROW((void)h.rescale({a1}, 3), ckpt::ConfigError);
  EXPECT_EQ(dump(h).at("x"), "sum=7 values=7,");  // a restore that failed changed nothing
  h.restore({b1, a1});                              // any order
  EXPECT_TRUE(dump(h).empty());
}

TEST(KeyedHarness, OptionsAreValidated) {
  EXPECT_THROW(Harness(make_sum, key_of, ckpt::test::on_backend(ckpt::TestHarnessOptions::for_subtask(2, 2))), ckpt::ConfigError);
  EXPECT_THROW(Harness(make_sum, key_of, ckpt::test::on_backend(ckpt::TestHarnessOptions::for_subtask(0, 200))), ckpt::ConfigError);
  Harness h([](std::uint32_t) { return std::unique_ptr<ckpt::harness_test::SumWithTimers>(); }, key_of,
            ckpt::test::on_backend());
  EXPECT_THROW(h.open(), ckpt::ConfigError);  // the factory made nothing
}

/// Flips a bool per key and emits the new value.
template <class K>
class Flip final : public ckpt::KeyedProcessFunction<K, K, bool> {
 public:
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    on_ = ctx.keyed_state_backend<K>().get_state(ckpt::ValueStateDescriptor<bool>{"on", false});
  }
  void process_element(const K&, typename ckpt::KeyedProcessFunction<K, K, bool>::Context&,
                       ckpt::Collector<bool>& out) override {
    on_.update(!on_.value());
    out.collect(on_.value());
  }

 private:
  ckpt::ValueState<bool> on_;
};

template <class K>
void flip_restore_flip(K a, K b) {
  ckpt::KeyedProcessFunctionTestHarness h([] { return std::make_unique<Flip<K>>(); }, [](const K& k) { return k; },
                                         ckpt::test::on_backend());
  h.process_element(a);
  h.process_element(b);
  h.process_element(b);
  h.restore(h.snapshot(1));  // bool values, written as raw bytes (with a raw or a cereal key column)
  h.process_element(a);
  h.process_element(b);
  EXPECT_THAT(h.extract_output_values(), ElementsAre(false, true));
}

TEST(KeyedHarness, BoolStateSurvivesARestore) {
  flip_restore_flip<std::string>("a", "b");
  flip_restore_flip<std::int64_t>(1, 2);
}

TEST(HarnessGTestSupport, RecordMatchersDescribeAndExplain) {
  using ::testing::Not;
  const ckpt::Record<std::string> r{"apple", 10};
  EXPECT_THAT(r, record_is("apple", 10));
  EXPECT_THAT(r, Not(record_is("apple", 11)));
  EXPECT_THAT(r, ckpt::has_value(::testing::StartsWith("app")));
  EXPECT_THAT(r, ckpt::has_timestamp(::testing::Gt(5)));
  EXPECT_THAT(r, Not(ckpt::has_timestamp(ckpt::no_timestamp)));

  const ::testing::Matcher<const ckpt::Record<std::string>&> m = record_is("pear", 10);
  EXPECT_EQ(::testing::DescribeMatcher<const ckpt::Record<std::string>&>(m),
            "is a record whose value is equal to \"pear\" and whose timestamp is equal to 10");
  ::testing::StringMatchResultListener why;
  EXPECT_FALSE(m.MatchAndExplain(r, &why));
  EXPECT_EQ(why.str(), "whose value \"apple\" doesn't match");
  const ::testing::Matcher<const ckpt::Record<std::string>&> t = ckpt::has_timestamp(11);
  ::testing::StringMatchResultListener why_t;
  EXPECT_FALSE(t.MatchAndExplain(r, &why_t));
  EXPECT_EQ(why_t.str(), "whose timestamp 10 doesn't match");

  EXPECT_EQ(::testing::PrintToString(r), "\"apple\" @ timestamp 10");
  EXPECT_EQ(::testing::PrintToString(ckpt::Record<int>{1, ckpt::no_timestamp}), "1 @ no timestamp");
  EXPECT_EQ(::testing::PrintToString(ckpt::SourceStatus::finished), "finished");
  Harness h(make_sum, key_of, ckpt::test::on_backend());
  h.process_element({"a", 1});
  EXPECT_EQ(::testing::PrintToString(h.snapshot(4)),
            "checkpoint 4 of subtask 0 of 1 (1 key groups with keyed state, 1 operator states)");
}

}  // namespace
