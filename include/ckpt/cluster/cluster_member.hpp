#pragma once
// Part of the optional ckpt::etcd target, in a layer of its own above
// runtime/ (etcd/ rests on storage/ only; this drives a CheckpointedService).
//
// One process of a job that runs across processes (issue 17): member `index`
// of `members` of job `job`, sharing one checkpoint storage with the others
// and coordinated through etcd.
//
//   ckpt::etcd::ClusterMember member(etcd_options, fs, {.job = "counts", .member_id = "m1", .index = 1, .members = 3,
//                                                       .interval = 10s});
//   KeyedStateBackend<std::string> backend(KeyedStateBackendOptions::for_subtask(1, 3));
//   auto& worker = member.service().add_participant(member.participant("counts", &backend));
//   member.restore();  // the latest committed global checkpoint, or nothing on a first start
//   member.start();    // lease, membership, global checkpoints; campaigns for leadership
//   // worker thread: for (;;) { handle(next_request()); worker.sync_point(); }
//
// What it wires together:
//   - a CheckpointedService over a member-mode storage (StorageOptions::job_member):
//     this member writes only its own files under chk-<N>/ and ends its part
//     with chk-<N>/_part-<member>;
//   - a GlobalCheckpointMember: the leader's announcement of N triggers the
//     service's checkpoint N (CheckpointCoordinator::trigger_checkpoint_as: no
//     timer of its own), cut at the workers' next sync points and written in
//     the background as always; once the part is durable its PartRef (path,
//     size, XXH3 of the part manifest) is reported as the part descriptor.
//     The participants' listeners hear complete(N) only when etcd holds the
//     leader's commit (CheckpointCoordinator::commit_elsewhere), abort(N) when
//     it was aborted, and then this member's files of N are removed;
//   - a lease with membership (registered with its index) and, when
//     `candidate`, a campaign for leadership. The leader also runs the
//     GlobalCheckpointLeader: every `interval` (or trigger_now()) it takes the
//     next id, waits for every member's part, and its finalize step reads and
//     verifies every part and publishes the global chk-<N>/_metadata
//     (part_manifest.hpp) before the fenced commit in etcd. After a commit the
//     leader alone applies retention and removes older checkpoints without
//     _metadata (CheckpointStorage::cleanup_committed); after an abort it
//     removes chk-<N>. A deposed leader's commit is fenced, and it removes
//     the _metadata its finalize wrote, so nothing uncommitted is restorable.
//
// Tolerable failures (Flink's tolerableCheckpointFailureNumber): the leader
// counts consecutive failed global checkpoints (aborted, declined, timed
// out, etcd unreachable); when more than `tolerable_failed_checkpoints`
// failed in a row, the on_job_failure handler is called once for that streak.
// The leader keeps triggering at its interval and the service keeps serving:
// what "failing the job" means (restarting the processes, say) is the
// handler's. A committed checkpoint resets the count. A member that died
// makes the next checkpoints fail (its subtasks' state is missing) until a
// process with its id and index joins again.
//
// Membership: the members as etcd lists them, re-read every `poll`;
// on_membership_change() is called (on a thread of its own) whenever the set
// changes, and owner_of(key) says which member index owns a key's key group
// under this generation's `members` (KeyGroupRange::for_subtask). Routing is
// the service's.
//
// etcd unreachable: start() throws a clear error (the service object stays
// usable, its workers' sync points cost nothing); afterwards checkpoints
// fail with the error kept in last_error() (naming etcd's endpoint), the
// service keeps serving, and no local state is changed. What a trigger that
// failed on an etcd error left pending is aborted (and its files removed) by
// the leader's next trigger.
//
// A lost lease (expired while etcd was away, or while this process was
// paused past its TTL) ends this member's registration and, if it led, its
// leadership at once (a trigger in flight is stopped; its commit would be
// fenced anyway). The member then rejoins as a new registration: every
// `poll` the membership thread revokes the old lease (best effort), asks for
// a new one and registers again, until etcd grants it; registered() and
// registrations() tell. A candidate campaigns again under the new lease.

