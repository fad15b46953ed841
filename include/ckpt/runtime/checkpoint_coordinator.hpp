#pragma once
// The CheckpointCoordinator decides when checkpoints happen and when they are
// complete; it never touches state or bytes itself. It triggers checkpoint N
// (at an interval, on demand, or as a savepoint), the participants cut their
// state at a consistent point on their own threads and hand it over with
// acknowledge(), the coordinator has each cut written in the background
// through the storage, and once every participant's state is written and the
// manifest is published it tells every participant that N is complete.
// A checkpoint that times out or that a participant declines is aborted: its
// files are removed, participants are told, and the job goes on — unless more
// consecutive checkpoints failed than the configuration tolerates. With a tag
// schedule (TagOptions::creation_period) it also takes a tagged savepoint
// once per period.

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/runtime/checkpoint_barrier.hpp>
#include <ckpt/runtime/checkpoint_config.hpp>
#include <ckpt/runtime/checkpoint_stats.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <ckpt/detail/worker_pool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ckpt {

/// Anything that takes part in checkpoints: an embedded worker or a pipeline
/// task. The coordinator calls these from its own threads; implementations
/// hand the work to the participant's owner thread and return at once.
class CheckpointParticipant {
 public:
  virtual ~CheckpointParticipant() = default;
  /// Cut state for `barrier` at the next consistent point (called only on
  /// participants registered as triggered: sources and embedded workers).
  virtual void trigger_checkpoint(const CheckpointBarrier& barrier) = 0;
  /// Checkpoint `id` is complete (and every earlier one with it); also a
  /// savepoint that ended the job. Side effects are committed here.
  virtual void notify_checkpoint_complete(std::uint64_t id) = 0;
  virtual void notify_checkpoint_aborted(std::uint64_t id) = 0;
  /// An intermediate savepoint (the job goes on) is complete. It commits no
  /// side effects and subsumes nothing, as in Flink since 1.15 (FLINK-25191):
  /// a restart restores the latest checkpoint, not this savepoint, so what it
  /// pre-committed stays pending until the next checkpoint completes.
  virtual void notify_savepoint_complete(std::uint64_t id) { (void)id; }
  /// Names the participant in messages ("participant 'sessions' subtask 1 of 4").
  virtual std::string describe() const { return "a participant"; }
};

class CheckpointCoordinator {
 public:
  using duration = std::chrono::nanoseconds;

  CheckpointCoordinator(CheckpointStorage& storage, CheckpointConfig config, Clock& clock = SystemClock::instance())
      : storage_(storage), config_(config), clock_(clock), writers_(config.writer_threads) {
    config_.validate();
  }
  CheckpointCoordinator(const CheckpointCoordinator&) = delete;
  CheckpointCoordinator& operator=(const CheckpointCoordinator&) = delete;
  ~CheckpointCoordinator() { stop(); }

  const CheckpointConfig& config() const noexcept { return config_; }
  CheckpointStorage& storage() noexcept { return storage_; }
  Clock& clock() noexcept { return clock_; }

  /// Registers a participant (before start()); returns its index for
  /// acknowledge(). Triggered participants get trigger_checkpoint(); the
  /// others learn of checkpoints from barriers in their input.
  std::size_t add_participant(CheckpointParticipant& participant, bool triggered) {
    std::lock_guard lock(mutex_);
    participants_.push_back({&participant, triggered});
    return participants_.size() - 1;
  }

  /// Called for every checkpoint with its statistics and outcome.
  void add_listener(CheckpointListenerHook hook) {
    std::lock_guard lock(mutex_);
    listeners_.push_back(std::move(hook));
  }
  /// Called once when more consecutive checkpoints failed than tolerated.
  void on_job_failure(std::function<void(const CheckpointError&)> handler) {
    std::lock_guard lock(mutex_);
    on_failure_ = std::move(handler);
  }
  /// User properties written into every manifest (the program's version, say).
  void set_properties(std::map<std::string, std::string> properties) {
    std::lock_guard lock(mutex_);
    properties_ = std::move(properties);
  }

