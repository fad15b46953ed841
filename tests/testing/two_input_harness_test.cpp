// Two-input operators and the broadcast-state pattern (issue 20 items 4 and
// 6) through their harnesses: keyed state and timers shared by both inputs,
// the watermark as the minimum of both inputs' (an idle one left out), side
// outputs, snapshot / restore / rescale, broadcast state read-write on the
// broadcast side, read-only (a compile error to write) on the keyed side and
// copied to every subtask on a rescale, apply_to_keyed_state(). Then a
// keyed-broadcast and a keyed co-process pipeline through JobRunner restored
// at another parallelism, whose output equals a failure-free run's.
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/runtime/job_runner.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>
#include <ckpt/testing/harness.hpp>

#include "pipeline_util.hpp"
#include "test_functions.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {
namespace two_input {

using namespace std::chrono_literals;
using ckpt::harness_test::Event;
using ckpt::harness_test::key_of;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

const ckpt::OutputTag<std::string> unmatched_tag("unmatched");

/// Joins an order (input 1) with its payment (input 2) by key: emits
/// "key order paid" once both are there; an order unpaid 10 after its
/// timestamp goes to the side output "unmatched" when the timer fires.
class Join final : public ckpt::KeyedCoProcessFunction<std::string, Event, Event, std::string> {
 public:
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    auto& backend = ctx.keyed_state_backend<std::string>();
    order_ = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"order", -1});
    paid_ = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"paid", -1});
  }
  void process_element1(const Event& e, Context& ctx, ckpt::Collector<std::string>& out) override {
    order_.update(e.value);
    ctx.timer_service().register_event_time_timer(ctx.timestamp() + 10);
    emit_if_complete(ctx, out);
  }
  void process_element2(const Event& e, Context& ctx, ckpt::Collector<std::string>& out) override {
    paid_.update(e.value);
    emit_if_complete(ctx, out);
  }
  void on_timer(std::int64_t, OnTimerContext& ctx, ckpt::Collector<std::string>&) override {
    if (order_.value() >= 0 && paid_.value() < 0)
      ctx.output(unmatched_tag, ctx.current_key() + " " + std::to_string(order_.value()));
  }

 private:
  void emit_if_complete(Context& ctx, ckpt::Collector<std::string>& out) {
    if (order_.value() >= 0 && paid_.value() >= 0)
      out.collect(ctx.current_key() + " " + std::to_string(order_.value()) + " " +
                  std::to_string(paid_.value()));
  }
  ckpt::ValueState<std::int64_t> order_;
  ckpt::ValueState<std::int64_t> paid_;
};

ckpt::KeyedCoProcessFunctionTestHarness<Join> join_harness(ckpt::TestHarnessOptions options = {}) {
  return ckpt::KeyedCoProcessFunctionTestHarness<Join>([] { return std::make_unique<Join>(); }, &key_of,
                                                       &key_of, options);
}

TEST(KeyedCoProcessHarness, BothInputsShareTheKeyedState) {
  auto h = join_harness();
  h.process_element1(Event{"a", 5}, 1);
  h.process_element2(Event{"b", 7}, 2);
  EXPECT_TRUE(h.output().empty());
  h.process_element2(Event{"a", 6}, 3);
  EXPECT_THAT(h.extract_output_values(), ElementsAre("a 5 6"));
  EXPECT_EQ(h.output().back().timestamp, 3);
  EXPECT_EQ(h.num_event_time_timers(), 1u);
}

TEST(KeyedCoProcessHarness, TheWatermarkIsTheMinimumOfBothInputsAndAnIdleInputIsLeftOut) {
  auto h = join_harness();
  h.process_element1(Event{"a", 5}, 0);   // timer at 10
  h.process_element1(Event{"b", 8}, 20);  // timer at 30
  h.process_watermark1(100);
  EXPECT_TRUE(h.emitted_watermarks().empty());  // input 2 has none yet
  EXPECT_TRUE(h.side_output(unmatched_tag).empty());
  h.process_watermark2(15);
  EXPECT_THAT(h.emitted_watermarks(), ElementsAre(15));
  EXPECT_THAT(h.side_output_values(unmatched_tag), ElementsAre("a 5"));
  EXPECT_EQ(h.side_output(unmatched_tag)[0].timestamp, 10);
  h.set_input_idle(2, true);  // only input 1 counts now
  EXPECT_THAT(h.emitted_watermarks(), ElementsAre(15, 100));
  EXPECT_THAT(h.side_output_values(unmatched_tag), ElementsAre("a 5", "b 8"));
  EXPECT_THROW(h.set_input_idle(3, true), ckpt::ConfigError);
}

