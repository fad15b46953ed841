#pragma once
// Harnesses for two-input functions, in memory and on one thread:
// CoProcessFunctionTestHarness, KeyedCoProcessFunctionTestHarness,
// KeyedBroadcastProcessFunctionTestHarness and BroadcastProcessFunctionTestHarness.
//
//   ckpt::KeyedCoProcessFunctionTestHarness harness(
//       [] { return std::make_unique<Join>(); },
//       [](const Order& o) { return o.id; }, [](const Payment& p) { return p.order; });
//   harness.process_element1(order, /*timestamp*/ 10);
//   harness.process_element2(payment, 12);
//   harness.process_watermark1(100);   // the operator's watermark: the minimum of both inputs'
//   harness.process_watermark2(90);    // fires event-time timers <= 90
//   auto checkpoint = harness.snapshot(1);
//   auto three = harness.rescale(checkpoint, 3);
//
//   ckpt::KeyedBroadcastProcessFunctionTestHarness rules(
//       [] { return std::make_unique<Alerts>(); }, [](const Event& e) { return e.user; },
//       ckpt::BroadcastStateDescriptors(rules_descriptor));
//   rules.process_broadcast_element(Rule{"max", 5});   // input 2: read-write broadcast state
//   rules.process_element(Event{"u1", 7});              // input 1: keyed, broadcast state read-only
//
// Each runs its function through the one-input harness the runtime's task
// matches (ProcessFunctionTestHarness or KeyedProcessFunctionTestHarness of
// the function adapted to TwoInputElement<A, B>), so snapshot, restore,
// rescale, processing time, outputs and side outputs are theirs;
// operator_harness() reaches it for the rest (e.g. routing a TwoInputElement).
// Watermarks are per input: the operator's is the minimum of both (an idle
// input left out), passed on when it advances, as in the runtime. A restore
// or rescale starts both inputs' watermarks unset.

#include <ckpt/function/broadcast_process_function.hpp>
#include <ckpt/function/co_process_function.hpp>
#include <ckpt/function/output_tag.hpp>
#include <ckpt/runtime/stream_element.hpp>
#include <ckpt/testing/detail/harness_factory.hpp>
#include <ckpt/testing/keyed_process_function_test_harness.hpp>
#include <ckpt/testing/operator_subtask_state.hpp>
#include <ckpt/testing/process_function_test_harness.hpp>
#include <ckpt/testing/test_harness_options.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace ckpt {
namespace detail {

// The one-input function each two-input function runs as.
template <class A, class B, class Out>
CoProcessAdapter<A, B, Out> adapter_for(const CoProcessFunction<A, B, Out>*);
template <class K, class A, class B, class Out>
KeyedCoProcessAdapter<K, A, B, Out> adapter_for(const KeyedCoProcessFunction<K, A, B, Out>*);
template <class K, class A, class B, class Out>
KeyedBroadcastAdapter<K, A, B, Out> adapter_for(const KeyedBroadcastProcessFunction<K, A, B, Out>*);
template <class A, class B, class Out>
BroadcastAdapter<A, B, Out> adapter_for(const BroadcastProcessFunction<A, B, Out>*);
template <class Fn>
using adapter_t = decltype(adapter_for(static_cast<const Fn*>(nullptr)));

/// What the two-input harnesses share. `Inner` (the one-input harness of the
/// adapted function: keyed or not as `Fn` is) does the work; this adds the
/// two inputs and their watermarks.
template <class Derived, class Fn>
class TwoInputHarnessBase {
 public:
  using Adapter = adapter_t<Fn>;
  using Inner = std::conditional_t < requires { typename Fn::key_type; }
  , KeyedProcessFunctionTestHarness<Adapter>, ProcessFunctionTestHarness < Adapter >> ;
  using function_type = Fn;
  using output_type = typename Inner::output_type;
  using element_type = typename Adapter::input_type;
  using A = std::variant_alternative_t<0, element_type>;
  using B = std::variant_alternative_t<1, element_type>;

  // -- input -------------------------------------------------------------------------

