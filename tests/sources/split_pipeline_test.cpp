// Split sources in pipelines through JobRunner: the partitioned log and the
// directory source, stopped with a savepoint and restarted at another
// parallelism, commit every record exactly once through the transactional
// file sink; a bounded split source ends the job with a final watermark; an
// idle split (WatermarkStrategy::with_idleness) does not stall an event-time
// window downstream.
#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/function/directory_source.hpp>
#include <ckpt/function/partition_split_source.hpp>
#include <ckpt/clock.hpp>
#include <ckpt/function/transactional_file_sink.hpp>
#include <ckpt/function/watermark_strategy.hpp>
#include <ckpt/function/window.hpp>
#include <ckpt/runtime/job_runner.hpp>

#include "job_util.hpp"
#include "pipeline_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using ckpt::test::Event;

#ifdef CKPT_SANITIZED
constexpr std::uint64_t kPipelineRecords = 300;
#else
constexpr std::uint64_t kPipelineRecords = 2000;
#endif
constexpr std::uint32_t kLogPartitions = 4;

std::string event_id(const Event& e) { return std::to_string(e.partition) + ":" + std::to_string(e.offset); }

std::vector<std::string> sorted_lines(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

void log_job(ckpt::Pipeline& p, std::shared_ptr<ckpt::fs::FileSystem> fs, std::uint32_t parallelism, bool bounded) {
  auto source = std::make_shared<ckpt::PartitionSplitSource<Event>>(kLogPartitions, [bounded](std::uint32_t) {
    return std::make_unique<ckpt::test::LogSource>(kLogPartitions, kPipelineRecords, 10, bounded);
  });
  p.add_source("log", parallelism, source).add_sink("out", 2, [fs](std::uint32_t) {
    return std::make_unique<ckpt::TransactionalFileSink<Event>>(fs, "out", event_id);
  });
}

TEST(SplitPipeline, ThePartitionedLogAsSplitsIsExactlyOnceAcrossARestartAtAnotherParallelism) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  {
    ckpt::Pipeline p;
    log_job(p, fs, 2, /*bounded=*/false);
    ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms));
    ckpt::test::run_until_checkpoints(job, 3, "rescale");
  }
  auto savepoint = std::shared_ptr<ckpt::SnapshotReader>(storage.open_savepoint("rescale"));
  ckpt::Pipeline p;
  log_job(p, fs, 3, /*bounded=*/true);
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms), ckpt::JobOptions::from_savepoint(savepoint));
  job.run();
  EXPECT_EQ(job.restored_from(), savepoint->checkpoint_id());
  std::vector<std::string> expected;
  for (std::uint32_t q = 0; q < kLogPartitions; ++q)
    for (std::uint64_t o = 0; o < kPipelineRecords; ++o) expected.push_back(std::to_string(q) + ":" + std::to_string(o));
  EXPECT_EQ(sorted_lines(ckpt::test::committed_lines(*fs, "out")), sorted_lines(expected));
}

/// Writes file `name` of `lines` lines into in/, whole (as a rename would).
std::vector<std::string> add_file(ckpt::fs::FileSystem& fs, const std::string& name, int lines) {
  std::string text;
  std::vector<std::string> out;
  for (int l = 0; l < lines; ++l) {
    out.push_back(name + "-" + std::to_string(l));
    text += out.back() + "\n";
  }
  fs.publish("in/" + name, ckpt::as_bytes(text));
  return out;
}

/// Files f0, f1, ... in a new in/; returns their lines.
std::vector<std::string> add_files(ckpt::fs::FileSystem& fs, int files) {
  fs.make_directories("in");
  std::vector<std::string> out;
  for (int f = 0; f < files; ++f) {
    const auto lines = add_file(fs, "f" + std::to_string(f), static_cast<int>(kPipelineRecords / 4));
    out.insert(out.end(), lines.begin(), lines.end());
  }
  return out;
}

