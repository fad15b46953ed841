#pragma once
// CheckpointMetrics collects what the coordinator reports for every
// checkpoint (CheckpointStats, through its listener hook) into Flink's
// checkpoint metrics — completed, failed, in-progress and total counts, the
// figures of the last completed checkpoint, the last restore — and keeps the
// last N checkpoints as a history. It is thread-safe: the coordinator's
// threads feed it while an HTTP server (MetricsServer) renders it.
//
//   ckpt::CheckpointMetrics metrics({.job = "sessions"});
//   auto attached = metrics.attach(service.coordinator());   // before start()
//   if (auto id = service.restore_latest()) metrics.record_restore(*id);
//
// The runtime reports no restore events: a program that restores tells the
// metrics with record_restore() (JobRunner::restored_from() once
// wait_running() returned, or what CheckpointedService::restore_latest()
// returned).

#include <ckpt/clock.hpp>
#include <ckpt/runtime/checkpoint_coordinator.hpp>
#include <ckpt/runtime/checkpoint_stats.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace ckpt {

struct CheckpointMetricsOptions {
  std::string job = "ckpt";       // the `job` label of every metric
  std::size_t history_size = 10;  // checkpoints kept for the history (Flink's web.checkpoints.history)
};

/// A restore the program reported (Flink's latest.restored).
struct RestoreRecord {
  std::uint64_t checkpoint_id = 0;
  std::int64_t timestamp_millis = 0;  // when it was restored
};

/// One consistent view of the metrics.
struct CheckpointMetricsSnapshot {
  std::string job;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::uint64_t restored = 0;
  /// Checkpoints and savepoints in flight: known only while attached to a
  /// coordinator (the stats arrive when a checkpoint ends, not when it starts).
  std::optional<std::uint64_t> in_progress;
  std::optional<CheckpointStats> last_completed;
  std::optional<CheckpointStats> last_completed_savepoint;
  std::optional<CheckpointStats> last_failed;
  std::optional<RestoreRecord> last_restore;
  std::deque<CheckpointStats> history;  // oldest first, at most history_size

  /// Flink's totalNumberOfCheckpoints: every one triggered, finished or not.
  std::uint64_t total() const noexcept { return completed + failed + in_progress.value_or(0); }
};

class CheckpointMetrics {
  struct Shared {
    mutable std::mutex mutex;
    CheckpointMetricsSnapshot data;
    std::size_t history_size = 0;
    std::function<std::uint64_t()> in_progress;  // while attached
    std::uint64_t attachment = 0;                // which attach() set it
  };

 public:
  explicit CheckpointMetrics(CheckpointMetricsOptions options = {}) : shared_(std::make_shared<Shared>()) {
    shared_->data.job = std::move(options.job);
    shared_->history_size = options.history_size;
  }
  // One set of metrics per job: copies would share it unseen.
  CheckpointMetrics(const CheckpointMetrics&) = delete;
  CheckpointMetrics& operator=(const CheckpointMetrics&) = delete;
  CheckpointMetrics(CheckpointMetrics&&) noexcept = default;  // the moved-from object is empty
  CheckpointMetrics& operator=(CheckpointMetrics&&) noexcept = default;
  ~CheckpointMetrics() = default;

  /// A hook for CheckpointCoordinator::add_listener. It shares the metrics'
  /// data, so a coordinator that outlives these metrics stays safe.
  CheckpointListenerHook listener() const {
    return [shared = shared_](const CheckpointStats& s) { record(*shared, s); };
  }

  /// What attach() returns: while it lives, the metrics ask the coordinator
  /// how many checkpoints are in flight. Destroy it before the coordinator
  /// (declare it after the JobRunner or CheckpointedService).
  class [[nodiscard]] Attachment {
   public:
    Attachment(const Attachment&) = delete;
    Attachment& operator=(const Attachment&) = delete;
    Attachment(Attachment&& other) noexcept : shared_(std::move(other.shared_)), id_(other.id_) {}
    Attachment& operator=(Attachment&&) = delete;
    ~Attachment() { detach(); }

    /// The metrics stop asking the coordinator (its listener stays, harmless).
    void detach() {
      if (!shared_) return;
      std::lock_guard lock(shared_->mutex);
      if (shared_->attachment == id_) {
        shared_->in_progress = nullptr;
        shared_->data.in_progress.reset();
      }
      shared_.reset();
    }

   private:
    friend class CheckpointMetrics;
    Attachment(std::shared_ptr<Shared> shared, std::uint64_t id) : shared_(std::move(shared)), id_(id) {}
    std::shared_ptr<Shared> shared_;
    std::uint64_t id_;
  };

  /// Registers listener() with the coordinator and reports its in-flight
  /// count as numberOfInProgressCheckpoints while the attachment lives.
  Attachment attach(CheckpointCoordinator& coordinator) {
    coordinator.add_listener(listener());
    std::lock_guard lock(shared_->mutex);
    shared_->in_progress = [&coordinator] { return static_cast<std::uint64_t>(coordinator.in_flight()); };
    return Attachment(shared_, ++shared_->attachment);
  }

  /// Feeds one checkpoint's stats (what listener() does).
  void record(const CheckpointStats& stats) { record(*shared_, stats); }

  /// The program restored from checkpoint or savepoint `checkpoint_id`.
  void record_restore(std::uint64_t checkpoint_id,
                      std::int64_t timestamp_millis = SystemClock::instance().epoch_millis()) {
    std::lock_guard lock(shared_->mutex);
    ++shared_->data.restored;
    shared_->data.last_restore = RestoreRecord{checkpoint_id, timestamp_millis};
  }

  CheckpointMetricsSnapshot snapshot() const {
    std::lock_guard lock(shared_->mutex);
    auto copy = shared_->data;
    if (shared_->in_progress) copy.in_progress = shared_->in_progress();
    return copy;
  }

  const std::string& job() const noexcept { return shared_->data.job; }  // never changes

 private:
  static void record(Shared& shared, const CheckpointStats& s) {
    std::lock_guard lock(shared.mutex);
    auto& d = shared.data;
    if (s.outcome == CheckpointOutcome::completed) {
      ++d.completed;
      // Completions arrive in id order only per kind; keep the newest.
      if (!d.last_completed || d.last_completed->id < s.id) d.last_completed = s;
      if (s.kind == SnapshotKind::savepoint) d.last_completed_savepoint = s;
    } else {
      ++d.failed;
      d.last_failed = s;
    }
    if (shared.history_size == 0) return;
    d.history.push_back(s);
    while (d.history.size() > shared.history_size) d.history.pop_front();
  }

  std::shared_ptr<Shared> shared_;
};

}  // namespace ckpt
