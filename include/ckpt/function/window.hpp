#pragma once
// The fluent window API (Flink's WindowedStream): a window operator's
// factory, for Stream::key_by(...).process(uid, parallelism, factory) and for
// KeyedProcessFunctionTestHarness.
//
//   auto counts = ckpt::window<std::string, Click>(ckpt::TumblingEventTimeWindows::of(5s))
//                     .allowed_lateness(2s)
//                     .aggregate(count_clicks);                   // an AggregateFunction<Click, Acc, Out>
//   clicks.key_by(&Click::user).process("counts", 4, counts);
//
//   .trigger(ckpt::CountTrigger::of(100))                         // instead of the assigner's default
//   .side_output_late_data(late)                                  // a ckpt::OutputTag<In>: too late -> there
//   .reduce([](const T& a, const T& b) { return ...; })            // -> T
//   .reduce<R>(reduce_fn, [](const K&, const TimeWindow&, T v, Collector<R>&) {...})
//   .aggregate<R>(aggregate_fn, [](const K&, const TimeWindow&, Out v, Collector<R>&) {...})
//   .process<R>([](const K&, const TimeWindow&, const std::vector<In>&, Collector<R>&) {...})
//   .process(std::make_shared<MyProcessWindowFunction>())          // a ProcessWindowFunction<K, In, R>
//
// Results carry their window's max_timestamp() as event time.

#include <ckpt/function/output_tag.hpp>
#include <ckpt/function/time_window.hpp>
#include <ckpt/function/window_assigner.hpp>
#include <ckpt/function/window_function.hpp>
#include <ckpt/function/window_operator.hpp>
#include <ckpt/function/window_trigger.hpp>
#include <ckpt/state/state_descriptor.hpp>

#include <cereal/types/optional.hpp>
#include <cereal/types/vector.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace ckpt {

template <class K, class In>
class WindowedStream {
 public:
  explicit WindowedStream(WindowAssigner assigner)
      : assigner_(assigner),
        trigger_(assigner.is_event_time() ? EventTimeTrigger::create() : ProcessingTimeTrigger::create()) {}

  /// Replaces the assigner's default trigger.
  WindowedStream& trigger(WindowTrigger trigger) {
    trigger_ = trigger;
    return *this;
  }
  /// How long after a window's end (in event time) late elements still update
  /// it; later ones are dropped. Event-time windows only.
  WindowedStream& allowed_lateness(std::chrono::milliseconds lateness) {
    if (lateness.count() < 0) throw ConfigError(errc::invalid_argument, "allowed_lateness must be >= 0");
    if (lateness.count() > 0 && !assigner_.is_event_time())
      throw ConfigError(errc::invalid_argument, "allowed_lateness applies to event-time windows only");
    lateness_ = lateness.count();
    return *this;
  }

  /// Elements later than all their windows' end + allowed lateness go to the
  /// side output `tag` instead of being dropped (Flink's sideOutputLateData).
  WindowedStream& side_output_late_data(OutputTag<In> tag) {
    if (!assigner_.is_event_time())
      throw ConfigError(errc::invalid_argument, "side_output_late_data applies to event-time windows only");
    late_data_ = std::move(tag);
    return *this;
  }

  /// A reduced value per window, emitted as is.
  template <class F>
  auto reduce(F fn) const {
    return reduce<In>(std::move(fn), [](const K&, const TimeWindow&, const In& v, Collector<In>& out) { out.collect(v); });
  }
  /// A reduced value per window, turned into R by `window_fn(key, window, value, out)`.
  template <class R, class F, class W>
  auto reduce(F fn, W window_fn) const {
    WindowFunctionSpec<K, In, std::optional<In>, R> spec;
    spec.create = [] { return std::optional<In>(); };
    spec.add = [fn](std::optional<In>& acc, const In& v) { acc = acc ? In(fn(*acc, v)) : v; };
    spec.merge = [fn](std::optional<In>& acc, std::optional<In>&& other) {
      if (!other) return;
      acc = acc ? In(fn(*acc, *other)) : std::move(other);
    };
    spec.emit = [window_fn](const K& key, const TimeWindow& w, const std::optional<In>& acc, Collector<R>& out) {
      if (acc) window_fn(key, w, *acc, out);
    };
    return make(std::move(spec));
  }