  /// Requests made before start() wait for it instead of being triggered on
  /// the caller's thread: for owners that register their participants at
  /// start (a JobRunner), so that no checkpoint is taken of nobody.
  void hold_requests_until_started() {
    std::lock_guard lock(mutex_);
    hold_until_started_ = true;
  }

  /// Starts periodic checkpoints (when the config has an interval) and the
  /// timeout watch.
  void start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable()) return;
    stopped_ = false;
    next_periodic_ = config_.interval ? std::optional(clock_.now() + *config_.interval) : std::nullopt;
    if (const auto period = storage_.options().tags.creation_period)
      next_tag_millis_ = (clock_.epoch_millis() / period->count() + 1) * period->count();
    running_ = true;
    thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
  }

  /// Stops triggering, aborts checkpoints in flight and waits for the
  /// background writers. Idempotent.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
      for (auto& r : requests_) r.promise->set_value(declined_stats(r, "the coordinator stopped"));
      requests_.clear();
    }
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
    running_ = false;
    // Collected only now: the loop may have been starting a checkpoint while
    // stopped_ was set, and one left in flight would later notify
    // participants that no longer exist.
    std::vector<std::uint64_t> in_flight;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, f] : in_flight_) in_flight.push_back(id);
    }
    for (const auto id : in_flight) abort(id, CheckpointOutcome::aborted, "the coordinator stopped");
    writers_.join();
  }

  /// A checkpoint now (after those in flight if the maximum is reached).
  std::shared_future<CheckpointStats> trigger_checkpoint() { return request(SnapshotKind::checkpoint, {}, false); }
  /// A savepoint now, optionally named; `final` makes it the job's last.
  std::shared_future<CheckpointStats> trigger_savepoint(std::string name = {}, bool final = false) {
    return request(SnapshotKind::savepoint, std::move(name), final);
  }
  /// The last checkpoint of a finishing job (it commits the sinks' last transactions).
  std::shared_future<CheckpointStats> trigger_final_checkpoint() { return request(SnapshotKind::checkpoint, {}, true); }

  /// A checkpoint with an id chosen elsewhere (a job's leader, through etcd),
  /// larger than every id this coordinator used; a smaller one is declined.
  std::shared_future<CheckpointStats> trigger_checkpoint_as(std::uint64_t id) {
    return request(SnapshotKind::checkpoint, {}, false, id);
  }

  /// For a member of a job committed elsewhere (ckpt::etcd): a checkpoint
  /// whose files are written completes locally (its future is ready) without
  /// telling the participants; they learn the outcome from notify_committed()
  /// or notify_aborted_elsewhere(), once the job's committer decided it.
  /// A checkpoint that fails here still tells them at once. Before start().
  void commit_elsewhere() {
    std::lock_guard lock(mutex_);
    commit_elsewhere_ = true;
  }
  /// Checkpoint `id` was committed (commit_elsewhere()): participants are told.
  void notify_committed(std::uint64_t id) {
    for (const auto& p : participants_snapshot()) p.participant->notify_checkpoint_complete(id);
  }
  /// Checkpoint `id`, complete here, was aborted by the committer.
  void notify_aborted_elsewhere(std::uint64_t id) {
    for (const auto& p : participants_snapshot()) p.participant->notify_checkpoint_aborted(id);
  }

  /// A participant cut its state for checkpoint `id` on its own thread. The
  /// coordinator writes it in the background.
  void acknowledge(std::size_t participant, std::uint64_t id, ParticipantSnapshot snapshot, duration sync_pause,
                   duration alignment = {}) {
    std::shared_ptr<PendingSnapshot> pending;
    {
      std::lock_guard lock(mutex_);
      auto it = in_flight_.find(id);
      // Aborted meanwhile, or stopping: the cut is dropped here, which releases its snapshot job.
      if (it == in_flight_.end() || stopped_) return;
      auto& f = it->second;
      if (participant < f.acknowledged.size()) f.acknowledged[participant] = true;
      f.stats.sync_pause = std::max(f.stats.sync_pause, sync_pause);
      f.stats.alignment = std::max(f.stats.alignment, alignment);
      if (participant < f.stats.per_participant.size()) {
        auto& mine = f.stats.per_participant[participant];
        mine.acknowledged = true;
        mine.sync_pause = sync_pause;
        mine.alignment = alignment;
      }
      pending = f.pending;
      ++f.writes_in_flight;
    }
    auto task = std::make_shared<ParticipantSnapshot>(std::move(snapshot));
    writers_.post([this, participant, id, pending, task] {
      std::optional<ParticipantStats> written;
      std::string failure;
      try {
        // write() consumes the snapshot: the backend's snapshot job is released when it returns.
        written = pending->write(std::move(*task));
      } catch (const std::exception& e) {
        failure = e.what();
      }
      written ? on_written(participant, id, *written) : on_write_failed(participant, id, failure);
    });
  }

  /// A participant could not take checkpoint `id`: it is aborted.
  void decline(std::size_t participant, std::uint64_t id, const std::string& reason) {
    (void)participant;
    abort(id, CheckpointOutcome::declined, reason);
  }

  std::uint64_t completed_checkpoints() const {
    std::lock_guard lock(mutex_);
    return completed_count_;
  }
  std::optional<std::uint64_t> latest_completed_id() const {
    std::lock_guard lock(mutex_);
    return latest_completed_;
  }
  std::size_t in_flight() const {
    std::lock_guard lock(mutex_);
    return in_flight_.size();
  }
  /// When the next periodic checkpoint is due (none when not periodic, or
  /// while the maximum is in flight).
  std::optional<Clock::time_point> next_periodic_trigger() const {
    std::lock_guard lock(mutex_);
    return next_periodic_;
  }

 private:
  struct Participant {
    CheckpointParticipant* participant;
    bool triggered;
  };
  struct Request {
    SnapshotKind kind;
    std::string name;
    bool final;
    std::shared_ptr<std::promise<CheckpointStats>> promise;
    bool scheduled_tag = false;  // a savepoint the tag schedule takes
    std::optional<std::uint64_t> id;  // chosen by the caller (trigger_checkpoint_as)
  };

  std::vector<Participant> participants_snapshot() const {
    std::lock_guard lock(mutex_);
    return participants_;
  }
  struct InFlight {
    CheckpointBarrier barrier;
    std::shared_ptr<PendingSnapshot> pending;
    std::vector<bool> acknowledged;  // cut its state
    std::vector<bool> written;       // ... and that state is durable
    std::size_t remaining = 0;
    std::size_t writes_in_flight = 0;
    bool completing = false;
    Clock::time_point triggered_at;
    Clock::time_point deadline;
    std::optional<Clock::time_point> all_written_at;
    CheckpointStats stats;
    std::vector<std::shared_ptr<std::promise<CheckpointStats>>> promises;
  };

  static CheckpointStats declined_stats(const Request& r, const std::string& why) {
    CheckpointStats s;
    s.kind = r.kind;
    s.final = r.final;
    s.outcome = CheckpointOutcome::declined;
    s.failure = why;
    return s;
  }

  std::shared_future<CheckpointStats> request(SnapshotKind kind, std::string name, bool final,
                                              std::optional<std::uint64_t> id = std::nullopt) {
    auto promise = std::make_shared<std::promise<CheckpointStats>>();
    auto future = promise->get_future().share();
    {
      std::lock_guard lock(mutex_);
      Request r{kind, std::move(name), final, promise, false, id};
      if (stopped_) {
        promise->set_value(declined_stats(r, "the coordinator is stopped"));
        return future;
      }
      requests_.push_back(std::move(r));
    }
    if (running_) {
      wake();
    } else if (!hold_until_started_) {
      drain_requests();  // not started: trigger on the caller's thread (tests drive it this way)
    }
    return future;
  }

  /// Interrupts the loop's current sleep so it looks at the state again.
  void wake() {
    std::lock_guard lock(mutex_);
    poke_.request_stop();
  }

  void loop(std::stop_token stop) {
    while (!stop.stop_requested()) {
      check_timeouts();
      maybe_trigger_periodic();
      maybe_trigger_tag();
      drain_requests();
      std::optional<Clock::time_point> next;
      std::stop_source poke;
      {
        std::lock_guard lock(mutex_);
        if (drainable_locked()) continue;  // a request came in meanwhile
        next = next_event_locked();
        poke_ = poke;  // from here on wake() interrupts this sleep
      }
      std::stop_callback forward(stop, [&] { poke.request_stop(); });
      clock_.sleep_until(next ? *next : Clock::time_point::max(), poke.get_token());
    }
  }

  /// Whether a queued request could be triggered now.
  bool drainable_locked() const {
    if (stopped_) return false;
    return std::any_of(requests_.begin(), requests_.end(), [&](const Request& q) {
      return q.kind == SnapshotKind::savepoint || q.final ||
             checkpoints_in_flight_locked() < config_.max_concurrent_checkpoints;
    });
  }

  std::optional<Clock::time_point> next_event_locked() const {
    std::optional<Clock::time_point> next;
    for (const auto& [id, f] : in_flight_)
      if (!f.completing && (!next || f.deadline < *next)) next = f.deadline;
    if (next_periodic_ && (!next || *next_periodic_ < *next)) next = next_periodic_;
    if (next_tag_millis_) {
      // The steady clock is read before the wall clock: a clock that moves
      // between the two reads then makes this deadline early (one more turn
      // of the loop), never late (a sleep past the period's end).
      const auto steady = clock_.now();
      const auto wall = clock_.epoch_millis();
      const auto tag = steady + std::chrono::milliseconds(std::max<std::int64_t>(0, *next_tag_millis_ - wall));
      if (!next || tag < *next) next = tag;
    }
    return next;
  }

  std::size_t checkpoints_in_flight_locked() const {
    return static_cast<std::size_t>(std::count_if(in_flight_.begin(), in_flight_.end(), [](const auto& e) {
      return e.second.barrier.kind == SnapshotKind::checkpoint;
    }));
  }

  void maybe_trigger_periodic() {
    {
      std::lock_guard lock(mutex_);
      if (stopped_ || !next_periodic_ || clock_.now() < *next_periodic_ || finishing_) return;
      if (checkpoints_in_flight_locked() >= config_.max_concurrent_checkpoints) {
        next_periodic_.reset();  // re-armed when one finishes
        return;
      }
      next_periodic_ = clock_.now() + *config_.interval;
    }
    trigger(Request{SnapshotKind::checkpoint, {}, false, nullptr, false, std::nullopt});
  }

  /// The tag schedule: once the wall clock passes a period's end, a savepoint
  /// tagged with the name of the period that closed.
  void maybe_trigger_tag() {
    std::string name;
    {
      std::lock_guard lock(mutex_);
      if (stopped_ || finishing_ || !next_tag_millis_) return;
      const auto now = clock_.epoch_millis();
      if (now < *next_tag_millis_) return;
      const auto period = storage_.options().tags.creation_period->count();
      const auto closed = now / period * period - period;  // the last period that ended
      next_tag_millis_ = closed + 2 * period;
      name = scheduled_tag_name(closed, *storage_.options().tags.creation_period);
    }
    trigger(Request{SnapshotKind::savepoint, std::move(name), false, nullptr, true, std::nullopt});
  }

  /// Triggers queued requests while capacity allows (savepoints always may).
  void drain_requests() {
    while (true) {
      Request r;
      {
        std::lock_guard lock(mutex_);
        if (requests_.empty() || stopped_) return;
        if (!drainable_locked()) return;
        auto it = std::find_if(requests_.begin(), requests_.end(), [&](const Request& q) {
          return q.kind == SnapshotKind::savepoint || q.final ||
                 checkpoints_in_flight_locked() < config_.max_concurrent_checkpoints;
        });
        r = std::move(*it);
        requests_.erase(it);
      }
      trigger(std::move(r));
    }
  }

  void trigger(Request r) {
    CheckpointBarrier barrier;
    barrier.kind = r.kind;
    barrier.final = r.final;
    barrier.timestamp_millis = clock_.epoch_millis();
    std::shared_ptr<PendingSnapshot> pending;
    std::vector<Participant> participants;
    try {
      // Ids only grow, also past a checkpoint that failed to start, so a
      // listener never sees one id fail and then complete.
      if (r.id) {
        std::lock_guard lock(mutex_);
        if (*r.id <= last_id_)
          throw CheckpointError(errc::invalid_argument, "checkpoint id " + std::to_string(*r.id) +
                                                            " is not larger than the last one used, " +
                                                            std::to_string(last_id_));
        barrier.id = last_id_ = *r.id;
      } else {
        const auto stored = storage_.next_checkpoint_id();
        std::lock_guard lock(mutex_);
        barrier.id = last_id_ = std::max(stored, last_id_ + 1);
      }
      pending = r.kind == SnapshotKind::savepoint
                    ? std::shared_ptr<PendingSnapshot>(
                          storage_.begin_savepoint(barrier.id, barrier.timestamp_millis, r.name, r.final))
                    : std::shared_ptr<PendingSnapshot>(storage_.begin_checkpoint(barrier.id, barrier.timestamp_millis));
      if (r.scheduled_tag) {
        storage_.check_tag_free(pending->tag_name());
        pending->tag_on_completion(/*automatic=*/true);
      }
    } catch (const std::exception& e) {
      auto stats = declined_stats(r, std::string("could not start: ") + e.what());
      stats.id = barrier.id;
      std::vector<std::shared_ptr<std::promise<CheckpointStats>>> promises;
      if (r.promise) promises.push_back(r.promise);
      finish_failed(stats, promises);
      return;
    }
    {
      std::unique_lock lock(mutex_);
      if (stopped_) {  // stop() ran while this one was starting: it never begins
        lock.unlock();
        pending->abort();
        if (r.promise) r.promise->set_value(declined_stats(r, "the coordinator stopped"));
        return;
      }
      if (r.final) finishing_ = true;
      InFlight f;
      f.barrier = barrier;
      f.pending = pending;
      f.acknowledged.assign(participants_.size(), false);
      f.written.assign(participants_.size(), false);
      f.remaining = participants_.size();
      f.triggered_at = clock_.now();
      f.deadline = f.triggered_at + config_.timeout;
      f.stats.id = barrier.id;
      f.stats.kind = barrier.kind;
      f.stats.final = barrier.final;
      f.stats.trigger_timestamp_millis = barrier.timestamp_millis;
      f.stats.participants = static_cast<std::uint32_t>(participants_.size());
      for (const auto& p : participants_) {
        ParticipantCheckpointStats part;
        part.name = p.participant->describe();
        f.stats.per_participant.push_back(std::move(part));
      }
      if (r.promise) f.promises.push_back(r.promise);
      in_flight_.emplace(barrier.id, std::move(f));
      participants = participants_;
      poke_.request_stop();  // a new deadline to watch
    }
    if (participants.empty()) {
      complete(barrier.id);
      return;
    }
    for (const auto& p : participants)
      if (p.triggered) p.participant->trigger_checkpoint(barrier);
  }

  void on_written(std::size_t participant, std::uint64_t id, const ParticipantStats& written) {
    bool all = false;
    {
      std::lock_guard lock(mutex_);
      auto it = in_flight_.find(id);
      if (it == in_flight_.end()) return;
      auto& f = it->second;
      --f.writes_in_flight;
      if (participant < f.written.size() && !f.written[participant]) {
        f.written[participant] = true;
        --f.remaining;
      }
      f.stats.raw_bytes += written.raw_bytes;
      f.stats.stored_bytes += written.stored_bytes;
      if (participant < f.stats.per_participant.size()) {
        auto& mine = f.stats.per_participant[participant];
        mine.written = true;
        mine.raw_bytes = written.raw_bytes;
        mine.stored_bytes = written.stored_bytes;
        mine.async_duration = clock_.now() - f.triggered_at;
      }
      if (f.remaining == 0 && !f.completing) {
        f.completing = true;
        f.all_written_at = clock_.now();
        all = true;
      }
    }
    if (all) complete(id);
  }

  void on_write_failed(std::size_t participant, std::uint64_t id, const std::string& failure) {
    {
      std::lock_guard lock(mutex_);
      auto it = in_flight_.find(id);
      if (it == in_flight_.end()) return;
      --it->second.writes_in_flight;
    }
    abort(id, CheckpointOutcome::declined,
          "writing the state of participant " + std::to_string(participant) + " failed: " + failure);
  }

  void complete(std::uint64_t id) {
    std::shared_ptr<PendingSnapshot> pending;
    std::map<std::string, std::string> properties;
    {
      std::lock_guard lock(mutex_);
      auto it = in_flight_.find(id);
      if (it == in_flight_.end()) return;
      it->second.completing = true;
      if (!it->second.all_written_at) it->second.all_written_at = clock_.now();
      pending = it->second.pending;
      properties = properties_;
    }
    std::uint64_t full_stored_bytes = 0;
    try {
      full_stored_bytes = pending->complete(properties).referenced_file_bytes();
    } catch (const std::exception& e) {
      abort(id, CheckpointOutcome::declined, std::string("publishing the manifest failed: ") + e.what(), true);
      return;
    }
    InFlight f;
    std::vector<Participant> participants;
    std::vector<CheckpointListenerHook> listeners;
    std::vector<std::uint64_t> subsumed;
    bool commits = false;  // a checkpoint, or a savepoint that ends the job
    {
      std::lock_guard lock(mutex_);
      auto it = in_flight_.find(id);
      f = std::move(it->second);
      in_flight_.erase(it);
      commits = f.barrier.kind == SnapshotKind::checkpoint || f.barrier.final;
      // Completing N subsumes older checkpoints still in flight; an
      // intermediate savepoint subsumes nothing.
      if (commits)
        for (const auto& [other, g] : in_flight_)
          if (other < id && g.barrier.kind == SnapshotKind::checkpoint && !g.completing) subsumed.push_back(other);
      if (f.barrier.kind == SnapshotKind::checkpoint) {
        consecutive_failures_ = 0;
        latest_completed_ = id;
        ++completed_count_;
        if (config_.interval && !finishing_) {
          const auto earliest = clock_.now() + config_.min_pause_between_checkpoints;
          if (!next_periodic_ || *next_periodic_ < earliest) next_periodic_ = earliest;
        }
      }
      if (!commit_elsewhere_ || !commits) participants = participants_;  // else: told once committed
      listeners = listeners_;
      poke_.request_stop();
    }
    const auto now = clock_.now();
    f.stats.outcome = CheckpointOutcome::completed;
    f.stats.full_stored_bytes = full_stored_bytes;
    f.stats.async_duration = *f.all_written_at - f.triggered_at;
    f.stats.end_to_end = now - f.triggered_at;
    for (const auto other : subsumed)
      abort(other, CheckpointOutcome::aborted, "subsumed by checkpoint " + std::to_string(id), false, Failure::ignored);
    for (const auto& p : participants) {
      if (commits) p.participant->notify_checkpoint_complete(id);
      else p.participant->notify_savepoint_complete(id);
    }
    for (const auto& l : listeners) l(f.stats);
    for (auto& p : f.promises) p->set_value(f.stats);
    drain_requests_async();
  }

  /// Lets queued requests go ahead: from the loop, or here when not started.
  void drain_requests_async() {
    if (running_) wake();
    else drain_requests();
  }

  void check_timeouts() {
    std::vector<std::pair<std::uint64_t, std::string>> expired;  // id, why
    {
      std::lock_guard lock(mutex_);
      const auto now = clock_.now();
      for (const auto& [id, f] : in_flight_)
        if (!f.completing && f.deadline <= now) expired.emplace_back(id, laggards_locked(f));
    }
    for (const auto& [id, laggards] : expired)
      abort(id, CheckpointOutcome::timed_out,
            "checkpoint " + std::to_string(id) + " did not complete within " +
                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(config_.timeout).count()) +
                " ms" + laggards);
  }

  /// Who held checkpoint `f` up, for its timeout message.
  std::string laggards_locked(const InFlight& f) const {
    std::string not_cut, not_written;
    for (std::size_t i = 0; i < participants_.size() && i < f.written.size(); ++i) {
      if (f.written[i]) continue;
      auto& list = f.acknowledged[i] ? not_written : not_cut;
      list += (list.empty() ? "" : ", ") + participants_[i].participant->describe();
    }
    std::string out;
    if (!not_cut.empty())
      out += "; never cut its state (did not reach a sync point or align its barriers): " + not_cut;
    if (!not_written.empty()) out += "; state still being written: " + not_written;
    return out;
  }

  /// Whether a failed checkpoint counts towards the tolerable failures: one
  /// subsumed by a newer completed checkpoint does not (as in Flink).
  enum class Failure : bool { counted, ignored };

  void abort(std::uint64_t id, CheckpointOutcome outcome, const std::string& why, bool even_if_completing = false,
             Failure failure = Failure::counted) {
    InFlight f;
    std::vector<Participant> participants;
    {
      std::lock_guard lock(mutex_);
      auto it = in_flight_.find(id);
      if (it == in_flight_.end() || (it->second.completing && !even_if_completing)) return;
      f = std::move(it->second);
      in_flight_.erase(it);
      if (f.barrier.final) finishing_ = false;  // the job goes on
      participants = participants_;
      if (config_.interval && !next_periodic_) next_periodic_ = clock_.now();
      poke_.request_stop();
    }
    f.pending->abort();  // removes its files; writes still running fail on their own
    f.stats.outcome = outcome;
    f.stats.failure = why;
    f.stats.end_to_end = clock_.now() - f.triggered_at;
    for (const auto& p : participants) p.participant->notify_checkpoint_aborted(id);
    finish_failed(f.stats, f.promises, failure);
  }

  void finish_failed(const CheckpointStats& stats, const std::vector<std::shared_ptr<std::promise<CheckpointStats>>>& promises,
                     Failure failure = Failure::counted) {
    std::vector<CheckpointListenerHook> listeners;
    std::function<void(const CheckpointError&)> fail;
    {
      std::lock_guard lock(mutex_);
      listeners = listeners_;
      // A savepoint that fails never fails the job; neither does stopping.
      if (failure == Failure::counted && stats.kind == SnapshotKind::checkpoint && !stopped_ &&
          ++consecutive_failures_ > config_.tolerable_failed_checkpoints && on_failure_ && !failure_reported_) {
        failure_reported_ = true;
        fail = on_failure_;
      }
    }
    for (const auto& l : listeners) l(stats);
    for (const auto& p : promises) p->set_value(stats);
    if (fail)
      fail(CheckpointError(stats.outcome == CheckpointOutcome::timed_out ? errc::checkpoint_timeout : errc::checkpoint_aborted,
                           "more than " + std::to_string(config_.tolerable_failed_checkpoints) +
                               " consecutive checkpoints failed; the last, " + std::to_string(stats.id) + ", " +
                               to_string(stats.outcome) + ": " + stats.failure));
  }

  CheckpointStorage& storage_;
  CheckpointConfig config_;
  Clock& clock_;
  detail::WorkerPool writers_;
  mutable std::mutex mutex_;
  std::vector<Participant> participants_;
  std::vector<CheckpointListenerHook> listeners_;
  std::function<void(const CheckpointError&)> on_failure_;
  std::map<std::string, std::string> properties_;
  std::map<std::uint64_t, InFlight> in_flight_;
  std::deque<Request> requests_;
  std::optional<Clock::time_point> next_periodic_;
  std::optional<std::int64_t> next_tag_millis_;  // epoch millis: the end of the current tag period
  std::optional<std::uint64_t> latest_completed_;
  std::uint64_t completed_count_ = 0;
  std::uint32_t consecutive_failures_ = 0;
  std::uint64_t last_id_ = 0;  // the last id handed out
  bool failure_reported_ = false;
  bool stopped_ = false;
  bool finishing_ = false;
  bool hold_until_started_ = false;
  bool commit_elsewhere_ = false;
  std::stop_source poke_;
  std::atomic<bool> running_{false};
  std::jthread thread_;
};

}  // namespace ckpt
