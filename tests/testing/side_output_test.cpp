// Side outputs (issue 20 item 5) through the harnesses: OutputTag from a
// ProcessFunction and from a KeyedProcessFunction (records and timers), tag
// type clashes, window functions' output_to(), and the window operator's
// late data (item 3): within the
// allowed lateness an element updates the result, beyond it the element goes
// to the late-data side output, with a snapshot and restore in between.
// Then side outputs in a JobRunner pipeline restarted from a checkpoint.
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/function/output_tag.hpp>
#include <ckpt/function/window.hpp>
#include <ckpt/runtime/job_runner.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>
#include <ckpt/testing/harness.hpp>

#include "pipeline_util.hpp"
#include "test_functions.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {
namespace side_output {

using namespace std::chrono_literals;
using ckpt::harness_test::Event;
using ckpt::harness_test::key_of;

const ckpt::OutputTag<std::string> negatives{"negatives"};
const ckpt::OutputTag<std::int64_t> timers{"timers"};

/// Main output: the values >= 0; negative ones go to "negatives", as text.
class SplitNegatives final : public ckpt::ProcessFunction<Event, std::int64_t> {
 public:
  void process_element(const Event& e, ckpt::Collector<std::int64_t>& out) override {
    if (e.value >= 0)
      out.collect(e.value);
    else
      context().output(negatives, e.key + std::to_string(e.value));
  }
};

/// Keyed: negative values to "negatives"; each record sets an event-time
/// timer at its timestamp + 10, which sends the key's count to "timers".
class KeyedSplit final : public ckpt::KeyedProcessFunction<std::string, Event, std::int64_t> {
 public:
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    count_ = ctx.keyed_state_backend<std::string>().get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0});
  }
  void process_element(const Event& e, Context& ctx, ckpt::Collector<std::int64_t>& out) override {
    count_.update(count_.value() + 1);
    ctx.timer_service().register_event_time_timer(ctx.timestamp() + 10);
    if (e.value >= 0)
      out.collect(e.value);
    else
      ctx.output(negatives, ctx.current_key() + std::to_string(e.value));
  }
  void on_timer(std::int64_t, OnTimerContext& ctx, ckpt::Collector<std::int64_t>&) override {
    ctx.output(timers, count_.value());
  }

 private:
  ckpt::ValueState<std::int64_t> count_;
};

template <class T>
std::vector<std::pair<T, std::int64_t>> stamped(const std::vector<ckpt::Record<T>>& records) {
  std::vector<std::pair<T, std::int64_t>> out;
  for (const auto& r : records) out.emplace_back(r.value, r.timestamp);
  return out;
}

TEST(SideOutputs, AProcessFunctionSendsToATagWithTheRecordsTimestamp) {
  ckpt::ProcessFunctionTestHarness h([] { return std::make_unique<SplitNegatives>(); });
  h.process_element({"a", 1}, 10);
  h.process_element({"b", -2}, 20);
  h.process_element({"c", -3}, 30);
  EXPECT_EQ(h.extract_output_values(), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(stamped(h.side_output(negatives)),
            (std::vector<std::pair<std::string, std::int64_t>>{{"b-2", 20}, {"c-3", 30}}));
  EXPECT_TRUE(h.side_output(timers).empty());  // a tag nothing went to
  h.clear_output();
  EXPECT_TRUE(h.side_output(negatives).empty());
  h.process_element({"d", -4}, 40);
  EXPECT_EQ(h.side_output_values(negatives), (std::vector<std::string>{"d-4"}));
}

TEST(SideOutputs, AKeyedProcessFunctionSendsFromRecordsAndTimers) {
  ckpt::KeyedProcessFunctionTestHarness h([] { return std::make_unique<KeyedSplit>(); }, &key_of);
  h.process_element({"a", -1}, 100);
  h.process_element({"a", 5}, 105);
  h.process_element({"b", -7}, 200);
  EXPECT_EQ(stamped(h.side_output(negatives)),
            (std::vector<std::pair<std::string, std::int64_t>>{{"a-1", 100}, {"b-7", 200}}));
  h.process_watermark(150);  // a's timers at 110 and 115
  EXPECT_EQ(stamped(h.side_output(timers)), (std::vector<std::pair<std::int64_t, std::int64_t>>{{2, 110}, {2, 115}}));

  // A restored instance starts with empty outputs, and its restored timers still send.
  auto checkpoint = h.snapshot(1);
  h.restore(checkpoint);
  EXPECT_TRUE(h.side_output(timers).empty());
  EXPECT_TRUE(h.side_output(negatives).empty());
  h.process_watermark(1000);
  EXPECT_EQ(stamped(h.side_output(timers)), (std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 210}}));
}

