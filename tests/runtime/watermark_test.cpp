// Watermark strategies (issue 20, item 2): bounded out-of-orderness and
// monotonous generators, timestamp assigners, per-partition watermarks
// combined by minimum, idleness, and idle status carried through a pipeline.

#include <ckpt/ckpt.hpp>
#include <ckpt/function/partitioned_source.hpp>
#include <ckpt/function/split_watermarks.hpp>
#include <ckpt/function/watermark_strategy.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/runtime/job_runner.hpp>
#include <ckpt/testing/source_test_harness.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {
namespace watermark {

using namespace std::chrono_literals;
using ckpt::no_timestamp;

struct Reading {
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;
  std::int64_t time = 0;
  template <class A>
  void serialize(A& ar) {
    ar(partition, offset, time);
  }
};

using Strategy = ckpt::WatermarkStrategy<Reading>;

/// Partitions with given event times; a partition at its end says "not yet"
/// (unbounded) unless `bounded`. Records carry no source timestamp: the
/// strategy's assigner reads `time`. Partition 0 stops at `*hold` records
/// until the test moves the hold.
/// Which partitions a source has read at least once (so its state, and its
/// watermarks' idleness clock, are set up), and a wait for them.
struct ReadOnce {
  std::mutex mutex;
  std::condition_variable changed;
  std::set<std::uint32_t> partitions;
  void mark(std::uint32_t partition) {
    std::lock_guard lock(mutex);
    if (partitions.insert(partition).second) changed.notify_all();
  }
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 60s, [&] { return partitions.size() >= n; });
  }
};

class Readings final : public ckpt::PartitionedSource<Reading> {
 public:
  Readings(std::vector<std::vector<std::int64_t>> times, bool bounded,
           std::shared_ptr<std::atomic<std::uint64_t>> hold = nullptr, std::shared_ptr<ReadOnce> read_once = nullptr)
      : PartitionedSource<Reading>(static_cast<std::uint32_t>(times.size()), 16),
        times_(std::move(times)),
        bounded_(bounded),
        hold_(std::move(hold)),
        read_once_(std::move(read_once)) {}
  Read read(std::uint32_t partition, std::uint64_t offset) override {
    if (read_once_) read_once_->mark(partition);
    const auto& t = times_.at(partition);
    if (partition == 0 && hold_ && offset >= hold_->load()) return Read::later();
    if (offset >= t.size()) return bounded_ ? Read::end_of_partition() : Read::later();
    return Read::of({partition, offset, t[offset]});
  }

 private:
  std::vector<std::vector<std::int64_t>> times_;
  bool bounded_;
  std::shared_ptr<std::atomic<std::uint64_t>> hold_;
  std::shared_ptr<ReadOnce> read_once_;
};

Strategy by_time(Strategy s) {
  return s.with_timestamp_assigner([](const Reading& r, std::int64_t) { return r.time; });
}

TEST(WatermarkStrategy, BoundedOutOfOrdernessTrailsTheLargestTimestampByTheBoundPlusOne) {
  auto g = Strategy::for_bounded_out_of_orderness(5ms).create_generator();
  EXPECT_EQ(g->current_watermark(), no_timestamp);
  g->on_event(10);
  EXPECT_EQ(g->current_watermark(), 4);
  g->on_event(30);
  g->on_event(20);  // out of order: the watermark does not go back
  EXPECT_EQ(g->current_watermark(), 24);
  g->on_event(no_timestamp);
  EXPECT_EQ(g->current_watermark(), 24);
}

TEST(WatermarkStrategy, MonotonousTimestampsTrailByOne) {
  auto g = Strategy::for_monotonous_timestamps().create_generator();
  g->on_event(100);
  EXPECT_EQ(g->current_watermark(), 99);
}

TEST(WatermarkStrategy, NoWatermarksNeverAdvances) {
  auto g = Strategy::no_watermarks().create_generator();
  g->on_event(100);
  EXPECT_EQ(g->current_watermark(), no_timestamp);
}

TEST(WatermarkStrategy, TheSmallestTimestampsDoNotUnderflow) {
  auto g = Strategy::for_bounded_out_of_orderness(5ms).create_generator();
  g->on_event(no_timestamp + 3);
  EXPECT_EQ(g->current_watermark(), no_timestamp);
}

TEST(WatermarkStrategy, TheAssignerSeesTheRecordAndTheSourceTimestamp) {
  const auto s = Strategy::for_monotonous_timestamps().with_timestamp_assigner(
      [](const Reading& r, std::int64_t source) { return r.time + (source == no_timestamp ? 0 : source); });
  EXPECT_EQ(s.timestamp_of({0, 0, 7}, no_timestamp), 7);
  EXPECT_EQ(s.timestamp_of({0, 0, 7}, 100), 107);
  EXPECT_EQ(Strategy::for_monotonous_timestamps().timestamp_of({0, 0, 7}, 100), 100);  // no assigner: the source's
}

