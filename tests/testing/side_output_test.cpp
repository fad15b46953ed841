// Side outputs (issue 20 item 5) through the harnesses: OutputTag from a
// ProcessFunction and from a KeyedProcessFunction (records and timers), tag
// type clashes, and the window operator's late data (item 3): within the
// allowed lateness an element updates the result, beyond it the element goes
// to the late-data side output, with a snapshot and restore in between.
#include <ckpt/function/output_tag.hpp>
#include <ckpt/function/window.hpp>
#include <ckpt/testing/harness.hpp>

#include "test_functions.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
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

TEST(SideOutputs, LateDataSideOutputNeedsEventTime) {
  auto windows = ckpt::window<std::string, Event>(ckpt::TumblingProcessingTimeWindows::of(5s));
  EXPECT_THROW(windows.side_output_late_data(ckpt::OutputTag<Event>("late")), ckpt::ConfigError);
}

}  // namespace side_output
}  // namespace
