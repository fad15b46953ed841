#pragma once
// JobRunner runs a Pipeline once: one thread per subtask, checkpoints by a
// CheckpointCoordinator, state restored first (by default from the latest
// restore point: the newest checkpoint, or a newer savepoint that ended the
// job). run() returns when the job finished — every source exhausted and a
// final checkpoint taken, so sinks committed everything — after
// stop_with_savepoint(), or after cancel(); it throws when any task fails
// (the first error, as its own class with the task named), or when more
// consecutive checkpoints failed than the config tolerates.

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/runtime/checkpoint_coordinator.hpp>
#include <ckpt/runtime/pipeline.hpp>
#include <ckpt/runtime/stream_task.hpp>
#include <ckpt/state/kv_keyed_state_backend.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>
#include <ckpt/storage/snapshot_reader.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ckpt {

struct JobOptions {
  enum class Restore : std::uint8_t { latest, none };
  /// Restore from the latest restore point (default: the newest complete
  /// checkpoint, or a newer savepoint that ended the job), or start empty.
  Restore restore = Restore::latest;
  RestoreOptions restore_options{};
  /// Restore from this checkpoint or savepoint instead (e.g.
  /// CheckpointStorage::open_snapshot(uri) of a savepoint).
  std::shared_ptr<SnapshotReader> restore_from;
  /// Drop state of operators the pipeline no longer has, instead of failing.
  bool allow_non_restored_state = false;
  Clock* clock = nullptr;  // the system clock when null
  std::chrono::milliseconds idle_wait{1};
  /// Where keyed operators keep their state: the heap backend when empty,
  /// or e.g. ckpt::rocksdb::keyed_backend(options) for state larger than
  /// memory (Flink's state.backend). Checkpoints and savepoints of either
  /// restore into the other (savepoints always; incremental RocksDB
  /// checkpoints only into RocksDB).
  KeyedBackendFactory keyed_state_backend;

  static JobOptions defaults() { return {}; }
  static JobOptions from_savepoint(std::shared_ptr<SnapshotReader> snapshot) {
    JobOptions o;
    o.restore_from = std::move(snapshot);
    return o;
  }
};

class JobRunner {
  enum class Phase : std::uint8_t { created, running, ended };

 public:
  JobRunner(const Pipeline& pipeline, CheckpointStorage& storage, CheckpointConfig config, JobOptions options = {})
      : pipeline_(pipeline),
        options_(std::move(options)),
        clock_(options_.clock ? *options_.clock : static_cast<Clock&>(SystemClock::instance())),
        coordinator_(storage, config, clock_) {
    // A checkpoint asked for before run() registered the tasks waits for them
    // (taken at once, it would hold no state and become the restore point).
    coordinator_.hold_requests_until_started();
    env_.coordinator = &coordinator_;
    env_.clock = &clock_;
    env_.keyed_backend = &options_.keyed_state_backend;
    env_.mode = config.mode;
    env_.idle_wait = options_.idle_wait;
    env_.fail = [this](std::exception_ptr e, const std::string& task) { fail(e, task); };
    env_.source_finished = [this] { on_source_finished(); };
    env_.task_finished = [this] { notify_progress(); };
    coordinator_.add_listener([this](const CheckpointStats& s) {
      if (!s.final || s.kind != SnapshotKind::checkpoint) return;
      std::lock_guard lock(mutex_);
      final_pending_ = false;
      if (s.outcome != CheckpointOutcome::completed) final_needed_ = true;  // try again
      done_.notify_all();
    });
  }
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;
  ~JobRunner() { cancel(); }

  CheckpointCoordinator& coordinator() noexcept { return coordinator_; }
  /// The checkpoint or savepoint this run restored from.
  std::optional<std::uint64_t> restored_from() const noexcept { return restored_from_; }
  /// What the restore had to say: restore points it skipped and why, and what
  /// the sinks rolled back because of it (empty after a plain restore).
  const std::vector<std::string>& restore_notes() const noexcept { return restore_notes_; }

  /// Runs the job to its end (see above).
  void run() {
    detail::RuntimeGraph graph;
    try {
      pipeline_.instantiate(graph, env_);
      restore(graph);
    } catch (...) {
      coordinator_.stop();  // checkpoints asked for meanwhile are declined, not left waiting
      set_phase(Phase::ended);
      throw;
    }
    for (auto& t : graph.tasks) {
      t->register_with(coordinator_);
      if (t->is_source()) ++sources_;
    }
    coordinator_.on_job_failure([this](const CheckpointError& e) { fail(std::make_exception_ptr(e), "checkpointing"); });
    {
      std::lock_guard lock(mutex_);
      tasks_ = &graph.tasks;
    }
    for (auto& t : graph.tasks) t->start();
    coordinator_.start();
    set_phase(Phase::running);
    bool cancelled = false;
    {
      std::unique_lock lock(mutex_);
      while (true) {
        done_.wait(lock, [&] {
          return failure_ || cancelled_ || all_finished(graph) || (final_needed_ && !final_pending_);
        });
        if (failure_ || cancelled_ || all_finished(graph)) break;
        // Every source is exhausted: a final checkpoint lets the sinks commit the rest.
        final_needed_ = false;
        final_pending_ = true;
        lock.unlock();
        coordinator_.trigger_final_checkpoint();
        lock.lock();
      }
      cancelled = cancelled_ && !failure_ && !all_finished(graph);
    }
    coordinator_.stop();
    for (auto& t : graph.tasks) t->cancel();
    for (auto& t : graph.tasks) t->join();
    std::exception_ptr failure;
    {
      std::lock_guard lock(mutex_);  // a late checkpoint failure may still arrive
      tasks_ = nullptr;
      failure = failure_;
    }
    set_phase(Phase::ended);
    if (failure) std::rethrow_exception(failure);
    // Cancelled while running: retain or delete the checkpoints as the
    // storage's cancellation policy says (savepoints always stay).
    if (cancelled) coordinator_.storage().on_job_cancelled();
  }

