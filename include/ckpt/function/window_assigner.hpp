#pragma once
// Window assigners (Flink's WindowAssigner): which windows an element belongs
// to, in event time (its timestamp) or processing time (the clock when it
// arrives). Times are milliseconds.
//
//   ckpt::TumblingEventTimeWindows::of(5s)            // [0,5s) [5s,10s) ...
//   ckpt::TumblingEventTimeWindows::of(1h, 15min)     // offset: [0:15,1:15) ...
//   ckpt::SlidingEventTimeWindows::of(10s, 5s)        // each element in two windows
//   ckpt::EventTimeSessionWindows::with_gap(30s)      // merged while gaps are < 30s
//   ckpt::TumblingProcessingTimeWindows / SlidingProcessingTimeWindows / ProcessingTimeSessionWindows
//
// An assigner is a value: the window operator keeps a copy.

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/function/time_window.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace ckpt {

class WindowAssigner {
 public:
  enum class Kind : std::uint8_t { tumbling, sliding, session };

  /// The windows of an element with event time `timestamp` arriving at
  /// processing time `now`.
  std::vector<TimeWindow> assign(std::int64_t timestamp, std::int64_t now) const {
    std::vector<TimeWindow> out;
    for_each_window(timestamp, now, [&](const TimeWindow& w) { out.push_back(w); });
    return out;
  }
  /// The same, each window to `f` (no vector per element: the window operator's path).
  template <class F>
  void for_each_window(std::int64_t timestamp, std::int64_t now, F&& f) const {
    const auto t = event_time_ ? timestamp : now;
    if (event_time_ && t == no_timestamp)
      throw StateError(errc::invalid_argument,
                       "an event-time window needs records with timestamps (assign them with a WatermarkStrategy); "
                       "this record has none");
    switch (kind_) {
      case Kind::tumbling: {
        const auto start = window_start(t, offset_, size_);
        f(TimeWindow{start, start + size_});
        return;
      }
      case Kind::sliding:
        for (auto start = window_start(t, offset_, slide_); start > t - size_; start -= slide_)
          f(TimeWindow{start, start + size_});
        return;
      case Kind::session:
        f(TimeWindow{t, t + size_});
        return;
    }
  }

  Kind kind() const noexcept { return kind_; }
  bool is_event_time() const noexcept { return event_time_; }
  /// Session windows merge.
  bool is_merging() const noexcept { return kind_ == Kind::session; }
  std::int64_t size() const noexcept { return size_; }
  std::int64_t slide() const noexcept { return slide_; }
  std::int64_t offset() const noexcept { return offset_; }

  /// The start of the window of `size` (and `offset`) holding `t` (Flink's
  /// TimeWindow.getWindowStartWithOffset).
  static constexpr std::int64_t window_start(std::int64_t t, std::int64_t offset, std::int64_t size) noexcept {
    const auto r = (t - offset) % size;
    return r < 0 ? t - (r + size) : t - r;
  }

 protected:
  WindowAssigner(Kind kind, bool event_time, std::chrono::milliseconds size, std::chrono::milliseconds slide,
                 std::chrono::milliseconds offset, const char* what)
      : kind_(kind), event_time_(event_time), size_(size.count()), slide_(slide.count()), offset_(offset.count()) {
    if (size_ <= 0) throw ConfigError(errc::invalid_argument, std::string(what) + ": the size (or gap) must be > 0");
    if (kind_ == Kind::sliding && slide_ <= 0)
      throw ConfigError(errc::invalid_argument, std::string(what) + ": the slide must be > 0");
    const auto period = kind_ == Kind::sliding ? slide_ : size_;
    if (kind_ != Kind::session && (offset_ < 0 ? -offset_ : offset_) >= period)
      throw ConfigError(errc::invalid_argument, std::string(what) + ": |offset| must be < the " +
                                                    (kind_ == Kind::sliding ? "slide" : "size"));
  }

 private:
  Kind kind_;
  bool event_time_;
  std::int64_t size_;
  std::int64_t slide_;
  std::int64_t offset_;
};

namespace detail {
template <WindowAssigner::Kind K, bool EventTime>
struct NamedAssigner : WindowAssigner {
  NamedAssigner(std::chrono::milliseconds size, std::chrono::milliseconds slide, std::chrono::milliseconds offset,
                const char* what)
      : WindowAssigner(K, EventTime, size, slide, offset, what) {}
};
}  // namespace detail

struct TumblingEventTimeWindows {
  static WindowAssigner of(std::chrono::milliseconds size, std::chrono::milliseconds offset = {}) {
    return detail::NamedAssigner<WindowAssigner::Kind::tumbling, true>(size, size, offset, "TumblingEventTimeWindows");
  }
};
struct TumblingProcessingTimeWindows {
  static WindowAssigner of(std::chrono::milliseconds size, std::chrono::milliseconds offset = {}) {
    return detail::NamedAssigner<WindowAssigner::Kind::tumbling, false>(size, size, offset,
                                                                        "TumblingProcessingTimeWindows");
  }
};
struct SlidingEventTimeWindows {
  static WindowAssigner of(std::chrono::milliseconds size, std::chrono::milliseconds slide,
                           std::chrono::milliseconds offset = {}) {
    return detail::NamedAssigner<WindowAssigner::Kind::sliding, true>(size, slide, offset, "SlidingEventTimeWindows");
  }
};
struct SlidingProcessingTimeWindows {
  static WindowAssigner of(std::chrono::milliseconds size, std::chrono::milliseconds slide,
                           std::chrono::milliseconds offset = {}) {
    return detail::NamedAssigner<WindowAssigner::Kind::sliding, false>(size, slide, offset,
                                                                       "SlidingProcessingTimeWindows");
  }
};
struct EventTimeSessionWindows {
  static WindowAssigner with_gap(std::chrono::milliseconds gap) {
    return detail::NamedAssigner<WindowAssigner::Kind::session, true>(gap, gap, {}, "EventTimeSessionWindows");
  }
};
struct ProcessingTimeSessionWindows {
  static WindowAssigner with_gap(std::chrono::milliseconds gap) {
    return detail::NamedAssigner<WindowAssigner::Kind::session, false>(gap, gap, {}, "ProcessingTimeSessionWindows");
  }
};

}  // namespace ckpt