  /// An accumulator per window; emits get_result().
  template <class Acc, class Out>
  auto aggregate(std::shared_ptr<const AggregateFunction<In, Acc, Out>> fn) const {
    return aggregate<Out>(std::move(fn),
                          [](const K&, const TimeWindow&, Out v, Collector<Out>& out) { out.collect(std::move(v)); });
  }
  /// An accumulator per window; get_result() turned into R by `window_fn(key, window, result, out)`.
  template <class R, class Acc, class Out, class W>
  auto aggregate(std::shared_ptr<const AggregateFunction<In, Acc, Out>> fn, W window_fn) const {
    if (!fn) throw ConfigError(errc::invalid_argument, "window aggregate: no AggregateFunction");
    WindowFunctionSpec<K, In, Acc, R> spec;
    spec.create = [fn] { return fn->create_accumulator(); };
    spec.add = [fn](Acc& acc, const In& v) { acc = fn->add(v, std::move(acc)); };
    spec.merge = [fn](Acc& acc, Acc&& other) { acc = fn->merge(std::move(acc), std::move(other)); };
    spec.emit = [fn, window_fn](const K& key, const TimeWindow& w, const Acc& acc, Collector<R>& out) {
      window_fn(key, w, fn->get_result(acc), out);
    };
    return make(std::move(spec));
  }

  /// The window keeps its elements; `fn(key, window, elements, out)` sees them all.
  template <class R, class F>
  auto process(F fn) const {
    WindowFunctionSpec<K, In, std::vector<In>, R> spec;
    spec.create = [] { return std::vector<In>(); };
    spec.add = [](std::vector<In>& acc, const In& v) { acc.push_back(v); };
    spec.merge = [](std::vector<In>& acc, std::vector<In>&& other) {
      acc.insert(acc.end(), std::make_move_iterator(other.begin()), std::make_move_iterator(other.end()));
    };
    spec.emit = [fn](const K& key, const TimeWindow& w, const std::vector<In>& elements, Collector<R>& out) mutable {
      fn(key, w, elements, out);
    };
    return make(std::move(spec));
  }
  /// The same with a ProcessWindowFunction (shared by the subtasks this factory makes: keep it stateless).
  template <class P>
    requires std::is_base_of_v<ProcessWindowFunction<K, In, typename P::output_type>, P>
  auto process(std::shared_ptr<P> fn) const {
    using R = typename P::output_type;
    if (!fn) throw ConfigError(errc::invalid_argument, "window process: no ProcessWindowFunction");
    return process<R>([fn](const K& key, const TimeWindow& w, const std::vector<In>& elements, Collector<R>& out) {
      fn->process(key, w, elements, out);
    });
  }

 private:
  template <class Acc, class R>
  auto make(WindowFunctionSpec<K, In, Acc, R> spec) const {
    return [assigner = assigner_, trigger = trigger_, lateness = lateness_, late_data = late_data_,
            spec = std::move(spec)](std::uint32_t = 0) {
      return std::make_unique<WindowOperator<K, In, Acc, R>>(assigner, trigger, lateness, spec, late_data);
    };
  }

  WindowAssigner assigner_;
  WindowTrigger trigger_;
  std::int64_t lateness_ = 0;
  std::optional<OutputTag<In>> late_data_;
};

/// Windows of `assigner` on a stream keyed by K.
template <class K, class In>
WindowedStream<K, In> window(WindowAssigner assigner) {
  return WindowedStream<K, In>(assigner);
}

}  // namespace ckpt
