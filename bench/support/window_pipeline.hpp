#pragma once
// The windowed-count pipeline of the report's W figures (issue 20): a source
// of timestamped events over K keys (parallelism 2, monotonous watermarks) ->
// a count per key and tumbling event-time window (parallelism 2) -> a sink
// that discards. The window is either ckpt's window operator or the same
// count written by hand as a KeyedProcessFunction with a timer and map state
// per window, the baseline of window_vs_hand_written.

#include <ckpt/ckpt.hpp>
#include <ckpt/function/window.hpp>
#include <ckpt/runtime/job_runner.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <stdlib.h>
#include <sys/resource.h>

namespace ckpt::bench::windows {

struct Event {
  std::uint64_t key = 0;
  std::int64_t time = 0;
};

struct WindowCount {
  std::uint64_t key = 0;
  std::int64_t start = 0;
  std::int64_t count = 0;
};

/// Events i = subtask, subtask + parallelism, ... < count; event time i / per_ms
/// (so the two subtasks' event times advance together); its watermark trails
/// the newest event time by 1, as for_monotonous_timestamps() does.
class TimedGenerator final : public Source<Event> {
 public:
  TimedGenerator(std::uint64_t count, std::uint64_t keys, std::uint64_t per_ms, std::uint32_t subtask,
                 std::uint32_t parallelism)
      : next_(subtask), end_(count), step_(parallelism), keys_(keys), per_ms_(per_ms) {}
  void initialize_state(FunctionInitializationContext& ctx) override {
    position_ = ctx.operator_state_store().get_list_state(ListStateDescriptor<std::uint64_t>{"next"});
    for (auto n : position_.get()) next_ = n;
  }
  void snapshot_state(const FunctionSnapshotContext&) override { position_.update({next_}); }
  SourceStatus poll_next(Collector<Event>& out) override {
    for (int i = 0; i < 256 && next_ < end_; ++i, next_ += step_) {
      const auto t = static_cast<std::int64_t>(next_ / per_ms_);
      out.collect_with_timestamp({(next_ * 0x9E3779B97F4A7C15ULL) % keys_, t}, t);
      newest_ = t;
    }
    return next_ < end_ ? SourceStatus::more : SourceStatus::finished;
  }
  std::int64_t current_watermark() const override { return newest_ == no_timestamp ? no_timestamp : newest_ - 1; }

 private:
  std::uint64_t next_, end_, step_, keys_, per_ms_;
  std::int64_t newest_ = no_timestamp;
  ListState<std::uint64_t> position_;
};

/// The count by hand: a map state from window start to count, and an
/// event-time timer at each window's end that emits and removes it.
class HandWrittenWindowCount final : public KeyedProcessFunction<std::uint64_t, Event, WindowCount> {
 public:
  explicit HandWrittenWindowCount(std::int64_t size_ms) : size_(size_ms) {}
  void initialize_state(FunctionInitializationContext& ctx) override {
    counts_ = ctx.keyed_state_backend<std::uint64_t>().get_map_state(
        MapStateDescriptor<std::int64_t, std::int64_t>{"window_counts"});
  }
  void process_element(const Event&, Context& ctx, Collector<WindowCount>&) override {
    const auto start = WindowAssigner::window_start(ctx.timestamp(), 0, size_);
    counts_.put(start, counts_.get(start).value_or(0) + 1);
    ctx.timer_service().register_event_time_timer(start + size_ - 1);
  }
  void on_timer(std::int64_t t, OnTimerContext& ctx, Collector<WindowCount>& out) override {
    const auto start = t - size_ + 1;
    if (const auto n = counts_.get(start)) out.collect({ctx.current_key(), start, *n});
    counts_.remove(start);
  }

 private:
  std::int64_t size_;
  MapState<std::int64_t, std::int64_t> counts_;
};

class DiscardCounts final : public Sink<WindowCount> {
 public:
  void invoke(const WindowCount&) override {}
};

struct Config {
  std::uint64_t events = 12'000'000;  // a few seconds a run, so 1 s checkpoints happen
  std::uint64_t keys = 10'000;
  std::uint64_t events_per_ms = 1'000;  // event time: 100 windows of 100 ms for 10M events
  std::int64_t window_ms = 100;
};

/// Wall time, the process's CPU time (every thread's, user + system) and
/// the checkpoints completed (the final one at the end of input included).
struct Times {
  double wall = 0;
  double cpu = 0;
  std::uint64_t checkpoints = 0;
};

inline double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

/// One run to the end of its input (the final watermark fires the last
/// windows). `checkpoint_every` empty: no checkpoints; `hand_written`: the
/// baseline instead of the window operator.
inline Times run(const Config& c, std::optional<std::chrono::milliseconds> checkpoint_every, bool hand_written,
                  const std::string& scratch) {
  std::string dir = (std::filesystem::path(scratch) / "window-pipeline-XXXXXX").string();
  if (!::mkdtemp(dir.data())) throw std::runtime_error("mkdtemp " + dir);
  Times times;
  {
    auto storage = CheckpointStorage::open("file://" + dir);
    Pipeline p;
    auto keyed = p.add_source("events", 2,
                              [c](std::uint32_t i) {
                                return std::make_unique<TimedGenerator>(c.events, c.keys, c.events_per_ms, i, 2);
                              })
                     .key_by([](const Event& e) { return e.key; });
    auto counts =
        hand_written
            ? keyed.process("count", 2, [c](std::uint32_t) { return std::make_unique<HandWrittenWindowCount>(c.window_ms); })
            : keyed.process("count", 2,
                            window<std::uint64_t, Event>(TumblingEventTimeWindows::of(std::chrono::milliseconds(c.window_ms)))
                                .aggregate<WindowCount>(
                                    make_aggregate_function<Event, std::int64_t, std::int64_t>(
                                        [] { return std::int64_t{0}; }, [](const Event&, std::int64_t n) { return n + 1; },
                                        [](const std::int64_t& n) { return n; },
                                        [](std::int64_t a, std::int64_t b) { return a + b; }),
                                    [](const std::uint64_t& key, const TimeWindow& w, std::int64_t n,
                                       Collector<WindowCount>& out) { out.collect({key, w.start, n}); }));
    counts.add_sink("discard", 1, [](std::uint32_t) { return std::make_unique<DiscardCounts>(); });
    auto options = JobOptions::defaults();
    options.restore = JobOptions::Restore::none;
    JobRunner job(p, *storage, checkpoint_every ? CheckpointConfig::every(*checkpoint_every) : CheckpointConfig::on_demand(),
                  options);
    std::atomic<std::uint64_t> checkpoints{0};
    job.coordinator().add_listener([&](const CheckpointStats& s) {
      if (s.outcome == CheckpointOutcome::completed) ++checkpoints;
    });
    const auto cpu = process_cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    job.run();
    times.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    times.cpu = process_cpu_seconds() - cpu;
    times.checkpoints = checkpoints.load();
  }
  std::filesystem::remove_all(dir);
  return times;
}

}  // namespace ckpt::bench::windows