void directory_job(ckpt::Pipeline& p, std::shared_ptr<ckpt::fs::FileSystem> fs, std::uint32_t parallelism,
                   ckpt::DirectorySourceOptions options) {
  options.lines_per_poll = 16;
  p.add_source("lines", parallelism, std::make_shared<ckpt::DirectorySource>(fs, "in", options))
      .add_sink("out", 2, [fs](std::uint32_t) {
        return std::make_unique<ckpt::TransactionalFileSink<std::string>>(fs, "out", [](const std::string& s) { return s; });
      });
}

TEST(SplitPipeline, TheDirectorySourceIsExactlyOnceAcrossARestartAtAnotherParallelismAndFindsNewFiles) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  auto expected = add_files(*fs, 6);
  ckpt::CheckpointStorage storage(fs);
  {
    ckpt::Pipeline p;
    directory_job(p, fs, 2, ckpt::DirectorySourceOptions::continuous(1ms));
    ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms));
    ckpt::test::run_until_checkpoints(job, 3, "rescale");
  }
  // A file that arrives while the job is down is found by the restarted one.
  const auto late = add_file(*fs, "late", 10);
  expected.insert(expected.end(), late.begin(), late.end());
  auto savepoint = std::shared_ptr<ckpt::SnapshotReader>(storage.open_savepoint("rescale"));
  ckpt::Pipeline p;
  directory_job(p, fs, 3, ckpt::DirectorySourceOptions::bounded());
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms), ckpt::JobOptions::from_savepoint(savepoint));
  job.run();
  EXPECT_EQ(sorted_lines(ckpt::test::committed_lines(*fs, "out")), sorted_lines(expected));
}

TEST(SplitPipeline, ADirectorySourceFileAddedWhileTheJobRunsIsRead) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  fs->make_directories("in");
  add_file(*fs, "first", 3);
  ckpt::CheckpointStorage storage(fs);
  auto seen = std::make_shared<ckpt::test::CollectingSink<std::string>::Shared>();
  ckpt::Pipeline p;
  p.add_source("lines", 2, std::make_shared<ckpt::DirectorySource>(fs, "in", ckpt::DirectorySourceOptions::continuous(1ms)))
      .add_sink("seen", 1, [seen](std::uint32_t) { return std::make_unique<ckpt::test::CollectingSink<std::string>>(seen); });
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(5ms));
  std::mutex m;
  std::condition_variable cv;
  int completed = 0;
  job.coordinator().add_listener([&](const ckpt::CheckpointStats& s) {
    std::lock_guard lock(m);
    if (s.outcome == ckpt::CheckpointOutcome::completed) ++completed;
    cv.notify_all();
  });
  std::thread runner([&] { job.run(); });
  auto count = [&] {
    std::lock_guard lock(seen->mutex);
    return seen->values.size();
  };
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return completed >= 1; });
  }
  add_file(*fs, "second", 4);
  // Each checkpoint flushes the channels: wait on checkpoints until the lines arrived.
  for (int target = 2; count() < 7; ++target) {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return completed >= target; });
  }
  EXPECT_EQ(job.stop_with_savepoint("end").get().outcome, ckpt::CheckpointOutcome::completed);
  runner.join();
  std::lock_guard lock(seen->mutex);
  EXPECT_EQ(sorted_lines(seen->values), sorted_lines({"first-0", "first-1", "first-2", "second-0", "second-1", "second-2", "second-3"}));
}

/// Passes lines on; throws on a line once `fail` is set.
class FailOnDemand final : public ckpt::ProcessFunction<std::string, std::string> {
 public:
  explicit FailOnDemand(std::shared_ptr<std::atomic<bool>> fail) : fail_(std::move(fail)) {}
  void process_element(const std::string& line, ckpt::Collector<std::string>& out) override {
    if (fail_ && fail_->load()) throw std::runtime_error("injected failure in FailOnDemand");
    out.collect(line);
  }

 private:
  std::shared_ptr<std::atomic<bool>> fail_;
};

