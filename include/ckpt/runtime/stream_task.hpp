#pragma once
// The tasks of a pipeline: one thread per subtask of every vertex.
//
// A source task polls its source and, between polls, cuts its state and
// emits the barrier when the coordinator triggers a checkpoint. A task with
// input reads its gate; in exactly-once mode a channel that delivered barrier
// N is blocked until every live channel has (alignment), then the task cuts
// its state and forwards the barrier; in at-least-once mode nothing blocks.
// A job ends with a final barrier (stop with savepoint, or the last
// checkpoint of a finite job): sources stop polling, and once that checkpoint
// completes every task closes its function and sends the end of the stream.
// A source whose input has ended emits the largest watermark first, so
// event-time windows and timers fire at the end of a bounded input.

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/runtime/checkpoint_coordinator.hpp>
#include <ckpt/runtime/input_gate.hpp>
#include <ckpt/function/keyed_process_function.hpp>
#include <ckpt/runtime/output.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/state/timer_service.hpp>
#include <ckpt/runtime/keyed_process_operator.hpp>
#include <ckpt/runtime/timestamped_collector.hpp>
#include <ckpt/runtime/process_context.hpp>
#include <ckpt/function/side_outputs.hpp>
#include <ckpt/state/keyed_state_backend.hpp>
#include <ckpt/state/kv_keyed_state_backend.hpp>
#include <ckpt/state/operator_state_store.hpp>
#include <ckpt/storage/snapshot_reader.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

namespace ckpt::detail {

/// What the job runner gives every task.
struct TaskEnvironment {
  CheckpointCoordinator* coordinator = nullptr;
  Clock* clock = nullptr;
  CheckpointingMode mode = CheckpointingMode::exactly_once;
  std::chrono::milliseconds idle_wait{1};
  std::function<void(std::exception_ptr, const std::string& task)> fail;
  std::function<void()> source_finished;
  std::function<void()> task_finished;
  /// Makes each keyed subtask's backend; the heap backend when null or empty.
  const KeyedBackendFactory* keyed_backend = nullptr;
};

class StreamTask : public CheckpointParticipant {
 public:
  StreamTask(std::string uid, std::uint32_t subtask, std::uint32_t parallelism, TaskEnvironment& env)
      : uid_(std::move(uid)), subtask_(subtask), parallelism_(parallelism), env_(env), store_(subtask, parallelism) {}
  ~StreamTask() override = default;

  std::string name() const {
    return "'" + uid_ + "' subtask " + std::to_string(subtask_) + " of " + std::to_string(parallelism_);
  }
  const std::string& uid() const noexcept { return uid_; }
  std::string describe() const override { return "task " + name(); }
  virtual bool is_source() const noexcept { return false; }

  /// Before start(): restores this subtask's share of `snapshot`.
  void restore(SnapshotReader& snapshot) {
    snapshot.restore(uid_, keyed(), &store_);
    restored_from_ = snapshot.checkpoint_id();
  }
  void register_with(CheckpointCoordinator& c) { index_ = c.add_participant(*this, is_source()); }
  /// Before start(): what the task's function committed outside ckpt, if anything.
  CommittedOutput* committed_output() { return function().committed_output(); }

