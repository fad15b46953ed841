#pragma once
// Functions the harness tests run, through the harness and through the
// runtime: a keyed function with value, list and operator state and both
// kinds of timers, and a source that replays a fixed schedule of records
// and watermarks.

#include <ckpt/function/keyed_process_function.hpp>
#include <ckpt/runtime/checkpoint_stats.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/state/list_state.hpp>
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/state/value_state.hpp>

#include <cereal/types/string.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ckpt::harness_test {

struct Event {
  std::string key;
  std::int64_t value = 0;
  template <class A>
  void serialize(A& ar) {
    ar(key, value);
  }
  friend bool operator==(const Event&, const Event&) = default;
};

inline std::string key_of(const Event& e) { return e.key; }

/// Per key: a running sum and the values seen; emits the sum per record. The
/// first record with a timestamp after the last firing registers an
/// event-time timer 100 later (kept in "deadline"); every record registers a
/// processing-time timer 1000 after now (one per key and time). Each timer
/// emits a line. Operator state: how many records this subtask processed.
class SumWithTimers final : public KeyedProcessFunction<std::string, Event, std::string> {
 public:
  static constexpr std::int64_t event_delay = 100;
  static constexpr std::int64_t processing_delay = 1000;

  void initialize_state(FunctionInitializationContext& ctx) override {
    auto& backend = ctx.keyed_state_backend<std::string>();
    sum_ = backend.get_state(ValueStateDescriptor<std::int64_t>{"sum", 0});
    values_ = backend.get_list_state(ListStateDescriptor<std::int64_t>{"values"});
    deadline_ = backend.get_state(ValueStateDescriptor<std::int64_t>{"deadline", no_timestamp});
    records_state_ = ctx.operator_state_store().get_list_state(ListStateDescriptor<std::int64_t>{"records"});
    for (const auto n : records_state_.get()) records_ += n;
    restored_ = ctx.is_restored();
    restored_from_ = ctx.restored_checkpoint_id();
    ++initializations;
  }
  void snapshot_state(const FunctionSnapshotContext& ctx) override {
    records_state_.update({records_});
    snapshots.push_back(ctx.checkpoint_id());
  }
  void notify_checkpoint_complete(std::uint64_t id) override { completed.push_back(id); }
  void notify_checkpoint_aborted(std::uint64_t id) override { aborted.push_back(id); }
  void close() override { closed = true; }

  void process_element(const Event& e, Context& ctx, Collector<std::string>& out) override {
    ++records_;
    sum_.update(sum_.value() + e.value);
    values_.add(e.value);
    out.collect(ctx.current_key() + " sum " + std::to_string(sum_.value()));
    if (ctx.timestamp() != no_timestamp && !deadline_.get()) {
      const auto t = ctx.timestamp() + event_delay;
      ctx.timer_service().register_event_time_timer(t);
      deadline_.update(t);
    }
    ctx.timer_service().register_processing_time_timer(ctx.timer_service().current_processing_time() + processing_delay);
  }

  void on_timer(std::int64_t t, OnTimerContext& ctx, Collector<std::string>& out) override {
    if (ctx.time_domain() == TimeDomain::event_time) {
      deadline_.clear();
      out.collect(ctx.current_key() + " fired " + std::to_string(t) + " sum " + std::to_string(sum_.value()));
    } else {
      out.collect(ctx.current_key() + " processing-time " + std::to_string(t));
    }
  }

  /// The current key's state, as text.
  std::string describe() const {
    std::string s = "sum=" + std::to_string(sum_.value()) + " values=";
    for (const auto v : values_.get()) s += std::to_string(v) + ",";
    if (const auto d = deadline_.get()) s += " deadline=" + std::to_string(*d);
    return s;
  }
  std::int64_t records() const noexcept { return records_; }
  bool restored() const noexcept { return restored_; }
  std::optional<std::uint64_t> restored_from() const noexcept { return restored_from_; }

  int initializations = 0;
  std::vector<std::uint64_t> snapshots, completed, aborted;
  bool closed = false;

