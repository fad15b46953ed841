#pragma once
// Time as ckpt sees it. Everything that waits or expires (checkpoint intervals
// and timeouts, restart back-off, state TTL, processing-time timers, retries)
// asks a Clock, so tests drive time with a ManualClock instead of sleeping.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <stop_token>

namespace ckpt {

/// An event time that is not known (a record without a timestamp, no watermark yet).
inline constexpr std::int64_t no_timestamp = std::numeric_limits<std::int64_t>::min();

class Clock {
 public:
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<std::chrono::steady_clock, duration>;

  virtual ~Clock() = default;
  virtual time_point now() const = 0;
  /// Wall-clock milliseconds since the Unix epoch, for checkpoint timestamps and TTL.
  virtual std::int64_t epoch_millis() const = 0;
  /// Blocks until now() >= deadline, or until `stop` is requested (then
  /// returns false). A ManualClock returns when advanced far enough.
  virtual bool sleep_until(time_point deadline, std::stop_token stop = {}) = 0;
  bool sleep_for(duration d, std::stop_token stop = {}) { return sleep_until(now() + d, std::move(stop)); }
};

class SystemClock final : public Clock {
 public:
  time_point now() const override {
    return std::chrono::time_point_cast<duration>(std::chrono::steady_clock::now());
  }
  std::int64_t epoch_millis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  bool sleep_until(time_point deadline, std::stop_token stop = {}) override {
    std::unique_lock lock(mutex_);
    // Not std::this_thread::sleep_until: a stop request must wake the sleeper.
    wake_.wait_until(lock, stop, deadline, [] { return false; });
    return !stop.stop_requested();
  }

  /// A process-wide instance for code that is not handed a clock.
  static SystemClock& instance() {
    static SystemClock clock;
    return clock;
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any wake_;
};

/// A clock that moves only when told to: advance() and set_epoch_millis().
/// Thread-safe; sleepers wake when the time they wait for is reached.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t epoch_millis = 0) : epoch_millis_(epoch_millis) {}

  time_point now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  std::int64_t epoch_millis() const override {
    std::lock_guard lock(mutex_);
    return epoch_millis_;
  }
  bool sleep_until(time_point deadline, std::stop_token stop = {}) override {
    std::unique_lock lock(mutex_);
    ++sleepers_;
    ++sleeps_started_;
    sleepers_changed_.notify_all();
    const bool reached = advanced_.wait(lock, stop, [&] { return now_ >= deadline; });
    --sleepers_;
    sleepers_changed_.notify_all();
    return reached;
  }
  /// Moves both the steady and the wall clock forward.
  void advance(duration d) {
    {
      std::lock_guard lock(mutex_);
      now_ += d;
      epoch_millis_ += std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    }
    advanced_.notify_all();
  }
  void set_epoch_millis(std::int64_t millis) {
    std::lock_guard lock(mutex_);
    epoch_millis_ = millis;
  }
  /// Blocks until at least `n` threads sleep on this clock: lets a test
  /// advance time only once the code under test is waiting for it.
  void wait_for_sleepers(int n) {
    std::unique_lock lock(mutex_);
    sleepers_changed_.wait(lock, [&] { return sleepers_ >= n; });
  }
  /// Blocks until `n` sleeps have started in total since construction.
  void wait_for_sleeps(std::uint64_t n) {
    std::unique_lock lock(mutex_);
    sleepers_changed_.wait(lock, [&] { return sleeps_started_ >= n; });
  }
  std::uint64_t sleeps_started() const {
    std::lock_guard lock(mutex_);
    return sleeps_started_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable_any advanced_;
  std::condition_variable sleepers_changed_;
  time_point now_{};
  std::int64_t epoch_millis_;
  int sleepers_ = 0;
  std::uint64_t sleeps_started_ = 0;
};

}  // namespace ckpt