  void start() {
    thread_ = std::jthread([this] {
      try {
        SimpleInitializationContext ctx(store_, keyed(), restored_from_);
        function().initialize_state(ctx);
        after_initialize();
        run();
      } catch (const TaskCancelled&) {
        // The job is stopping: nothing to report.
      } catch (...) {
        env_.fail(std::current_exception(), name());
      }
      finished_ = true;
      env_.task_finished();
    });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  bool finished() const noexcept { return finished_; }
  /// Wakes the task's thread for shutdown (its loop then ends).
  virtual void cancel() = 0;

  // -- CheckpointParticipant: hand everything to the task's own thread.
  void trigger_checkpoint(const CheckpointBarrier& barrier) override {
    mailbox().post([this, barrier] { on_trigger(barrier); });
  }
  void notify_checkpoint_complete(std::uint64_t id) override {
    mailbox().post([this, id] { on_notification(id, true); });
  }
  void notify_checkpoint_aborted(std::uint64_t id) override {
    mailbox().post([this, id] { on_notification(id, false); });
  }
  void notify_savepoint_complete(std::uint64_t id) override {
    mailbox().post([this, id] {
      // Nothing to commit; the keyed backend lets go of the savepoint's cut.
      if (auto* k = keyed()) k->notify_snapshot_aborted(id);
      kinds_.erase(id);
    });
  }

 protected:
  virtual KeyedStateBackendBase* keyed() { return nullptr; }
  virtual StreamFunction& function() = 0;
  virtual Mailbox& mailbox() = 0;
  virtual void run() = 0;
  virtual void after_initialize() {}
  /// A source's checkpoint trigger (only sources are triggered).
  virtual void on_trigger(const CheckpointBarrier&) {}
  virtual void on_aborted(std::uint64_t) {}

  /// Cuts this subtask's state for `barrier` and hands it to the coordinator.
  void cut(const CheckpointBarrier& barrier, std::chrono::nanoseconds alignment) {
    const auto start = env_.clock->now();
    try {
      function().snapshot_state(SimpleSnapshotContext(barrier.id, barrier.timestamp_millis));
      ParticipantSnapshot snap;
      snap.uid = uid_;
      snap.subtask = subtask_;
      snap.parallelism = parallelism_;
      const bool checkpoint = barrier.kind == SnapshotKind::checkpoint;
      if (auto* k = keyed())
        snap.keyed = k->begin_snapshot(barrier.id, checkpoint && env_.coordinator->storage().options().incremental
                                                        ? SnapshotMode::incremental
                                                        : SnapshotMode::full);
      snap.operator_state = store_.snapshot();
      kinds_[barrier.id] = barrier.kind;
      if (barrier.final) final_id_ = barrier.id;
      env_.coordinator->acknowledge(index_, barrier.id, std::move(snap), env_.clock->now() - start, alignment);
    } catch (const TaskCancelled&) {
      throw;
    } catch (const std::exception& e) {
      env_.coordinator->decline(index_, barrier.id, name() + " could not cut its state: " + e.what());
    }
  }

  void on_notification(std::uint64_t id, bool complete) {
    const auto it = kinds_.find(id);
    const auto kind = it == kinds_.end() ? SnapshotKind::checkpoint : it->second;
    if (auto* k = keyed()) {
      if (complete && kind == SnapshotKind::checkpoint) k->notify_snapshot_complete(id);
      else k->notify_snapshot_aborted(id);
    }
    kinds_.erase(kinds_.begin(), kinds_.upper_bound(id));
    if (complete) {
      function().notify_checkpoint_complete(id);
      if (final_id_ && id >= *final_id_) final_completed_ = true;
    } else {
      function().notify_checkpoint_aborted(id);
      if (final_id_ == id) final_id_.reset();  // the job goes on
      on_aborted(id);
    }
  }

  std::string uid_;
  std::uint32_t subtask_;
  std::uint32_t parallelism_;
  TaskEnvironment& env_;
  OperatorStateStore store_;
  std::optional<std::uint64_t> restored_from_;
  std::size_t index_ = 0;
  std::map<std::uint64_t, SnapshotKind> kinds_;
  std::optional<std::uint64_t> final_id_;  // the final barrier this task passed
  bool final_completed_ = false;
  std::atomic<bool> finished_{false};
  std::jthread thread_;
};

/// Collects a function's output into the task's Output, stamped with the
/// event time of the input being processed.
template <class T>
class OutputCollector final : public TimestampedCollector<T> {
 public:
  explicit OutputCollector(Output<T>* out) : out_(out) {}

 private:
  void emit(Record<T> record) override {
    if (out_) out_->emit(std::move(record));
  }
  Output<T>* out_;
};

template <class T>
class SourceTask final : public StreamTask {
 public:
  SourceTask(std::string uid, std::uint32_t subtask, std::uint32_t parallelism, TaskEnvironment& env,
             std::unique_ptr<Source<T>> source, std::unique_ptr<Output<T>> output)
      : StreamTask(std::move(uid), subtask, parallelism, env),
        source_(std::move(source)),
        output_(std::move(output)),
        collector_(output_.get()) {}

  bool is_source() const noexcept override { return true; }
  Output<T>& output() { return *output_; }
  void cancel() override { mailbox_.close(); }

