#pragma once
// The leader's side of a global checkpoint (Flink's CheckpointCoordinator on
// the JobManager), coordinated through etcd; storage stays opaque: each
// member reports a part descriptor, and the leader's finalize hook gets them
// all (the step that will write the global _metadata).
//
// trigger() runs one checkpoint, start to end:
//   1. takes id N from the CheckpointIdCounter;
//   2. announces N: puts global/pending/<N> (the members expected, as
//      Membership lists them now, and a deadline of now + timeout by the
//      injected Clock) in a transaction that holds only while this term leads
//      (FencingError otherwise, nothing announced); with no member registered
//      N is aborted at once;
//   3. polls global/parts/<N>/ and the members every `poll` (a wait that
//      stop() interrupts) until every expected member has reported, one
//      declined, one that has not reported left the job (its lease ended:
//      its key is gone or was registered anew), or the deadline passes;
//   4. all reported: calls finalize(N, parts), then commits through
//      CheckpointCommits (checkpoints/<N> = the parts and finalize's answer,
//      checkpoints/latest = N, global/outcomes/<N> = completed, the pending
//      keys removed) in one transaction fenced on this term and on N still
//      pending. Otherwise, or when finalize throws, aborts: outcomes/<N> =
//      aborted with the reason (the members missing are named), the pending
//      keys removed, in one transaction fenced the same way.
// A deposed leader's announce, commit or abort throws FencingError and writes
// nothing; what it left pending is aborted by the next leader, whose
// constructor aborts every pending checkpoint it finds (as Flink's JobManager
// failover does). What a trigger() that failed on an etcd error left pending
// is aborted by abort_pending() (ClusterMember calls it before every trigger). Ids come from the shared counter, so they increase strictly
// across leaders.
//
// Outcome keys are kept for the last `retained_outcomes` ids (older ones are
// deleted in the same transactions), so a member at most that far behind still
// learns every outcome.

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/etcd/checkpoint_commits.hpp>
#include <ckpt/etcd/checkpoint_id_counter.hpp>
#include <ckpt/etcd/client.hpp>
#include <ckpt/etcd/global_checkpoint_record.hpp>
#include <ckpt/etcd/job_keys.hpp>
#include <ckpt/etcd/leader_election.hpp>
#include <ckpt/etcd/membership.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::etcd {

struct GlobalCheckpointOptions {
  /// From the announcement to the deadline, by the injected clock.
  std::chrono::milliseconds timeout{std::chrono::seconds{10}};
  /// How often etcd is asked for the members' reports (real time).
  std::chrono::milliseconds poll{std::chrono::milliseconds{20}};
  /// Outcome keys kept (by id) for members that are behind.
  std::int64_t retained_outcomes = 64;
};

/// How one global checkpoint ended.
struct GlobalCheckpointResult {
  std::int64_t id = 0;
  bool completed = false;
  std::vector<MemberPart> parts;  // when completed, sorted by member id
  std::string reason;             // when aborted
  std::int64_t revision = 0;      // the etcd revision of the commit or abort
};

class GlobalCheckpointLeader {
 public:
  /// Writes the global metadata of checkpoint N from every member's part and
  /// returns what the record keeps of it (where it is, say); a throw aborts N.
  using Finalize = std::function<std::string(std::int64_t id, const std::vector<MemberPart>& parts)>;

  /// Takes over as leader `term`: every checkpoint found pending (left by an
  /// earlier leader) is aborted. Throws FencingError when `term` no longer leads.
  GlobalCheckpointLeader(Client& client, JobKeys keys, Leadership term, Clock& clock, Finalize finalize,
                         GlobalCheckpointOptions options = {})
      : client_(client),
        keys_(std::move(keys)),
        term_(std::move(term)),
        clock_(clock),
        finalize_(std::move(finalize)),
        options_(options),
        ids_(client_, keys_),
        commits_(client_, keys_) {
    if (options_.timeout.count() < 0 || options_.poll.count() < 1 || options_.retained_outcomes < 1)
      throw ConfigError(errc::invalid_argument,
                        "global checkpoint options: timeout must be >= 0, poll >= 1 ms, retained_outcomes >= 1");
    if (!finalize_) throw ConfigError(errc::invalid_argument, "global checkpoint leader: no finalize hook");
    taken_over_ = abort_pending("in flight when '" + term_.member_id + "' took over as leader");
  }

  GlobalCheckpointLeader(const GlobalCheckpointLeader&) = delete;
  GlobalCheckpointLeader& operator=(const GlobalCheckpointLeader&) = delete;

