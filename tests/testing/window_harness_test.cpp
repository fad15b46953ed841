// Windows on keyed streams (issue 20 item 3) through the keyed harness:
// tumbling, sliding and session windows in event time, processing-time
// windows, the count trigger, late data within and beyond the allowed
// lateness, session merges, a snapshot restored at another parallelism in
// the middle of windows, and a JobRunner pipeline restarted from a checkpoint
// whose windowed counts are the expected ones.
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/function/window.hpp>
#include <ckpt/runtime/job_runner.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>
#include <ckpt/testing/harness.hpp>

#include "pipeline_util.hpp"
#include "test_functions.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>
#include "keyed_backend_under_test.hpp"

namespace {
namespace window_harness {

using namespace std::chrono_literals;
using ckpt::harness_test::Event;
using ckpt::harness_test::key_of;

std::string describe(const std::string& key, const ckpt::TimeWindow& w, std::int64_t v) {
  return key + " [" + std::to_string(w.start) + "," + std::to_string(w.end) + ") " + std::to_string(v);
}

/// Sums the values of a window: "key [start,end) sum".
auto summing(ckpt::WindowedStream<std::string, Event> windows) {
  return windows.reduce<std::string>(
      [](const Event& a, const Event& b) { return Event{a.key, a.value + b.value}; },
      [](const std::string& key, const ckpt::TimeWindow& w, const Event& e, ckpt::Collector<std::string>& out) {
        out.collect(describe(key, w, e.value));
      });
}

/// Counts the elements of a window with an AggregateFunction.
auto counting(ckpt::WindowedStream<std::string, Event> windows) {
  auto count = ckpt::make_aggregate_function<Event, std::int64_t, std::int64_t>(
      [] { return std::int64_t{0}; }, [](const Event&, std::int64_t n) { return n + 1; },
      [](const std::int64_t& n) { return n; }, [](std::int64_t a, std::int64_t b) { return a + b; });
  return windows.aggregate<std::string>(
      count, [](const std::string& key, const ckpt::TimeWindow& w, std::int64_t n, ckpt::Collector<std::string>& out) {
        out.collect(describe(key, w, n));
      });
}

/// Lists a window's values in arrival order: "key [start,end) v1,v2,".
class ListValues final : public ckpt::ProcessWindowFunction<std::string, Event, std::string> {
 public:
  void process(const std::string& key, const ckpt::TimeWindow& w, const std::vector<Event>& elements,
               ckpt::Collector<std::string>& out) override {
    std::string s = key + " [" + std::to_string(w.start) + "," + std::to_string(w.end) + ") ";
    for (const auto& e : elements) s += std::to_string(e.value) + ",";
    out.collect(s);
  }
};

template <class Factory>
auto harness(Factory factory, ckpt::TestHarnessOptions options = {}) {
  return ckpt::KeyedProcessFunctionTestHarness(std::move(factory), &key_of, ckpt::test::on_backend(options));
}

using Values = std::vector<std::string>;

TEST(Windows, TumblingEventTimeFiresWhenTheWatermarkPassesTheEnd) {
  auto h = harness(summing(ckpt::window<std::string, Event>(ckpt::TumblingEventTimeWindows::of(5s))));
  h.process_element({"a", 1}, 1000);
  h.process_element({"a", 2}, 2000);
  h.process_element({"b", 10}, 3000);
  h.process_element({"a", 4}, 6000);
  h.process_watermark(4998);
  EXPECT_TRUE(h.output().empty());
  h.process_watermark(4999);
  auto out = h.take_output();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ((std::set<std::string>{out[0].value, out[1].value}),
            (std::set<std::string>{"a [0,5000) 3", "b [0,5000) 10"}));
  EXPECT_EQ(out[0].timestamp, 4999);  // a window's results carry its max_timestamp()
  h.process_watermark(9999);
  EXPECT_EQ(h.take_output_values(), (Values{"a [5000,10000) 4"}));
  EXPECT_EQ(h.num_event_time_timers(), 0u);  // fired and cleaned up
  EXPECT_TRUE(h.keyed_state_backend().keys("window_contents").empty());
}

TEST(Windows, TumblingWithAnOffset) {
  auto h = harness(counting(ckpt::window<std::string, Event>(ckpt::TumblingEventTimeWindows::of(5s, 1s))));
  h.process_element({"a", 1}, 500);
  h.process_element({"a", 1}, 1000);
  h.process_watermark(20'000);
  EXPECT_EQ(h.take_output_values(), (Values{"a [-4000,1000) 1", "a [1000,6000) 1"}));
}

TEST(Windows, SlidingEventTimePutsEachElementInSizeOverSlideWindows) {
  auto h = harness(counting(ckpt::window<std::string, Event>(ckpt::SlidingEventTimeWindows::of(10s, 5s))));
  h.process_element({"a", 1}, 7000);
  h.process_element({"a", 1}, 12'000);
  h.process_watermark(9999);
  EXPECT_EQ(h.take_output_values(), (Values{"a [0,10000) 1"}));
  h.process_watermark(14'999);
  EXPECT_EQ(h.take_output_values(), (Values{"a [5000,15000) 2"}));
  h.process_watermark(19'999);
  EXPECT_EQ(h.take_output_values(), (Values{"a [10000,20000) 1"}));
}

TEST(Windows, SessionWindowsMergeWithTheirStateAndDropTheStaleTimers) {
  auto h = harness(ckpt::window<std::string, Event>(ckpt::EventTimeSessionWindows::with_gap(3s))
                       .process(std::make_shared<ListValues>()));
  h.process_element({"a", 1}, 1000);  // [1000,4000)
  h.process_element({"a", 2}, 6000);  // [6000,9000)
  h.process_element({"b", 9}, 2000);  // another key: its own session
  EXPECT_EQ(h.num_event_time_timers(), 3u);
  h.process_element({"a", 3}, 3500);  // [3500,6500) touches both: one session [1000,9000)
  std::vector<std::int64_t> a_timers;
  for (const auto& [t, key] : h.event_time_timers())
    if (key == "a") a_timers.push_back(t);
  EXPECT_EQ(a_timers, (std::vector<std::int64_t>{8999}));
  h.process_element({"a", 4}, 2000);  // inside the session
  h.process_watermark(4999);
  EXPECT_EQ(h.take_output_values(), (Values{"b [2000,5000) 9,"}));
  h.process_watermark(8999);
  const auto out = h.take_output_values();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].substr(0, 14), "a [1000,9000) ");
  std::multiset<std::string> values;  // merged contents: every element, in no promised order
  for (std::size_t i = 14, j; (j = out[0].find(',', i)) != std::string::npos; i = j + 1) values.insert(out[0].substr(i, j - i));
  EXPECT_EQ(values, (std::multiset<std::string>{"1", "2", "3", "4"}));
  EXPECT_EQ(h.num_event_time_timers(), 0u);
}

TEST(Windows, ProcessingTimeWindowsFireOnTheHarnessClock) {
  constexpr std::int64_t start = 1'700'000'000'000;  // a multiple of 1000
  auto h = harness(counting(ckpt::window<std::string, Event>(ckpt::TumblingProcessingTimeWindows::of(1s))),
                   ckpt::TestHarnessOptions{}.with_processing_time(start + 200));
  h.process_element({"a", 1});  // no event time needed
  h.process_element({"a", 1});
  h.set_processing_time(start + 700);
  h.process_element({"b", 1});
  h.set_processing_time(start + 998);
  EXPECT_TRUE(h.output().empty());
  h.set_processing_time(start + 999);
  auto out = h.take_output_values();
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (Values{"a [" + std::to_string(start) + "," + std::to_string(start + 1000) + ") 2",
                         "b [" + std::to_string(start) + "," + std::to_string(start + 1000) + ") 1"}));
  h.process_element({"a", 1});
  h.advance_processing_time(1s);
  EXPECT_EQ(h.take_output_values().size(), 1u);
  EXPECT_EQ(h.num_processing_time_timers(), 0u);
}

TEST(Windows, ProcessingTimeSessions) {
  constexpr std::int64_t start = 1'700'000'000'000;
  auto h = harness(counting(ckpt::window<std::string, Event>(ckpt::ProcessingTimeSessionWindows::with_gap(100ms))),
                   ckpt::TestHarnessOptions{}.with_processing_time(start));
  h.process_element({"a", 1});
  h.set_processing_time(start + 50);
  h.process_element({"a", 1});
  h.set_processing_time(start + 148);
  EXPECT_TRUE(h.output().empty());  // the first session's timer went with the merge
  h.set_processing_time(start + 149);
  EXPECT_EQ(h.take_output_values(),
            (Values{"a [" + std::to_string(start) + "," + std::to_string(start + 150) + ") 2"}));
}

TEST(Windows, CountTriggerFiresEveryNElementsAndTheWindowIsCleanedAtItsEnd) {
  auto h = harness(summing(ckpt::window<std::string, Event>(ckpt::TumblingEventTimeWindows::of(10s))
                               .trigger(ckpt::CountTrigger::of(2))));
  h.process_element({"a", 1}, 1000);
  EXPECT_TRUE(h.output().empty());
  h.process_element({"a", 2}, 2000);
  EXPECT_EQ(h.take_output_values(), (Values{"a [0,10000) 3"}));
  h.process_element({"a", 3}, 3000);
  h.process_element({"b", 5}, 3000);
  EXPECT_TRUE(h.output().empty());
  h.process_element({"a", 4}, 4000);
  EXPECT_EQ(h.take_output_values(), (Values{"a [0,10000) 10"}));  // the contents stay between firings
  h.process_watermark(9999);
  EXPECT_TRUE(h.output().empty());  // the count trigger replaces the event-time one
  EXPECT_TRUE(h.keyed_state_backend().keys("window_contents").empty());
  EXPECT_EQ(h.num_event_time_timers(), 0u);
}

TEST(Windows, LateDataWithinTheAllowedLatenessFiresAgainLaterIsDroppedAndCounted) {
  auto h = harness(summing(
      ckpt::window<std::string, Event>(ckpt::TumblingEventTimeWindows::of(5s)).allowed_lateness(2s)));
  h.process_element({"a", 1}, 1000);
  h.process_watermark(4999);
  EXPECT_EQ(h.take_output_values(), (Values{"a [0,5000) 1"}));
  h.process_element({"a", 2}, 2000);  // late, within the lateness: an updated result at once
  EXPECT_EQ(h.take_output_values(), (Values{"a [0,5000) 3"}));
  h.process_watermark(6998);
  h.process_element({"a", 4}, 4000);
  EXPECT_EQ(h.take_output_values(), (Values{"a [0,5000) 7"}));
  h.process_watermark(6999);  // cleanup time: max_timestamp() + lateness
  EXPECT_TRUE(h.output().empty());
  EXPECT_TRUE(h.keyed_state_backend().keys("window_contents").empty());
  h.process_element({"a", 8}, 3000);  // beyond the lateness
  EXPECT_TRUE(h.output().empty());
  EXPECT_EQ(h.function().num_late_records_dropped(), 1u);
  EXPECT_TRUE(h.keyed_state_backend().keys("window_contents").empty());
  EXPECT_EQ(h.num_event_time_timers(), 0u);
}

TEST(Windows, WithoutLatenessALateElementIsDropped) {
  auto h = harness(summing(ckpt::window<std::string, Event>(ckpt::TumblingEventTimeWindows::of(5s))));
  h.process_watermark(5000);
  h.process_element({"a", 1}, 4999);
  h.process_element({"a", 1}, 5000);  // on time for [5000,10000)
  EXPECT_EQ(h.function().num_late_records_dropped(), 1u);
  h.process_watermark(10'000);
  EXPECT_EQ(h.take_output_values(), (Values{"a [5000,10000) 1"}));
}

TEST(Windows, BadSettingsAreErrors) {
  EXPECT_THROW(ckpt::TumblingEventTimeWindows::of(0s), ckpt::ConfigError);
  EXPECT_THROW(ckpt::SlidingEventTimeWindows::of(10s, 0s), ckpt::ConfigError);
  EXPECT_THROW(ckpt::TumblingEventTimeWindows::of(5s, 5s), ckpt::ConfigError);
  EXPECT_THROW(ckpt::EventTimeSessionWindows::with_gap(-1s), ckpt::ConfigError);
  EXPECT_THROW(ckpt::CountTrigger::of(0), ckpt::ConfigError);
  auto processing = ckpt::window<std::string, Event>(ckpt::TumblingProcessingTimeWindows::of(1s));
  EXPECT_THROW(processing.allowed_lateness(1s), ckpt::ConfigError);
  auto h = harness(summing(ckpt::window<std::string, Event>(ckpt::TumblingEventTimeWindows::of(5s))));
  EXPECT_THROW(h.process_element({"a", 1}), ckpt::StateError);  // event time needs a timestamp
}

/// Feeds `events` (value, timestamp) to the subtask owning each key, then a watermark to all.
template <class H>
void feed(std::vector<H>& subtasks, const std::vector<std::pair<Event, std::int64_t>>& events, std::int64_t watermark) {
  for (const auto& [e, t] : events) subtasks[subtasks[0].subtask_for(e)].process_element(e, t);
  for (auto& h : subtasks) h.process_watermark(watermark);
}
template <class H>
std::multiset<std::string> outputs(std::vector<H>& subtasks) {
  std::multiset<std::string> out;
  for (auto& h : subtasks)
    for (auto& v : h.take_output_values()) out.insert(v);
  return out;
}

/// How many windows the current key has open.
template <class H>
std::size_t windows_of(H& h) {
  using Slot = typename H::function_type::Slot;
  return h.keyed_state_backend()
      .get_map_state(ckpt::MapStateDescriptor<ckpt::TimeWindow, Slot>{"window_contents"})
      .size();
}

TEST(Windows, ASnapshotMidWindowRestoredAtParallelismThreeGivesTheUninterruptedResult) {
  const auto factory = [] {
    return counting(ckpt::window<std::string, Event>(ckpt::EventTimeSessionWindows::with_gap(1s)));
  };
  const auto tumbling = [] { return summing(ckpt::window<std::string, Event>(ckpt::TumblingEventTimeWindows::of(2s))); };
  std::vector<std::pair<Event, std::int64_t>> first, second;
  for (int k = 0; k < 12; ++k) {
    const auto key = "k" + std::to_string(k);
    first.push_back({{key, k}, 100 * k});
    first.push_back({{key, 1}, 100 * k + 1500});          // a second session for now
    second.push_back({{key, 2}, 100 * k + 800});          // bridges them after the restore
    second.push_back({{key, 3}, 100 * k + 4000});         // a session of its own
  }
  for (int run = 0; run < 2; ++run) {
    const auto expected_and_actual = [&](auto make, std::size_t windows_at_checkpoint) {
      std::vector<decltype(harness(make()))> one;
      one.push_back(harness(make()));
      feed(one, first, 500);
      auto uninterrupted = outputs(one);
      const auto checkpoint = one[0].snapshot(1);
      feed(one, second, 100'000);
      for (const auto& v : outputs(one)) uninterrupted.insert(v);

      std::vector<decltype(harness(make()))> restored_one;
      restored_one.push_back(harness(make()));
      feed(restored_one, first, 500);
      auto interrupted = outputs(restored_one);
      auto three = restored_one[0].rescale(checkpoint, 3);
      std::size_t windows_restored = 0;
      for (auto& h : three)
        for (const auto& key : h.keyed_state_backend().keys("window_contents"))
          windows_restored += h.with_key(key, [&] { return windows_of(h); });
      EXPECT_EQ(windows_restored, windows_at_checkpoint);
      feed(three, second, 100'000);
      for (const auto& v : outputs(three)) interrupted.insert(v);
      EXPECT_EQ(interrupted, uninterrupted);
      EXPECT_FALSE(uninterrupted.empty());
      return uninterrupted;
    };
    if (run == 0) {
      const auto out = expected_and_actual(factory, 24);
      EXPECT_EQ(out.count("k0 [0,5000) 4"), 0u);
      EXPECT_EQ(out.count("k0 [0,2500) 3"), 1u);  // 0, 1500 and the bridging 800
      EXPECT_EQ(out.count("k0 [4000,5000) 1"), 1u);
      EXPECT_EQ(out.size(), 24u);
    } else {
      EXPECT_EQ(expected_and_actual(tumbling, 19).size(), 31u);
    }
  }
}

// -- a pipeline through JobRunner ---------------------------------------------------

constexpr std::int64_t window_size = 50;
using Counts = std::multiset<std::string>;

/// events -> key_by -> tumbling event-time counts (at `parallelism`) -> sink,
/// restored from the latest restore point in `storage` if there is one; runs
/// to the end of its input, or with `stop_at_end` is stopped with a savepoint
/// once the source has emitted the schedule.
Counts run_job(ckpt::CheckpointStorage& storage, std::vector<ckpt::harness_test::Scheduled> schedule,
               std::uint32_t parallelism, bool stop_at_end = false) {
  auto collected = std::make_shared<ckpt::test::CollectingSink<std::string>::Shared>();
  auto end = stop_at_end ? std::make_shared<ckpt::harness_test::ScheduleEnd>() : nullptr;
  ckpt::Pipeline p;
  p.add_source("events", 1,
               [schedule, end](std::uint32_t) { return std::make_unique<ckpt::harness_test::ScheduleSource>(schedule, end); })
      .key_by(&key_of)
      .process("counts", parallelism,
               counting(ckpt::window<std::string, Event>(
                   ckpt::TumblingEventTimeWindows::of(std::chrono::milliseconds(window_size)))))
      .add_sink("sink", 1,
                [collected](std::uint32_t) { return std::make_unique<ckpt::test::CollectingSink<std::string>>(collected); });
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand());
  EXPECT_TRUE(ckpt::harness_test::run_or_stop_at_end(job, end.get())) << "the savepoint failed";
  return Counts(collected->values.begin(), collected->values.end());
}

/// Every window of `schedule` whose end the watermark `up_to` passed, counted.
Counts expected_counts(const std::vector<ckpt::harness_test::Scheduled>& schedule, std::int64_t up_to) {
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> counts;
  for (const auto& s : schedule) ++counts[{s.event.key, ckpt::WindowAssigner::window_start(s.timestamp, 0, window_size)}];
  Counts expected;
  for (const auto& [kw, n] : counts)
    if (kw.second + window_size - 1 <= up_to) expected.insert(describe(kw.first, {kw.second, kw.second + window_size}, n));
  return expected;
}

// The end of a bounded input is the largest watermark (Flink's
// MAX_WATERMARK): the windows still open then fire before the final
// checkpoint, the newest one included.
TEST(WindowPipeline, TheEndOfABoundedInputFiresTheWindowsStillOpen) {
  const auto schedule = ckpt::harness_test::make_schedule(200, 5);
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  const auto out = run_job(storage, schedule, 2);
  const auto all = expected_counts(schedule, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(out, all);
  EXPECT_LT(expected_counts(schedule, schedule.back().watermark).size(), all.size()) << "some windows were open at the end";
  const auto& last = schedule.back();
  const auto last_start = ckpt::WindowAssigner::window_start(last.timestamp, 0, window_size);
  std::size_t in_last_window = 0;
  for (const auto& v : out) in_last_window += v.find(" [" + std::to_string(last_start) + ",") != std::string::npos ? 1 : 0;
  EXPECT_GT(in_last_window, 0u) << "the window of the last record fired";
}

// Stop with a savepoint is no end of input: its open windows do not fire but
// stay in the savepoint, and fire in the restored run (here at another
// parallelism) once its input ends; each window's count once, and right.
TEST(WindowPipeline, AStopWithSavepointKeepsTheOpenWindowsForTheRestoredRun) {
  constexpr std::size_t records = 300;
  const auto schedule = ckpt::harness_test::make_schedule(records, 7);
  const std::vector<ckpt::harness_test::Scheduled> first_half(schedule.begin(), schedule.begin() + records / 2);
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  auto out = run_job(storage, first_half, 3, /*stop_at_end=*/true);
  EXPECT_EQ(out, expected_counts(first_half, first_half.back().watermark)) << "only the windows the watermark closed";
  ASSERT_TRUE(storage.restore_latest());
  for (const auto& v : run_job(storage, schedule, 2)) out.insert(v);
  const auto expected = expected_counts(schedule, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(out, expected);
  EXPECT_GT(expected.size(), 7u * 4u);
}

}  // namespace window_harness
}  // namespace