TEST(KeyedCoProcessHarness, SnapshotRestoredAtParallelismThreeRoutesBothInputsByKey) {
  auto h = join_harness();
  const std::vector<std::string> keys{"a", "b", "c", "d", "e", "f"};
  for (std::size_t i = 0; i < keys.size(); ++i)
    h.process_element1(Event{keys[i], static_cast<std::int64_t>(i)}, 0);
  const auto checkpoint = h.snapshot(1);
  auto three = h.rescale(checkpoint, 3);
  ASSERT_EQ(three.size(), 3u);
  std::multiset<std::string> out;
  std::set<std::uint32_t> used;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const Event payment{keys[i], 10 + static_cast<std::int64_t>(i)};
    auto& owner = three.at(three[0].subtask_for2(payment));
    EXPECT_TRUE(owner.owns2(payment));
    EXPECT_EQ(owner.subtask_for1(Event{keys[i], 0}), owner.subtask_index());
    used.insert(owner.subtask_index());
    owner.process_element2(payment, 1);
  }
  for (auto& sub : three) {
    EXPECT_TRUE(sub.is_restored());
    for (const auto& v : sub.take_output_values()) out.insert(v);
  }
  EXPECT_EQ(out, (std::multiset<std::string>{"a 0 10", "b 1 11", "c 2 12", "d 3 13", "e 4 14", "f 5 15"}));
  EXPECT_GT(used.size(), 1u);
  // A key the subtask does not own is refused, on either input.
  auto& first = three[0];
  for (const auto& k : keys) {
    if (first.owns1(Event{k, 0})) continue;
    EXPECT_THROW(first.process_element2(Event{k, 0}), ckpt::StateError);
    break;
  }
}

TEST(KeyedCoProcessHarness, RestoreStartsBothInputWatermarksUnset) {
  auto h = join_harness();
  h.process_element1(Event{"a", 1}, 0);
  h.process_watermark(5);
  const auto checkpoint = h.snapshot(1);
  h.restore(checkpoint);
  EXPECT_EQ(h.current_watermark(), ckpt::no_timestamp);
  h.process_watermark1(50);
  EXPECT_TRUE(h.side_output(unmatched_tag).empty());
  h.process_watermark2(50);
  EXPECT_THAT(h.side_output_values(unmatched_tag), ElementsAre("a 1"));
  static_assert(std::is_same_v<decltype(h.function()), Join&>);
}

/// Counts each input's records in operator state; input 2's also go to a side output.
const ckpt::OutputTag<std::int64_t> second_tag("second");
class CountInputs final : public ckpt::CoProcessFunction<Event, std::int64_t, std::string> {
 public:
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    counts_ = ctx.operator_state_store().get_list_state(ckpt::ListStateDescriptor<std::int64_t>{"counts"});
    for (const auto c : counts_.get()) total_ += c;
  }
  void snapshot_state(const ckpt::FunctionSnapshotContext&) override { counts_.update({total_}); }
  void process_element1(const Event& e, Context&, ckpt::Collector<std::string>& out) override {
    out.collect("1 " + e.key + " " + std::to_string(++total_));
  }
  void process_element2(const std::int64_t& v, Context& ctx, ckpt::Collector<std::string>& out) override {
    ctx.output(second_tag, v);
    out.collect("2 " + std::to_string(v) + " " + std::to_string(++total_) + " at " +
                std::to_string(ctx.timestamp()));
  }

 private:
  ckpt::ListState<std::int64_t> counts_;
  std::int64_t total_ = 0;
};

