#pragma once
// WatermarkStrategy<T>: how a source turns its records' timestamps into
// watermarks (Flink's WatermarkStrategy). A source keeps one generator per
// split (a partition of a log) and combines them by minimum, so one split
// that lags holds event time back, and a split that stays silent longer than
// the idleness timeout stops holding it back (split_watermarks.hpp).
//
//   source->use_watermarks(ckpt::WatermarkStrategy<Event>::for_bounded_out_of_orderness(5s)
//                              .with_timestamp_assigner([](const Event& e, std::int64_t) { return e.time; })
//                              .with_idleness(30s));
//
// A watermark W says: event time has reached W, so event-time timers at or
// before W fire and a record at or before W is late. As in Flink, a strategy
// emits the largest timestamp seen minus the bound minus 1 (a record at the
// largest timestamp itself may still come).

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

namespace ckpt {

/// Makes the watermarks of one split: told every record's timestamp, asked
/// for the watermark after each poll. Implement it for a strategy of your own
/// (WatermarkStrategy::for_generator); one instance per split, one thread.
class WatermarkGenerator {
 public:
  virtual ~WatermarkGenerator() = default;
  virtual void on_event(std::int64_t timestamp) = 0;
  /// The watermark now; no_timestamp while nothing is known.
  virtual std::int64_t current_watermark() const = 0;
};

/// Records arrive at most `bound` after records with larger timestamps.
class BoundedOutOfOrdernessWatermarks final : public WatermarkGenerator {
 public:
  explicit BoundedOutOfOrdernessWatermarks(std::chrono::milliseconds bound) : bound_(bound.count()) {
    if (bound_ < 0) throw ConfigError(errc::invalid_argument, "a watermark's out-of-orderness bound cannot be negative");
  }
  void on_event(std::int64_t timestamp) override {
    if (timestamp != no_timestamp) max_ = std::max(max_, timestamp);
  }
  std::int64_t current_watermark() const override {
    // No timestamp yet, or so small that subtracting would pass no_timestamp.
    if (max_ == no_timestamp || max_ < no_timestamp + bound_ + 1) return no_timestamp;
    return max_ - bound_ - 1;
  }

 private:
  std::int64_t bound_;
  std::int64_t max_ = no_timestamp;
};

/// A generator that never advances: records have timestamps, event time does not move.
class NoWatermarks final : public WatermarkGenerator {
 public:
  void on_event(std::int64_t) override {}
  std::int64_t current_watermark() const override { return no_timestamp; }
};

template <class T>
class WatermarkStrategy {
 public:
  /// The record's event time from the record and the timestamp the source
  /// gave it (no_timestamp when it gave none).
  using TimestampAssigner = std::function<std::int64_t(const T& record, std::int64_t source_timestamp)>;
  using GeneratorFactory = std::function<std::unique_ptr<WatermarkGenerator>()>;

  /// Timestamps never decrease within a split.
  static WatermarkStrategy for_monotonous_timestamps() { return for_bounded_out_of_orderness(std::chrono::milliseconds{0}); }
  /// Within a split, a record is at most `bound` older than the newest before it.
  static WatermarkStrategy for_bounded_out_of_orderness(std::chrono::milliseconds bound) {
    if (bound.count() < 0) throw ConfigError(errc::invalid_argument, "a watermark's out-of-orderness bound cannot be negative");
    return for_generator([bound] { return std::make_unique<BoundedOutOfOrdernessWatermarks>(bound); });
  }
  /// Timestamps on records, no watermarks (event time never advances).
  static WatermarkStrategy no_watermarks() { return for_generator([] { return std::make_unique<NoWatermarks>(); }); }
  static WatermarkStrategy for_generator(GeneratorFactory factory) {
    if (!factory) throw ConfigError(errc::invalid_argument, "a watermark strategy needs a generator factory");
    WatermarkStrategy s;
    s.factory_ = std::move(factory);
    return s;
  }

  /// Where records' timestamps come from; without one, the source's own.
  WatermarkStrategy with_timestamp_assigner(TimestampAssigner assigner) const {
    auto s = *this;
    s.assigner_ = std::move(assigner);
    return s;
  }
  /// A split without records for `timeout` of `clock`'s time is idle: it no
  /// longer holds the source's watermark back until its next record. A source
  /// whose splits are all idle tells the operators downstream, which then
  /// leave its channel out of their minimum.
  WatermarkStrategy with_idleness(std::chrono::milliseconds timeout, const Clock& clock = SystemClock::instance()) const {
    if (timeout.count() <= 0) throw ConfigError(errc::invalid_argument, "an idleness timeout must be positive");
    auto s = *this;
    s.idle_timeout_ = timeout;
    s.clock_ = &clock;
    return s;
  }

  std::unique_ptr<WatermarkGenerator> create_generator() const { return factory_(); }
  std::int64_t timestamp_of(const T& record, std::int64_t source_timestamp) const {
    return assigner_ ? assigner_(record, source_timestamp) : source_timestamp;
  }
  const std::optional<std::chrono::milliseconds>& idle_timeout() const noexcept { return idle_timeout_; }
  const Clock& clock() const noexcept { return *clock_; }

 private:
  WatermarkStrategy() = default;

  GeneratorFactory factory_;
  TimestampAssigner assigner_;
  std::optional<std::chrono::milliseconds> idle_timeout_;
  const Clock* clock_ = &SystemClock::instance();
};

}  // namespace ckpt
