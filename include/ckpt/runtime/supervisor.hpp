#pragma once
// Supervisor: "auto restart upon exception". It runs a job; when the job
// throws, it asks the restart strategy, waits, and runs the job again — and
// the job, restoring from the latest complete checkpoint as it starts, picks
// up where that checkpoint left off. When the strategy gives up, run()
// rethrows the last error.
//
//   ckpt::Supervisor supervisor(ckpt::restart::fixed_delay(3, 1s));
//   supervisor.run([&](std::uint32_t attempt) {
//     ckpt::JobRunner job(pipeline, storage, config);   // restores the latest checkpoint
//     job.run();
//   });

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/runtime/restart_strategy.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

namespace ckpt {

class Supervisor {
 public:
  struct Restart {
    std::uint32_t attempt;  // the attempt that failed, from 0
    std::string error;
    Clock::duration delay;
  };

  explicit Supervisor(std::unique_ptr<RestartStrategy> strategy, Clock& clock = SystemClock::instance())
      : strategy_(std::move(strategy)), clock_(clock) {
    if (!strategy_) throw ConfigError(errc::invalid_argument, "the Supervisor needs a restart strategy");
  }

  /// Called before each restart's wait (to log it, say).
  void on_restart(std::function<void(const Restart&)> hook) { hook_ = std::move(hook); }

  /// Runs `job(attempt)` until it returns; see above.
  void run(const std::function<void(std::uint32_t attempt)>& job) {
    for (std::uint32_t attempt = 0;; ++attempt) {
      const auto started = clock_.now();
      try {
        job(attempt);
        return;
      } catch (const std::exception& e) {
        const auto decision = strategy_->on_failure(clock_.now(), started);
        {
          std::lock_guard lock(mutex_);
          failures_.push_back(e.what());
        }
        if (!decision) throw;
        Restart r{attempt, e.what(), *decision};
        if (hook_) hook_(r);
        {
          std::lock_guard lock(mutex_);
          restarts_.push_back(r);
        }
        if (!clock_.sleep_for(*decision, stop_.get_token()))
          throw Error(errc::cancelled, "the Supervisor was stopped while waiting to restart after: " + r.error);
      }
    }
  }

  /// Ends a back-off wait early; run() then throws errc::cancelled.
  void stop() { stop_.request_stop(); }

  std::vector<Restart> restarts() const {
    std::lock_guard lock(mutex_);
    return restarts_;
  }
  std::vector<std::string> failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
  }

 private:
  std::unique_ptr<RestartStrategy> strategy_;
  Clock& clock_;
  std::function<void(const Restart&)> hook_;
  std::stop_source stop_;
  mutable std::mutex mutex_;
  std::vector<Restart> restarts_;
  std::vector<std::string> failures_;
};

}  // namespace ckpt