#include <ckpt/clock.hpp>
#include <ckpt/detail/backoff.hpp>
#include <ckpt/error.hpp>
#include <ckpt/etcd/checkpoint_commits.hpp>
#include <ckpt/etcd/client.hpp>
#include <ckpt/etcd/detail/json.hpp>
#include <ckpt/etcd/global_checkpoint_leader.hpp>
#include <ckpt/etcd/global_checkpoint_member.hpp>
#include <ckpt/etcd/global_checkpoint_record.hpp>
#include <ckpt/etcd/job_keys.hpp>
#include <ckpt/etcd/leader_election.hpp>
#include <ckpt/etcd/lease.hpp>
#include <ckpt/etcd/membership.hpp>
#include <ckpt/etcd/options.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/path.hpp>
#include <ckpt/runtime/checkpoint_config.hpp>
#include <ckpt/runtime/checkpointed_service.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>
#include <ckpt/storage/layout.hpp>
#include <ckpt/storage/part_manifest.hpp>
#include <ckpt/storage/storage_options.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ckpt::etcd {

struct ClusterOptions {
  std::string prefix = "ckpt";  // etcd keys live under /<prefix>/<job>/
  std::string job;
  std::string member_id;        // unique in the job: letters, digits, '.', '_', '-'
  std::uint32_t index = 0;      // this member's subtask index ...
  std::uint32_t members = 1;    // ... of this many (the generation's size)
  std::uint32_t max_parallelism = default_max_parallelism;
  std::chrono::seconds lease_ttl{10};
  /// The leader's periodic trigger; none: only trigger_now().
  std::optional<std::chrono::milliseconds> interval;
  /// A global checkpoint not committed this long after its announcement is aborted.
  std::chrono::milliseconds timeout{std::chrono::seconds{10}};
  /// How often etcd is read (announcements, parts, outcomes, membership, leadership).
  std::chrono::milliseconds poll{20};
  /// Consecutive failed global checkpoints tolerated before on_job_failure.
  std::uint32_t tolerable_failed_checkpoints = 0;
  /// Whether this member campaigns for leadership.
  bool candidate = true;

  void validate() const {
    if (auto p = layout::member_id_problem(member_id); !p.empty()) throw ConfigError(errc::invalid_name, p);
    if (members == 0 || index >= members)
      throw ConfigError(errc::invalid_argument, "cluster member '" + member_id + "': index " + std::to_string(index) +
                                                    " is not below the number of members, " + std::to_string(members));
    (void)KeyGroupRange::for_subtask(max_parallelism, members, index);  // validates max_parallelism
    if (lease_ttl.count() < 1 || timeout.count() < 1 || poll.count() < 1 || (interval && interval->count() < 1))
      throw ConfigError(errc::invalid_argument, "cluster member '" + member_id +
                                                    "': lease TTL, timeout, poll and interval must be positive");
  }
};

/// The part descriptor a member reports: its PartRef as JSON.
inline std::string encode_part(const PartRef& ref) {
  return detail::json_object([&](detail::JsonWriter& w) {
    detail::write_key(w, "path", ref.path);
    detail::write_key(w, "size", std::to_string(ref.size));
    detail::write_key(w, "xxh3", std::to_string(ref.checksum));
  });
}

inline PartRef decode_part(const MemberPart& part, std::int64_t id) {
  const std::string at = "the part of member '" + part.member_id + "' in checkpoint " + std::to_string(id);
  const auto doc = detail::parse_json(part.descriptor, at);
  const auto number = [&](const char* name) {
    const std::string text = detail::get_string(doc, name, at);
    std::uint64_t v = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size())
      detail::malformed(at, std::string("field '") + name + "' is not a decimal number");
    return v;
  };
  return PartRef{part.member_id, detail::get_string(doc, "path", at), number("size"), number("xxh3")};
}

class ClusterMember {
 public:
  using FailureHandler = std::function<void(const CheckpointError&)>;
  using MembershipHandler = std::function<void(const MemberView&)>;

