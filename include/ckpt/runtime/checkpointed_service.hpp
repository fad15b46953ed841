#pragma once
// Checkpoints for an existing service: its worker threads keep their state in
// ckpt backends and call sync_point() where that state is consistent (between
// requests, say). sync_point() is one atomic load while nothing is pending;
// when checkpoint N has been triggered, the worker cuts its state there — an
// O(1) mark of its keyed backend and a copy of its operator state — and goes
// on, while serializing, compressing and writing happen on other threads.
//
//   ckpt::CheckpointedService service(storage, ckpt::CheckpointConfig::every(10s));
//   auto& worker = service.add_participant({.uid = "sessions", .keyed = &backend});
//   service.restore_latest();   // after a crash: the state of the last checkpoint
//   service.start();
//   // on the worker thread:  for (;;) { handle(next_request()); worker.sync_point(); }
//
// By default each worker cuts at its own next sync point (independent). With
// Alignment::global every worker waits at its sync point until all have
// reached barrier N, for services whose workers exchange data.

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/function/checkpoint_listener.hpp>
#include <ckpt/function/checkpointed_function.hpp>
#include <ckpt/names.hpp>
#include <ckpt/runtime/checkpoint_coordinator.hpp>
#include <ckpt/state/keyed_state_backend_base.hpp>
#include <ckpt/state/operator_state_store.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace ckpt {

/// What one worker checkpoints.
struct ParticipantOptions {
  std::string uid;  // stable id of this state in snapshots
  std::uint32_t subtask = 0;
  std::uint32_t parallelism = 1;
  KeyedStateBackendBase* keyed = nullptr;
  OperatorStateStore* operator_state = nullptr;
  CheckpointedFunction* function = nullptr;  // its snapshot_state() runs at every cut
  CheckpointListener* listener = nullptr;    // told when checkpoints complete or abort
};

enum class Alignment : std::uint8_t { independent, global };

namespace detail {
/// Global alignment: workers wait at barrier N until all have arrived.
class AlignmentGroup {
 public:
  void set_size(std::size_t n) { size_ = n; }
  /// Blocks until every member arrived at `id` or the checkpoint was aborted
  /// (then returns false).
  bool arrive_and_wait(std::uint64_t id) {
    std::unique_lock lock(mutex_);
    const auto arrived = ++arrived_[id];
    if (arrived == size_) changed_.notify_all();
    changed_.wait(lock, [&] { return arrived_[id] >= size_ || aborted_.count(id); });
    const bool ok = !aborted_.count(id);
    if (++left_[id] == size_) {
      arrived_.erase(id);
      left_.erase(id);
    }
    return ok;
  }
  void abort(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    aborted_.insert(id);
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t size_ = 0;
  std::map<std::uint64_t, std::size_t> arrived_;
  std::map<std::uint64_t, std::size_t> left_;
  std::set<std::uint64_t> aborted_;
};
}  // namespace detail

/// One worker's participation. sync_point() and everything it calls run on
/// the worker's (the state's owner's) thread.
class ServiceParticipant final : public CheckpointParticipant {
 public:
  ServiceParticipant(CheckpointCoordinator& coordinator, ParticipantOptions options, detail::AlignmentGroup* group,
                     Clock& clock)
      : coordinator_(coordinator), options_(std::move(options)), group_(group), clock_(clock) {
    validate_name("operator uid", options_.uid);
    if (options_.parallelism == 0 || options_.subtask >= options_.parallelism)
      throw ConfigError(errc::invalid_argument, "participant '" + options_.uid + "': subtask " +
                                                    std::to_string(options_.subtask) + " of parallelism " +
                                                    std::to_string(options_.parallelism) + " does not exist");
    index_ = coordinator_.add_participant(*this, /*triggered=*/true);
  }

  const ParticipantOptions& options() const noexcept { return options_; }
  std::string describe() const override {
    return "participant '" + printable_name(options_.uid) + "' subtask " + std::to_string(options_.subtask) + " of " +
           std::to_string(options_.parallelism);
  }

  /// Where the worker's state is consistent: cuts a pending checkpoint and
  /// delivers notifications. One atomic load when nothing is pending.
  void sync_point() {
    if (events_.load(std::memory_order_acquire) == handled_) return;
    handle_events();
  }

  /// Blocks until a checkpoint event is pending or `timeout` passed: for idle
  /// workers, so a checkpoint need not wait for the next request.
  void wait_for_event(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    pending_.wait_for(lock, timeout, [&] { return events_.load() != handled_; });
  }

