#pragma once
// Two-input functions (Flink's CoProcessFunction and KeyedCoProcessFunction):
// `first.connect(second).process(...)` hands records of the first input to
// process_element1() and of the second to process_element2(), on one thread,
// so both see the same operator (and, keyed, per-key) state. Keyed, both
// inputs are partitioned by the same key type and a record's key is current
// while it is processed; timers are as in KeyedProcessFunction.
//
// The runtime runs them as one-input functions of TwoInputElement<A, B> (a
// record of either input), so the tasks, barrier alignment over every
// channel of both inputs, watermarks as the minimum of all channels and the
// test harnesses are the one-input ones.

#include <ckpt/error.hpp>
#include <ckpt/function/detail/adapted_function.hpp>
#include <ckpt/function/keyed_process_function.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/state/state_types.hpp>

#include <cstdint>
#include <memory>
#include <utility>
#include <variant>

namespace ckpt {

/// A record of the first (index 0) or the second (index 1) input; by index,
/// so both inputs may have one type.
template <class A, class B>
using TwoInputElement = std::variant<A, B>;

template <class A, class B, class Out>
class CoProcessFunction : public StreamFunction {
 public:
  using first_input_type = A;
  using second_input_type = B;
  using output_type = Out;
  using element_type = TwoInputElement<A, B>;
  /// timestamp() of the record being processed, output(tag, value) to a side output.
  using Context = typename ProcessFunction<element_type, Out>::Context;

  virtual void process_element1(const A& value, Context& ctx, Collector<Out>& out) = 0;
  virtual void process_element2(const B& value, Context& ctx, Collector<Out>& out) = 0;
};

template <StateKey K, class A, class B, class Out>
class KeyedCoProcessFunction : public StreamFunction {
 public:
  using key_type = K;
  using first_input_type = A;
  using second_input_type = B;
  using output_type = Out;
  using element_type = TwoInputElement<A, B>;
  /// current_key(), timestamp(), timer_service(), output(tag, value).
  using Context = typename KeyedProcessFunction<K, element_type, Out>::Context;
  using OnTimerContext = typename KeyedProcessFunction<K, element_type, Out>::OnTimerContext;

  virtual void process_element1(const A& value, Context& ctx, Collector<Out>& out) = 0;
  virtual void process_element2(const B& value, Context& ctx, Collector<Out>& out) = 0;
  virtual void on_timer(std::int64_t timestamp, OnTimerContext& ctx, Collector<Out>& out) {
    (void)timestamp;
    (void)ctx;
    (void)out;
  }
};

namespace detail {

/// A CoProcessFunction as the ProcessFunction of its TwoInputElement.
template <class A, class B, class Out>
class CoProcessAdapter final
    : public AdaptedFunction<ProcessFunction<TwoInputElement<A, B>, Out>, CoProcessFunction<A, B, Out>> {
 public:
  using AdaptedFunction<ProcessFunction<TwoInputElement<A, B>, Out>,
                        CoProcessFunction<A, B, Out>>::AdaptedFunction;
  void process_element(const TwoInputElement<A, B>& value, Collector<Out>& out) override {
    if (value.index() == 0)
      this->inner_->process_element1(std::get<0>(value), this->context(), out);
    else
      this->inner_->process_element2(std::get<1>(value), this->context(), out);
  }
};

/// A KeyedCoProcessFunction as the KeyedProcessFunction of its TwoInputElement.
template <class K, class A, class B, class Out>
class KeyedCoProcessAdapter final
    : public AdaptedFunction<KeyedProcessFunction<K, TwoInputElement<A, B>, Out>,
                             KeyedCoProcessFunction<K, A, B, Out>> {
  using Keyed = KeyedProcessFunction<K, TwoInputElement<A, B>, Out>;

 public:
  using AdaptedFunction<Keyed, KeyedCoProcessFunction<K, A, B, Out>>::AdaptedFunction;
  void process_element(const TwoInputElement<A, B>& value, typename Keyed::Context& ctx,
                       Collector<Out>& out) override {
    if (value.index() == 0)
      this->inner_->process_element1(std::get<0>(value), ctx, out);
    else
      this->inner_->process_element2(std::get<1>(value), ctx, out);
  }
  void on_timer(std::int64_t timestamp, typename Keyed::OnTimerContext& ctx, Collector<Out>& out) override {
    this->inner_->on_timer(timestamp, ctx, out);
  }
};

/// The key of a record of either input.
template <class K, class A, class B, class KeyOf1, class KeyOf2>
auto two_input_key_selector(KeyOf1 first, KeyOf2 second) {
  return [first = std::move(first), second = std::move(second)](const TwoInputElement<A, B>& e) -> K {
    return e.index() == 0 ? K(first(std::get<0>(e))) : K(second(std::get<1>(e)));
  };
}

/// The key of a broadcast input's record: there is none (the operator never asks).
template <class K, class B>
K no_key(const B&) {
  throw StateError(errc::invalid_argument, "a broadcast input's records have no key");
}

}  // namespace detail
}  // namespace ckpt
