#pragma once
// KeyedProcessFunctionTestHarness<Fn>: unit-tests a KeyedProcessFunction with
// its keyed state and timers, in memory and on one thread, through the same
// per-record and per-timer code as the runtime's keyed task
// (detail::KeyedProcessOperator).
//
//   ckpt::KeyedProcessFunctionTestHarness harness(
//       [](std::uint32_t) { return std::make_unique<Dedup>(); },  // the function, per subtask
//       [](const Event& e) { return e.id; });                    // the key selector
//   harness.process_element(Event{"a"}, /*timestamp*/ 10);
//   harness.process_watermark(100);                 // fires event-time timers <= 100
//   harness.advance_processing_time(1s);            // fires processing-time timers, ages TTL state
//   auto checkpoint = harness.snapshot(1);          // keyed + operator state of this subtask
//   harness.restore(checkpoint);                    // a failure: a fresh instance from checkpoint 1
//   auto three = harness.rescale(checkpoint, 3);    // three subtasks, state split by key group
//
// At parallelism > 1 a harness plays one subtask and accepts only elements
// whose key is in its key groups (a StateError otherwise, as in a backend);
// subtask_for(value) says which harness of a rescaled set takes an element.

#include <ckpt/function/keyed_process_function.hpp>
#include <ckpt/runtime/keyed_process_operator.hpp>
#include <ckpt/runtime/stream_element.hpp>
#include <ckpt/state/timer_service.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/keyed_state_store.hpp>
#include <ckpt/testing/detail/harness_factory.hpp>
#include <ckpt/testing/detail/test_harness_base.hpp>
#include <ckpt/testing/harness_output.hpp>
#include <ckpt/testing/operator_subtask_state.hpp>
#include <ckpt/testing/test_harness_options.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace ckpt {

template <class Fn>
class KeyedProcessFunctionTestHarness final : public detail::TestHarnessBase<KeyedProcessFunctionTestHarness<Fn>>,
                                              public HarnessOutput<typename Fn::output_type> {
  using Base = detail::TestHarnessBase<KeyedProcessFunctionTestHarness<Fn>>;

 public:
  using function_type = Fn;
  using key_type = typename Fn::key_type;
  using input_type = typename Fn::input_type;
  using output_type = typename Fn::output_type;
  using Factory = std::function<std::unique_ptr<Fn>(std::uint32_t subtask)>;
  using KeySelector = std::function<key_type(const input_type&)>;
  static_assert(std::is_base_of_v<KeyedProcessFunction<key_type, input_type, output_type>, Fn>,
                "the function must be a KeyedProcessFunction<K, In, Out>");

  /// `make(subtask)` (or `make()`) returns a std::unique_ptr to a new function;
  /// `key_selector(value)` gives a record's key, as for Stream::key_by().
  template <class F, class S>
  KeyedProcessFunctionTestHarness(F make, S key_selector, TestHarnessOptions options = {})
      : Base(options), make_(detail::harness_factory<Fn>(std::move(make))), key_of_(std::move(key_selector)) {}

  // -- input -----------------------------------------------------------------------

  /// One record with its event time (no_timestamp for none); its key is current
  /// while the function processes it.
  void process_element(const input_type& value, std::int64_t timestamp = no_timestamp) {
    typed(this->running()).op.process_element(Record<input_type>{value, timestamp});
  }
  /// Event time reached `watermark`: fires the event-time timers at or before
  /// it, in timestamp order, and passes it on. A watermark not above the
  /// current one is ignored, as in the runtime.
  void process_watermark(std::int64_t watermark) {
    auto& i = typed(this->running());
    if (watermark <= i.watermark) return;
    i.watermark = watermark;
    i.op.process_watermark(watermark);
    this->emit_watermark(watermark);
  }
  std::int64_t current_watermark() const noexcept {
    const auto* i = this->current_instance();
    return i ? i->watermark : no_timestamp;
  }

  // -- the function, its state and timers --------------------------------------------

  Fn& function() { return *typed(this->instance()).typed_function; }
  /// The instance's keyed state: the heap backend, or the one
  /// TestHarnessOptions::keyed_backend makes.
  KeyedStateStore<key_type>& keyed_state_backend() { return typed(this->instance()).op.backend(); }
  /// Makes `key` current and calls `fn()`: read or write keyed state of that key
  /// through handles from keyed_state_backend(). The key stays current.
  template <class F>
  decltype(auto) with_key(const key_type& key, F&& fn) {
    keyed_state_backend().set_current_key(key);
    return std::forward<F>(fn)();
  }
  /// Registered timers as (timestamp, key), in firing order.
  std::vector<std::pair<std::int64_t, key_type>> event_time_timers() {
    return typed(this->instance()).op.timer_service().timers(TimeDomain::event_time);
  }
  std::vector<std::pair<std::int64_t, key_type>> processing_time_timers() {
    return typed(this->instance()).op.timer_service().timers(TimeDomain::processing_time);
  }
  std::size_t num_event_time_timers() { return event_time_timers().size(); }
  std::size_t num_processing_time_timers() { return processing_time_timers().size(); }

  // -- routing -----------------------------------------------------------------------

  /// The key group of `value`'s key.
  std::uint32_t key_group_of(const input_type& value) const {
    return key_group_for(key_of_(value), this->max_parallelism());
  }
  /// Which subtask, at this harness's parallelism, owns `value`'s key.
  std::uint32_t subtask_for(const input_type& value) const {
    return subtask_for_key_group(this->max_parallelism(), this->parallelism(), key_group_of(value));
  }
  /// Whether this subtask owns `value`'s key.
  bool owns(const input_type& value) const { return subtask_for(value) == this->subtask_index(); }

 private:
  friend Base;

  struct Instance final : detail::HarnessInstance {
    Instance(const TestHarnessOptions& o, const Clock& clock, std::unique_ptr<Fn> fn, KeySelector key_of,
             detail::TimestampedCollector<output_type>& out)
        : detail::HarnessInstance(o.subtask_index, o.parallelism),
          typed_function(fn.get()),
          op(o.subtask_index, o.parallelism, o.max_parallelism, clock, std::move(fn), std::move(key_of), out,
             o.keyed_backend) {}
    StreamFunction& function() override { return op.function(); }
    KeyedStateBackendBase* keyed() override { return &op.backend(); }
    void open() override { op.open(); }
    void advance_processing_time(std::int64_t now) override { op.advance_processing_time(now); }

    Fn* typed_function;  // op's function, as what it is
    detail::KeyedProcessOperator<key_type, input_type, output_type> op;
  };

  static Instance& typed(detail::HarnessInstance& i) noexcept { return static_cast<Instance&>(i); }

  std::unique_ptr<detail::HarnessInstance> make_instance() {
    auto i = std::make_unique<Instance>(this->options(), this->clock(), make_(this->subtask_index()), key_of_,
                                        this->collector());
    i->op.set_side_outputs(&this->side_outputs());
    return i;
  }
  KeyedProcessFunctionTestHarness with_options(const TestHarnessOptions& options) const {
    return KeyedProcessFunctionTestHarness(make_, key_of_, options);
  }
  void on_new_instance() { this->clear_output(); }

  Factory make_;
  KeySelector key_of_;
};

template <class F, class S>
KeyedProcessFunctionTestHarness(F, S) -> KeyedProcessFunctionTestHarness<detail::harness_function_t<F>>;
template <class F, class S>
KeyedProcessFunctionTestHarness(F, S, TestHarnessOptions)
    -> KeyedProcessFunctionTestHarness<detail::harness_function_t<F>>;

}  // namespace ckpt