TEST(CoProcessHarness, BothInputsOperatorStateSideOutputsAndRestore) {
  ckpt::CoProcessFunctionTestHarness h([] { return std::make_unique<CountInputs>(); });
  h.process_element1(Event{"a", 1});
  h.process_element2(std::int64_t{42}, 7);
  EXPECT_THAT(h.extract_output_values(), ElementsAre("1 a 1", "2 42 2 at 7"));
  EXPECT_THAT(h.side_output_values(second_tag), ElementsAre(42));
  h.process_watermark1(3);
  h.process_watermark2(9);
  EXPECT_THAT(h.emitted_watermarks(), ElementsAre(3));
  const auto checkpoint = h.snapshot(1);
  h.process_element1(Event{"lost", 1});  // after the checkpoint: gone with the failure
  h.restore(checkpoint);
  EXPECT_TRUE(h.output().empty());
  h.process_element1(Event{"b", 1});
  EXPECT_THAT(h.extract_output_values(), ElementsAre("1 b 3"));
  auto two = h.rescale(h.snapshot(2), 2);  // list state split: one subtask has the count
  two[0].process_element1(Event{"x", 0});
  two[1].process_element1(Event{"y", 0});
  EXPECT_THAT(
      std::vector<std::string>({two[0].extract_output_values()[0], two[1].extract_output_values()[0]}),
      UnorderedElementsAre("1 x 4", "1 y 1"));
}

// -- the broadcast state pattern ----------------------------------------------------------

const ckpt::MapStateDescriptor<std::string, std::int64_t> thresholds("thresholds");

/// Rules (broadcast): "key" -> threshold; "reset" clears every key's count
/// through apply_to_keyed_state(). Events (keyed): counted; those above
/// their key's threshold emit an alert, and an event-time timer reports the count.
class Alerts final : public ckpt::KeyedBroadcastProcessFunction<std::string, Event, Event, std::string> {
 public:
  static inline const ckpt::ValueStateDescriptor<std::int64_t> count_descriptor{"count", 0};
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    count_ = ctx.keyed_state_backend<std::string>().get_state(count_descriptor);
  }
  void process_element(const Event& e, ReadOnlyContext& ctx, ckpt::Collector<std::string>& out) override {
    auto rules = ctx.get_broadcast_state(thresholds);
    static_assert(std::is_same_v<decltype(rules), ckpt::ReadOnlyBroadcastState<std::string, std::int64_t>>);
    count_.update(count_.value() + 1);
    if (const auto limit = rules.get(e.key); limit && e.value > *limit)
      out.collect("alert " + e.key + " " + std::to_string(e.value) + " > " + std::to_string(*limit));
    if (ctx.timestamp() != ckpt::no_timestamp)
      ctx.timer_service().register_event_time_timer(ctx.timestamp() + 5);
  }
  void process_broadcast_element(const Event& rule, Context& ctx,
                                 ckpt::Collector<std::string>& out) override {
    if (rule.key == "reset") {
      ctx.apply_to_keyed_state(count_descriptor,
                               [](const std::string&, ckpt::ValueState<std::int64_t>& c) { c.clear(); });
      return;
    }
    ctx.get_broadcast_state(thresholds).put(rule.key, rule.value);
    out.collect("rule " + rule.key + " " + std::to_string(rule.value));
  }
  void on_timer(std::int64_t t, OnTimerContext& ctx, ckpt::Collector<std::string>& out) override {
    out.collect("count " + ctx.current_key() + " " + std::to_string(count_.value()) + " at " +
                std::to_string(t) + " rules " + std::to_string(ctx.get_broadcast_state(thresholds).size()));
  }

 private:
  ckpt::ValueState<std::int64_t> count_;
};

// The keyed side's view has no writing members: a put() does not compile.
template <class S>
concept Writable = requires(S s) {
  s.put(std::string{}, std::int64_t{});
};
static_assert(!Writable<ckpt::ReadOnlyBroadcastState<std::string, std::int64_t>>);
static_assert(Writable<ckpt::BroadcastState<std::string, std::int64_t>>);
template <class Ctx>
concept WritesBroadcastState = requires(Ctx& ctx) {
  ctx.get_broadcast_state(thresholds).put("k", 1);
};
static_assert(!WritesBroadcastState<Alerts::ReadOnlyContext>);
static_assert(!WritesBroadcastState<Alerts::OnTimerContext>);
static_assert(WritesBroadcastState<Alerts::Context>);

ckpt::KeyedBroadcastProcessFunctionTestHarness<Alerts> alerts_harness(ckpt::TestHarnessOptions options = {}) {
  return ckpt::KeyedBroadcastProcessFunctionTestHarness<Alerts>(
      [] { return std::make_unique<Alerts>(); }, &key_of, ckpt::BroadcastStateDescriptors(thresholds),
      options);
}

