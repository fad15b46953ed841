#pragma once
// The members of one job: each live member has the key
// /<prefix>/<job>/members/<member-id> under its own lease, so a member whose
// lease expires (its process died or lost etcd) drops out by itself.
//
// Changes are learnt by polling, not by etcd's watch (a streamed call the
// JSON gateway serves poorly): wait_for_change() re-reads the member keys
// every poll interval until the set of (member id, create revision) differs
// from the one the caller knows, or its timeout passes. A member that left
// and came back under a new lease has a new create revision, so it counts as
// a change too.

#include <ckpt/error.hpp>
#include <ckpt/etcd/client.hpp>
#include <ckpt/etcd/job_keys.hpp>
#include <ckpt/etcd/lease.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ckpt::etcd {

struct Member {
  std::string id;
  std::string info;                // what the member registered with (an address, say)
  std::int64_t create_revision = 0;
  std::int64_t lease = 0;
  friend bool operator==(const Member&, const Member&) = default;
};

/// The live members at one revision of etcd, sorted by id.
struct MemberView {
  std::vector<Member> members;
  std::int64_t revision = 0;

  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    out.reserve(members.size());
    for (const auto& m : members) out.push_back(m.id);
    return out;
  }
  /// Same members (ids and registrations), whatever the revision read at.
  bool same_members(const MemberView& other) const { return members == other.members; }
};

class Membership {
 public:
  Membership(Client& client, JobKeys keys) : client_(client), keys_(std::move(keys)) {}

  /// Registers `member_id` under `lease`. A member id already registered
  /// under another lease is refused (ConfigError, errc::already_exists): two
  /// processes must not claim one id; under the same lease it is updated.
  void join(const std::string& member_id, const Lease& lease, const std::string& info = {}) {
    const std::string key = keys_.member(member_id);
    const TxnResult r = client_.txn({Compare::absent(key)}, {TxnOp::put(key, info, lease.id())}, {TxnOp::get(key)});
    if (r.succeeded) return;
    const auto& kvs = r.responses.at(0).range.kvs;
    if (!kvs.empty() && kvs.front().lease != lease.id())
      throw ConfigError(errc::already_exists, "etcd member '" + member_id + "' of job " + keys_.root() +
                                                  " is already registered under another lease (at " +
                                                  client_.endpoint() + ")");
    // Ours (or gone since): write it under our lease, guarded so it cannot take another's.
    const std::int64_t seen = kvs.empty() ? 0 : kvs.front().mod_revision;
    const Compare guard = seen == 0 ? Compare::absent(key) : Compare::mod_revision(key, Compare::Result::equal, seen);
    if (!client_.txn({guard}, {TxnOp::put(key, info, lease.id())}).succeeded)
      throw ConfigError(errc::already_exists, "etcd member '" + member_id + "' of job " + keys_.root() +
                                                  " was registered by another process meanwhile (at " +
                                                  client_.endpoint() + ")");
  }

  /// Removes `member_id`'s registration (revoking its lease does too).
  void leave(const std::string& member_id) { client_.delete_range(keys_.member(member_id)); }

  /// The live members, sorted by id.
  MemberView members() {
    const std::string prefix = keys_.members();
    const RangeResult r = client_.range_prefix(prefix);
    MemberView view;
    view.revision = r.revision;
    for (const auto& kv : r.kvs) {
      if (!kv.key.starts_with(prefix))
        throw CorruptionError(errc::corrupt_data, client_.endpoint(), "members",
                              "etcd at " + client_.endpoint() + " returned a key outside " + prefix);
      view.members.push_back({kv.key.substr(prefix.size()), kv.value, kv.create_revision, kv.lease});
    }
    std::sort(view.members.begin(), view.members.end(),
              [](const Member& a, const Member& b) { return a.id < b.id; });
    return view;
  }

  /// Polls every `poll` until the members differ from `known`; the new view,
  /// or nothing when `timeout` passed first. An etcd error is thrown.
  std::optional<MemberView> wait_for_change(const MemberView& known, std::chrono::milliseconds timeout,
                                            std::chrono::milliseconds poll = std::chrono::milliseconds{100}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      MemberView now = members();
      if (!now.same_members(known)) return now;
      if (std::chrono::steady_clock::now() + poll > deadline) return std::nullopt;
      std::this_thread::sleep_for(poll);
    }
  }

  const JobKeys& keys() const noexcept { return keys_; }

 private:
  Client& client_;
  JobKeys keys_;
};

}  // namespace ckpt::etcd
