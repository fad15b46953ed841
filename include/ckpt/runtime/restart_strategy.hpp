#pragma once
// Restart strategies (Flink's): after a failure, how long to wait before the
// job runs again, or whether to give up. Decisions depend only on the times
// they are given, so tests drive them with a ManualClock.
//
//   ckpt::restart::fixed_delay(3, 10s)              at most 3 restarts, 10 s apart
//   ckpt::restart::failure_rate(3, 5min, 10s)        give up after more than 3 failures in 5 minutes
//   ckpt::restart::exponential_delay(1s, 5min, 2.0, 1h, 0.1)
//       1 s, 2 s, 4 s ... up to 5 min, each +/-10% jitter; back to 1 s after
//       an attempt that ran an hour without failing
//   ckpt::restart::none()

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>

namespace ckpt {

class RestartStrategy {
 public:
  using duration = Clock::duration;
  using time_point = Clock::time_point;
  virtual ~RestartStrategy() = default;
  /// The job, running since `attempt_started`, failed at `failed_at`: the
  /// delay before the next attempt, or nothing to give up.
  virtual std::optional<duration> on_failure(time_point failed_at, time_point attempt_started) = 0;
  virtual std::string describe() const = 0;
};

namespace detail {

class NoRestart final : public RestartStrategy {
 public:
  std::optional<duration> on_failure(time_point, time_point) override { return std::nullopt; }
  std::string describe() const override { return "no restarts"; }
};

class FixedDelay final : public RestartStrategy {
 public:
  FixedDelay(std::uint32_t attempts, duration delay) : attempts_(attempts), delay_(delay) {}
  std::optional<duration> on_failure(time_point, time_point) override {
    if (restarts_ >= attempts_) return std::nullopt;
    ++restarts_;
    return delay_;
  }
  std::string describe() const override {
    return "fixed delay: at most " + std::to_string(attempts_) + " restarts " +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(delay_).count()) + " ms apart";
  }

 private:
  std::uint32_t attempts_;
  duration delay_;
  std::uint32_t restarts_ = 0;
};

class FailureRate final : public RestartStrategy {
 public:
  FailureRate(std::uint32_t max_failures, duration interval, duration delay)
      : max_(max_failures), interval_(interval), delay_(delay) {}
  std::optional<duration> on_failure(time_point failed_at, time_point) override {
    failures_.push_back(failed_at);
    while (!failures_.empty() && failures_.front() <= failed_at - interval_) failures_.pop_front();
    if (failures_.size() > max_) return std::nullopt;
    return delay_;
  }
  std::string describe() const override {
    return "failure rate: at most " + std::to_string(max_) + " failures per " +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(interval_).count()) + " ms";
  }

 private:
  std::uint32_t max_;
  duration interval_;
  duration delay_;
  std::deque<time_point> failures_;
};

class ExponentialDelay final : public RestartStrategy {
 public:
  ExponentialDelay(duration initial, duration max, double multiplier, duration reset_threshold, double jitter,
                   std::uint64_t seed)
      : initial_(initial), max_(max), multiplier_(multiplier), reset_(reset_threshold), jitter_(jitter), rng_(seed),
        backoff_(initial) {}
  std::optional<duration> on_failure(time_point failed_at, time_point attempt_started) override {
    // An attempt that ran long enough without failing starts the back-off over.
    if (failed_at - attempt_started >= reset_) backoff_ = initial_;
    const auto base = backoff_;
    backoff_ = std::min<duration>(max_, std::chrono::duration_cast<duration>(backoff_ * multiplier_));
    if (jitter_ <= 0) return base;
    std::uniform_real_distribution<double> spread(-jitter_, jitter_);
    const auto jittered = static_cast<double>(base.count()) * (1.0 + spread(rng_));
    return duration(static_cast<duration::rep>(std::max(0.0, std::round(jittered))));
  }
  std::string describe() const override { return "exponential delay"; }
  duration current_backoff() const noexcept { return backoff_; }

 private:
  duration initial_, max_;
  double multiplier_;
  duration reset_;
  double jitter_;
  std::mt19937_64 rng_;
  duration backoff_;
};

}  // namespace detail

namespace restart {

inline std::unique_ptr<RestartStrategy> none() { return std::make_unique<detail::NoRestart>(); }

inline std::unique_ptr<RestartStrategy> fixed_delay(std::uint32_t attempts, Clock::duration delay) {
  return std::make_unique<detail::FixedDelay>(attempts, delay);
}

inline std::unique_ptr<RestartStrategy> failure_rate(std::uint32_t max_failures_per_interval, Clock::duration interval,
                                                     Clock::duration delay) {
  if (interval.count() <= 0) throw ConfigError(errc::invalid_argument, "the failure-rate interval must be positive");
  return std::make_unique<detail::FailureRate>(max_failures_per_interval, interval, delay);
}

/// `jitter` is a fraction (0.1: +/-10%); `seed` makes the jitter repeatable.
inline std::unique_ptr<RestartStrategy> exponential_delay(Clock::duration initial, Clock::duration max,
                                                          double multiplier, Clock::duration reset_threshold,
                                                          double jitter = 0.1, std::uint64_t seed = std::random_device{}()) {
  if (initial.count() <= 0 || max < initial || multiplier < 1.0 || jitter < 0 || jitter >= 1)
    throw ConfigError(errc::invalid_argument,
                      "exponential delay needs 0 < initial <= max, multiplier >= 1 and 0 <= jitter < 1");
  return std::make_unique<detail::ExponentialDelay>(initial, max, multiplier, reset_threshold, jitter, seed);
}

}  // namespace restart
}  // namespace ckpt