// A job that discovers files while it runs fails after some checkpoints; the
// restart restores the latest checkpoint at another parallelism, with the
// splits the enumerator had not assigned and those in flight at the cut.
TEST(SplitPipeline, TheDirectorySourceIsExactlyOnceAcrossAFailureAndARestartFromTheLatestCheckpointAtAnotherParallelism) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  auto expected = add_files(*fs, 4);
  ckpt::CheckpointStorage storage(fs);
  auto build = [&](ckpt::Pipeline& p, std::uint32_t parallelism, ckpt::DirectorySourceOptions options,
                   std::shared_ptr<std::atomic<bool>> fail) {
    options.lines_per_poll = 16;
    p.add_source("lines", parallelism, std::make_shared<ckpt::DirectorySource>(fs, "in", options))
        .process("maybe-fail", parallelism, [fail](std::uint32_t) { return std::make_unique<FailOnDemand>(fail); })
        .add_sink("out", 2, [fs](std::uint32_t) {
          return std::make_unique<ckpt::TransactionalFileSink<std::string>>(fs, "out", [](const std::string& l) { return l; });
        });
  };
  std::mutex m;  // guards `expected` against the listener's thread
  {
    auto fail = std::make_shared<std::atomic<bool>>(false);
    ckpt::Pipeline p;
    build(p, 2, ckpt::DirectorySourceOptions::continuous(1ms), fail);
    ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms));
    int completed = 0;
    job.coordinator().add_listener([&](const ckpt::CheckpointStats& s) {
      if (s.outcome != ckpt::CheckpointOutcome::completed) return;
      std::lock_guard lock(m);
      ++completed;
      if (completed == 3) fail->store(true);  // before the file whose lines trip it
      if (completed == 1 || completed == 3) {  // discovered while running
        const auto lines = add_file(*fs, "late" + std::to_string(completed), 20);
        expected.insert(expected.end(), lines.begin(), lines.end());
      }
    });
    EXPECT_THROW(job.run(), ckpt::JobError);
  }
  ckpt::Pipeline p;
  build(p, 3, ckpt::DirectorySourceOptions::bounded(), nullptr);
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms));
  job.run();
  EXPECT_TRUE(job.restored_from());
  std::lock_guard lock(m);
  EXPECT_EQ(sorted_lines(ckpt::test::committed_lines(*fs, "out")), sorted_lines(expected));
}

/// On each line, an event-time timer at 1000; emits "line!" when it fires.
class FireAtTheEnd final : public ckpt::KeyedProcessFunction<std::string, std::string, std::string> {
 public:
  void process_element(const std::string&, Context& ctx, ckpt::Collector<std::string>&) override {
    ctx.timer_service().register_event_time_timer(1000);
  }
  void on_timer(std::int64_t, OnTimerContext& ctx, ckpt::Collector<std::string>& out) override {
    out.collect(ctx.current_key() + "!");
  }
};

TEST(SplitPipeline, AnExhaustedSplitSourceEmitsTheFinalWatermarkSoEventTimeTimersFire) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  fs->make_directories("in");
  add_file(*fs, "a", 2);
  add_file(*fs, "b", 1);
  ckpt::CheckpointStorage storage(fs);
  auto seen = std::make_shared<ckpt::test::CollectingSink<std::string>::Shared>();
  ckpt::Pipeline p;
  p.add_source("lines", 2, std::make_shared<ckpt::DirectorySource>(fs, "in"))
      .key_by([](const std::string& line) { return line; })
      .process("fire", 2, [](std::uint32_t) { return std::make_unique<FireAtTheEnd>(); })
      .add_sink("seen", 1, [seen](std::uint32_t) { return std::make_unique<ckpt::test::CollectingSink<std::string>>(seen); });
  ckpt::JobRunner(p, storage, ckpt::CheckpointConfig::every(5ms)).run();
  EXPECT_EQ(sorted_lines(seen->values), sorted_lines({"a-0!", "a-1!", "b-0!"}));
}

/// Two partitions, event time 10 ms per offset: partition 0 has 5 events and
/// then none (idle, not ended); partition 1 is read up to `released` (the test
/// releases more). Both end when `finish` is set. `at_hold` says when each has
/// been read up to where it waits.
struct IdleSplitControl {
  std::mutex mutex;
  std::condition_variable changed;
  bool finish = false;
  std::uint64_t released = 0;      // partition 1's records readable
  std::uint64_t waiting[2] = {0, 0};  // times each partition was polled at its hold
};

