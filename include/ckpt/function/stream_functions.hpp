#pragma once
// What users write for a pipeline: sources, process functions and sinks
// (keyed process functions are in keyed_process_function.hpp). Every one is also a CheckpointedFunction and a CheckpointListener
// (with empty defaults), so it can keep operator state, learn at
// initialize_state() whether it is being restored, and act when a checkpoint
// completes. All their methods run on the task's own thread, never
// concurrently with each other.

#include <ckpt/error.hpp>
#include <ckpt/function/checkpoint_listener.hpp>
#include <ckpt/function/checkpointed_function.hpp>
#include <ckpt/function/committed_output.hpp>
#include <ckpt/function/output_tag.hpp>
#include <ckpt/function/side_outputs.hpp>
#include <ckpt/clock.hpp>

#include <cstdint>
#include <string>
#include <utility>

namespace ckpt {

/// Where a function puts what it produces.
template <class T>
class Collector {
 public:
  virtual ~Collector() = default;
  virtual void collect(T value) = 0;
  virtual void collect_with_timestamp(T value, std::int64_t timestamp) = 0;
};

/// Base of every pipeline function.
class StreamFunction : public CheckpointedFunction, public CheckpointListener {
 public:
  void initialize_state(FunctionInitializationContext&) override {}
  void snapshot_state(const FunctionSnapshotContext&) override {}
  void notify_checkpoint_complete(std::uint64_t) override {}
  void notify_checkpoint_aborted(std::uint64_t) override {}
  /// Called once after the last record (or when the job is cancelled).
  virtual void close() {}
  /// What this function committed outside ckpt (a sink's output), so a job
  /// that falls back to an older checkpoint can remove what it will commit
  /// again; nullptr when there is nothing to roll back.
  virtual CommittedOutput* committed_output() { return nullptr; }
};

enum class SourceStatus : std::uint8_t {
  more,      // call poll_next() again at once
  idle,      // nothing right now: call again a little later
  finished,  // a bounded source has emitted everything
};

/// A pull-based source: the runtime calls poll_next() in a loop and injects
/// checkpoint barriers between calls, so the state a source keeps (its read
/// positions) is always consistent with what it has emitted. poll_next()
/// must return promptly; emitting a few records per call is fine.
template <class T>
class Source : public StreamFunction {
 public:
  using output_type = T;
  virtual SourceStatus poll_next(Collector<T>& out) = 0;
  /// Event time reached by this source, emitted as a watermark after each
  /// poll; no_timestamp when the source does not track event time.
  virtual std::int64_t current_watermark() const { return no_timestamp; }
  /// True while every split this source reads is idle (WatermarkStrategy::
  /// with_idleness): the operators downstream then leave its channel out of
  /// their watermark until it is active again (Flink's WatermarkStatus).
  virtual bool watermark_idle() const { return false; }
};

/// A stateless-or-operator-state transformation of each record.
template <class In, class Out>
class ProcessFunction : public StreamFunction {
 public:
  using input_type = In;
  using output_type = Out;

  /// The record being processed, from inside process_element(): context().
  class Context {
   public:
    virtual ~Context() = default;
    /// The event time of the record being processed.
    virtual std::int64_t timestamp() const = 0;
    /// Sends `value` to the side output `tag`, stamped with timestamp().
    template <class T>
    void output(const OutputTag<T>& tag, T value) {
      if (auto* s = side_outputs()) s->emit(tag, std::move(value), timestamp());
    }
    /// Where output() goes; a Context that has none drops side outputs.
    virtual detail::SideOutputs* side_outputs() { return nullptr; }
  };

  virtual void process_element(const In& value, Collector<Out>& out) = 0;

  /// Set by the runtime or harness that runs this function (not for users).
  void set_context(Context* context) noexcept { context_ = context; }

 protected:
  /// The context of the current record. A context and not a third argument
  /// of process_element(), so functions written against the two-argument
  /// form need no change (and no -Woverloaded-virtual warning).
  Context& context() const {
    if (!context_) throw ConfigError(errc::invalid_argument, "ProcessFunction::context() outside process_element()");
    return *context_;
  }

 private:
  Context* context_ = nullptr;
};

/// A sink: the end of a pipeline.
template <class In>
class Sink : public StreamFunction {
 public:
  using input_type = In;
  virtual void invoke(const In& value) = 0;
};

}  // namespace ckpt