  /// Opens the shared storage on `fs` as this member's (its lock taken) and
  /// the service on it; nothing is asked of etcd yet.
  ClusterMember(Options etcd, std::shared_ptr<fs::FileSystem> fs, ClusterOptions options,
                StorageOptions storage_options = {})
      : options_(validated(std::move(options))),
        keys_(options_.prefix, options_.job),
        client_(std::move(etcd)),
        storage_(std::move(fs), std::move(storage_options.as_job_member(options_.member_id))),
        service_(storage_, CheckpointConfig::on_demand().with_timeout(options_.timeout)) {
    service_.coordinator().commit_elsewhere();
  }
  ClusterMember(const ClusterMember&) = delete;
  ClusterMember& operator=(const ClusterMember&) = delete;
  ~ClusterMember() { stop(); }

  const ClusterOptions& options() const noexcept { return options_; }
  const JobKeys& keys() const noexcept { return keys_; }
  Client& client() noexcept { return client_; }
  CheckpointStorage& storage() noexcept { return storage_; }
  CheckpointedService& service() noexcept { return service_; }

  /// This member's key groups.
  KeyGroupRange key_groups() const {
    return KeyGroupRange::for_subtask(options_.max_parallelism, options_.members, options_.index);
  }
  /// A participant of this member: subtask `index` of `members`.
  ParticipantOptions participant(std::string uid, KeyedStateBackendBase* keyed,
                                 OperatorStateStore* operator_state = nullptr, CheckpointedFunction* function = nullptr,
                                 CheckpointListener* listener = nullptr) const {
    return {std::move(uid), options_.index, options_.members, keyed, operator_state, function, listener};
  }

  /// The member index owning `key`'s key group in this generation.
  template <class K>
  std::uint32_t owner_of(const K& key) const {
    return subtask_for_key_group(options_.max_parallelism, options_.members,
                                 key_group_for(key, options_.max_parallelism));
  }
  /// The live member registered with `index`, as last read (none when it is not live).
  std::optional<std::string> member_at(std::uint32_t index) const {
    std::lock_guard lock(mutex_);
    for (const auto& m : view_.members)
      if (m.info == std::to_string(index)) return m.id;
    return std::nullopt;
  }
  /// The members as last read.
  MemberView members() const {
    std::lock_guard lock(mutex_);
    return view_;
  }
  /// Called (on the membership thread) with every new view. Before start().
  void on_membership_change(MembershipHandler handler) { on_membership_ = std::move(handler); }
  /// Called once per streak of more than `tolerable_failed_checkpoints` failed
  /// global checkpoints (on the leader only). Before start().
  void on_job_failure(FailureHandler handler) { on_failure_ = std::move(handler); }

  /// Whether this member holds a live registration (its lease not lost), as far as it knows.
  bool registered() const {
    std::lock_guard lock(mutex_);
    return registered_;
  }
  /// How many times this member registered since start(): 1, plus one per rejoin after a lost lease.
  std::uint64_t registrations() const {
    std::lock_guard lock(mutex_);
    return registrations_;
  }

  /// Restores every participant from the latest committed global checkpoint
  /// (etcd's latest pointer) or, when etcd has no record, from the newest
  /// checkpoint in storage whose _metadata verifies; its id, or nothing on a
  /// first start. Before start(). Throws when etcd cannot be read (restoring
  /// without knowing what was committed could resurrect an uncommitted one).
  std::optional<std::uint64_t> restore(bool allow_non_restored_state = false) {
    const auto latest = CheckpointCommits(client_, keys_).latest();
    std::unique_ptr<SnapshotReader> reader =
        latest ? storage_.open_checkpoint(static_cast<std::uint64_t>(latest->id)) : storage_.restore_latest();
    if (!reader) return std::nullopt;
    service_.restore(*reader, allow_non_restored_state);
    return reader->checkpoint_id();
  }

  /// Joins the job (lease, membership), starts the service and the global
  /// checkpoint member, and campaigns for leadership when a candidate.
  void start() {
    std::lock_guard start_lock(start_mutex_);
    if (started_) return;
    stopping_ = false;
    auto lease = std::make_unique<Lease>(client_, options_.lease_ttl);
    Membership(client_, keys_).join(options_.member_id, *lease, std::to_string(options_.index));
    lease_ = std::move(lease);
    {
      std::lock_guard lock(mutex_);
      registered_ = true;
      registrations_ = 1;
    }
    started_ = true;
    service_.start();
    GlobalCheckpointMemberHooks hooks;
    hooks.snapshot = [this](std::int64_t id) { return snapshot(id); };
    hooks.on_complete = [this](std::int64_t id) { completed(id); };
    hooks.on_abort = [this](std::int64_t id, const std::string& reason) { aborted(id, reason); };
    member_ = std::make_unique<GlobalCheckpointMember>(client_, keys_, options_.member_id, std::move(hooks), options_.poll);
    member_->start();
    membership_thread_ = std::thread([this] { watch_membership(); });
    if (options_.candidate) leader_thread_ = std::thread([this] { lead(); });
  }