TEST(WatermarkStrategy, BadSettingsAreConfigErrors) {
  EXPECT_THROW(Strategy::for_bounded_out_of_orderness(-1ms), ckpt::ConfigError);
  EXPECT_THROW(Strategy::for_monotonous_timestamps().with_idleness(0ms), ckpt::ConfigError);
  EXPECT_THROW(Strategy::for_generator(nullptr), ckpt::ConfigError);
}

TEST(SplitWatermarks, TheMinimumOverSplitsAndASilentSplitHoldsItBack) {
  ckpt::SplitWatermarks w(Strategy::for_monotonous_timestamps(), 2);
  w.on_event(0, 50);
  EXPECT_EQ(w.current_watermark(), no_timestamp) << "split 1 has no watermark yet";
  w.on_event(1, 20);
  EXPECT_EQ(w.current_watermark(), 19);
  w.on_event(1, 80);
  EXPECT_EQ(w.current_watermark(), 49);
  EXPECT_FALSE(w.idle());
}

TEST(SplitWatermarks, AFinishedSplitHoldsNothingBack) {
  ckpt::SplitWatermarks w(Strategy::for_monotonous_timestamps(), 2);
  w.on_event(0, 50);
  w.finish(1);
  EXPECT_EQ(w.current_watermark(), 49);
  w.finish(0);
  EXPECT_FALSE(w.idle()) << "finished is not idle";
}

TEST(SplitWatermarks, AnIdleSplitIsLeftOutUntilItsNextRecord) {
  ckpt::ManualClock clock;
  ckpt::SplitWatermarks w(Strategy::for_monotonous_timestamps().with_idleness(100ms, clock), 2);
  w.on_event(0, 50);
  clock.advance(60ms);
  w.on_event(0, 60);
  EXPECT_EQ(w.current_watermark(), no_timestamp);
  clock.advance(40ms);  // split 1 silent for 100 ms: idle; split 0 spoke 40 ms ago
  EXPECT_EQ(w.current_watermark(), 59);
  EXPECT_FALSE(w.idle());
  w.on_event(1, 30);  // back, and behind
  EXPECT_EQ(w.current_watermark(), 29);
  clock.advance(100ms);
  EXPECT_TRUE(w.idle());
  EXPECT_EQ(w.current_watermark(), no_timestamp);
  EXPECT_EQ(w.add_split(), 2u);
  EXPECT_FALSE(w.idle()) << "a new split starts active";
}

TEST(PartitionedSourceWatermarks, PerPartitionMinimumInsteadOfTheLargestTimestamp) {
  ckpt::SourceTestHarness harness([](std::uint32_t) {
    auto s = std::make_unique<Readings>(std::vector<std::vector<std::int64_t>>{{10, 20, 300}, {5, 15}}, false);
    s->use_watermarks(by_time(Strategy::for_bounded_out_of_orderness(2ms)));
    return s;
  });
  harness.open();
  harness.poll_while_more();
  EXPECT_EQ(harness.current_watermark(), 12) << "partition 1 (newest 15) holds partition 0 (newest 300) back";
  std::vector<std::int64_t> stamps;
  for (const auto& r : harness.output()) stamps.push_back(r.timestamp);
  EXPECT_EQ(stamps.size(), 5u);
  EXPECT_EQ(std::set<std::int64_t>(stamps.begin(), stamps.end()), (std::set<std::int64_t>{5, 10, 15, 20, 300}))
      << "records carry the assigner's timestamps";
  EXPECT_FALSE(harness.watermark_idle());
}

TEST(PartitionedSourceWatermarks, EndedPartitionsAndIdlePartitionsStopHoldingBack) {
  ckpt::ManualClock clock;
  ckpt::SourceTestHarness harness([&clock](std::uint32_t) {
    auto s = std::make_unique<Readings>(std::vector<std::vector<std::int64_t>>{{10, 20}, {}, {400}}, false);
    s->use_watermarks(by_time(Strategy::for_monotonous_timestamps()).with_idleness(1s, clock));
    return s;
  });
  harness.open();
  harness.poll_while_more();
  EXPECT_EQ(harness.current_watermark(), no_timestamp) << "partition 1 has no record yet";
  clock.advance(1s);  // every partition silent for 1 s now
  harness.poll_next();
  EXPECT_TRUE(harness.watermark_idle());
  EXPECT_EQ(harness.function().current_watermark(), no_timestamp) << "an idle source has no watermark to give";
}

