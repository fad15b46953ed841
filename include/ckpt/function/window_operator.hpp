#pragma once
// WindowOperator<K, In, Acc, Out>: windows on a keyed stream as a keyed
// process function (Flink's WindowOperator), so the runtime, the harness,
// checkpoints and rescaling treat it like any other keyed function. Build it
// with ckpt::window<K, In>(assigner)... (window.hpp).
//
// Per key, one map state "window_contents" maps each open window to what it
// keeps (Acc: a reduced value, an accumulator or the elements) and, for a
// count trigger, the elements since its last firing. Its timers are the
// key's ordinary timers: one at max_timestamp() for the event-time or
// processing-time trigger and one at the cleanup time (max_timestamp() +
// allowed lateness; processing-time windows: max_timestamp()), when the
// window's state is removed. Both are keyed state, so a window restored from
// a checkpoint, at any parallelism, fires and is cleaned up as it would have
// been. A timer serves every window of the key that has that time.
//
// An element is late for a window when the watermark has passed the window's
// cleanup time: it is not added to that window; an element late for all its
// windows goes to the late-data side output when there is one
// (side_output_late_data), else it is dropped and counted
// (num_late_records_dropped()). An element
// within the allowed lateness updates its window, which fires again at once.
// Session windows are merged on insert: the windows an element's window
// touches become one, their contents merged and their stale timers deleted.

#include <ckpt/clock.hpp>
#include <ckpt/function/keyed_process_function.hpp>
#include <ckpt/function/output_tag.hpp>
#include <ckpt/function/time_window.hpp>
#include <ckpt/function/window_assigner.hpp>
#include <ckpt/function/window_function.hpp>
#include <ckpt/function/window_trigger.hpp>
#include <ckpt/state/map_state.hpp>
#include <ckpt/state/state_descriptor.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace ckpt {

template <class K, class In, class Acc, class Out>
class WindowOperator final : public KeyedProcessFunction<K, In, Out> {
  using Base = KeyedProcessFunction<K, In, Out>;

 public:
  using Spec = WindowFunctionSpec<K, In, Acc, Out>;
  /// What the map state keeps per window.
  struct Slot {
    Acc contents;
    std::uint64_t count = 0;  // elements since the last count-trigger firing
    template <class A>
    void serialize(A& ar) {
      ar(contents, count);
    }
  };

  WindowOperator(WindowAssigner assigner, WindowTrigger trigger, std::int64_t allowed_lateness, Spec spec,
                 std::optional<OutputTag<In>> late_data = std::nullopt)
      : assigner_(assigner),
        trigger_(trigger),
        lateness_(allowed_lateness),
        spec_(std::move(spec)),
        late_data_(std::move(late_data)) {}

  void initialize_state(FunctionInitializationContext& ctx) override {
    windows_ = ctx.keyed_state_backend<K>().get_map_state(MapStateDescriptor<TimeWindow, Slot>{"window_contents"});
  }

  void process_element(const In& value, typename Base::Context& ctx, Collector<Out>& out) override {
    auto& timers = ctx.timer_service();
    bool added = false;
    // The clock only for processing-time windows: event time does not need it per element.
    const auto now = assigner_.is_event_time() ? no_timestamp : timers.current_processing_time();
    assigner_.for_each_window(ctx.timestamp(), now, [&](TimeWindow window) {
      if (assigner_.is_merging()) window = merge_into(window, timers);
      if (is_late(window, timers)) return;
      added = true;
      auto slot = windows_.get(window);
      if (!slot) slot = Slot{spec_.create(), 0};
      spec_.add(slot->contents, value);
      ++slot->count;
      bool fire = false;
      switch (trigger_.kind()) {
        case WindowTrigger::Kind::event_time:
          if (window.max_timestamp() <= timers.current_watermark())
            fire = true;  // late within the allowed lateness: an updated result
          else
            timers.register_event_time_timer(window.max_timestamp());
          break;
        case WindowTrigger::Kind::processing_time:
          timers.register_processing_time_timer(window.max_timestamp());
          break;
        case WindowTrigger::Kind::count:
          if (slot->count >= trigger_.count()) {
            fire = true;
            slot->count = 0;
          }
          break;
      }
      register_cleanup(window, timers);
      if (fire) emit(ctx, window, slot->contents, out);
      windows_.put(window, std::move(*slot));
    });
    if (added) return;
    if (late_data_)
      ctx.output(*late_data_, value);
    else
      ++late_dropped_;
  }

