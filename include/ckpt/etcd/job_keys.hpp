#pragma once
// The etcd keys of one job, all under /<prefix>/<job>/:
//   members/<member-id>       one per live member, under the member's lease
//   leader                    the leader's member id, under the leader's lease
//   checkpoint-id-counter     the next checkpoint id (decimal)
//   checkpoints/latest        the id of the latest committed global checkpoint
//   checkpoints/<id, 20 digits>  the record of each committed checkpoint
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
  std::string checkpoint(std::int64_t id) const {
    char digits[24];
    std::snprintf(digits, sizeof digits, "%020lld", static_cast<long long>(id));
    return root_ + "checkpoints/" + digits;
  }

 private:
  std::string root_;
};

}  // namespace ckpt::etcd