  // -- CheckpointParticipant (coordinator threads)
  void trigger_checkpoint(const CheckpointBarrier& barrier) override { post(barrier); }
  void notify_checkpoint_complete(std::uint64_t id) override { post(Notification{id, Notification::complete}); }
  void notify_checkpoint_aborted(std::uint64_t id) override {
    if (group_) group_->abort(id);
    post(Notification{id, Notification::aborted});
  }
  void notify_savepoint_complete(std::uint64_t id) override { post(Notification{id, Notification::savepoint}); }

 private:
  struct Notification {
    std::uint64_t id;
    enum What : std::uint8_t { complete, aborted, savepoint } what;
  };
  using Event = std::variant<CheckpointBarrier, Notification>;

  void post(Event e) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(e));
      events_.fetch_add(1, std::memory_order_release);
    }
    pending_.notify_all();
  }

  void handle_events() {
    std::deque<Event> events;
    {
      std::lock_guard lock(mutex_);
      events.swap(queue_);
    }
    for (auto& e : events) {
      if (auto* b = std::get_if<CheckpointBarrier>(&e)) cut(*b);
      else notify(std::get<Notification>(e));
      ++handled_;
    }
  }

  void cut(const CheckpointBarrier& barrier) {
    const auto arrived = clock_.now();
    if (group_ && !group_->arrive_and_wait(barrier.id)) return;  // aborted while aligning
    const auto start = clock_.now();
    try {
      if (options_.function) options_.function->snapshot_state(SimpleSnapshotContext(barrier.id, barrier.timestamp_millis));
      ParticipantSnapshot snap;
      snap.uid = options_.uid;
      snap.subtask = options_.subtask;
      snap.parallelism = options_.parallelism;
      const bool checkpoint = barrier.kind == SnapshotKind::checkpoint;
      if (options_.keyed)
        snap.keyed = options_.keyed->begin_snapshot(barrier.id, checkpoint && coordinator_.storage().options().incremental
                                                                     ? SnapshotMode::incremental
                                                                     : SnapshotMode::full);
      if (options_.operator_state) snap.operator_state = options_.operator_state->snapshot();
      kinds_[barrier.id] = barrier.kind;
      const auto pause = clock_.now() - start;
      coordinator_.acknowledge(index_, barrier.id, std::move(snap), pause, start - arrived);
    } catch (const std::exception& e) {
      coordinator_.decline(index_, barrier.id, "participant '" + options_.uid + "' could not cut its state: " + e.what());
    }
  }

  void notify(const Notification& n) {
    // Savepoints never serve as the base of an incremental checkpoint.
    const auto kind = kinds_.count(n.id) ? kinds_[n.id] : SnapshotKind::checkpoint;
    const bool complete = n.what == Notification::complete;
    if (options_.keyed) {
      if (complete && kind == SnapshotKind::checkpoint) options_.keyed->notify_snapshot_complete(n.id);
      else options_.keyed->notify_snapshot_aborted(n.id);
    }
    if (n.what == Notification::savepoint) {  // an intermediate savepoint commits nothing
      kinds_.erase(n.id);
      return;
    }
    kinds_.erase(kinds_.begin(), kinds_.upper_bound(n.id));
    if (!options_.listener) return;
    if (complete) options_.listener->notify_checkpoint_complete(n.id);
    else options_.listener->notify_checkpoint_aborted(n.id);
  }

  CheckpointCoordinator& coordinator_;
  ParticipantOptions options_;
  detail::AlignmentGroup* group_;
  Clock& clock_;
  std::size_t index_ = 0;
  std::mutex mutex_;
  std::condition_variable pending_;
  std::deque<Event> queue_;
  std::atomic<std::uint64_t> events_{0};
  std::uint64_t handled_ = 0;  // owner thread only
  std::map<std::uint64_t, SnapshotKind> kinds_;
};

struct ServiceOptions {
  Alignment alignment = Alignment::independent;
  Clock* clock = nullptr;  // the system clock when null

  static ServiceOptions defaults() { return {}; }
  static ServiceOptions globally_aligned() { return {Alignment::global, nullptr}; }
};

class CheckpointedService {
 public:
  CheckpointedService(CheckpointStorage& storage, CheckpointConfig config, ServiceOptions options = {})
      : options_(options),
        clock_(options.clock ? *options.clock : static_cast<Clock&>(SystemClock::instance())),
        coordinator_(storage, config, clock_) {}
  ~CheckpointedService() { stop(); }

