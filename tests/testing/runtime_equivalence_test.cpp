// The harness against the real runtime: the same keyed function, fed the same
// records and watermarks, through keyed harnesses and through a JobRunner
// pipeline on in-memory storage, emits the same records with the same
// timestamps and checkpoints the same state — key by key, timers included —
// and both go on the same way after a restore at another parallelism, each
// timer firing once.
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/runtime/job_runner.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>
#include <ckpt/testing/harness.hpp>
#include <ckpt/testing/snapshot_subtask_states.hpp>

#include "pipeline_util.hpp"
#include "test_functions.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>
#include "keyed_backend_under_test.hpp"

namespace {

using ckpt::harness_test::Event;
using ckpt::harness_test::Scheduled;
using ckpt::harness_test::SumWithTimers;
using Harness = ckpt::KeyedProcessFunctionTestHarness<SumWithTimers>;
using Emitted = std::multiset<std::pair<std::string, std::int64_t>>;  // value, timestamp

constexpr std::int64_t start_time = 1'700'000'000'000;  // processing time of both, never advanced
#ifdef CKPT_SANITIZED
constexpr std::size_t records = 120;
#else
constexpr std::size_t records = 400;
#endif
constexpr std::size_t keys = 23;

struct Stamped {
  std::string value;
  std::int64_t timestamp = ckpt::no_timestamp;
};

/// Re-emits every record with the timestamp it arrived with, so the sink sees it.
class Observe final : public ckpt::KeyedProcessFunction<std::string, std::string, Stamped> {
 public:
  void process_element(const std::string& value, Context& ctx, ckpt::Collector<Stamped>& out) override {
    out.collect({value, ctx.timestamp()});
  }
};

/// One run of events -> key_by -> "sum" (at `parallelism`) -> observe -> sink,
/// restored from the latest restore point in `storage` if there is one; ends
/// with a final checkpoint at the end of input (after the final watermark),
/// or with `stop_at_end` with a savepoint once the schedule is emitted.
Emitted run_job(ckpt::CheckpointStorage& storage, std::vector<Scheduled> schedule, std::uint32_t parallelism,
                bool stop_at_end = false) {
  ckpt::ManualClock clock(start_time);
  auto collected = std::make_shared<ckpt::test::CollectingSink<Stamped>::Shared>();
  auto end = stop_at_end ? std::make_shared<ckpt::harness_test::ScheduleEnd>() : nullptr;
  ckpt::Pipeline p;
  p.add_source("events", 1,
               [schedule, end](std::uint32_t) {
                 return std::make_unique<ckpt::harness_test::ScheduleSource>(schedule, end);
               })
      .key_by(&ckpt::harness_test::key_of)
      .process("sum", parallelism, &ckpt::harness_test::make_sum)
      .key_by([](const std::string& s) { return s; })
      .process("observe", 1, [](std::uint32_t) { return std::make_unique<Observe>(); })
      .add_sink("sink", 1, [collected](std::uint32_t) { return std::make_unique<ckpt::test::CollectingSink<Stamped>>(collected); });
  auto options = ckpt::test::on_backend(ckpt::JobOptions::defaults());
  options.clock = &clock;
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand(), options);
  EXPECT_TRUE(ckpt::harness_test::run_or_stop_at_end(job, end.get())) << "the savepoint failed";
  Emitted out;
  for (const auto& s : collected->values) out.emplace(s.value, s.timestamp);
  return out;
}

/// The same records and watermarks through harnesses: each record to the
/// subtask owning its key, the source's watermark after it to every subtask;
/// with `end_of_input` then the final watermark the runtime sends at the end.
Emitted feed(std::vector<Harness>& subtasks, const std::vector<Scheduled>& schedule, bool end_of_input = false) {
  for (const auto& s : schedule) {
    subtasks[subtasks[0].subtask_for(s.event)].process_element(s.event, s.timestamp);
    for (auto& h : subtasks) h.process_watermark(s.watermark);
  }
  if (end_of_input)
    for (auto& h : subtasks) h.process_watermark(std::numeric_limits<std::int64_t>::max());
  Emitted out;
  for (auto& h : subtasks)
    for (auto& r : h.take_output()) out.emplace(std::move(r.value), r.timestamp);
  return out;
}

/// Every key's state and timers across a set of subtasks, and each subtask's
/// operator state (records processed).
struct State {
  std::map<std::string, std::set<std::string>> by_key;
  std::vector<std::int64_t> records;
  friend bool operator==(const State&, const State&) = default;
};
State dump(std::vector<Harness>& subtasks) {
  State out;
  for (auto& h : subtasks) {
    for (const auto* name : {"sum", "values", "deadline"})
      for (const auto& key : h.keyed_state_backend().keys(name))
        out.by_key[key].insert(h.with_key(key, [&] { return h.function().describe(); }));
    for (const auto& [t, key] : h.event_time_timers()) out.by_key[key].insert("event-time timer " + std::to_string(t));
    for (const auto& [t, key] : h.processing_time_timers())
      out.by_key[key].insert("processing-time timer " + std::to_string(t));
    out.records.push_back(h.function().records());
  }
  return out;
}

void PrintTo(const State& s, std::ostream* os) {
  *os << s.by_key.size() << " keys; records per subtask " << ::testing::PrintToString(s.records);
}

std::vector<Harness> harnesses(std::uint32_t parallelism) {
  std::vector<Harness> out;
  for (std::uint32_t i = 0; i < parallelism; ++i)
    out.emplace_back(&ckpt::harness_test::make_sum, &ckpt::harness_test::key_of,
                     ckpt::test::on_backend(ckpt::TestHarnessOptions::for_subtask(i, parallelism).with_processing_time(start_time)));
  return out;
}

