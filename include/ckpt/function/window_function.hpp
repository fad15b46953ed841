#pragma once
// Window functions: what a window computes when it fires.
//   reduce     (T, T) -> T: the window keeps one reduced value
//   aggregate  an AggregateFunction<In, Acc, Out>: the window keeps one accumulator
//   process    a ProcessWindowFunction<K, In, Out>: the window keeps its elements and the
//              function sees the key, the window and all of them
// reduce and aggregate may also take a window function that turns the result
// into the output with the key and the window at hand (Flink's
// reduce(fn, windowFn) / aggregate(fn, windowFn)).
//
// A window function sends to a side output with output_to(out, tag, value),
// `out` being the collector it was handed; the record carries the window's
// max_timestamp(), as its results do.
//
// WindowFunctionSpec is the form the window operator runs: how to start,
// grow, merge (session windows) and emit a window's contents.

#include <ckpt/error.hpp>
#include <ckpt/function/output_tag.hpp>
#include <ckpt/function/side_outputs.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/function/time_window.hpp>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace ckpt {

/// Sees all the elements of a window when it fires (Flink's ProcessWindowFunction).
template <class K, class In, class Out>
class ProcessWindowFunction {
 public:
  using key_type = K;
  using input_type = In;
  using output_type = Out;
  virtual ~ProcessWindowFunction() = default;
  virtual void process(const K& key, const TimeWindow& window, const std::vector<In>& elements,
                       Collector<Out>& out) = 0;
};

/// From inside a window function: sends `value` to the side output `tag`.
/// `out` is the collector the window operator handed the function (a
/// ConfigError for any other; a side output nothing consumes is dropped).
template <class Out, class T>
void output_to(Collector<Out>& out, const OutputTag<T>& tag, T value) {
  const auto* carrier = dynamic_cast<const detail::SideOutputCarrier*>(&out);
  if (!carrier)
    throw ConfigError(errc::invalid_argument, "output_to(out, '" + tag.id() +
                                                  "', ...): `out` is not the collector of a window function");
  if (auto* s = carrier->side_outputs()) s->emit(tag, std::move(value), carrier->side_output_timestamp());
}

/// A window's contents as the operator handles them: Acc is what the window
/// keeps in keyed state (a reduced value, an accumulator or the elements).
template <class K, class In, class Acc, class Out>
struct WindowFunctionSpec {
  std::function<Acc()> create;
  std::function<void(Acc&, const In&)> add;
  std::function<void(Acc&, Acc&&)> merge;
  std::function<void(const K&, const TimeWindow&, const Acc&, Collector<Out>&)> emit;
};

}  // namespace ckpt