TEST(KeyedBroadcastHarness, RulesFromTheBroadcastSideApplyToKeyedEvents) {
  auto h = alerts_harness();
  h.process_element(Event{"a", 9});  // no rule yet
  h.process_broadcast_element(Event{"a", 5});
  h.process_element(Event{"a", 9});
  h.process_element(Event{"a", 3});
  h.process_element(Event{"b", 9});
  EXPECT_THAT(h.take_output_values(), ElementsAre("rule a 5", "alert a 9 > 5"));
  auto rules = h.operator_state_store().get_broadcast_state(thresholds);
  EXPECT_EQ(rules.get("a"), std::optional<std::int64_t>(5));
  EXPECT_EQ(h.with_key(std::string("a"),
                       [&] { return h.keyed_state_backend().get_state(Alerts::count_descriptor).value(); }),
            3);
}

TEST(KeyedBroadcastHarness, ApplyToKeyedStateVisitsEveryKeyAndTimersSeeTheRules) {
  auto h = alerts_harness();
  h.process_broadcast_element(Event{"a", 100});
  h.process_element(Event{"a", 1}, 10);  // timer at 15
  h.process_element(Event{"b", 1}, 10);
  h.process_element(Event{"b", 1}, 11);  // timer at 16
  h.process_broadcast_element(Event{"reset", 0});
  h.process_element(Event{"b", 1}, 12);  // b counts 1 again
  h.clear_output();
  h.process_watermark1(20);
  EXPECT_TRUE(h.output().empty());  // the broadcast input has no watermark yet
  h.process_watermark2(20);
  EXPECT_THAT(h.extract_output_values(),
              UnorderedElementsAre("count a 0 at 15 rules 1", "count b 1 at 15 rules 1",
                                   "count b 1 at 16 rules 1", "count b 1 at 17 rules 1"));
}

TEST(KeyedBroadcastHarness, OnARescaleEverySubtaskGetsTheBroadcastState) {
  auto one = alerts_harness();
  one.process_broadcast_element(Event{"a", 5});
  one.process_broadcast_element(Event{"b", 6});
  one.process_element(Event{"a", 1});
  const auto checkpoint = one.snapshot(1);
  auto three = one.rescale(checkpoint, 3);
  std::multiset<std::string> alerts;
  for (const std::string key : {"a", "b"}) {
    const Event e{key, 10};
    auto& owner = three.at(three[0].subtask_for1(e));
    owner.process_element(e);
  }
  for (auto& sub : three) {
    EXPECT_EQ(sub.operator_state_store().get_broadcast_state(thresholds).size(), 2u)
        << "subtask " << sub.subtask_index();
    for (const auto& v : sub.take_output_values()) alerts.insert(v);
  }
  EXPECT_EQ(alerts, (std::multiset<std::string>{"alert a 10 > 5", "alert b 10 > 6"}));
  // Back to two: still every subtask, and the keyed count of "a" went with its key group.
  std::vector<ckpt::OperatorSubtaskState> snaps;
  for (auto& sub : three) snaps.push_back(sub.snapshot(2));
  auto two = three[0].rescale(snaps, 2);
  for (auto& sub : two) EXPECT_EQ(sub.operator_state_store().get_broadcast_state(thresholds).size(), 2u);
  auto& a_owner = two.at(two[0].subtask_for1(Event{"a", 0}));
  EXPECT_EQ(a_owner.with_key(
                std::string("a"),
                [&] { return a_owner.keyed_state_backend().get_state(Alerts::count_descriptor).value(); }),
            2);
}

TEST(KeyedBroadcastHarness, ABroadcastElementNeedsNoKeyOfTheSubtask) {
  auto h = alerts_harness(ckpt::TestHarnessOptions::for_subtask(1, 4));
  h.process_broadcast_element(Event{"any key at all", 1});
  EXPECT_THAT(h.extract_output_values(), ElementsAre("rule any key at all 1"));
}

/// Non-keyed: tags each value with the broadcast "label", if any.
class Label final : public ckpt::BroadcastProcessFunction<std::int64_t, Event, std::string> {
 public:
  void process_element(const std::int64_t& v, ReadOnlyContext& ctx,
                       ckpt::Collector<std::string>& out) override {
    out.collect(ctx.get_broadcast_state(thresholds).get("label").has_value() ? "labelled " + std::to_string(v)
                                                                             : std::to_string(v));
  }
  void process_broadcast_element(const Event& e, Context& ctx, ckpt::Collector<std::string>&) override {
    ctx.get_broadcast_state(thresholds).put(e.key, e.value);
  }
};