 protected:
  StreamFunction& function() override { return *source_; }
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
    while (true) {
      const bool polling = !final_id_ && !exhausted_;
      for (auto& mail : mailbox_.take(polling ? std::chrono::nanoseconds(0) : std::chrono::nanoseconds(env_.idle_wait * 50)))
        mail();
      if (mailbox_.closed()) throw TaskCancelled();
      if (final_completed_) break;
      if (!polling) continue;
      const auto status = source_->poll_next(collector_);
      emit_watermark();
      if (status == SourceStatus::finished) {
        exhausted_ = true;
        emit_final_watermark();
        env_.source_finished();
      } else if (status == SourceStatus::idle) {
        output_->flush();
        for (auto& mail : mailbox_.take(env_.idle_wait)) mail();
      }
    }
    source_->close();
    output_->broadcast_control(EndOfStream{});
  }

 private:
  SourceMailbox mailbox_;
  /// After each poll: the source's idle status when it changed, and its
  /// watermark when it advanced (never backwards, none while idle).
  void emit_watermark() {
    if (const bool idle = source_->watermark_idle(); idle != idle_) {
      idle_ = idle;
      output_->broadcast_control(WatermarkStatus{idle});
    }
    if (idle_) return;
    if (const auto wm = source_->current_watermark(); wm > watermark_) {
      watermark_ = wm;
      output_->broadcast_control(Watermark{wm});
    }
  }

  /// The input has ended, so event time is complete: the largest watermark
  /// (Flink's MAX_WATERMARK) fires every event-time window and timer
  /// downstream before the final checkpoint commits their results. Not on
  /// stop-with-savepoint (that input has not ended: its open windows stay
  /// open in the savepoint); an idle source is active again for it.
  void emit_final_watermark() {
    if (idle_) {
      idle_ = false;
      output_->broadcast_control(WatermarkStatus{false});
    }
    watermark_ = std::numeric_limits<std::int64_t>::max();
    output_->broadcast_control(Watermark{watermark_});
  }

  std::unique_ptr<Source<T>> source_;
  std::unique_ptr<Output<T>> output_;
  OutputCollector<T> collector_;
  std::int64_t watermark_ = no_timestamp;
  bool idle_ = false;
  bool exhausted_ = false;
};

/// The input side shared by every task that has one: alignment, watermarks,
/// end of stream, processing-time deadlines.
template <class In>
class InputTask : public StreamTask {
 public:
  InputTask(std::string uid, std::uint32_t subtask, std::uint32_t parallelism, TaskEnvironment& env,
            std::shared_ptr<InputGate<In>> gate)
      : StreamTask(std::move(uid), subtask, parallelism, env),
        gate_(std::move(gate)),
        eos_(gate_->channels(), false),
        idle_(gate_->channels(), false),
        watermarks_(gate_->channels(), no_timestamp) {}

  void cancel() override { gate_->close(); }

 protected:
  Mailbox& mailbox() override { return *gate_; }
  virtual void process(Record<In>& record) = 0;
  virtual void on_watermark(std::int64_t watermark) = 0;
  /// Every live input channel went idle (true), or one is active again (false).
  virtual void on_watermark_status(bool /*idle*/) {}
  virtual void forward_barrier(const CheckpointBarrier&) {}
  virtual void flush() {}
  virtual void finish() = 0;  // close the function, send the end of the stream
  /// The next processing-time deadline (epoch millis) and what to do then.
  virtual std::optional<std::int64_t> next_deadline() { return std::nullopt; }
  virtual void on_deadline(std::int64_t) {}

  void run() override {
    std::vector<StreamElement<In>> run;
    while (true) {
      std::optional<std::chrono::steady_clock::time_point> deadline;
      if (const auto due = next_deadline()) {
        const auto now = env_.clock->epoch_millis();
        if (*due <= now) {
          on_deadline(now);
          continue;
        }
        deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::min<std::int64_t>(*due - now, 50));
      }
      const bool idle = all_ended();
      if (idle && final_completed_) break;
      flush();  // nothing is held back while this task waits
      auto taken = gate_->take(run, deadline);
      using What = typename InputGate<In>::Taken::What;
      if (taken.what == What::closed) throw TaskCancelled();
      if (taken.what == What::mail) {
        for (auto& mail : taken.mails) mail();
        continue;
      }
      if (taken.what == What::timeout) continue;
      for (auto& element : run) handle(taken.channel, element);
      run.clear();
    }
    finish();
  }