  /// The pending checkpoints the constructor aborted.
  const std::vector<std::int64_t>& aborted_on_take_over() const noexcept { return taken_over_; }
  const Leadership& term() const noexcept { return term_; }

  /// Runs one global checkpoint (see above). Throws FencingError when this
  /// term no longer leads; an etcd error is thrown as it came (whatever was
  /// announced stays pending for the next leader or trigger's caller to abort).
  GlobalCheckpointResult trigger() {
    const std::int64_t id = ids_.get_and_increment();
    const MemberView view = Membership(client_, keys_).members();
    Announcement a;
    a.id = id;
    a.leader = term_.member_id;
    a.leader_revision = term_.create_revision;
    const Clock::time_point deadline = clock_.now() + options_.timeout;
    a.deadline_epoch_millis = clock_.epoch_millis() + options_.timeout.count();
    a.members = view.ids();
    const std::string pending = keys_.pending(id);
    const TxnResult r =
        client_.txn({leading(), Compare::absent(pending)}, {TxnOp::put(pending, encode(a)), TxnOp::get(pending)},
                    {TxnOp::get(keys_.leader())});
    if (!r.succeeded) {
      fenced_if_deposed(r.responses.at(0).range, "announce of checkpoint " + std::to_string(id));
      throw CheckpointError(errc::checkpoint_aborted, where(id) + ": already announced");
    }
    const auto& created = r.responses.at(1).range.kvs;
    if (created.empty()) throw CheckpointError(errc::checkpoint_aborted, where(id) + ": its announcement vanished");
    const std::int64_t announced = created.front().create_revision;

    // Wait for every expected member's report, the deadline or stop().
    std::map<std::string, Report> reports;
    std::string abort_reason;
    if (a.members.empty()) abort_reason = "no members were registered when it was announced";
    while (abort_reason.empty()) {
      // The deadline as it stood before the parts are read: a part that
      // landed before the deadline was seen to pass is always counted.
      const bool past_deadline = clock_.now() >= deadline;
      reports.clear();
      const std::string prefix = keys_.parts(id);
      for (const auto& kv : client_.range_prefix(prefix).kvs) {
        const std::string member = kv.key.substr(prefix.size());
        if (std::find(a.members.begin(), a.members.end(), member) != a.members.end())
          reports.emplace(member, decode_report(kv.value, kv.key));
      }
      std::string declines;
      for (const auto& [member, report] : reports)
        if (report.declined) declines += (declines.empty() ? "" : "; ") + ("'" + member + "': " + report.reason);
      if (!declines.empty()) {
        abort_reason = "declined by " + declines;
        break;
      }
      if (reports.size() == a.members.size()) break;
      if (const std::string gone = left(view, reports); !gone.empty()) {
        abort_reason = gone + " left the job (its lease ended) before reporting";
        break;
      }
      if (past_deadline) {
        abort_reason = "timed out after " + std::to_string(options_.timeout.count()) + " ms waiting for " +
                       missing(a.members, reports);
        break;
      }
      if (wait_or_stopped()) {
        abort_reason = "the leader stopped while waiting for " + missing(a.members, reports);
        break;
      }
    }
    GlobalCheckpointResult result;
    result.id = id;
    if (abort_reason.empty()) {
      GlobalRecord record;
      for (const auto& [member, report] : reports) record.parts.push_back({member, report.descriptor});
      try {
        record.metadata = finalize_(id, record.parts);
      } catch (const std::exception& e) {
        abort_reason = std::string("finalize failed: ") + e.what();
      } catch (...) {
        abort_reason = "finalize failed (not a std::exception)";
      }
      if (abort_reason.empty()) {
        CommitAlso also;
        also.compares = {Compare::create_revision(pending, Compare::Result::equal, announced)};
        also.ops = cleanup(id, Outcome{true, {}});
        also.condition = "checkpoint " + std::to_string(id) + " being pending (another leader aborted it?)";
        result.revision = commits_.commit(term_, id, encode(record), also);
        result.completed = true;
        result.parts = std::move(record.parts);
        return result;
      }
    }
    result.revision = abort(id, announced, abort_reason);
    result.reason = std::move(abort_reason);
    return result;
  }