TEST(BroadcastHarness, NonKeyedBroadcastStateSurvivesARescale) {
  ckpt::BroadcastProcessFunctionTestHarness h([] { return std::make_unique<Label>(); },
                                              ckpt::BroadcastStateDescriptors(thresholds));
  h.process_element(1);
  h.process_broadcast_element(Event{"label", 0});
  h.process_element(2);
  EXPECT_THAT(h.extract_output_values(), ElementsAre("1", "labelled 2"));
  auto two = h.rescale(h.snapshot(1), 2);
  two[1].process_element(3);
  EXPECT_THAT(two[1].extract_output_values(), ElementsAre("labelled 3"));
}

// -- pipelines through JobRunner ------------------------------------------------------------

constexpr std::uint64_t kRules = 6;
constexpr std::uint64_t kKeys = 12;
#ifdef CKPT_SANITIZED
constexpr std::uint64_t kRecords = 200;
#else
constexpr std::uint64_t kRecords = 1000;
#endif
constexpr std::uint32_t kPartitions = 2;
using ckpt::test::LogSource;
using PEvent = ckpt::test::Event;

/// Each key's events come from one partition, in order, so the counts do not
/// depend on how the partitions interleave.
std::string by_key_and_partition(const PEvent& e) { return e.key + "/" + std::to_string(e.partition); }

/// How many (subtask, rule) pairs the broadcast side has seen, to wait on.
struct RulesSeen {
  std::mutex mutex;
  std::condition_variable cv;
  std::uint64_t n = 0;
  void add() {
    {
      std::lock_guard lock(mutex);
      ++n;
    }
    cv.notify_all();
  }
  void wait_for(std::uint64_t at_least) {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return n >= at_least; });
  }
};

const ckpt::MapStateDescriptor<std::string, std::int64_t> weights("weights");

/// Per key: counts events; emits "partition:offset key count weight", the
/// weight being the broadcast rule for the key (0 without one).
class WeightedCount final
    : public ckpt::KeyedBroadcastProcessFunction<std::string, PEvent, PEvent, std::string> {
 public:
  explicit WeightedCount(std::shared_ptr<RulesSeen> seen) : seen_(std::move(seen)) {}
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    count_ = ctx.keyed_state_backend<std::string>().get_state(
        ckpt::ValueStateDescriptor<std::int64_t>{"count", 0});
  }
  void process_element(const PEvent& e, ReadOnlyContext& ctx, ckpt::Collector<std::string>& out) override {
    count_.update(count_.value() + 1);
    out.collect(std::to_string(e.partition) + ":" + std::to_string(e.offset) + " " + e.key + " " +
                std::to_string(count_.value()) + " " +
                std::to_string(ctx.get_broadcast_state(weights).get(e.key).value_or(0)));
  }
  void process_broadcast_element(const PEvent& rule, Context& ctx, ckpt::Collector<std::string>&) override {
    ctx.get_broadcast_state(weights).put(rule.key, rule.value + 1);
    if (seen_) seen_->add();
  }

 private:
  std::shared_ptr<RulesSeen> seen_;
  ckpt::ValueState<std::int64_t> count_;
};

/// rules -> broadcast, events -> key_by, connected at `parallelism` -> sink.
/// The events wait (held at offset 0) until every subtask has every rule when
/// `seen` is given, so the output does not depend on thread timing.
std::multiset<std::string> run_weighted(ckpt::CheckpointStorage& storage, std::uint64_t records,
                                        std::uint32_t parallelism, bool hold_until_rules) {
  auto collected = std::make_shared<ckpt::test::CollectingSink<std::string>::Shared>();
  auto seen = std::make_shared<RulesSeen>();
  constexpr auto released = std::numeric_limits<std::uint64_t>::max();  // LogSource holds offsets >= this
  auto hold = std::make_shared<std::atomic<std::uint64_t>>(hold_until_rules ? 0 : released);
  ckpt::Pipeline p;
  auto rules = p.add_source("rules", 1, [](std::uint32_t) {
                  return std::make_unique<LogSource>(1, kRules, kKeys, true, 1, 100);
                }).broadcast(weights);
  p.add_source("events", 2,
               [records, hold](std::uint32_t) {
                 return std::make_unique<LogSource>(kPartitions, records, kKeys, true, 8, 0, hold);
               })
      .key_by(&by_key_and_partition)
      .connect(rules)
      .process("weighted", parallelism,
               [seen](std::uint32_t) { return std::make_unique<WeightedCount>(seen); })
      .add_sink("sink", 1, [collected](std::uint32_t) {
        return std::make_unique<ckpt::test::CollectingSink<std::string>>(collected);
      });
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand());
  std::thread runner([&] { job.run(); });
  if (hold_until_rules) {
    seen->wait_for(kRules * parallelism);
    hold->store(released);
  }
  runner.join();
  return {collected->values.begin(), collected->values.end()};
}