TEST(SideOutputs, OneNameWithTwoTypesIsAnError) {
  EXPECT_THROW(ckpt::OutputTag<int>(""), ckpt::ConfigError);
  ckpt::ProcessFunctionTestHarness h([] { return std::make_unique<SplitNegatives>(); });
  h.process_element({"b", -2}, 20);
  EXPECT_THROW(h.side_output(ckpt::OutputTag<int>("negatives")), ckpt::ConfigError);
}

auto summing(ckpt::WindowedStream<std::string, Event> windows) {
  return windows.reduce<std::string>(
      [](const Event& a, const Event& b) { return Event{a.key, a.value + b.value}; },
      [](const std::string& key, const ckpt::TimeWindow& w, const Event& e, ckpt::Collector<std::string>& out) {
        out.collect(key + " [" + std::to_string(w.start) + "," + std::to_string(w.end) + ") " + std::to_string(e.value));
      });
}

using Values = std::vector<std::string>;

TEST(SideOutputs, LateDataWithinTheLatenessUpdatesTheResultAndLaterDataGoesToTheSideOutput) {
  const ckpt::OutputTag<Event> late{"late"};
  auto h = ckpt::KeyedProcessFunctionTestHarness(
      summing(ckpt::window<std::string, Event>(ckpt::TumblingEventTimeWindows::of(5s))
                  .allowed_lateness(2s)
                  .side_output_late_data(late)),
      &key_of);
  h.process_element({"a", 1}, 1000);
  h.process_watermark(4999);
  EXPECT_EQ(h.take_output_values(), (Values{"a [0,5000) 1"}));
  h.process_element({"a", 2}, 2000);  // late, within the lateness: an updated result at once
  EXPECT_EQ(h.take_output_values(), (Values{"a [0,5000) 3"}));

  // A failure: the window's contents and cleanup timer come back from the checkpoint.
  auto checkpoint = h.snapshot(1);
  h.restore(checkpoint);
  h.process_watermark(6998);
  h.process_element({"a", 4}, 4000);  // still within the lateness
  EXPECT_EQ(h.take_output_values(), (Values{"a [0,5000) 7"}));
  EXPECT_TRUE(h.side_output(late).empty());

  h.process_watermark(6999);  // cleanup time: max_timestamp() + lateness
  h.process_element({"a", 8}, 3000);  // beyond the lateness: to the side output, as it came
  h.process_element({"b", 16}, 4999);
  h.process_element({"a", 32}, 5000);  // on time for [5000,10000)
  EXPECT_TRUE(h.output().empty());
  EXPECT_EQ(stamped(h.side_output(late)),
            (std::vector<std::pair<Event, std::int64_t>>{{Event{"a", 8}, 3000}, {Event{"b", 16}, 4999}}));
  EXPECT_EQ(h.function().num_late_records_dropped(), 0u);
  h.process_watermark(10'000);
  EXPECT_EQ(h.take_output_values(), (Values{"a [5000,10000) 32"}));
}

TEST(SideOutputs, SlidingWindowsSendAnElementOnlyWhenItIsLateForEveryWindow) {
  const ckpt::OutputTag<Event> late{"late"};
  auto h = ckpt::KeyedProcessFunctionTestHarness(
      summing(ckpt::window<std::string, Event>(ckpt::SlidingEventTimeWindows::of(10s, 5s)).side_output_late_data(late)),
      &key_of);
  h.process_watermark(9999);     // [0,10000) is past; [5000,15000) is not
  h.process_element({"a", 1}, 6000);
  EXPECT_TRUE(h.side_output(late).empty());
  h.process_element({"a", 2}, 4000);  // only in [-5000,5000) and [0,10000): late for both
  EXPECT_EQ(h.side_output_values(late), (std::vector<Event>{Event{"a", 2}}));
  h.process_watermark(14'999);
  EXPECT_EQ(h.take_output_values(), (Values{"a [5000,15000) 1"}));
}

const ckpt::OutputTag<std::int64_t> big{"big"};

/// Emits each window's element count; a window of more than two elements
/// also sends its first value to "big".
class CountAndFlagBig final : public ckpt::ProcessWindowFunction<std::string, Event, std::int64_t> {
 public:
  void process(const std::string&, const ckpt::TimeWindow&, const std::vector<Event>& elements,
               ckpt::Collector<std::int64_t>& out) override {
    out.collect(static_cast<std::int64_t>(elements.size()));
    if (elements.size() > 2) ckpt::output_to(out, big, elements.front().value);
  }
};

TEST(SideOutputs, AWindowFunctionSendsWithTheWindowsMaxTimestamp) {
  auto h = ckpt::KeyedProcessFunctionTestHarness(
      ckpt::window<std::string, Event>(ckpt::TumblingEventTimeWindows::of(5s))
          .process(std::make_shared<CountAndFlagBig>()),
      &key_of);
  for (const std::int64_t v : {1, 2, 3}) h.process_element({"a", v}, 1000 * v);
  h.process_element({"b", 7}, 1000);
  h.process_element({"a", 9}, 6000);
  h.process_watermark(10'000);
  EXPECT_EQ(stamped(h.side_output(big)), (std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 4999}}));
  EXPECT_EQ(h.output().size(), 3u);

  // A reduce with a window function after it, too.
  auto r = ckpt::KeyedProcessFunctionTestHarness(
      ckpt::window<std::string, Event>(ckpt::TumblingEventTimeWindows::of(5s))
          .reduce<std::int64_t>([](const Event& a, const Event& b) { return Event{a.key, a.value + b.value}; },
                                [](const std::string&, const ckpt::TimeWindow&, const Event& e,
                                   ckpt::Collector<std::int64_t>& out) { ckpt::output_to(out, big, e.value); }),
      &key_of);
  r.process_element({"a", 4}, 100);
  r.process_element({"a", 5}, 200);
  r.process_watermark(5000);
  EXPECT_TRUE(r.output().empty());
  EXPECT_EQ(stamped(r.side_output(big)), (std::vector<std::pair<std::int64_t, std::int64_t>>{{9, 4999}}));
}

TEST(SideOutputs, OutputToNeedsAWindowFunctionsCollector) {
  struct Discard final : ckpt::Collector<int> {
    void collect(int) override {}
    void collect_with_timestamp(int, std::int64_t) override {}
  } discard;
  EXPECT_THROW(ckpt::output_to(discard, big, std::int64_t{1}), ckpt::ConfigError);
}

TEST(SideOutputs, LateDataSideOutputNeedsEventTime) {
  auto windows = ckpt::window<std::string, Event>(ckpt::TumblingProcessingTimeWindows::of(5s));
  EXPECT_THROW(windows.side_output_late_data(ckpt::OutputTag<Event>("late")), ckpt::ConfigError);
}

// -- a pipeline through JobRunner ---------------------------------------------------

constexpr std::int64_t window_size = 50;
using Strings = std::multiset<std::string>;

/// Every 10 ms an event; every 7th one 200 ms late (late for its tumbling
/// window of 50 without lateness); the watermark trails by 5.
std::vector<ckpt::harness_test::Scheduled> late_schedule(std::size_t n) {
  std::vector<ckpt::harness_test::Scheduled> out;
  for (std::size_t i = 0; i < n; ++i) {
    const auto t = static_cast<std::int64_t>(i) * 10 + 300;
    const bool late = i % 7 == 6;
    out.push_back({Event{"k" + std::to_string(i % 3), static_cast<std::int64_t>(i)}, late ? t - 200 : t, t - 5});
  }
  return out;
}

/// Odd values also to "odd" (as text); everything on to the main output.
class TagOdd final : public ckpt::ProcessFunction<Event, Event> {
 public:
  void process_element(const Event& e, ckpt::Collector<Event>& out) override {
    if (e.value % 2) context().output(odd_tag(), std::to_string(e.value));
    out.collect(e);
  }
  static const ckpt::OutputTag<std::string>& odd_tag() {
    static const ckpt::OutputTag<std::string> tag{"odd"};
    return tag;
  }
};

struct JobOutput {
  Strings counts, late, odd;
};

/// events -> tag odd -> key_by -> tumbling counts with late data to a side
/// output (`parallelism`) -> sinks for the counts, the late events (2) and the
/// odd values; restored from the latest restore point in `storage` if there
/// is one; with `stop_at_end` stopped with a savepoint once the source has
/// emitted the schedule (windows still open), else run to the end of input.
/// One channel into the windows, so which records are late does not
/// depend on how two upstream subtasks' watermarks interleave.
JobOutput run_job(ckpt::CheckpointStorage& storage, std::vector<ckpt::harness_test::Scheduled> schedule,
                  std::uint32_t parallelism, bool stop_at_end = false) {
  using ckpt::test::CollectingSink;
  auto counts = std::make_shared<CollectingSink<std::string>::Shared>();
  auto late = std::make_shared<CollectingSink<Event>::Shared>();
  auto odd = std::make_shared<CollectingSink<std::string>::Shared>();
  const ckpt::OutputTag<Event> late_tag{"late"};
  auto count = ckpt::make_aggregate_function<Event, std::int64_t, std::int64_t>(
      [] { return std::int64_t{0}; }, [](const Event&, std::int64_t n) { return n + 1; },
      [](const std::int64_t& n) { return n; }, [](std::int64_t a, std::int64_t b) { return a + b; });

  auto end = stop_at_end ? std::make_shared<ckpt::harness_test::ScheduleEnd>() : nullptr;
  ckpt::Pipeline p;
  auto tagged = p.add_source("events", 1,
                             [schedule, end](std::uint32_t) {
                               return std::make_unique<ckpt::harness_test::ScheduleSource>(schedule, end);
                             })
                    .process("tag-odd", 1, [](std::uint32_t) { return std::make_unique<TagOdd>(); });
  auto windows = tagged.key_by(&key_of).process(
      "counts", parallelism,
      ckpt::window<std::string, Event>(ckpt::TumblingEventTimeWindows::of(std::chrono::milliseconds(window_size)))
          .side_output_late_data(late_tag)
          .aggregate<std::string>(count, [](const std::string& key, const ckpt::TimeWindow& w, std::int64_t n,
                                            ckpt::Collector<std::string>& out) {
            out.collect(key + " " + std::to_string(w.start) + " " + std::to_string(n));
          }));
  windows.add_sink("count-sink", 1, [counts](std::uint32_t) { return std::make_unique<CollectingSink<std::string>>(counts); });
  windows.get_side_output(late_tag).add_sink(
      "late-sink", 2, [late](std::uint32_t) { return std::make_unique<CollectingSink<Event>>(late); });
  tagged.get_side_output(TagOdd::odd_tag())
      .add_sink("odd-sink", 1, [odd](std::uint32_t) { return std::make_unique<CollectingSink<std::string>>(odd); });
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand());
  EXPECT_TRUE(ckpt::harness_test::run_or_stop_at_end(job, end.get())) << "the savepoint failed";

  JobOutput out;
  out.counts.insert(counts->values.begin(), counts->values.end());
  for (const auto& e : late->values) out.late.insert(e.key + " " + std::to_string(e.value));
  out.odd.insert(odd->values.begin(), odd->values.end());
  return out;
}