  void on_aborted(std::uint64_t id) override {
    if (aligning_ == id) end_alignment(id);
  }

 private:
  bool all_ended() const { return std::all_of(eos_.begin(), eos_.end(), [](bool e) { return e; }); }
  std::size_t live_channels() const { return static_cast<std::size_t>(std::count(eos_.begin(), eos_.end(), false)); }

  void handle(std::size_t channel, StreamElement<In>& element) {
    if (auto* r = std::get_if<Record<In>>(&element)) {
      process(*r);
    } else if (auto* b = std::get_if<CheckpointBarrier>(&element)) {
      on_barrier(channel, *b);
    } else if (auto* w = std::get_if<Watermark>(&element)) {
      watermarks_[channel] = w->timestamp;
      advance_watermark();
    } else if (auto* st = std::get_if<WatermarkStatus>(&element)) {
      idle_[channel] = st->idle;
      advance_watermark();
    } else {
      eos_[channel] = true;
      advance_watermark();
    }
  }

  /// The minimum over the live, active channels; idle downstream when every
  /// live channel is idle. Never goes backwards: a channel that is active
  /// again with an older watermark holds the next advance back, not this one.
  void advance_watermark() {
    std::int64_t min = std::numeric_limits<std::int64_t>::max();
    bool any_live = false;
    bool any_active = false;
    for (std::size_t c = 0; c < watermarks_.size(); ++c) {
      if (eos_[c]) continue;
      any_live = true;
      if (idle_[c]) continue;
      min = std::min(min, watermarks_[c]);
      any_active = true;
    }
    if (const bool idle = any_live && !any_active; idle != output_idle_) {
      output_idle_ = idle;
      on_watermark_status(idle);
    }
    if (any_active && min > watermark_) {
      watermark_ = min;
      on_watermark(min);
    }
  }

  void on_barrier(std::size_t channel, const CheckpointBarrier& barrier) {
    if (barrier.id <= handled_) return;  // late barrier of a checkpoint already cut or aborted
    if (!aligning_ || barrier.id > *aligning_) {
      if (aligning_) end_alignment(*aligning_);  // a newer barrier overtook: give the older one up
      aligning_ = barrier.id;
      arrived_.clear();
      alignment_start_ = env_.clock->now();
    }
    if (barrier.id < *aligning_) return;
    arrived_.insert(channel);
    if (env_.mode == CheckpointingMode::exactly_once) gate_->block(channel);
    if (arrived_.size() < live_channels()) return;
    flush();
    cut(barrier, env_.clock->now() - alignment_start_);
    forward_barrier(barrier);
    end_alignment(barrier.id);
  }

  void end_alignment(std::uint64_t id) {
    handled_ = std::max(handled_, id);
    aligning_.reset();
    arrived_.clear();
    gate_->unblock_all();
  }

 protected:
  std::shared_ptr<InputGate<In>> gate_;
  std::int64_t watermark_ = no_timestamp;

 private:
  std::vector<bool> eos_;
  std::vector<bool> idle_;
  bool output_idle_ = false;
  std::vector<std::int64_t> watermarks_;
  std::optional<std::uint64_t> aligning_;
  std::set<std::size_t> arrived_;
  std::uint64_t handled_ = 0;
  Clock::time_point alignment_start_{};
};

template <class In, class Out>
class ProcessTask final : public InputTask<In> {
 public:
  ProcessTask(std::string uid, std::uint32_t subtask, std::uint32_t parallelism, TaskEnvironment& env,
              std::shared_ptr<InputGate<In>> gate, std::unique_ptr<ProcessFunction<In, Out>> fn,
              std::unique_ptr<Output<Out>> output)
      : InputTask<In>(std::move(uid), subtask, parallelism, env, std::move(gate)),
        fn_(std::move(fn)),
        output_(std::move(output)),
        collector_(output_.get()),
        context_(collector_, &side_outputs_) {
    fn_->set_context(&context_);
  }