TEST(TwoInputPipeline, KeyedBroadcastRestoredAtAnotherParallelismEqualsAFailureFreeRun) {
  ckpt::CheckpointStorage reference_storage(std::make_shared<ckpt::fs::MemoryFileSystem>());
  const auto expected = run_weighted(reference_storage, kRecords, 2, true);
  ASSERT_EQ(expected.size(), kRecords * kPartitions);

  ckpt::CheckpointStorage storage(std::make_shared<ckpt::fs::MemoryFileSystem>());
  auto out = run_weighted(storage, kRecords / 2, 3, true);  // ends with a checkpoint
  ASSERT_TRUE(storage.restore_latest());
  // No rule comes again: the restored subtasks, two of them, have the broadcast state.
  for (const auto& v : run_weighted(storage, kRecords, 2, false)) out.insert(v);
  EXPECT_EQ(out, expected);
  std::size_t weighted = 0;
  for (const auto& line : expected) weighted += line.back() != '0' ? 1 : 0;
  EXPECT_GT(weighted, 0u);
}

/// Per key, how many events of each input it saw. Keyed by key and partition
/// parity: input 1's partition 0 and input 2's partition 100 share keys, and
/// each count depends only on its own input's order.
class CountBoth final : public ckpt::KeyedCoProcessFunction<std::string, PEvent, PEvent, std::string> {
 public:
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    auto& backend = ctx.keyed_state_backend<std::string>();
    first_ = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"first", 0});
    second_ = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"second", 0});
  }
  void process_element1(const PEvent& e, Context& ctx, ckpt::Collector<std::string>& out) override {
    first_.update(first_.value() + 1);
    out.collect("1 " + std::to_string(e.partition) + ":" + std::to_string(e.offset) + " " +
                ctx.current_key() + " " + std::to_string(first_.value()));
  }
  void process_element2(const PEvent& e, Context& ctx, ckpt::Collector<std::string>& out) override {
    second_.update(second_.value() + 1);
    out.collect("2 " + std::to_string(e.partition) + ":" + std::to_string(e.offset) + " " +
                ctx.current_key() + " " + std::to_string(second_.value()));
  }

 private:
  ckpt::ValueState<std::int64_t> first_, second_;
};

std::multiset<std::string> run_co(ckpt::CheckpointStorage& storage, std::uint64_t records,
                                  std::uint32_t parallelism) {
  auto collected = std::make_shared<ckpt::test::CollectingSink<std::string>::Shared>();
  ckpt::Pipeline p;
  const auto key = [](const PEvent& e) { return e.key + "/" + std::to_string(e.partition % 2); };
  auto a = p.add_source("a", 2, [records](std::uint32_t) {
    return std::make_unique<LogSource>(kPartitions, records, kKeys, true, 8, 0);
  });
  auto b = p.add_source("b", 1, [records](std::uint32_t) {
    return std::make_unique<LogSource>(1, records, kKeys, true, 4, 100);
  });
  a.key_by(key)
      .connect(b.key_by(key))
      .process("both", parallelism, [](std::uint32_t) { return std::make_unique<CountBoth>(); })
      .add_sink("sink", 1, [collected](std::uint32_t) {
        return std::make_unique<ckpt::test::CollectingSink<std::string>>(collected);
      });
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand());
  job.run();
  return {collected->values.begin(), collected->values.end()};
}

TEST(TwoInputPipeline, KeyedCoProcessRestoredAtAnotherParallelismEqualsAFailureFreeRun) {
  ckpt::CheckpointStorage reference_storage(std::make_shared<ckpt::fs::MemoryFileSystem>());
  const auto expected = run_co(reference_storage, kRecords, 3);
  ASSERT_EQ(expected.size(), kRecords * (kPartitions + 1));
  ckpt::CheckpointStorage storage(std::make_shared<ckpt::fs::MemoryFileSystem>());
  auto out = run_co(storage, kRecords / 2, 1);
  ASSERT_TRUE(storage.restore_latest());
  for (const auto& v : run_co(storage, kRecords, 4)) out.insert(v);
  EXPECT_EQ(out, expected);
}

