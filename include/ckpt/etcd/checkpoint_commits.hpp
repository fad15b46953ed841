#pragma once
// The job's committed global checkpoints in etcd (Flink's
// CompletedCheckpointStore kept in ZooKeeper): committing checkpoint N is one
// transaction that writes /<prefix>/<job>/checkpoints/<N> (the record: where
// the global _metadata is, say) and checkpoints/latest = N, and that succeeds
// only if
//   - the leader key still has the committing leader's create revision (its
//     fencing token): a deposed leader's commit fails with FencingError and
//     changes nothing;
//   - checkpoints/latest is still what the committer read, and N is newer.
// So "latest" only ever moves forward, and only by the leader of the moment.

#include <ckpt/error.hpp>
#include <ckpt/etcd/client.hpp>
#include <ckpt/etcd/job_keys.hpp>
#include <ckpt/etcd/leader_election.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::etcd {

struct CommittedCheckpoint {
  std::int64_t id = 0;
  std::string record;
  std::int64_t revision = 0;  // the etcd revision of the commit
};

/// More to hold and do in the commit's one transaction (a global checkpoint
/// commits only while it is still pending, and clears its pending keys).
struct CommitAlso {
  std::vector<Compare> compares;  // besides leadership and "latest"
  std::vector<TxnOp> ops;         // besides the record and "latest"
  std::string condition;          // what `compares` mean, for the error when they fail
};

class CheckpointCommits {
 public:
  /// Transactions before commit() gives up when others keep moving "latest".
  static constexpr int max_attempts = 16;

  CheckpointCommits(Client& client, JobKeys keys) : client_(client), keys_(std::move(keys)) {}

  /// Commits checkpoint `id` with `record` as leader `term`. Throws
  /// FencingError when `term` is no longer the leader's (nothing written),
  /// CheckpointError(errc::checkpoint_aborted) when `id` is not newer than the
  /// latest committed checkpoint or when `also.compares` fail (nothing
  /// written); returns the commit's etcd revision.
  std::int64_t commit(const Leadership& term, std::int64_t id, const std::string& record,
                      const CommitAlso& also = {}) {
    if (id < 1) throw ConfigError(errc::invalid_argument, "a checkpoint id must be at least 1");
    const std::string leader = keys_.leader();
    const std::string latest = keys_.latest_checkpoint();
    for (int attempt = 0; attempt < max_attempts; ++attempt) {
      const auto current = client_.get(latest);
      if (current && parse(current->value) >= id)
        throw CheckpointError(errc::checkpoint_aborted,
                              "etcd commit of checkpoint " + std::to_string(id) + " for job " + keys_.root() +
                                  " at " + client_.endpoint() + ": checkpoint " + current->value +
                                  " is already committed");
      const Compare latest_unchanged = current ? Compare::mod_revision(latest, Compare::Result::equal,
                                                                       current->mod_revision)
                                               : Compare::absent(latest);
      std::vector<Compare> compares{
          Compare::create_revision(leader, Compare::Result::equal, term.create_revision), latest_unchanged};
      compares.insert(compares.end(), also.compares.begin(), also.compares.end());
      std::vector<TxnOp> ops{TxnOp::put(keys_.checkpoint(id), record), TxnOp::put(latest, std::to_string(id))};
      ops.insert(ops.end(), also.ops.begin(), also.ops.end());
      const TxnResult r = client_.txn(compares, ops, {TxnOp::get(leader), TxnOp::get(latest)});
      if (r.succeeded) return r.revision;
      const auto& now = r.responses.at(0).range.kvs;
      if (now.empty() || now.front().create_revision != term.create_revision)
        throw FencingError(errc::checkpoint_aborted,
                           "etcd commit of checkpoint " + std::to_string(id) + " for job " + keys_.root() + " at " +
                               client_.endpoint() + " refused: member '" + term.member_id +
                               "' is no longer the leader (its term began at revision " +
                               std::to_string(term.create_revision) + "; " +
                               (now.empty() ? std::string("nobody leads now")
                                            : "'" + now.front().value + "' leads since revision " +
                                                  std::to_string(now.front().create_revision)) +
                               ")");
      const auto& latest_now = r.responses.at(1).range.kvs;
      const bool latest_same = current ? (!latest_now.empty() && latest_now.front().mod_revision == current->mod_revision)
                                       : latest_now.empty();
      if (latest_same && !also.compares.empty())
        throw CheckpointError(errc::checkpoint_aborted, "etcd commit of checkpoint " + std::to_string(id) +
                                                            " for job " + keys_.root() + " at " + client_.endpoint() +
                                                            " refused: " + also.condition + " no longer holds");
      // "latest" moved between our read and the transaction: read again.
    }
    throw CheckpointError(errc::checkpoint_aborted, "etcd commit of checkpoint " + std::to_string(id) + " for job " +
                                                        keys_.root() + " at " + client_.endpoint() +
                                                        ": the latest pointer kept changing");
  }

  /// The latest committed checkpoint, or nothing when none was committed.
  /// (Records are never deleted here, so reading the pointer and then its
  /// record cannot miss the record even if a newer commit comes between.)
  std::optional<CommittedCheckpoint> latest() {
    const std::string latest_key = keys_.latest_checkpoint();
    const auto pointer = client_.get(latest_key);
    if (!pointer) return std::nullopt;
    const std::int64_t id = parse(pointer->value);
    auto rec = record(id);
    if (!rec)
      throw CorruptionError(errc::corrupt_data, client_.endpoint(), keys_.checkpoint(id),
                            "etcd at " + client_.endpoint() + ": " + latest_key + " names checkpoint " +
                                std::to_string(id) + ", which has no record");
    return CommittedCheckpoint{id, std::move(*rec), pointer->mod_revision};
  }

  /// The record of committed checkpoint `id`, or nothing.
  std::optional<std::string> record(std::int64_t id) {
    auto kv = client_.get(keys_.checkpoint(id));
    if (!kv) return std::nullopt;
    return std::move(kv->value);
  }

 private:
  std::int64_t parse(const std::string& text) const {
    std::int64_t v = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v < 1)
      throw CorruptionError(errc::corrupt_data, client_.endpoint(), keys_.latest_checkpoint(),
                            "etcd at " + client_.endpoint() + ": " + keys_.latest_checkpoint() +
                                " does not hold a checkpoint id (" + std::to_string(text.size()) + " bytes)");
    return v;
  }

  Client& client_;
  JobKeys keys_;
};

}  // namespace ckpt::etcd