  /// Aborts every checkpoint pending in etcd (one this term announced in a
  /// trigger() that failed on an etcd error, say: only the leader announces,
  /// one at a time, so none is in flight between triggers); their ids.
  /// Throws FencingError when this term no longer leads.
  std::vector<std::int64_t> abort_pending(const std::string& why = "left pending by an earlier trigger that failed") {
    std::vector<std::int64_t> ids;
    const RangeResult pending = client_.range_prefix(keys_.pending());
    for (const auto& kv : pending.kvs) {
      const Announcement a = decode_announcement(kv.value, kv.key);
      abort(a.id, kv.create_revision,
            why + " (announced by '" + a.leader + "', term at revision " + std::to_string(a.leader_revision) + ")");
      ids.push_back(a.id);
    }
    return ids;
  }

  /// Interrupts a trigger() waiting for reports (it aborts its checkpoint), and every later one.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    wake_.notify_all();
  }

 private:
  Compare leading() const {
    return Compare::create_revision(keys_.leader(), Compare::Result::equal, term_.create_revision);
  }

  std::string where(std::int64_t id) const {
    return "etcd global checkpoint " + std::to_string(id) + " of job " + keys_.root() + " at " + client_.endpoint();
  }

  // Throws FencingError when `leader` (the leader key as read in a failed txn) is not this term.
  void fenced_if_deposed(const RangeResult& leader, const std::string& what) const {
    const auto& now = leader.kvs;
    if (!now.empty() && now.front().create_revision == term_.create_revision) return;
    throw FencingError(errc::checkpoint_aborted,
                       "etcd " + what + " for job " + keys_.root() + " at " + client_.endpoint() +
                           " refused: member '" + term_.member_id + "' is no longer the leader (its term began at revision " +
                           std::to_string(term_.create_revision) + "; " +
                           (now.empty() ? std::string("nobody leads now")
                                        : "'" + now.front().value + "' leads since revision " +
                                              std::to_string(now.front().create_revision)) +
                           ")");
  }

  static std::string missing(const std::vector<std::string>& expected, const std::map<std::string, Report>& got) {
    std::string out;
    for (const auto& m : expected)
      if (!got.contains(m)) out += (out.empty() ? "" : ", ") + ("'" + m + "'");
    return out.empty() ? "no member" : "member(s) " + out;
  }

  // The expected members that have not reported and are no longer
  // registered as they were at the announcement ("" when none).
  std::string left(const MemberView& expected, const std::map<std::string, Report>& got) {
    const MemberView now = Membership(client_, keys_).members();
    std::string out;
    for (const auto& m : expected.members) {
      if (got.contains(m.id)) continue;
      const bool still = std::any_of(now.members.begin(), now.members.end(), [&](const Member& n) {
        return n.id == m.id && n.create_revision == m.create_revision;
      });
      if (!still) out += (out.empty() ? "" : ", ") + ("'" + m.id + "'");
    }
    return out.empty() ? out : "member(s) " + out;
  }

  // The outcome, the pending keys removed, outcomes older than the retained ones removed.
  std::vector<TxnOp> cleanup(std::int64_t id, const Outcome& outcome) const {
    std::vector<TxnOp> ops{TxnOp::put(keys_.outcome(id), encode(outcome)), TxnOp::remove(keys_.pending(id)),
                           TxnOp::remove_prefix(keys_.parts(id))};
    if (id > options_.retained_outcomes)
      ops.push_back(TxnOp::remove_range(keys_.outcomes(), keys_.outcome(id - options_.retained_outcomes)));
    return ops;
  }

  // Aborts `id` if it is still the announcement created at `announced`; the revision.
  std::int64_t abort(std::int64_t id, std::int64_t announced, const std::string& reason) {
    const std::string pending = keys_.pending(id);
    const TxnResult r =
        client_.txn({leading(), Compare::create_revision(pending, Compare::Result::equal, announced)},
                    cleanup(id, Outcome{false, reason}), {TxnOp::get(keys_.leader())});
    if (!r.succeeded) {
      fenced_if_deposed(r.responses.at(0).range, "abort of checkpoint " + std::to_string(id));
      throw CheckpointError(errc::checkpoint_aborted, where(id) + ": no longer pending when aborting it (" + reason + ")");
    }
    return r.revision;
  }

  // Waits one poll interval; true when stop() was called.
  bool wait_or_stopped() {
    std::unique_lock lock(mutex_);
    return wake_.wait_for(lock, options_.poll, [&] { return stopped_; });
  }

  Client& client_;
  JobKeys keys_;
  Leadership term_;
  Clock& clock_;
  Finalize finalize_;
  GlobalCheckpointOptions options_;
  CheckpointIdCounter ids_;
  CheckpointCommits commits_;
  std::vector<std::int64_t> taken_over_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;
};

}  // namespace ckpt::etcd