class IdleSplitLog final : public ckpt::PartitionedSource<Event> {
 public:
  static constexpr std::uint64_t kIdleRecords = 5;
  explicit IdleSplitLog(std::shared_ptr<IdleSplitControl> control) : PartitionedSource<Event>(2), control_(std::move(control)) {}
  Read read(std::uint32_t partition, std::uint64_t offset) override {
    std::lock_guard lock(control_->mutex);
    const auto hold = partition == 0 ? kIdleRecords : control_->released;
    if (offset < hold) return Read::of(Event{partition, offset, "p" + std::to_string(partition), 1});
    if (control_->finish) return Read::end_of_partition();
    ++control_->waiting[partition];  // every record before the hold is read (and its timestamp seen)
    control_->changed.notify_all();
    return Read::later();
  }
  std::int64_t timestamp_of(const Event& e) const override { return static_cast<std::int64_t>(e.offset) * 10; }

 private:
  std::shared_ptr<IdleSplitControl> control_;
};

// Partition 0 stops producing at event time 40 while partition 1 goes on to
// 1990: without idleness the source's watermark (the minimum over its splits)
// stays below 40 and the window [0, 1000) never closes while the job runs.
// Once partition 0 has had no record for the idleness timeout (a ManualClock,
// advanced by the test) it is left out, partition 1's watermark alone counts,
// and the windows [0, 1000) of both keys fire before the input ends.
TEST(SplitPipeline, AnIdleSplitDoesNotStallAnEventTimeWindowDownstream) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  auto control = std::make_shared<IdleSplitControl>();
  control->released = 100;  // event times 0 .. 990
  ckpt::ManualClock clock;
  auto source = std::make_shared<ckpt::PartitionSplitSource<Event>>(
      2, [control](std::uint32_t) { return std::make_unique<IdleSplitLog>(control); });
  source->use_watermarks(ckpt::WatermarkStrategy<Event>::for_monotonous_timestamps().with_idleness(100ms, clock));
  auto count = ckpt::make_aggregate_function<Event, std::int64_t, std::int64_t>(
      [] { return std::int64_t{0}; }, [](const Event&, std::int64_t n) { return n + 1; },
      [](const std::int64_t& n) { return n; }, [](std::int64_t a, std::int64_t b) { return a + b; });
  auto seen = std::make_shared<ckpt::test::CollectingSink<std::string>::Shared>();
  ckpt::Pipeline p;
  p.add_source("log", 1, source)
      .key_by([](const Event& e) { return e.key; })
      .process("windows", 2,
               ckpt::window<std::string, Event>(ckpt::TumblingEventTimeWindows::of(1000ms))
                   .aggregate<std::string>(count, [](const std::string& key, const ckpt::TimeWindow& w,
                                                     const std::int64_t& n, ckpt::Collector<std::string>& out) {
                     out.collect(key + " " + std::to_string(w.start) + " " + std::to_string(n));
                   }))
      .add_sink("seen", 1, [seen](std::uint32_t) { return std::make_unique<ckpt::test::CollectingSink<std::string>>(seen); });
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(5ms));
  std::thread runner([&] { job.run(); });
  {
    // Both partitions read up to their holds: partition 0's last record was seen at clock time 0.
    std::unique_lock lock(control->mutex);
    control->changed.wait(lock, [&] { return control->waiting[0] > 0 && control->waiting[1] > 0; });
  }
  {
    std::lock_guard lock(seen->mutex);
    EXPECT_TRUE(seen->values.empty());  // the watermark is held below partition 0's 40
  }
  clock.advance(101ms);  // partition 0 is idle now
  {
    std::lock_guard lock(control->mutex);
    control->released = 200;  // event times 1000 .. 1990 on partition 1
  }
  seen->wait_for(2);
  {
    std::lock_guard lock(seen->mutex);
    EXPECT_THAT(seen->values, ::testing::UnorderedElementsAre("p0 0 5", "p1 0 100"));
  }
  {
    std::lock_guard lock(control->mutex);
    control->finish = true;  // the input ends: the final watermark closes the rest
  }
  runner.join();
  std::lock_guard lock(seen->mutex);
  EXPECT_THAT(seen->values, ::testing::UnorderedElementsAre("p0 0 5", "p1 0 100", "p1 1000 100"));
}

}  // namespace