  /// A record of the first input with its event time (no_timestamp for none).
  void process_element1(const A& value, std::int64_t timestamp = no_timestamp) {
    inner_.process_element(element_type(std::in_place_index<0>, value), timestamp);
  }
  /// A record of the second input.
  void process_element2(const B& value, std::int64_t timestamp = no_timestamp) {
    inner_.process_element(element_type(std::in_place_index<1>, value), timestamp);
  }
  /// The first (second) input's watermark; ignored unless above that input's last.
  void process_watermark1(std::int64_t watermark) { input_watermark(0, watermark); }
  void process_watermark2(std::int64_t watermark) { input_watermark(1, watermark); }
  /// Both inputs' watermarks at once.
  void process_watermark(std::int64_t watermark) {
    for (auto& in : inputs_) in.watermark = std::max(in.watermark, watermark);
    advance_watermark();
  }
  /// Input `input` (1 or 2) goes idle (true) or is active again: while idle,
  /// its watermark does not hold the operator's back.
  void set_input_idle(int input, bool idle) {
    if (input != 1 && input != 2)
      throw ConfigError(errc::invalid_argument,
                        "a two-input harness has inputs 1 and 2, not " + std::to_string(input));
    inputs_[static_cast<std::size_t>(input - 1)].idle = idle;
    advance_watermark();
  }
  /// The operator's watermark: the minimum over the active inputs.
  std::int64_t current_watermark() const noexcept { return inner_.current_watermark(); }

  // -- output (HarnessOutput's) ----------------------------------------------------------

  const std::vector<Record<output_type>>& output() const noexcept { return inner_.output(); }
  std::vector<output_type> extract_output_values() const { return inner_.extract_output_values(); }
  std::vector<Record<output_type>> take_output() { return inner_.take_output(); }
  std::vector<output_type> take_output_values() { return inner_.take_output_values(); }
  const std::vector<std::int64_t>& emitted_watermarks() const noexcept { return inner_.emitted_watermarks(); }
  template <class S>
  std::vector<Record<S>> side_output(const OutputTag<S>& tag) const {
    return inner_.side_output(tag);
  }
  template <class S>
  std::vector<S> side_output_values(const OutputTag<S>& tag) const {
    return inner_.side_output_values(tag);
  }
  void clear_output() noexcept { inner_.clear_output(); }

  // -- the instance, checkpoints, restore, rescale (TestHarnessBase's) ----------------------

  Fn& function() { return static_cast<Fn&>(inner_.function().inner()); }
  void open() { inner_.open(); }
  bool is_open() const noexcept { return inner_.is_open(); }
  void close() { inner_.close(); }
  bool is_closed() const noexcept { return inner_.is_closed(); }
  bool is_restored() const noexcept { return inner_.is_restored(); }
  std::optional<std::uint64_t> restored_checkpoint_id() const noexcept {
    return inner_.restored_checkpoint_id();
  }

  OperatorSubtaskState snapshot(std::uint64_t checkpoint_id) { return inner_.snapshot(checkpoint_id); }
  OperatorSubtaskState snapshot(std::uint64_t checkpoint_id, std::int64_t timestamp) {
    return inner_.snapshot(checkpoint_id, timestamp);
  }
  void notify_complete(std::uint64_t checkpoint_id) { inner_.notify_complete(checkpoint_id); }
  void notify_aborted(std::uint64_t checkpoint_id) { inner_.notify_aborted(checkpoint_id); }

  Derived& restore(std::span<const OperatorSubtaskState> old_subtasks) {
    inner_.restore(old_subtasks);
    inputs_ = {};
    return static_cast<Derived&>(*this);
  }
  Derived& restore(const OperatorSubtaskState& only_subtask) { return restore(std::span(&only_subtask, 1)); }
  Derived& restore(std::initializer_list<OperatorSubtaskState> old_subtasks) {
    return restore(std::span(old_subtasks.begin(), old_subtasks.size()));
  }
  std::vector<Derived> rescale(std::span<const OperatorSubtaskState> old_subtasks,
                               std::uint32_t new_parallelism) const {
    std::vector<Derived> out;
    for (auto& inner : inner_.rescale(old_subtasks, new_parallelism))
      out.push_back(Derived(std::move(inner)));
    return out;
  }
  std::vector<Derived> rescale(const OperatorSubtaskState& only_subtask,
                               std::uint32_t new_parallelism) const {
    return rescale(std::span(&only_subtask, 1), new_parallelism);
  }
  std::vector<Derived> rescale(std::initializer_list<OperatorSubtaskState> old_subtasks,
                               std::uint32_t new_parallelism) const {
    return rescale(std::span(old_subtasks.begin(), old_subtasks.size()), new_parallelism);
  }

  // -- processing time and the subtask -------------------------------------------------------

