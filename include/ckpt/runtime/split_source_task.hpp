#pragma once
// SplitSourceTask: the task of one reader subtask of a split source. Like
// SourceTask it polls between mails (checkpoint triggers, notifications) and
// cuts its state between polls; unlike it, when the reader is idle the task
// sleeps until it is woken (a split assigned, the reader's
// notify_available(), a mail) or the enumerator's next periodic call is due,
// and a reader that cannot signal is polled again after the runtime's idle
// wait. When the reader has finished (no split left, no more to come) the
// task emits the final watermark (the largest int64, as Flink does at the end
// of a bounded source) before it waits for the job's final checkpoint; a stop
// with savepoint sends none.

#include <ckpt/clock.hpp>
#include <ckpt/runtime/split_enumerator_host.hpp>
#include <ckpt/runtime/stream_task.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>

namespace ckpt::detail {

template <class T, class Split, class State>
class SplitSourceTask final : public StreamTask {
 public:
  using Reader = SplitReaderFunction<T, Split, State>;

  SplitSourceTask(std::string uid, std::uint32_t subtask, std::uint32_t parallelism, TaskEnvironment& env,
                  std::unique_ptr<Reader> reader, std::unique_ptr<Output<T>> output)
      : StreamTask(std::move(uid), subtask, parallelism, env),
        reader_(std::move(reader)),
        output_(std::move(output)),
        collector_(output_.get()) {
    reader_->set_wake([this] { mailbox_.post([] {}); });  // an empty mail ends the task's wait
  }

  bool is_source() const noexcept override { return true; }
  void cancel() override { mailbox_.close(); }

 protected:
  StreamFunction& function() override { return *reader_; }
  Mailbox& mailbox() override { return mailbox_; }

  void on_trigger(const CheckpointBarrier& barrier) override {
    if (final_id_) {  // already draining for a final barrier: nothing newer can be taken
      env_.coordinator->decline(index_, barrier.id, name() + " is finishing");
      return;
    }
    output_->flush();
    cut(barrier, {});
    output_->broadcast_control(barrier);
  }

  void run() override {
    const auto long_wait = std::chrono::nanoseconds(env_.idle_wait * 50);
    std::chrono::nanoseconds wait{0};
    while (true) {
      const bool polling = !final_id_ && !exhausted_;
      for (auto& mail : mailbox_.take(polling ? wait : long_wait)) mail();
      wait = std::chrono::nanoseconds(0);
      if (mailbox_.closed()) throw TaskCancelled();
      if (final_completed_) break;
      if (!polling) continue;
      const auto next_periodic = reader_->run_periodic();
      const auto status = reader_->poll_next(collector_);
      emit_watermark();
      if (status == SourceStatus::finished) {
        exhausted_ = true;
        if (watermark_ < std::numeric_limits<std::int64_t>::max()) {
          watermark_ = std::numeric_limits<std::int64_t>::max();
          output_->broadcast_control(Watermark{watermark_});
        }
        output_->flush();
        env_.source_finished();
      } else if (status == SourceStatus::idle) {
        output_->flush();
        // Sleep until woken; a reader that cannot signal is polled after the idle wait.
        wait = reader_->signals_availability() ? long_wait * 20 : std::chrono::nanoseconds(env_.idle_wait);
        if (next_periodic) wait = std::clamp(std::chrono::duration_cast<std::chrono::nanoseconds>(*next_periodic - env_.clock->now()),
                                             std::chrono::nanoseconds(0), wait);
      }
    }
    reader_->close();
    output_->broadcast_control(EndOfStream{});
  }

 private:
  /// After each poll: the idle status when it changed, the watermark when it rose.
  void emit_watermark() {
    if (const bool idle = reader_->watermark_idle(); idle != idle_) {
      idle_ = idle;
      output_->broadcast_control(WatermarkStatus{idle});
    }
    if (idle_) return;
    if (const auto wm = reader_->current_watermark(); wm > watermark_) {
      watermark_ = wm;
      output_->broadcast_control(Watermark{wm});
    }
  }

  SourceMailbox mailbox_;
  std::unique_ptr<Reader> reader_;
  std::unique_ptr<Output<T>> output_;
  OutputCollector<T> collector_;
  std::int64_t watermark_ = no_timestamp;
  bool idle_ = false;
  bool exhausted_ = false;
};

}  // namespace ckpt::detail
