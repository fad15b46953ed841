#pragma once
// The etcd keys of one job, all under /<prefix>/<job>/:
//   members/<member-id>       one per live member, under the member's lease
//   leader                    the leader's member id, under the leader's lease
//   checkpoint-id-counter     the next checkpoint id (decimal)
//   checkpoints/latest        the id of the latest committed global checkpoint
//   checkpoints/<id, 20 digits>  the record of each committed checkpoint
//   global/pending/<id>       a global checkpoint in flight: announced by the leader
//   global/parts/<id>/<member>  each member's report (its part, or its decline)
//   global/outcomes/<id>      how each global checkpoint ended (completed/aborted)
// The prefix, job and member ids are names (ckpt/names.hpp rules), so a key
// can never reach outside the job's directory of keys.

#include <ckpt/names.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

namespace ckpt::etcd {

class JobKeys {
 public:
  /// Keys of `job` under /`prefix`/; both must be names.
  JobKeys(std::string prefix, std::string job) {
    validate_name("etcd key prefix", prefix);
    validate_name("job name", job);
    root_ = "/" + prefix + "/" + job + "/";
  }

  const std::string& root() const noexcept { return root_; }
  std::string members() const { return root_ + "members/"; }
  std::string member(std::string_view id) const {
    validate_name("member id", id);
    return members() + std::string(id);
  }
  std::string leader() const { return root_ + "leader"; }
  std::string checkpoint_id_counter() const { return root_ + "checkpoint-id-counter"; }
  std::string latest_checkpoint() const { return root_ + "checkpoints/latest"; }
  /// The record of checkpoint `id`; zero-padded, so the records sort by id.
  std::string checkpoint(std::int64_t id) const { return root_ + "checkpoints/" + padded(id); }

  /// Global checkpoints in flight, one key per announced id.
  std::string pending() const { return root_ + "global/pending/"; }
  std::string pending(std::int64_t id) const { return pending() + padded(id); }
  /// The members' reports of checkpoint `id`.
  std::string parts(std::int64_t id) const { return root_ + "global/parts/" + padded(id) + "/"; }
  std::string part(std::int64_t id, std::string_view member_id) const {
    validate_name("member id", member_id);
    return parts(id) + std::string(member_id);
  }
  /// Outcomes of global checkpoints, one key per id, sorted by id.
  std::string outcomes() const { return root_ + "global/outcomes/"; }
  std::string outcome(std::int64_t id) const { return outcomes() + padded(id); }

  /// `id` as 20 digits, so keys sort by id.
  static std::string padded(std::int64_t id) {
    char digits[24];
    std::snprintf(digits, sizeof digits, "%020lld", static_cast<long long>(id));
    return digits;
  }

 private:
  std::string root_;
};

}  // namespace ckpt::etcd