  ManualClock& clock() noexcept { return inner_.clock(); }
  std::int64_t processing_time() const { return inner_.processing_time(); }
  void set_processing_time(std::int64_t epoch_millis) { inner_.set_processing_time(epoch_millis); }
  void advance_processing_time(std::chrono::milliseconds by) { inner_.advance_processing_time(by); }
  const TestHarnessOptions& options() const noexcept { return inner_.options(); }
  std::uint32_t subtask_index() const noexcept { return inner_.subtask_index(); }
  std::uint32_t parallelism() const noexcept { return inner_.parallelism(); }
  std::uint32_t max_parallelism() const noexcept { return inner_.max_parallelism(); }
  OperatorStateStore& operator_state_store() { return inner_.operator_state_store(); }

  // -- keyed harnesses: keyed state, timers, routing (KeyedProcessFunctionTestHarness's) ------

  decltype(auto) keyed_state_backend() { return inner_.keyed_state_backend(); }
  template <class Key, class F>
  decltype(auto) with_key(const Key& key, F&& fn) {
    return inner_.with_key(key, std::forward<F>(fn));
  }
  auto event_time_timers() { return inner_.event_time_timers(); }
  auto processing_time_timers() { return inner_.processing_time_timers(); }
  std::size_t num_event_time_timers() { return inner_.num_event_time_timers(); }
  std::size_t num_processing_time_timers() { return inner_.num_processing_time_timers(); }
  /// Which subtask, at this harness's parallelism, owns a first-input record's key.
  std::uint32_t subtask_for1(const A& value) const {
    return inner_.subtask_for(element_type(std::in_place_index<0>, value));
  }
  bool owns1(const A& value) const { return subtask_for1(value) == subtask_index(); }

  /// The one-input harness underneath.
  Inner& operator_harness() noexcept { return inner_; }

 protected:
  explicit TwoInputHarnessBase(Inner inner) : inner_(std::move(inner)) {}

  Inner inner_;

 private:
  struct Input {
    std::int64_t watermark = no_timestamp;
    bool idle = false;
  };
  void input_watermark(std::size_t input, std::int64_t watermark) {
    if (watermark <= inputs_[input].watermark) return;
    inputs_[input].watermark = watermark;
    advance_watermark();
  }
  void advance_watermark() {
    std::int64_t min = std::numeric_limits<std::int64_t>::max();
    bool any_active = false;
    for (const auto& in : inputs_) {
      if (in.idle) continue;
      min = std::min(min, in.watermark);
      any_active = true;
    }
    if (any_active && min != no_timestamp) inner_.process_watermark(min);  // ignored unless it advances
  }

  std::array<Input, 2> inputs_{};
};

template <class Adapter, class Fn>
auto adapted_factory(std::function<std::unique_ptr<Fn>(std::uint32_t)> make) {
  return [make = std::move(make)](std::uint32_t subtask) { return std::make_unique<Adapter>(make(subtask)); };
}
template <class Adapter, class Fn>
auto adapted_factory(std::function<std::unique_ptr<Fn>(std::uint32_t)> make,
                     BroadcastStateDescriptors descriptors) {
  return [make = std::move(make), descriptors = std::move(descriptors)](std::uint32_t subtask) {
    return std::make_unique<Adapter>(make(subtask), descriptors);
  };
}

}  // namespace detail

/// Unit-tests a CoProcessFunction<A, B, Out> and its operator state.
template <class Fn>
class CoProcessFunctionTestHarness final
    : public detail::TwoInputHarnessBase<CoProcessFunctionTestHarness<Fn>, Fn> {
  using Base = detail::TwoInputHarnessBase<CoProcessFunctionTestHarness<Fn>, Fn>;
  using typename Base::A;
  using typename Base::Adapter;
  using typename Base::B;
  using typename Base::Inner;

 public:
  /// `make(subtask)` (or `make()`) returns a std::unique_ptr to a new function.
  template <class F>
  explicit CoProcessFunctionTestHarness(F make, TestHarnessOptions options = {})
      : Base(Inner(detail::adapted_factory<Adapter>(detail::harness_factory<Fn>(std::move(make))), options)) {
  }

 private:
  friend Base;
  explicit CoProcessFunctionTestHarness(Inner inner) : Base(std::move(inner)) {}
};