  /// Blocks until run() has restored the state and started the tasks (true),
  /// or ended without getting there (false).
  bool wait_running() {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return phase_ != Phase::created; });
    return phase_ == Phase::running;
  }

  /// A checkpoint now.
  std::shared_future<CheckpointStats> trigger_checkpoint() { return coordinator_.trigger_checkpoint(); }

  /// A savepoint now; the job goes on. It commits no side effects (its
  /// transactions are committed by the next checkpoint) and a plain restart
  /// does not restore it: restore it by name, after rolling its tag back.
  std::shared_future<CheckpointStats> trigger_savepoint(std::string name = {}) {
    return coordinator_.trigger_savepoint(std::move(name));
  }

  /// Stops the sources, takes a savepoint with the final barrier and ends the
  /// job once it completed (sinks commit). If the savepoint fails, the job
  /// goes on and the returned stats say why.
  std::shared_future<CheckpointStats> stop_with_savepoint(std::string name = {}) {
    return coordinator_.trigger_savepoint(std::move(name), /*final=*/true);
  }

  /// Ends the job without a savepoint; run() returns, and the storage's
  /// cancellation policy (StorageOptions::with_cancellation_policy) retains or
  /// deletes its checkpoints.
  void cancel() {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
    }
    done_.notify_all();
  }

 private:
  void restore(detail::RuntimeGraph& graph) {
    auto& storage = coordinator_.storage();
    std::shared_ptr<SnapshotReader> snapshot = options_.restore_from;
    const bool named = snapshot != nullptr;
    if (!snapshot && options_.restore == JobOptions::Restore::latest)
      snapshot = storage.restore_latest(options_.restore_options);
    if (!snapshot) return;
    for (;;) {
      try {
        for (auto& t : graph.tasks) t->restore(*snapshot);
        break;
      } catch (const CorruptionError& e) {
        // A block failed its checksum halfway: the partly restored tasks are
        // thrown away and the previous restore point is tried (never for a
        // snapshot the user named); the storage remembers, so a restart by
        // the Supervisor does not try this one again.
        if (named || !options_.restore_options.fallback_to_previous) throw;
        storage.mark_damaged(*snapshot, e.what());
        graph = detail::RuntimeGraph{};
        pipeline_.instantiate(graph, env_);
        snapshot = storage.restore_latest(options_.restore_options);  // its notes() say why
        if (!snapshot) throw;
      }
    }
    snapshot->check_all_restored(options_.allow_non_restored_state);
    // A fallback (restore_latest skipped a newer restore point: its notes say
    // which) replays what the skipped ones committed: the sinks remove it first.
    if (!named && !snapshot->notes().empty()) roll_back_outputs(graph, *snapshot);
    restore_notes_ = snapshot->notes();
    // Before any sink commits what the snapshot pre-committed, it must be
    // where a restart resumes (a savepoint, or a fallback, is not yet).
    coordinator_.storage().adopt_restore_point(*snapshot);
    restored_from_ = snapshot->checkpoint_id();
  }

  static void roll_back_outputs(detail::RuntimeGraph& graph, SnapshotReader& snapshot) {
    std::map<std::string, std::uint64_t> removed;  // per output: subtasks of one sink share it
    for (auto& t : graph.tasks)
      if (auto* output = t->committed_output()) removed[output->describe()] += output->rollback_to(snapshot.checkpoint_id());
    for (const auto& [output, n] : removed)
      snapshot.add_note("rolled back " + std::to_string(n) + " item(s) of " + output + " committed after " +
                        std::to_string(snapshot.checkpoint_id()) + ", the restore point the job fell back to");
  }

  bool all_finished(const detail::RuntimeGraph& graph) const {
    for (const auto& t : graph.tasks)
      if (!t->finished()) return false;
    return true;
  }

  void on_source_finished() {
    if (++finished_sources_ != sources_) return;
    std::lock_guard lock(mutex_);
    final_needed_ = true;
    done_.notify_all();
  }

  void set_phase(Phase p) {
    {
      std::lock_guard lock(mutex_);
      if (phase_ == Phase::ended) return;
      phase_ = p;
    }
    done_.notify_all();
  }

  void notify_progress() {
    std::lock_guard lock(mutex_);
    done_.notify_all();
  }

  void fail(std::exception_ptr e, const std::string& task) {
    {
      std::lock_guard lock(mutex_);
      if (failure_) return;
      // The task's error keeps its class (an IoError stays an IoError) with
      // the task named; anything else becomes a JobError that nests it.
      failure_ = with_context(e, "task " + task + " failed: ");
      if (tasks_)
        for (auto& t : *tasks_) t->cancel();
    }
    done_.notify_all();
  }

  const Pipeline& pipeline_;
  JobOptions options_;
  Clock& clock_;
  CheckpointCoordinator coordinator_;
  detail::TaskEnvironment env_;
  std::mutex mutex_;
  std::condition_variable done_;
  std::exception_ptr failure_;
  bool cancelled_ = false;
  bool final_needed_ = false;
  bool final_pending_ = false;
  Phase phase_ = Phase::created;
  std::vector<std::unique_ptr<detail::StreamTask>>* tasks_ = nullptr;
  std::size_t sources_ = 0;
  std::atomic<std::size_t> finished_sources_{0};
  std::optional<std::uint64_t> restored_from_;
  std::vector<std::string> restore_notes_;
};

}  // namespace ckpt