TEST(PartitionedSourceWatermarks, WithoutAStrategyTheWatermarkIsTheLargestTimestamp) {
  struct Stamped final : ckpt::PartitionedSource<Reading> {
    Stamped() : PartitionedSource<Reading>(2) {}
    Read read(std::uint32_t p, std::uint64_t o) override {
      if (o > 0) return Read::end_of_partition();
      return Read::of({p, o, p == 0 ? 100 : 7});
    }
    std::int64_t timestamp_of(const Reading& r) const override { return r.time; }
  };
  ckpt::SourceTestHarness harness([](std::uint32_t) { return std::make_unique<Stamped>(); });
  harness.open();
  harness.poll_while_more();
  EXPECT_EQ(harness.current_watermark(), 100);
}

/// Registers an event-time timer at each record's timestamp and emits the
/// timestamp when it fires.
class FireAtRecordTime final : public ckpt::KeyedProcessFunction<std::uint32_t, Reading, std::int64_t> {
 public:
  void process_element(const Reading&, Context& ctx, ckpt::Collector<std::int64_t>&) override {
    ctx.timer_service().register_event_time_timer(ctx.timestamp());
  }
  void on_timer(std::int64_t timestamp, OnTimerContext&, ckpt::Collector<std::int64_t>& out) override {
    out.collect(timestamp);
  }
};

/// What fired, and a wait for a given timestamp to fire.
struct Fired {
  std::mutex mutex;
  std::condition_variable changed;
  std::set<std::int64_t> timestamps;
  bool wait_for_count(std::size_t n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 60s, [&] { return timestamps.size() >= n; });
  }
};

class FiredSink final : public ckpt::Sink<std::int64_t> {
 public:
  explicit FiredSink(std::shared_ptr<Fired> fired) : fired_(std::move(fired)) {}
  void invoke(const std::int64_t& t) override {
    std::lock_guard lock(fired_->mutex);
    fired_->timestamps.insert(t);
    fired_->changed.notify_all();
  }

 private:
  std::shared_ptr<Fired> fired_;
};

// Two source subtasks: subtask 0 reads partition 0, subtask 1 reads
// partition 1, which never has a record. Without idleness subtask 1 would
// hold event time back for ever; with it, once subtask 1 has been silent for
// the timeout, the keyed operator's watermark follows subtask 0 alone, and
// its event-time timers fire, through checkpoint barriers every few ms.
TEST(PipelineWatermarks, AnIdleSourceSubtaskStopsHoldingTheOperatorsBack) {
  ckpt::ManualClock idleness_clock;
  auto hold = std::make_shared<std::atomic<std::uint64_t>>(50);
  std::vector<std::int64_t> times;
  for (std::int64_t t = 1; t <= 100; ++t) times.push_back(t * 10);

  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  auto fired = std::make_shared<Fired>();
  auto read_once = std::make_shared<ReadOnce>();
  ckpt::Pipeline p;
  auto readings = p.add_source("readings", 2, [&](std::uint32_t) {
    auto s = std::make_unique<Readings>(std::vector<std::vector<std::int64_t>>{times, {}}, false, hold, read_once);
    s->use_watermarks(by_time(Strategy::for_monotonous_timestamps()).with_idleness(1s, idleness_clock));
    return s;
  });
  readings.key_by([](const Reading& r) { return static_cast<std::uint32_t>(r.offset % 7); })
      .process("fire", 2, [](std::uint32_t) { return std::make_unique<FireAtRecordTime>(); })
      .add_sink("fired", 1, [fired](std::uint32_t) { return std::make_unique<FiredSink>(fired); });
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(5ms));
  std::thread runner([&] { job.run(); });
  ASSERT_TRUE(job.wait_running());
  ASSERT_TRUE(read_once->wait_for(2)) << "both source subtasks started reading";

  // Both subtasks silent past the timeout: both idle, so nothing advances.
  // Then partition 0 goes on (active again) while partition 1 stays idle.
  idleness_clock.advance(2s);
  hold->store(100);
  // Monotonous: watermark 999 after the record at 1000, so the timers at
  // 10 ... 990 fire and the one at 1000 does not.
  EXPECT_TRUE(fired->wait_for_count(99)) << "event time did not follow subtask 0";
  {
    std::lock_guard lock(fired->mutex);
    EXPECT_EQ(fired->timestamps.count(1000), 0u) << "the watermark passed the newest record";
    EXPECT_EQ(*fired->timestamps.rbegin(), 990);
  }
  job.cancel();
  runner.join();
}

}  // namespace watermark
}  // namespace