  /// Registers a worker's state. Before restore() and start().
  ServiceParticipant& add_participant(ParticipantOptions options) {
    if (initialized_)  // its state would be missing from the restore, or from checkpoints already announced
      throw ConfigError(errc::invalid_argument, "participant '" + options.uid + "' subtask " +
                                                    std::to_string(options.subtask) +
                                                    " is added after restore() or start(): add every participant before");
    for (const auto& p : participants_)
      if (p->options().uid == options.uid && p->options().subtask == options.subtask)
        throw ConfigError(errc::already_exists, "participant '" + options.uid + "' subtask " +
                                                    std::to_string(options.subtask) + " is registered twice");
    participants_.push_back(std::make_unique<ServiceParticipant>(
        coordinator_, std::move(options), options_.alignment == Alignment::global ? &group_ : nullptr, clock_));
    group_.set_size(participants_.size());
    return *participants_.back();
  }

  /// Restores every participant from the latest restore point that verifies
  /// (the newest checkpoint, or a newer savepoint the service stopped with)
  /// and returns its id, or nothing when there is none (a first start).
  ///
  /// A block that fails its checksum halfway leaves the participants' backends
  /// (which are yours) partly restored: that is an error, and the storage
  /// remembers the snapshot as damaged, so a restart with fresh backends — a
  /// Supervisor's next attempt — restores the previous restore point instead.
  std::optional<std::uint64_t> restore_latest(RestoreOptions options = {}, bool allow_non_restored_state = false) {
    auto snapshot = coordinator_.storage().restore_latest(options);
    if (!snapshot) return std::nullopt;
    try {
      restore(*snapshot, allow_non_restored_state);
    } catch (const CorruptionError& e) {
      if (options.fallback_to_previous) coordinator_.storage().mark_damaged(*snapshot, e.what());
      throw;
    }
    return snapshot->checkpoint_id();
  }

  /// Restores every participant from a checkpoint or savepoint.
  void restore(SnapshotReader& snapshot, bool allow_non_restored_state = false) {
    for (auto& p : participants_) {
      const auto& o = p->options();
      snapshot.restore(o.uid, o.keyed, o.operator_state);
    }
    snapshot.check_all_restored(allow_non_restored_state);
    // Before any listener commits what the snapshot pre-committed, it must be
    // where a restart resumes (a savepoint, or a fallback, is not yet).
    coordinator_.storage().adopt_restore_point(snapshot);
    restored_from_ = snapshot.checkpoint_id();
    initialize();
  }

  /// Initializes functions (if no restore did) and starts checkpointing.
  void start() {
    initialize();
    coordinator_.start();
  }
  void stop() { coordinator_.stop(); }

  /// Stops checkpointing and applies the storage's cancellation policy
  /// (retain or delete its checkpoints; savepoints stay).
  void cancel() {
    coordinator_.stop();
    coordinator_.storage().on_job_cancelled();
  }

  std::shared_future<CheckpointStats> checkpoint_now() { return coordinator_.trigger_checkpoint(); }
  /// An intermediate savepoint: the service goes on. Listeners are not told
  /// it completed (nothing is committed through it) and a plain restart
  /// restores the latest checkpoint, not this savepoint.
  std::shared_future<CheckpointStats> savepoint(std::string name = {}) { return coordinator_.trigger_savepoint(std::move(name)); }

  /// "Stop with savepoint": a last savepoint, after which no checkpoint is
  /// triggered. Workers keep calling sync_point() until it completes: its
  /// completion reaches the listeners (they commit through it) and a plain
  /// restart (restore_latest) continues from it. Call stop() once the future
  /// is ready; if the savepoint failed, checkpointing goes on.
  std::shared_future<CheckpointStats> stop_with_savepoint(std::string name = {}) {
    return coordinator_.trigger_savepoint(std::move(name), /*final=*/true);
  }

  CheckpointCoordinator& coordinator() noexcept { return coordinator_; }
  std::optional<std::uint64_t> restored_from() const noexcept { return restored_from_; }

 private:
  void initialize() {
    if (initialized_) return;
    initialized_ = true;
    for (auto& p : participants_) {
      const auto& o = p->options();
      if (!o.function) continue;
      OperatorStateStore scratch(o.subtask, o.parallelism);
      SimpleInitializationContext ctx(o.operator_state ? *o.operator_state : scratch, o.keyed, restored_from_);
      o.function->initialize_state(ctx);
    }
  }

  ServiceOptions options_;
  Clock& clock_;
  CheckpointCoordinator coordinator_;
  detail::AlignmentGroup group_;
  std::vector<std::unique_ptr<ServiceParticipant>> participants_;
  std::optional<std::uint64_t> restored_from_;
  bool initialized_ = false;
};

}  // namespace ckpt