  /// Where the function's context().output(tag, value) goes.
  SideOutputs& side_outputs() noexcept { return side_outputs_; }

 protected:
  StreamFunction& function() override { return *fn_; }
  void process(Record<In>& r) override {
    collector_.set_timestamp(r.timestamp);
    fn_->process_element(r.value, collector_);
  }
  void on_watermark(std::int64_t wm) override { output_->broadcast_control(Watermark{wm}); }
  void on_watermark_status(bool idle) override { output_->broadcast_control(WatermarkStatus{idle}); }
  void forward_barrier(const CheckpointBarrier& b) override { output_->broadcast_control(b); }
  void flush() override { output_->flush(); }
  void finish() override {
    fn_->close();
    output_->broadcast_control(EndOfStream{});
  }

 private:
  std::unique_ptr<ProcessFunction<In, Out>> fn_;
  std::unique_ptr<Output<Out>> output_;
  OutputCollector<Out> collector_;
  SideOutputs side_outputs_;
  ProcessContext<In, Out> context_;
};

/// A keyed process function's task: the per-record and per-timer logic is
/// KeyedProcessOperator's, shared with the test harness.
template <class K, class In, class Out>
class KeyedProcessTask final : public InputTask<In> {
 public:
  using Function = KeyedProcessFunction<K, In, Out>;

  KeyedProcessTask(std::string uid, std::uint32_t subtask, std::uint32_t parallelism, std::uint32_t max_parallelism,
                   TaskEnvironment& env, std::shared_ptr<InputGate<In>> gate, std::unique_ptr<Function> fn,
                   std::function<K(const In&)> key_of, std::unique_ptr<Output<Out>> output)
      : InputTask<In>(std::move(uid), subtask, parallelism, env, std::move(gate)),
        output_(std::move(output)),
        collector_(output_.get()),
        operator_(subtask, parallelism, max_parallelism, *env.clock, std::move(fn), std::move(key_of), collector_,
                  env.keyed_backend ? *env.keyed_backend : KeyedBackendFactory{}) {
    operator_.set_side_outputs(&side_outputs_);
  }

  /// Where the function's ctx.output(tag, value) goes.
  SideOutputs& side_outputs() noexcept { return side_outputs_; }

 protected:
  KeyedStateBackendBase* keyed() override { return &operator_.backend(); }
  StreamFunction& function() override { return operator_.function(); }
  void after_initialize() override { operator_.open(); }

  void process(Record<In>& r) override { operator_.process_element(r); }
  void on_watermark(std::int64_t wm) override {
    operator_.process_watermark(wm);
    output_->broadcast_control(Watermark{wm});
  }
  void on_watermark_status(bool idle) override { output_->broadcast_control(WatermarkStatus{idle}); }
  std::optional<std::int64_t> next_deadline() override { return operator_.next_processing_time(); }
  void on_deadline(std::int64_t now) override { operator_.advance_processing_time(now); }
  void forward_barrier(const CheckpointBarrier& b) override { output_->broadcast_control(b); }
  void flush() override { output_->flush(); }
  void finish() override {
    operator_.function().close();
    output_->broadcast_control(EndOfStream{});
  }

 private:
  std::unique_ptr<Output<Out>> output_;
  OutputCollector<Out> collector_;
  SideOutputs side_outputs_;
  KeyedProcessOperator<K, In, Out> operator_;  // after the collector and side outputs it writes to
};

template <class In>
class SinkTask final : public InputTask<In> {
 public:
  SinkTask(std::string uid, std::uint32_t subtask, std::uint32_t parallelism, TaskEnvironment& env,
           std::shared_ptr<InputGate<In>> gate, std::unique_ptr<Sink<In>> sink)
      : InputTask<In>(std::move(uid), subtask, parallelism, env, std::move(gate)), sink_(std::move(sink)) {}

 protected:
  StreamFunction& function() override { return *sink_; }
  void process(Record<In>& r) override { sink_->invoke(r.value); }
  void on_watermark(std::int64_t) override {}
  void finish() override { sink_->close(); }

 private:
  std::unique_ptr<Sink<In>> sink_;
};

}  // namespace ckpt::detail