  /// Leaves the job: stops leading (aborting a checkpoint in flight), taking
  /// part and checkpointing; revokes the lease. Idempotent.
  void stop() {
    std::lock_guard start_lock(start_mutex_);
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      if (leader_) leader_->stop();
    }
    wake_.notify_all();
    if (leader_thread_.joinable()) leader_thread_.join();
    if (membership_thread_.joinable()) membership_thread_.join();
    if (member_) member_->stop();  // its snapshot hook gives up at its next poll
    service_.stop();
    {
      std::lock_guard trigger_lock(trigger_mutex_);
      std::lock_guard lock(mutex_);
      if (leader_) {
        try {
          LeaderElection(client_, keys_).resign(leader_->term());
        } catch (const Error&) {
          // The lease's end removes the leader key anyway.
        }
      }
      leader_.reset();
    }
    {
      std::lock_guard lock(mutex_);  // last_error() reads it
      member_.reset();
    }
    lease_.reset();  // revoked: the membership key goes with it
    {
      std::lock_guard lock(mutex_);
      registered_ = false;
    }
    started_ = false;
  }

  /// Whether this member leads now (as far as it knows).
  bool leading() const {
    std::lock_guard lock(mutex_);
    return leader_ != nullptr;
  }
  /// Waits (at most `timeout`) until this member leads.
  bool wait_until_leading(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return leader_ != nullptr; });
  }
  /// Waits (at most `timeout`) until this member no longer leads (deposed, or
  /// its lease lost); at once when it does not lead.
  bool wait_until_not_leading(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return leader_ == nullptr; });
  }
  /// Waits (at most `timeout`) until `n` members are registered, as last read.
  bool wait_for_members(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return view_.members.size() >= n; });
  }

  /// The leader runs one global checkpoint now, on the caller's thread;
  /// nothing when this member does not lead. A deposed leader's attempt
  /// throws FencingError (and it stops leading).
  std::optional<GlobalCheckpointResult> trigger_now() {
    std::lock_guard trigger_lock(trigger_mutex_);
    return run_trigger();
  }

  std::uint32_t consecutive_failed_checkpoints() const {
    std::lock_guard lock(mutex_);
    return consecutive_failures_;
  }
  /// The last error of the member's or leader's background work ("" when none).
  std::string last_error() const {
    std::lock_guard lock(mutex_);
    if (!last_error_.empty()) return last_error_;
    return member_ ? member_->last_error() : std::string();
  }

 private:
  static ClusterOptions validated(ClusterOptions o) {
    o.validate();
    return o;
  }

  // -- member side (the GlobalCheckpointMember's thread)

  std::string snapshot(std::int64_t id) {
    const auto n = static_cast<std::uint64_t>(id);
    auto future = service_.coordinator().trigger_checkpoint_as(n);
    while (future.wait_for(options_.poll) != std::future_status::ready) {
      if (stopping_)
        throw CheckpointError(errc::checkpoint_aborted, "member '" + options_.member_id + "' is stopping");
    }
    const CheckpointStats stats = future.get();
    if (stats.outcome != CheckpointOutcome::completed) {  // the participants were told already
      throw CheckpointError(errc::checkpoint_aborted, "member '" + options_.member_id + "' could not write its part of checkpoint " +
                                                          std::to_string(id) + ": " + stats.failure);
    }
    {
      std::lock_guard lock(mutex_);
      written_.insert(n);
    }
    return encode_part(describe_part(storage_.file_system(), n, options_.member_id, storage_.options().limits));
  }

  void completed(std::int64_t id) {
    const auto n = static_cast<std::uint64_t>(id);
    bool ours = false;
    {
      std::lock_guard lock(mutex_);
      ours = written_.contains(n);
      written_.erase(written_.begin(), written_.upper_bound(n));
    }
    if (ours) service_.coordinator().notify_committed(n);
  }

  void aborted(std::int64_t id, const std::string& reason) {
    (void)reason;
    const auto n = static_cast<std::uint64_t>(id);
    bool ours = false;
    {
      std::lock_guard lock(mutex_);
      ours = written_.erase(n) > 0;
    }
    // What failed here was aborted (and its files removed) at once; a part
    // written in full waits for this.
    if (ours) service_.coordinator().notify_aborted_elsewhere(n);
    remove_member_files(storage_.file_system(), n, options_.member_id);  // a throw is kept in last_error()
  }

  // -- membership (its own thread)

  void watch_membership() {
    std::unique_lock lock(mutex_);
    bool first = true;
    while (!stopping_) {
      lock.unlock();
      keep_registered();
      std::optional<MemberView> changed;
      try {
        MemberView now = Membership(client_, keys_).members();
        std::lock_guard guard(mutex_);
        if (first || !now.same_members(view_)) {
          view_ = now;
          changed = std::move(now);
        }
        first = false;
      } catch (const std::exception& e) {
        std::lock_guard guard(mutex_);
        last_error_ = std::string("reading the members: ") + e.what();
      }
      if (changed) {
        changed_.notify_all();
        if (on_membership_) {
          try {
            on_membership_(*changed);
          } catch (const std::exception& e) {
            std::lock_guard guard(mutex_);
            last_error_ = std::string("the membership handler threw: ") + e.what();
          }
        }
      }
      lock.lock();
      wake_.wait_for(lock, options_.poll, [&] { return stopping_.load(); });
    }
  }

  // Membership thread: a lost lease ends the registration and the
  // leadership; a new lease and a new registration replace them once etcd
  // grants one. Attempts that fail back off (rejoin_backoff_: from one poll,
  // doubling, with jitter, up to a quarter of the lease TTL or 1 s), so N
  // members of a job do not hammer an etcd that is down or refusing them.
  void keep_registered() {
    std::string reason;
    {
      std::lock_guard lock(mutex_);
      if (registered_ && lease_ && !lease_->lost()) return;
      if (lease_ && lease_->lost()) lost_reason_ = lease_->lost_reason();
      reason = lost_reason_;
      registered_ = false;
      if (leader_) leader_->stop();  // a trigger in flight ends now, not at its deadline
    }
    std::lock_guard trigger_lock(trigger_mutex_);
    if (stopping_) return;
    if (leader_) deposed("member '" + options_.member_id + "' stopped leading: " + reason);
    const auto now = std::chrono::steady_clock::now();
    if (now < next_rejoin_) return;
    try {
      // lease_ changes on this thread under trigger_mutex_ (take_leadership() reads it under that).
      if (!lease_ || lease_->lost()) {
        lease_.reset();  // revoked if etcd still has it (its keys go with it); best effort
        lease_ = std::make_unique<Lease>(client_, options_.lease_ttl);
      }
      // Refused while etcd still holds our old registration under a lease it kept: tried again next poll.
      Membership(client_, keys_).join(options_.member_id, *lease_, std::to_string(options_.index));
      std::lock_guard lock(mutex_);
      registered_ = true;
      ++registrations_;
      failed_rejoins_ = 0;
    } catch (const std::exception& e) {
      next_rejoin_ = now + rejoin_backoff_.delay(++failed_rejoins_);
      std::lock_guard lock(mutex_);
      last_error_ = "member '" + options_.member_id + "' rejoining job " + keys_.root() + " after " + reason + ": " + e.what();
    }
  }

  // Under trigger_mutex_: this member no longer leads.
  void deposed(const std::string& why) {
    {
      std::lock_guard lock(mutex_);
      leader_.reset();
      last_error_ = why;
    }
    changed_.notify_all();
  }

  // -- leader side (its own thread, or trigger_now()'s caller)

  void lead() {
    auto next = std::chrono::steady_clock::now() + options_.interval.value_or(std::chrono::milliseconds{0});
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      const bool leads = leader_ != nullptr;
      lock.unlock();
      try {
        std::lock_guard trigger_lock(trigger_mutex_);
        if (!leads) {
          if (take_leadership()) next = std::chrono::steady_clock::now() + options_.interval.value_or(options_.poll);
        } else if (options_.interval && std::chrono::steady_clock::now() >= next) {
          next = std::chrono::steady_clock::now() + *options_.interval;
          run_trigger();
        }
      } catch (const std::exception& e) {
        std::lock_guard guard(mutex_);
        last_error_ = std::string("leading: ") + e.what();
      }
      lock.lock();
      auto until = std::chrono::steady_clock::now() + options_.poll;
      if (leader_ && options_.interval && next < until) until = next;
      wake_.wait_until(lock, until, [&] { return stopping_.load(); });
    }
  }

  // Under trigger_mutex_: becomes the leader if nobody is; whether it did.
  bool take_leadership() {
    if (!lease_ || lease_->lost()) return false;
    const auto term = LeaderElection(client_, keys_).try_acquire(options_.member_id, *lease_);
    if (!term) return false;
    advance_counter_past_storage();
    GlobalCheckpointOptions g;
    g.timeout = options_.timeout;
    g.poll = options_.poll;
    auto leader = std::make_unique<GlobalCheckpointLeader>(
        client_, keys_, *term, SystemClock::instance(),
        [this](std::int64_t id, const std::vector<MemberPart>& parts) { return finalize(id, parts); }, g);
    for (const auto id : leader->aborted_on_take_over()) remove_checkpoint(static_cast<std::uint64_t>(id));
    {
      std::lock_guard lock(mutex_);
      leader_ = std::move(leader);
      if (stopping_) leader_->stop();
    }
    changed_.notify_all();
    return true;
  }

  // Ids in etcd must go past every checkpoint in storage (a job whose etcd
  // records were lost restores from storage and must not reuse its ids).
  void advance_counter_past_storage() {
    const auto next = static_cast<std::int64_t>(storage_.next_checkpoint_id());
    const std::string key = keys_.checkpoint_id_counter();
    for (int attempt = 0; attempt < CheckpointIdCounter::max_attempts; ++attempt) {
      const auto kv = client_.get(key);
      std::int64_t now = 0;
      if (kv) {
        const auto [p, ec] = std::from_chars(kv->value.data(), kv->value.data() + kv->value.size(), now);
        if (ec != std::errc() || p != kv->value.data() + kv->value.size()) return;  // the counter reports it
      }
      if (now >= next) return;
      const Compare guard = kv ? Compare::mod_revision(key, Compare::Result::equal, kv->mod_revision) : Compare::absent(key);
      if (client_.txn({guard}, {TxnOp::put(key, std::to_string(next))}).succeeded) return;
    }
  }

  std::string finalize(std::int64_t id, const std::vector<MemberPart>& parts) {
    std::vector<PartRef> refs;
    for (const auto& p : parts) refs.push_back(decode_part(p, id));
    {
      std::lock_guard lock(mutex_);
      finalized_ = id;
    }
    publish_global_manifest(storage_.file_system(), static_cast<std::uint64_t>(id), refs, {},
                            storage_.options().limits);
    return layout::checkpoint_dir(static_cast<std::uint64_t>(id));
  }

  // Under trigger_mutex_.
  std::optional<GlobalCheckpointResult> run_trigger() {
    GlobalCheckpointLeader* leader = nullptr;
    {
      std::lock_guard lock(mutex_);
      leader = leader_.get();
      finalized_.reset();
    }
    if (!leader) return std::nullopt;
    GlobalCheckpointResult result;
    try {
      // What an earlier trigger left pending (it failed on an etcd error): aborted, its files removed.
      for (const auto id : leader->abort_pending()) remove_checkpoint(static_cast<std::uint64_t>(id));
      result = leader->trigger();
    } catch (const FencingError& e) {
      // Deposed: what our finalize published must not stay restorable.
      remove_uncommitted_metadata();
      deposed(e.what());
      throw;
    } catch (const std::exception& e) {
      remove_uncommitted_metadata();
      result.reason = e.what();
      failed(result);
      return result;
    }
    if (result.completed) {
      {
        std::lock_guard lock(mutex_);
        consecutive_failures_ = 0;
        failure_reported_ = false;
      }
      try {
        storage_.cleanup_committed(static_cast<std::uint64_t>(result.id));
      } catch (const Error& e) {
        std::lock_guard lock(mutex_);
        last_error_ = std::string("cleanup after checkpoint ") + std::to_string(result.id) + ": " + e.what();
      }
    } else {
      remove_checkpoint(static_cast<std::uint64_t>(result.id));
      failed(result);
    }
    return result;
  }

  void failed(const GlobalCheckpointResult& result) {
    FailureHandler handler;
    std::string message;
    {
      std::lock_guard lock(mutex_);
      last_error_ = (result.id == 0 ? std::string("a global checkpoint failed before it had an id")
                                    : "global checkpoint " + std::to_string(result.id) + " failed") +
                    ": " + result.reason;
      if (++consecutive_failures_ > options_.tolerable_failed_checkpoints && !failure_reported_) {
        failure_reported_ = true;
        handler = on_failure_;
        message = "job " + keys_.root() + ": more than " + std::to_string(options_.tolerable_failed_checkpoints) +
                  " consecutive global checkpoints failed; the last, " + std::to_string(result.id) + ": " + result.reason;
      }
    }
    if (handler) handler(CheckpointError(errc::checkpoint_aborted, message));
  }

  // The _metadata our finalize published for a checkpoint etcd does not hold.
  void remove_uncommitted_metadata() {
    std::optional<std::int64_t> id;
    {
      std::lock_guard lock(mutex_);
      id = finalized_;
    }
    if (!id) return;
    try {
      if (CheckpointCommits(client_, keys_).record(*id)) return;
      storage_.file_system().remove(fs::join(layout::checkpoint_dir(static_cast<std::uint64_t>(*id)), manifest_file_name));
    } catch (const Error& e) {  // etcd unreachable: we cannot know; the next commit's cleanup keeps retention
      std::lock_guard lock(mutex_);
      last_error_ = std::string("after a failed commit: ") + e.what();
    }
  }

  // An aborted checkpoint's directory (a late member's file may still land; the next commit's cleanup takes it).
  void remove_checkpoint(std::uint64_t id) {
    try {
      storage_.file_system().remove_all(layout::checkpoint_dir(id));
    } catch (const Error& e) {
      std::lock_guard lock(mutex_);
      last_error_ = "removing aborted checkpoint " + std::to_string(id) + ": " + e.what();
    }
  }

  ClusterOptions options_;
  JobKeys keys_;
  Client client_;
  CheckpointStorage storage_;
  CheckpointedService service_;
  MembershipHandler on_membership_;
  FailureHandler on_failure_;

  std::mutex start_mutex_;    // start() and stop()
  std::mutex trigger_mutex_;  // one global checkpoint at a time; leader_ changes under it (and mutex_)
  mutable std::mutex mutex_;
  std::condition_variable wake_;     // stop
  std::condition_variable changed_;  // leadership, membership
  std::atomic<bool> stopping_{false};
  bool started_ = false;  // under start_mutex_
  bool registered_ = false;
  std::uint64_t registrations_ = 0;
  std::string lost_reason_;  // the membership thread's
  // The membership thread's, too: when it may try to rejoin again.
  static std::chrono::milliseconds rejoin_cap(const ClusterOptions& o) {
    const auto quarter_lease = std::chrono::duration_cast<std::chrono::milliseconds>(o.lease_ttl) / 4;
    return std::max(o.poll, std::min<std::chrono::milliseconds>(std::chrono::seconds{1}, quarter_lease));
  }
  ckpt::detail::Backoff rejoin_backoff_{options_.poll, rejoin_cap(options_)};
  int failed_rejoins_ = 0;
  std::chrono::steady_clock::time_point next_rejoin_{};
  std::unique_ptr<Lease> lease_;
  std::unique_ptr<GlobalCheckpointMember> member_;
  std::unique_ptr<GlobalCheckpointLeader> leader_;
  std::thread membership_thread_;
  std::thread leader_thread_;
  MemberView view_;
  std::set<std::uint64_t> written_;  // parts written in full, outcome not yet known
  std::optional<std::int64_t> finalized_;
  std::uint32_t consecutive_failures_ = 0;
  bool failure_reported_ = false;
  std::string last_error_;
};

}  // namespace ckpt::etcd
