#pragma once
// Leader election by a lease-guarded key: /<prefix>/<job>/leader is created
// with a transaction that succeeds only if the key does not exist
// (create_revision == 0), holding the leader's member id, under the leader's
// lease. When that lease ends (revoked, or expired because the leader died or
// was paused past its TTL) the key is deleted and the next candidate's
// transaction succeeds.
//
// The leader's identity is (member id, the key's create revision): the
// fencing token. The create revision is unique to one term of leadership
// (etcd revisions never repeat), so a write conditioned on it (see
// CheckpointCommits) fails for a deposed leader even if the same member later
// leads again.

#include <ckpt/error.hpp>
#include <ckpt/etcd/client.hpp>
#include <ckpt/etcd/job_keys.hpp>
#include <ckpt/etcd/lease.hpp>

#include <chrono>
#include <exception>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace ckpt::etcd {

/// One term of leadership: the fencing token.
struct Leadership {
  std::string member_id;
  std::int64_t create_revision = 0;
  friend bool operator==(const Leadership&, const Leadership&) = default;
};

/// A write conditioned on leadership failed because the writer is no longer
/// the leader (its term ended; another member may lead).
class FencingError : public CheckpointError {
 public:
  using CheckpointError::CheckpointError;
  std::exception_ptr with_context(const std::string& context) const override {
    return ckpt::detail::copy_with_context(*this, context);
  }
};

class LeaderElection {
 public:
  LeaderElection(Client& client, JobKeys keys) : client_(client), keys_(std::move(keys)) {}

  /// Becomes the leader if nobody is; the term, or nothing when another
  /// member leads. Asking again while leading under the same lease returns
  /// the current term.
  std::optional<Leadership> try_acquire(const std::string& member_id, const Lease& lease) {
    (void)keys_.member(member_id);  // validates the id
    const std::string key = keys_.leader();
    const TxnResult r = client_.txn({Compare::absent(key)}, {TxnOp::put(key, member_id, lease.id()), TxnOp::get(key)},
                                    {TxnOp::get(key)});
    const auto& kvs = r.responses.back().range.kvs;
    if (kvs.empty()) return std::nullopt;  // created and gone at once, or gone since the compare: not ours
    const KeyValue& kv = kvs.front();
    if (kv.value == member_id && kv.lease == lease.id()) return Leadership{member_id, kv.create_revision};
    return std::nullopt;
  }

  /// Tries every `poll` until this member leads or `timeout` passes.
  std::optional<Leadership> campaign(const std::string& member_id, const Lease& lease,
                                     std::chrono::milliseconds timeout,
                                     std::chrono::milliseconds poll = std::chrono::milliseconds{100}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (lease.lost()) return std::nullopt;
      if (auto term = try_acquire(member_id, lease)) return term;
      if (std::chrono::steady_clock::now() + poll > deadline) return std::nullopt;
      std::this_thread::sleep_for(poll);
    }
  }

  /// The current leader's term, or nothing when nobody leads.
  std::optional<Leadership> leader() {
    const auto kv = client_.get(keys_.leader());
    if (!kv) return std::nullopt;
    return Leadership{kv->value, kv->create_revision};
  }

  /// Whether `term` is still the current one.
  bool is_leader(const Leadership& term) { return leader() == term; }

  /// Ends `term` (deletes the leader key only if it is still that term);
  /// false when it had already ended.
  bool resign(const Leadership& term) {
    const std::string key = keys_.leader();
    return client_.txn({Compare::create_revision(key, Compare::Result::equal, term.create_revision)},
                       {TxnOp::remove(key)})
        .succeeded;
  }

  const JobKeys& keys() const noexcept { return keys_; }

 private:
  Client& client_;
  JobKeys keys_;
};

}  // namespace ckpt::etcd