 private:
  ValueState<std::int64_t> sum_;
  ListState<std::int64_t> values_;
  ValueState<std::int64_t> deadline_;
  ListState<std::int64_t> records_state_;
  std::int64_t records_ = 0;
  bool restored_ = false;
  std::optional<std::uint64_t> restored_from_;
};

inline std::unique_ptr<SumWithTimers> make_sum(std::uint32_t = 0) { return std::make_unique<SumWithTimers>(); }

/// One step of a schedule: a record with its timestamp, then the source's watermark.
struct Scheduled {
  Event event;
  std::int64_t timestamp = no_timestamp;
  std::int64_t watermark = no_timestamp;  // after this record
};

/// `n` records over `keys` keys, timestamps rising with jitter, the watermark
/// trailing the largest timestamp by 30.
inline std::vector<Scheduled> make_schedule(std::size_t n, std::size_t keys, std::uint64_t seed = 1) {
  std::vector<Scheduled> out;
  std::int64_t max_ts = 0;
  std::uint64_t x = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const auto r = x >> 33;
    Scheduled s;
    s.event = Event{"k" + std::to_string(r % keys), static_cast<std::int64_t>(r % 97)};
    s.timestamp = static_cast<std::int64_t>(i) * 7 + static_cast<std::int64_t>(r % 20);
    max_ts = std::max(max_ts, s.timestamp);
    s.watermark = max_ts - 30;
    out.push_back(s);
  }
  return out;
}

/// Set by a ScheduleSource that has emitted its whole schedule and waits
/// (idle) instead of finishing, so its job can be stopped with a savepoint
/// before the end of input (the final watermark) fires its windows and timers.
struct ScheduleEnd {
  std::mutex mutex;
  std::condition_variable reached_changed;
  bool reached = false;
  void reach() {
    std::lock_guard lock(mutex);
    reached = true;
    reached_changed.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex);
    reached_changed.wait(lock, [&] { return reached; });
  }
};

/// Replays a schedule, one record per poll, its position in operator state;
/// finishes at its end, or with `end` waits there.
class ScheduleSource final : public Source<Event> {
 public:
  explicit ScheduleSource(std::vector<Scheduled> schedule, std::shared_ptr<ScheduleEnd> end = nullptr)
      : schedule_(std::move(schedule)), end_(std::move(end)) {}
  void initialize_state(FunctionInitializationContext& ctx) override {
    state_ = ctx.operator_state_store().get_list_state(ListStateDescriptor<std::uint64_t>{"position"});
    for (const auto p : state_.get()) position_ = std::max<std::size_t>(position_, p);
  }
  void snapshot_state(const FunctionSnapshotContext&) override { state_.update({position_}); }
  SourceStatus poll_next(Collector<Event>& out) override {
    if (position_ >= schedule_.size()) {
      if (!end_) return SourceStatus::finished;
      end_->reach();
      return SourceStatus::idle;
    }
    const auto& s = schedule_[position_++];
    out.collect_with_timestamp(s.event, s.timestamp);
    watermark_ = std::max(watermark_, s.watermark);
    return SourceStatus::more;
  }
  std::int64_t current_watermark() const override { return watermark_; }
  std::size_t position() const noexcept { return position_; }

 private:
  std::vector<Scheduled> schedule_;
  std::shared_ptr<ScheduleEnd> end_;
  ListState<std::uint64_t> state_;
  std::size_t position_ = 0;
  std::int64_t watermark_ = no_timestamp;
};

/// Runs `job` to the end of its input; with `end`, only until its
/// ScheduleSource reached `end`, then stops it with a savepoint (no end of
/// input: open windows and timers stay in the savepoint, which the next run
/// restores). Returns whether that savepoint completed (or there was none).
template <class Job>
bool run_or_stop_at_end(Job& job, ScheduleEnd* end) {
  if (!end) {
    job.run();
    return true;
  }
  std::thread runner([&] { job.run(); });
  end->wait();
  const bool completed = job.stop_with_savepoint("at-end").get().outcome == CheckpointOutcome::completed;
  runner.join();
  return completed;
}

}  // namespace ckpt::harness_test