  void on_timer(std::int64_t t, typename Base::OnTimerContext& ctx, Collector<Out>& out) override {
    const Timer timer{ctx.time_domain(), t};
    const auto fire_or_clean = [&](const TimeWindow& window, const Slot& slot) {
      if (trigger_timer(window) == timer && trigger_.kind() != WindowTrigger::Kind::count)
        emit(ctx, window, slot.contents, out);
      if (cleanup_timer(window) == timer) windows_.remove(window);
    };
    if (!assigner_.is_merging() && t != std::numeric_limits<std::int64_t>::max()) {
      // Windows that do not merge end where their timers say: the one whose
      // max_timestamp() is t (its trigger, or its cleanup without lateness)
      // and the one whose cleanup time is t; looked up, not searched for.
      const auto ending_at = [&](std::int64_t max_timestamp) {
        const TimeWindow window{max_timestamp + 1 - assigner_.size(), max_timestamp + 1};
        if (const auto slot = windows_.get(window)) fire_or_clean(window, *slot);
      };
      if (assigner_.is_event_time() && lateness_ > 0 && t >= std::numeric_limits<std::int64_t>::min() + lateness_)
        ending_at(t - lateness_);
      ending_at(t);
      return;
    }
    auto entries = windows_.entries();
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [window, slot] : entries) fire_or_clean(window, slot);
  }

  /// Elements dropped because the watermark had passed all their windows'
  /// cleanup times and there is no late-data side output (Flink's
  /// numLateRecordsDropped); this subtask's, since it started (not checkpointed).
  std::uint64_t num_late_records_dropped() const noexcept { return late_dropped_; }
  const WindowAssigner& assigner() const noexcept { return assigner_; }

 private:
  using Timer = std::pair<TimeDomain, std::int64_t>;
  static constexpr Timer no_timer{TimeDomain::event_time, no_timestamp};

  TimeDomain assigner_domain() const noexcept {
    return assigner_.is_event_time() ? TimeDomain::event_time : TimeDomain::processing_time;
  }
  std::int64_t cleanup_time(const TimeWindow& w) const noexcept {
    if (!assigner_.is_event_time()) return w.max_timestamp();
    const auto max = std::numeric_limits<std::int64_t>::max();
    return w.max_timestamp() > max - lateness_ ? max : w.max_timestamp() + lateness_;
  }
  Timer cleanup_timer(const TimeWindow& w) const noexcept { return {assigner_domain(), cleanup_time(w)}; }
  Timer trigger_timer(const TimeWindow& w) const noexcept {
    switch (trigger_.kind()) {
      case WindowTrigger::Kind::event_time: return {TimeDomain::event_time, w.max_timestamp()};
      case WindowTrigger::Kind::processing_time: return {TimeDomain::processing_time, w.max_timestamp()};
      case WindowTrigger::Kind::count: break;
    }
    return no_timer;
  }
  bool is_late(const TimeWindow& w, const TimerService& timers) const {
    return assigner_.is_event_time() && cleanup_time(w) <= timers.current_watermark();
  }
  void register_cleanup(const TimeWindow& w, TimerService& timers) const {
    // Without lateness the trigger's timer is the cleanup's too (on_timer
    // does both): registering it again would be a second state lookup per element.
    if (cleanup_timer(w) == trigger_timer(w)) return;
    if (assigner_.is_event_time())
      timers.register_event_time_timer(cleanup_time(w));
    else
      timers.register_processing_time_timer(cleanup_time(w));
  }
  static void delete_timer(const Timer& timer, TimerService& timers) {
    if (timer == no_timer) return;
    if (timer.first == TimeDomain::event_time)
      timers.delete_event_time_timer(timer.second);
    else
      timers.delete_processing_time_timer(timer.second);
  }

  /// Merges `window` with the key's windows it touches; returns the window the
  /// element goes to (its contents already merged in the state).
  TimeWindow merge_into(TimeWindow window, TimerService& timers) {
    std::vector<std::pair<TimeWindow, Slot>> touched, others;
    for (auto& entry : windows_.entries())
      (entry.first.intersects(window) ? touched : others).push_back(std::move(entry));
    if (touched.empty()) return window;
    if (touched.size() == 1 && touched.front().first.start <= window.start && touched.front().first.end >= window.end)
      return touched.front().first;  // inside an existing session
    std::sort(touched.begin(), touched.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [w, slot] : touched) window = window.cover(w);
    Slot merged{spec_.create(), 0};
    for (auto& [w, slot] : touched) {
      spec_.merge(merged.contents, std::move(slot.contents));
      merged.count += slot.count;
      windows_.remove(w);
    }
    // Timers of the merged-away windows that no remaining window needs.
    const auto needed = [&](const Timer& timer) {
      if (timer == trigger_timer(window) || timer == cleanup_timer(window)) return true;
      return std::any_of(others.begin(), others.end(), [&](const auto& o) {
        return timer == trigger_timer(o.first) || timer == cleanup_timer(o.first);
      });
    };
    for (const auto& [w, slot] : touched)
      for (const auto& timer : {trigger_timer(w), cleanup_timer(w)})
        if (!needed(timer)) delete_timer(timer, timers);
    windows_.put(window, std::move(merged));
    return window;
  }

  /// Emits with the window's max_timestamp() as the results' event time;
  /// carries the side outputs for output_to().
  class StampingCollector final : public Collector<Out>, public detail::SideOutputCarrier {
   public:
    StampingCollector(Collector<Out>& out, std::int64_t timestamp, detail::SideOutputs* side_outputs)
        : out_(out), timestamp_(timestamp), side_outputs_(side_outputs) {}
    void collect(Out value) override { out_.collect_with_timestamp(std::move(value), timestamp_); }
    void collect_with_timestamp(Out value, std::int64_t timestamp) override {
      out_.collect_with_timestamp(std::move(value), timestamp);
    }
    detail::SideOutputs* side_outputs() const override { return side_outputs_; }
    std::int64_t side_output_timestamp() const override { return timestamp_; }

   private:
    Collector<Out>& out_;
    std::int64_t timestamp_;
    detail::SideOutputs* side_outputs_;
  };
  void emit(typename Base::Context& ctx, const TimeWindow& window, const Acc& contents, Collector<Out>& out) {
    StampingCollector stamped(out, window.max_timestamp(), ctx.side_outputs());
    spec_.emit(ctx.current_key(), window, contents, stamped);
  }

  WindowAssigner assigner_;
  WindowTrigger trigger_;
  std::int64_t lateness_;
  Spec spec_;
  MapState<TimeWindow, Slot> windows_;
  std::optional<OutputTag<In>> late_data_;
  std::uint64_t late_dropped_ = 0;
};

}  // namespace ckpt
