#pragma once
// What every test harness shares: the subtask it plays, a manual clock for
// processing time, and one instance of the function under test with its
// state, driven through the steps the runtime's tasks take, in their order:
//
//   initialize  initialize_state(ctx) (ctx.is_restored() after a restore), then
//               the operator's open() (a keyed operator starts its timers)
//   snapshot    the function's snapshot_state(), then the keyed backend's
//               snapshot, then the operator state store's (StreamTask::cut)
//   notify      the keyed backend, then the function (StreamTask::on_notification)
//   restore     a fresh instance: keyed state by key group and operator state
//               by the redistribution functions, from every old subtask's
//               snapshot (SnapshotReader::restore), then initialize
//
// The instance is made when first needed (or by open()), so a harness that
// starts with restore() makes only the restored one.

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/function/checkpointed_function.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/state/keyed_state_backend_base.hpp>
#include <ckpt/state/operator_state_store.hpp>
#include <ckpt/testing/operator_subtask_state.hpp>
#include <ckpt/testing/test_harness_options.hpp>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::detail {

/// One instance of the function under test with its state: what a failure
/// throws away and restore() builds anew.
class HarnessInstance {
 public:
  HarnessInstance(std::uint32_t subtask, std::uint32_t parallelism) : store(subtask, parallelism) {}
  virtual ~HarnessInstance() = default;
  HarnessInstance(const HarnessInstance&) = delete;
  HarnessInstance& operator=(const HarnessInstance&) = delete;

  virtual StreamFunction& function() = 0;
  virtual KeyedStateBackendBase* keyed() { return nullptr; }
  /// After initialize_state().
  virtual void open() {}
  /// Fires what is due at processing time `now` (keyed: processing-time timers).
  virtual void advance_processing_time(std::int64_t now) { (void)now; }

  OperatorStateStore store;
  std::int64_t watermark = no_timestamp;
  bool closed = false;
};

/// The instance of a harness that runs a function on its own (no operator
/// around it): a process function, a source or a sink.
template <class Fn>
struct FunctionInstance : HarnessInstance {
  FunctionInstance(const TestHarnessOptions& o, std::unique_ptr<Fn> f)
      : HarnessInstance(o.subtask_index, o.parallelism), fn(std::move(f)) {
    if (!fn) throw ConfigError(errc::invalid_argument, "the harness factory returned no function");
  }
  StreamFunction& function() override { return *fn; }
  std::unique_ptr<Fn> fn;
};

/// Derived provides make_instance() and with_options(options) (a harness of
/// the same function for other options), and may override on_new_instance().
template <class Derived>
class TestHarnessBase {
 public:
  TestHarnessBase(TestHarnessBase&&) noexcept = default;
  TestHarnessBase& operator=(TestHarnessBase&&) noexcept = default;

  // -- the instance ------------------------------------------------------------

  /// Initializes a fresh instance, if there is none yet (every other call does
  /// this when needed).
  void open() { (void)instance(); }
  bool is_open() const noexcept { return instance_ != nullptr; }
  /// The function's close(), as at the end of the input; the harness then
  /// accepts nothing but reading and restore().
  void close() {
    auto& i = running();
    i.closed = true;
    i.function().close();
  }
  bool is_closed() const noexcept { return instance_ && instance_->closed; }
  /// Whether (and from which checkpoint) the current instance was restored.
  bool is_restored() const noexcept { return restored_from_.has_value(); }
  std::optional<std::uint64_t> restored_checkpoint_id() const noexcept { return restored_from_; }

  // -- checkpoints ---------------------------------------------------------------

