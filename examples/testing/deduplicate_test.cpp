// Unit tests of Deduplicate, as its author would write them: through the
// keyed test harness, with a manual clock for the TTL and watermarks for the
// timers, across a failure, a restore and a rescale from 2 to 3 subtasks.
#include "deduplicate.hpp"

#include <ckpt/testing/gtest.hpp>
#include <ckpt/testing/keyed_process_function_test_harness.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;
using example::Deduplicate;
using example::Message;
using Harness = ckpt::KeyedProcessFunctionTestHarness<Deduplicate>;

constexpr std::int64_t horizon = 1000;  // event time

Harness dedup(ckpt::TestHarnessOptions options = {}) {
  return Harness([] { return std::make_unique<Deduplicate>(10min, horizon); },
                 [](const Message& m) { return m.id; }, options);
}

std::vector<std::string> ids(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.id);
  return out;
}

TEST(Deduplicate, DropsRepeatsOfAnId) {
  auto h = dedup();
  h.process_element({"a", "first"}, 10);
  h.process_element({"b", "first"}, 11);
  h.process_element({"a", "again"}, 12);
  EXPECT_THAT(h.output(), ElementsAre(ckpt::record_is(Message{"a", "first"}, 10), ckpt::record_is(Message{"b", "first"}, 11)));
}

TEST(Deduplicate, AnIdMayComeAgainOnceTheWatermarkPassesItsHorizon) {
  auto h = dedup();
  h.process_element({"a", "1"}, 100);  // remembered until event time 1100
  h.process_watermark(1099);
  h.process_element({"a", "2"}, 1099);
  h.process_watermark(1100);           // the timer clears "a"
  EXPECT_EQ(h.num_event_time_timers(), 0u);
  h.process_element({"a", "3"}, 1200);
  EXPECT_THAT(h.extract_output_values(), ElementsAre(Message{"a", "1"}, Message{"a", "3"}));
}

TEST(Deduplicate, AnIdMayComeAgainOnceItsTtlExpired) {
  auto h = dedup();
  h.process_element({"a", "1"});  // no timestamp: only the TTL forgets it
  h.advance_processing_time(9min);
  h.process_element({"a", "2"});
  h.advance_processing_time(1min);
  h.process_element({"a", "3"});
  EXPECT_THAT(h.extract_output_values(), ElementsAre(Message{"a", "1"}, Message{"a", "3"}));
}

TEST(Deduplicate, AfterAFailureTheRestoredInstanceRemembersWhatTheCheckpointHeld) {
  auto h = dedup();
  h.process_element({"a", "1"}, 10);
  const auto checkpoint = h.snapshot(1);
  h.process_element({"b", "1"}, 20);  // after the checkpoint: replayed after the failure

  h.restore(checkpoint);  // the instance is thrown away without a notification; a new one from checkpoint 1
  h.process_element({"b", "1"}, 20);  // the replay passes: the failed instance's memory of "b" is gone
  h.process_element({"a", "2"}, 30);  // "a" is still remembered
  EXPECT_THAT(h.extract_output_values(), ElementsAre(Message{"b", "1"}));
  EXPECT_EQ(h.num_event_time_timers(), 2u);  // a's timer came back with the checkpoint
  h.process_watermark(2000);
  EXPECT_EQ(h.num_event_time_timers(), 0u);
}

TEST(Deduplicate, RescalingFromTwoToThreeSubtasksKeepsEveryIdAndTimerOnItsNewOwner) {
  // Two subtasks, each fed the ids it owns (as the runtime routes them by key group).
  std::vector<Harness> two;
  for (std::uint32_t i = 0; i < 2; ++i) two.push_back(dedup(ckpt::TestHarnessOptions::for_subtask(i, 2)));
  std::vector<std::string> all;
  for (int n = 0; n < 40; ++n) {
    const Message m{"id-" + std::to_string(n), "first"};
    two[two[0].subtask_for(m)].process_element(m, n);
    all.push_back(m.id);
  }
  const std::vector<ckpt::OperatorSubtaskState> checkpoint{two[0].snapshot(7), two[1].snapshot(7)};

  auto three = two[0].rescale(checkpoint, 3);
  ASSERT_EQ(three.size(), 3u);
  std::size_t timers = 0;
  for (auto& h : three) timers += h.num_event_time_timers();
  EXPECT_EQ(timers, 40u);  // each id's timer moved with it
  for (int n = 0; n < 40; ++n) {  // every repeat is still dropped, by whichever subtask owns it now
    const Message m{"id-" + std::to_string(n), "repeat"};
    three[three[0].subtask_for(m)].process_element(m, 100);
  }
  for (auto& h : three) EXPECT_THAT(h.output(), IsEmpty());

  // Past the horizon each timer fires once, and every id may come again.
  std::vector<std::string> again;
  for (auto& h : three) h.process_watermark(5000);
  for (int n = 0; n < 40; ++n) {
    const Message m{"id-" + std::to_string(n), "later"};
    three[three[0].subtask_for(m)].process_element(m, 6000);
  }
  for (auto& h : three)
    for (const auto& id : ids(h.take_output_values())) again.push_back(id);
  EXPECT_THAT(again, UnorderedElementsAreArray(all));
}

}  // namespace