std::vector<ckpt::OperatorSubtaskState> snapshot_all(std::vector<Harness>& subtasks, std::uint64_t id) {
  std::vector<ckpt::OperatorSubtaskState> out;
  for (auto& h : subtasks) out.push_back(h.snapshot(id));
  return out;
}

std::size_t count_fired(const Emitted& emitted) {
  std::size_t n = 0;
  for (const auto& [value, t] : emitted) n += value.find(" fired ") != std::string::npos ? 1 : 0;
  return n;
}

TEST(HarnessAgainstRuntime, SameOutputsAndSameCheckpointsThroughARestoreAtAnotherParallelism) {
  const auto schedule = ckpt::harness_test::make_schedule(records, keys);
  const std::vector<Scheduled> first_half(schedule.begin(), schedule.begin() + records / 2);
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);

  // Part one at parallelism 3: the same output, record for record and timestamp for timestamp.
  const auto job_out = run_job(storage, first_half, 3, /*stop_at_end=*/true);
  auto three = harnesses(3);
  const auto harness_out = feed(three, first_half);
  EXPECT_EQ(job_out, harness_out);
  EXPECT_GT(count_fired(harness_out), keys / 2);  // event-time timers fired along the way
  EXPECT_EQ(job_out.size(), harness_out.size());

  // The same state: the job's savepoint restored into harnesses equals
  // the harnesses' own snapshot restored, and the harnesses themselves.
  auto reader = storage.restore_latest();
  ASSERT_TRUE(reader);
  const auto job_states = ckpt::operator_subtask_states(*reader, "sum");
  ASSERT_EQ(job_states.size(), 3u);
  const auto harness_states = snapshot_all(three, reader->checkpoint_id());
  const auto live = dump(three);
  EXPECT_EQ(live.by_key.size(), keys);
  auto from_job = three[0].rescale(job_states, 3);
  auto from_harness = three[0].rescale(harness_states, 3);
  EXPECT_EQ(dump(from_job), live);
  EXPECT_EQ(dump(from_harness), live);
  auto job_in_one = three[0].rescale(job_states, 1);
  auto harness_in_one = three[0].rescale(harness_states, 1);
  EXPECT_EQ(dump(job_in_one), dump(harness_in_one));

  // Part two: the job restarts at parallelism 2 from its checkpoint, the
  // harnesses rescale theirs to 2; both read on from the same record to the
  // end of input, whose final watermark fires every event-time timer.
  const std::vector<Scheduled> second_half(schedule.begin() + records / 2, schedule.end());
  const auto job_out_2 = run_job(storage, schedule, 2);
  auto two = three[0].rescale(harness_states, 2);
  const auto harness_out_2 = feed(two, second_half, /*end_of_input=*/true);
  EXPECT_EQ(job_out_2, harness_out_2);
  EXPECT_GT(count_fired(harness_out_2), 0u);

  auto reader_2 = storage.restore_latest();
  ASSERT_TRUE(reader_2);
  EXPECT_GT(reader_2->checkpoint_id(), reader->checkpoint_id());
  auto job_two = two[0].rescale(ckpt::operator_subtask_states(*reader_2, "sum"), 2);
  EXPECT_EQ(dump(job_two), dump(two));

  // Each timer left fires once, wherever the state went: in the job's
  // restored state and in the harnesses' alike.
  Emitted fired_job, fired_harness;
  for (auto* set : {&job_two, &two}) {
    auto& fired = set == &job_two ? fired_job : fired_harness;
    for (auto& h : *set) {
      h.process_watermark(1'000'000);
      h.process_watermark(2'000'000);
      h.set_processing_time(start_time + SumWithTimers::processing_delay);
      h.set_processing_time(start_time + 10 * SumWithTimers::processing_delay);
      for (auto& r : h.take_output()) fired.emplace(std::move(r.value), r.timestamp);
    }
  }
  EXPECT_EQ(fired_job, fired_harness);
  std::set<std::string> keys_with_processing_timer;
  for (const auto& [value, t] : fired_harness)
    if (value.find(" processing-time ") != std::string::npos) {
      EXPECT_TRUE(keys_with_processing_timer.insert(value.substr(0, value.find(' '))).second) << value << " twice";
    }
  EXPECT_EQ(keys_with_processing_timer.size(), keys);
}

TEST(HarnessAgainstRuntime, OperatorSubtaskStatesOfAMissingOperatorIsAnError) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  (void)run_job(storage, ckpt::harness_test::make_schedule(10, 3), 2);
  auto reader = storage.restore_latest();
  ASSERT_TRUE(reader);
  EXPECT_THROW((void)ckpt::operator_subtask_states(*reader, "nope"), ckpt::RestoreError);
  const auto source = ckpt::operator_subtask_states(*reader, "events");  // not keyed: operator state only
  ASSERT_EQ(source.size(), 1u);
  EXPECT_TRUE(source[0].keyed_state.empty());
  ckpt::SourceTestHarness h([](std::uint32_t) {
    return std::make_unique<ckpt::harness_test::ScheduleSource>(ckpt::harness_test::make_schedule(12, 3));
  });
  h.restore(source);
  EXPECT_EQ(h.function().position(), 10u);  // where the job's source stopped
  EXPECT_EQ(h.poll_while_more(), ckpt::SourceStatus::finished);
  EXPECT_EQ(h.output().size(), 2u);
}

}  // namespace