  /// The state of this subtask at checkpoint `checkpoint_id` (> 0), taken as
  /// the runtime takes it; timestamped with the current processing time.
  OperatorSubtaskState snapshot(std::uint64_t checkpoint_id) { return snapshot(checkpoint_id, processing_time()); }
  OperatorSubtaskState snapshot(std::uint64_t checkpoint_id, std::int64_t timestamp) {
    if (checkpoint_id == 0) throw ConfigError(errc::invalid_argument, "checkpoint ids start at 1");
    auto& i = running();
    i.function().snapshot_state(SimpleSnapshotContext(checkpoint_id, timestamp));
    OperatorSubtaskState s;
    s.checkpoint_id = checkpoint_id;
    s.checkpoint_timestamp = timestamp;
    s.subtask_index = options_.subtask_index;
    s.parallelism = options_.parallelism;
    if (auto* keyed = i.keyed()) {
      s.keyed_state.push_back(keyed->begin_snapshot(checkpoint_id)->collect());
      s.keyed_state.back().origin = "<checkpoint " + std::to_string(checkpoint_id) + " of test harness subtask " +
                                    std::to_string(options_.subtask_index) + " of " +
                                    std::to_string(options_.parallelism) + ">";
    }
    s.operator_state = i.store.snapshot();
    return s;
  }
  /// Checkpoint `checkpoint_id` completed (and with it every earlier one).
  void notify_complete(std::uint64_t checkpoint_id) {
    auto& i = running();
    if (auto* keyed = i.keyed()) keyed->notify_snapshot_complete(checkpoint_id);
    i.function().notify_checkpoint_complete(checkpoint_id);
  }
  void notify_aborted(std::uint64_t checkpoint_id) {
    auto& i = running();
    if (auto* keyed = i.keyed()) keyed->notify_snapshot_aborted(checkpoint_id);
    i.function().notify_checkpoint_aborted(checkpoint_id);
  }

  // -- failure, restore, rescale ---------------------------------------------------

  /// Throws the current instance away, un-notified and unclosed (a failure),
  /// and builds a fresh one of this subtask from the snapshots of every old
  /// subtask (one, when the parallelism was 1). Its output starts empty, its
  /// watermark unset; the clock goes on.
  Derived& restore(std::span<const OperatorSubtaskState> old_subtasks) {
    const auto ordered = old_subtasks_in_order(old_subtasks);
    std::vector<KeyedStateSnapshot> keyed;
    std::vector<OperatorStateSnapshot> operator_states;
    bool any_keyed_entries = false;
    for (const auto* s : ordered) {
      for (const auto& k : s->keyed_state) {
        keyed.push_back(k);
        any_keyed_entries = any_keyed_entries || !k.key_groups.empty();
      }
      operator_states.push_back(s->operator_state);
    }
    auto fresh = derived().make_instance();
    if (auto* backend = fresh->keyed()) {
      backend->restore(keyed);
    } else if (any_keyed_entries) {
      throw RestoreError(errc::non_restored_state,
                         "the snapshots hold keyed state but the function under test is not keyed");
    }
    fresh->store.restore(operator_states);
    const auto id = ordered.front()->checkpoint_id;
    initialize(*fresh, id);
    instance_ = std::move(fresh);  // only now: a restore that throws leaves the harness as it was
    restored_from_ = id;
    derived().on_new_instance();
    return derived();
  }
  Derived& restore(const OperatorSubtaskState& only_subtask) { return restore(std::span(&only_subtask, 1)); }
  Derived& restore(std::initializer_list<OperatorSubtaskState> old_subtasks) {
    return restore(std::span(old_subtasks.begin(), old_subtasks.size()));
  }

  /// `new_parallelism` harnesses of the same function, subtask i restored from
  /// the snapshots of every old subtask: keyed state by key group, operator
  /// state by even split, union or broadcast. Their clocks start at this one's time.
  std::vector<Derived> rescale(std::span<const OperatorSubtaskState> old_subtasks, std::uint32_t new_parallelism) const {
    (void)old_subtasks_in_order(old_subtasks);  // fail before building anything
    std::vector<Derived> out;
    out.reserve(new_parallelism);
    for (std::uint32_t i = 0; i < new_parallelism; ++i) {
      auto o = options_;
      o.subtask_index = i;
      o.parallelism = new_parallelism;
      o.processing_time = processing_time();
      out.push_back(derived().with_options(o));
      out.back().restore(old_subtasks);
    }
    return out;
  }
  std::vector<Derived> rescale(const OperatorSubtaskState& only_subtask, std::uint32_t new_parallelism) const {
    return rescale(std::span(&only_subtask, 1), new_parallelism);
  }
  std::vector<Derived> rescale(std::initializer_list<OperatorSubtaskState> old_subtasks,
                               std::uint32_t new_parallelism) const {
    return rescale(std::span(old_subtasks.begin(), old_subtasks.size()), new_parallelism);
  }