/// Unit-tests a KeyedCoProcessFunction<K, A, B, Out> with its keyed state and
/// timers; `key1`/`key2` give each input's key, as for key_by().
template <class Fn>
class KeyedCoProcessFunctionTestHarness final
    : public detail::TwoInputHarnessBase<KeyedCoProcessFunctionTestHarness<Fn>, Fn> {
  using Base = detail::TwoInputHarnessBase<KeyedCoProcessFunctionTestHarness<Fn>, Fn>;
  using typename Base::A;
  using typename Base::Adapter;
  using typename Base::B;
  using typename Base::Inner;

 public:
  template <class F, class S1, class S2>
  KeyedCoProcessFunctionTestHarness(F make, S1 key1, S2 key2, TestHarnessOptions options = {})
      : Base(Inner(
            detail::adapted_factory<Adapter>(detail::harness_factory<Fn>(std::move(make))),
            detail::two_input_key_selector<typename Fn::key_type, A, B>(std::move(key1), std::move(key2)),
            options)) {}

  /// Which subtask, at this harness's parallelism, owns a second-input record's key.
  std::uint32_t subtask_for2(const B& value) const {
    return this->inner_.subtask_for(TwoInputElement<A, B>(std::in_place_index<1>, value));
  }
  bool owns2(const B& value) const { return subtask_for2(value) == this->subtask_index(); }

 private:
  friend Base;
  explicit KeyedCoProcessFunctionTestHarness(Inner inner) : Base(std::move(inner)) {}
};

/// Unit-tests a KeyedBroadcastProcessFunction<K, A, B, Out>: input 1 is the
/// keyed one, input 2 (process_broadcast_element) the broadcast one.
template <class Fn>
class KeyedBroadcastProcessFunctionTestHarness final
    : public detail::TwoInputHarnessBase<KeyedBroadcastProcessFunctionTestHarness<Fn>, Fn> {
  using Base = detail::TwoInputHarnessBase<KeyedBroadcastProcessFunctionTestHarness<Fn>, Fn>;
  using typename Base::A;
  using typename Base::Adapter;
  using typename Base::B;
  using typename Base::Inner;

 public:
  /// `descriptors`: the broadcast states, as given to Stream::broadcast().
  template <class F, class S>
  KeyedBroadcastProcessFunctionTestHarness(F make, S key_selector, BroadcastStateDescriptors descriptors = {},
                                           TestHarnessOptions options = {})
      : Base(Inner(detail::adapted_factory<Adapter>(detail::harness_factory<Fn>(std::move(make)),
                                                    std::move(descriptors)),
                   detail::two_input_key_selector<typename Fn::key_type, A, B>(
                       std::move(key_selector), detail::no_key<typename Fn::key_type, B>),
                   options)) {}

  void process_element(const A& value, std::int64_t timestamp = no_timestamp) {
    this->process_element1(value, timestamp);
  }
  void process_broadcast_element(const B& value, std::int64_t timestamp = no_timestamp) {
    this->process_element2(value, timestamp);
  }

 private:
  friend Base;
  explicit KeyedBroadcastProcessFunctionTestHarness(Inner inner) : Base(std::move(inner)) {}
};

/// Unit-tests a (non-keyed) BroadcastProcessFunction<A, B, Out>.
template <class Fn>
class BroadcastProcessFunctionTestHarness final
    : public detail::TwoInputHarnessBase<BroadcastProcessFunctionTestHarness<Fn>, Fn> {
  using Base = detail::TwoInputHarnessBase<BroadcastProcessFunctionTestHarness<Fn>, Fn>;
  using typename Base::A;
  using typename Base::Adapter;
  using typename Base::B;
  using typename Base::Inner;

 public:
  template <class F>
  explicit BroadcastProcessFunctionTestHarness(F make, BroadcastStateDescriptors descriptors = {},
                                               TestHarnessOptions options = {})
      : Base(Inner(detail::adapted_factory<Adapter>(detail::harness_factory<Fn>(std::move(make)),
                                                    std::move(descriptors)),
                   options)) {}

  void process_element(const A& value, std::int64_t timestamp = no_timestamp) {
    this->process_element1(value, timestamp);
  }
  void process_broadcast_element(const B& value, std::int64_t timestamp = no_timestamp) {
    this->process_element2(value, timestamp);
  }

 private:
  friend Base;
  explicit BroadcastProcessFunctionTestHarness(Inner inner) : Base(std::move(inner)) {}
};

template <class F, class... Rest>
CoProcessFunctionTestHarness(F, Rest...) -> CoProcessFunctionTestHarness<detail::harness_function_t<F>>;
template <class F, class... Rest>
KeyedCoProcessFunctionTestHarness(F, Rest...)
    -> KeyedCoProcessFunctionTestHarness<detail::harness_function_t<F>>;
template <class F, class... Rest>
KeyedBroadcastProcessFunctionTestHarness(F, Rest...)
    -> KeyedBroadcastProcessFunctionTestHarness<detail::harness_function_t<F>>;
template <class F, class... Rest>
BroadcastProcessFunctionTestHarness(F, Rest...)
    -> BroadcastProcessFunctionTestHarness<detail::harness_function_t<F>>;

}  // namespace ckpt