TEST(SideOutputPipeline, SideOutputsThroughARestartFromACheckpointAtAnotherParallelism) {
  constexpr std::size_t records = 200;
  const auto schedule = late_schedule(records);
  const std::vector<ckpt::harness_test::Scheduled> first_half(schedule.begin(), schedule.begin() + records / 2);
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  auto out = run_job(storage, first_half, 3, /*stop_at_end=*/true);  // a savepoint, windows still open
  ASSERT_TRUE(storage.restore_latest());
  const auto second = run_job(storage, schedule, 2);
  out.counts.insert(second.counts.begin(), second.counts.end());
  out.late.insert(second.late.begin(), second.late.end());
  out.odd.insert(second.odd.begin(), second.odd.end());

  // Expected: every record once on the side outputs; the on-time ones
  // counted, every window (the end of input fires the open ones).
  Strings late, odd, counts;
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> per_window;
  for (std::size_t i = 0; i < schedule.size(); ++i) {
    const auto& s = schedule[i];
    if (s.event.value % 2) odd.insert(std::to_string(s.event.value));
    if (i % 7 == 6)
      late.insert(s.event.key + " " + std::to_string(s.event.value));
    else
      ++per_window[{s.event.key, ckpt::WindowAssigner::window_start(s.timestamp, 0, window_size)}];
  }
  for (const auto& [kw, n] : per_window) counts.insert(kw.first + " " + std::to_string(kw.second) + " " + std::to_string(n));
  EXPECT_EQ(out.late, late);
  EXPECT_EQ(out.odd, odd);
  EXPECT_EQ(out.counts, counts);
  EXPECT_EQ(late.size(), records / 7);
}

TEST(SideOutputPipeline, BadSideOutputsAreErrors) {
  ckpt::Pipeline p;
  auto events = p.add_source("events", 1, [](std::uint32_t) {
    return std::make_unique<ckpt::harness_test::ScheduleSource>(late_schedule(3));
  });
  EXPECT_THROW(events.get_side_output(ckpt::OutputTag<Event>("late")), ckpt::ConfigError);  // a source
  auto tagged = events.process("tag-odd", 1, [](std::uint32_t) { return std::make_unique<TagOdd>(); });
  (void)tagged.get_side_output(ckpt::OutputTag<std::string>("odd"));
  EXPECT_THROW(tagged.get_side_output(ckpt::OutputTag<int>("odd")), ckpt::ConfigError);  // another type
  EXPECT_THROW(tagged.union_with(tagged).get_side_output(ckpt::OutputTag<std::string>("odd")), ckpt::ConfigError);
}

}  // namespace side_output
}  // namespace