  // -- processing time -----------------------------------------------------------------

  /// The harness's clock (state TTL and processing-time timers read it). Prefer
  /// set_processing_time()/advance_processing_time(), which also fire timers;
  /// after moving the clock directly, timers fire at the next call.
  ManualClock& clock() noexcept { return *clock_; }
  /// Processing time now: epoch milliseconds.
  std::int64_t processing_time() const { return clock_->epoch_millis(); }
  /// Moves processing time forward to `epoch_millis` and fires the
  /// processing-time timers due by then, in timestamp order.
  void set_processing_time(std::int64_t epoch_millis) {
    const auto now = processing_time();
    if (epoch_millis < now)
      throw ConfigError(errc::invalid_argument, "processing time only moves forward: it is " + std::to_string(now) +
                                                    ", not " + std::to_string(epoch_millis));
    clock_->advance(std::chrono::milliseconds(epoch_millis - now));
    fire_due_timers();
  }
  void advance_processing_time(std::chrono::milliseconds by) {
    set_processing_time(processing_time() + static_cast<std::int64_t>(by.count()));
  }

  // -- the subtask ---------------------------------------------------------------------

  const TestHarnessOptions& options() const noexcept { return options_; }
  std::uint32_t subtask_index() const noexcept { return options_.subtask_index; }
  std::uint32_t parallelism() const noexcept { return options_.parallelism; }
  std::uint32_t max_parallelism() const noexcept { return options_.max_parallelism; }
  /// The operator state of the current instance.
  OperatorStateStore& operator_state_store() { return instance().store; }

 protected:
  explicit TestHarnessBase(TestHarnessOptions options) : options_(options) {
    options_.validate();
    clock_ = std::make_unique<ManualClock>(options_.processing_time);
  }
  ~TestHarnessBase() = default;

  /// The current instance, initialized fresh if there is none.
  HarnessInstance& instance() {
    if (!instance_) {
      auto fresh = derived().make_instance();
      initialize(*fresh, std::nullopt);
      instance_ = std::move(fresh);
      derived().on_new_instance();
    }
    return *instance_;
  }
  const HarnessInstance* current_instance() const noexcept { return instance_.get(); }
  /// The instance, for input: not closed, with the timers due by now fired
  /// first (the runtime checks its deadlines before taking input).
  HarnessInstance& running() {
    auto& i = instance();
    if (i.closed)
      throw StateError(errc::invalid_argument, "the function under test was closed; restore() builds a new instance");
    i.advance_processing_time(processing_time());
    return i;
  }
  void on_new_instance() {}

 private:
  Derived& derived() noexcept { return static_cast<Derived&>(*this); }
  const Derived& derived() const noexcept { return static_cast<const Derived&>(*this); }

  void initialize(HarnessInstance& i, std::optional<std::uint64_t> restored_from) {
    SimpleInitializationContext ctx(i.store, i.keyed(), restored_from);
    i.function().initialize_state(ctx);
    i.open();
  }
  void fire_due_timers() {
    if (instance_ && !instance_->closed) instance_->advance_processing_time(processing_time());
  }

  TestHarnessOptions options_;
  std::unique_ptr<ManualClock> clock_;
  std::unique_ptr<HarnessInstance> instance_;
  std::optional<std::uint64_t> restored_from_;
};

}  // namespace ckpt::detail