const ckpt::OutputTag<std::string> rules_seen("rules-seen");

/// Non-keyed broadcast: events pass with their position; each rule goes to
/// the side output "rules-seen", once per subtask that got it.
class PassAndReportRules final : public ckpt::BroadcastProcessFunction<PEvent, PEvent, std::string> {
 public:
  void process_element(const PEvent& e, ReadOnlyContext&, ckpt::Collector<std::string>& out) override {
    out.collect(std::to_string(e.partition) + ":" + std::to_string(e.offset));
  }
  void process_broadcast_element(const PEvent& rule, Context& ctx, ckpt::Collector<std::string>&) override {
    ctx.get_broadcast_state(weights).put(rule.key, rule.value);
    ctx.output(rules_seen, rule.key);
  }
};

TEST(TwoInputPipeline, ABroadcastProcessFunctionReachesEverySubtaskAndItsSideOutputIsAStream) {
  auto main_out = std::make_shared<ckpt::test::CollectingSink<std::string>::Shared>();
  auto side_out = std::make_shared<ckpt::test::CollectingSink<std::string>::Shared>();
  ckpt::Pipeline p;
  auto rules = p.add_source(
      "rules", 1, [](std::uint32_t) { return std::make_unique<LogSource>(1, kRules, kKeys, true, 1, 100); });
  auto events = p.add_source("events", 2, [](std::uint32_t) {
    return std::make_unique<LogSource>(kPartitions, kRecords / 4, kKeys, true, 8, 0);
  });
  auto passed = events.connect(rules.broadcast(weights)).process("pass", 3, [](std::uint32_t) {
    return std::make_unique<PassAndReportRules>();
  });
  passed.add_sink("main", 1, [main_out](std::uint32_t) {
    return std::make_unique<ckpt::test::CollectingSink<std::string>>(main_out);
  });
  passed.get_side_output(rules_seen).add_sink("side", 1, [side_out](std::uint32_t) {
    return std::make_unique<ckpt::test::CollectingSink<std::string>>(side_out);
  });
  ckpt::CheckpointStorage storage(std::make_shared<ckpt::fs::MemoryFileSystem>());
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand());
  job.run();
  const std::set<std::string> distinct(main_out->values.begin(), main_out->values.end());
  EXPECT_EQ(main_out->values.size(), kRecords / 4 * kPartitions);
  EXPECT_EQ(distinct.size(), main_out->values.size());
  EXPECT_EQ(side_out->values.size(), kRules * 3);
}

class Nothing final : public ckpt::CoProcessFunction<PEvent, PEvent, int> {
 public:
  void process_element1(const PEvent&, Context&, ckpt::Collector<int>&) override {}
  void process_element2(const PEvent&, Context&, ckpt::Collector<int>&) override {}
};

TEST(TwoInputPipeline, ConnectChecksTheUidBeforeAddingAnything) {
  ckpt::Pipeline p;
  auto a = p.add_source("a", 1, [](std::uint32_t) { return std::make_unique<LogSource>(1, 1, 1); });
  auto b = p.add_source("b", 1, [](std::uint32_t) { return std::make_unique<LogSource>(1, 1, 1); });
  const auto size = p.size();
  EXPECT_THROW(a.connect(b).process("a", 1, [](std::uint32_t) { return std::make_unique<Nothing>(); }),
               ckpt::ConfigError);
  EXPECT_THROW(a.connect(b).process("x/y", 1, [](std::uint32_t) { return std::make_unique<Nothing>(); }),
               ckpt::ConfigError);
  EXPECT_EQ(p.size(), size);
  p.add_source("c.in2", 1, [](std::uint32_t) { return std::make_unique<LogSource>(1, 1, 1); });
  EXPECT_THROW(a.connect(b).process("c", 1, [](std::uint32_t) { return std::make_unique<Nothing>(); }),
               ckpt::ConfigError);  // its second input's tagging vertex would clash
  EXPECT_EQ(p.size(), size + 1);
}

}  // namespace two_input
}  // namespace
