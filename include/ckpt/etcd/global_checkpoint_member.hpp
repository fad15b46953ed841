#pragma once
// A member's side of a global checkpoint (a Flink task's part), coordinated
// through etcd; see global_checkpoint_leader.hpp for the leader's.
//
// Learnt by polling, not by etcd's watch (a streamed call the JSON gateway
// serves poorly): each poll_once() reads global/pending/ and the outcomes
// after the last one delivered, by key order (= id order). For every
// checkpoint N announced with this member among the expected ones and not yet
// handled, it calls snapshot(N) (where the service cuts its state and writes
// its files) and writes the returned part descriptor to
// global/parts/<N>/<member> in a transaction that holds only while N's
// announcement is still the one it read (a part never lands under an aborted
// or re-announced checkpoint). A snapshot that throws reports a decline with
// its message, and the leader aborts N at once.
//
// Outcomes are delivered in order of id, each once, from the first outcome
// after the member's first poll: on_complete(N) only once etcd holds the
// leader's commit (the outcome key is written in the commit's transaction,
// with checkpoints/latest = N: Flink's notifyCheckpointComplete), on_abort(N,
// reason) when N was aborted (where the member deletes its part's files). A
// member that was slow still gets every outcome the leader retained
// (GlobalCheckpointOptions::retained_outcomes), whether it took part in N or
// not (so on_abort may name an N it never wrote, and on_complete an N it
// joined too late for; complete(N) subsumes every id < N).
//
// start() runs poll_once() on a thread of its own every `poll` (a condition
// variable wait, so stop() and destruction wake it at once); an error there
// (etcd unreachable, a hook that threw) is kept in last_error() and the next
// poll tries again. Hooks run on that thread, one at a time.

#include <ckpt/error.hpp>
#include <ckpt/etcd/client.hpp>
#include <ckpt/etcd/global_checkpoint_record.hpp>
#include <ckpt/etcd/job_keys.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

namespace ckpt::etcd {

struct GlobalCheckpointMemberHooks {
  /// Cuts the member's state for checkpoint N; returns its part descriptor.
  std::function<std::string(std::int64_t id)> snapshot;
  /// N is committed in etcd.
  std::function<void(std::int64_t id)> on_complete;
  /// N was aborted, and why.
  std::function<void(std::int64_t id, const std::string& reason)> on_abort;
};

class GlobalCheckpointMember {
 public:
  GlobalCheckpointMember(Client& client, JobKeys keys, std::string member_id, GlobalCheckpointMemberHooks hooks,
                         std::chrono::milliseconds poll = std::chrono::milliseconds{20})
      : client_(client), keys_(std::move(keys)), member_id_(std::move(member_id)), hooks_(std::move(hooks)),
        poll_(poll) {
    (void)keys_.member(member_id_);  // validates the id
    if (!hooks_.snapshot) throw ConfigError(errc::invalid_argument, "global checkpoint member: no snapshot hook");
    if (poll_.count() < 1) throw ConfigError(errc::invalid_argument, "global checkpoint member: poll must be >= 1 ms");
  }

  GlobalCheckpointMember(const GlobalCheckpointMember&) = delete;
  GlobalCheckpointMember& operator=(const GlobalCheckpointMember&) = delete;
  ~GlobalCheckpointMember() { stop(); }

  const std::string& member_id() const noexcept { return member_id_; }

  /// One round: reports for new announcements, then delivers new outcomes.
  /// Not to be called while start()'s thread runs.
  void poll_once() {
    if (!next_outcome_) {  // outcomes from here on are ours to deliver
      const RangeResult seen = client_.range_prefix(keys_.outcomes());
      next_outcome_ = seen.kvs.empty() ? 1 : id_of(seen.kvs.back().key, keys_.outcomes()) + 1;
    }
    const std::string pending_prefix = keys_.pending();
    for (const auto& kv : client_.range_prefix(pending_prefix).kvs) {
      const Announcement a = decode_announcement(kv.value, kv.key);
      if (a.id < *next_outcome_ || handled_.contains(a.id)) continue;
      if (std::find(a.members.begin(), a.members.end(), member_id_) == a.members.end()) continue;
      handled_.insert(a.id);
      Report report;
      try {
        report.descriptor = hooks_.snapshot(a.id);
      } catch (const std::exception& e) {
        report.declined = true;
        report.reason = e.what();
      } catch (...) {
        report.declined = true;
        report.reason = "the snapshot hook threw (not a std::exception)";
      }
      // Only under the announcement read: not if it was aborted (or replaced) meanwhile.
      client_.txn({Compare::create_revision(kv.key, Compare::Result::equal, kv.create_revision)},
                  {TxnOp::put(keys_.part(a.id, member_id_), encode(report))});
    }
    const RangeResult outcomes = client_.range(keys_.outcome(*next_outcome_), prefix_end(keys_.outcomes()));
    for (const auto& kv : outcomes.kvs) {
      const std::int64_t id = id_of(kv.key, keys_.outcomes());
      const Outcome o = decode_outcome(kv.value, kv.key);
      next_outcome_ = id + 1;
      handled_.erase(handled_.begin(), handled_.lower_bound(id + 1));
      if (o.completed) {
        if (hooks_.on_complete) hooks_.on_complete(id);
      } else if (hooks_.on_abort) {
        hooks_.on_abort(id, o.reason);
      }
    }
  }

  /// Polls on a thread of its own until stop().
  void start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable()) return;
    stop_ = false;
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  /// The last error of start()'s thread (empty when its last poll succeeded).
  std::string last_error() const {
    std::lock_guard lock(mutex_);
    return last_error_;
  }

 private:
  std::int64_t id_of(const std::string& key, const std::string& prefix) const {
    std::int64_t id = 0;
    const char* begin = key.data() + std::min(prefix.size(), key.size());
    const char* end = key.data() + key.size();
    const auto [p, ec] = std::from_chars(begin, end, id);
    if (!key.starts_with(prefix) || ec != std::errc() || p != end || id < 1)
      throw CorruptionError(errc::corrupt_data, client_.endpoint(), key,
                            "etcd at " + client_.endpoint() + ": " + key + " is not a global checkpoint key");
    return id;
  }

  void run() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      lock.unlock();
      std::string error;
      try {
        poll_once();
      } catch (const std::exception& e) {  // nothing may escape the thread
        error = e.what();
      }
      lock.lock();
      last_error_ = error;
      if (wake_.wait_for(lock, poll_, [&] { return stop_; })) break;
    }
  }

  Client& client_;
  JobKeys keys_;
  std::string member_id_;
  GlobalCheckpointMemberHooks hooks_;
  std::chrono::milliseconds poll_;
  std::optional<std::int64_t> next_outcome_;  // only the polling thread touches these two
  std::set<std::int64_t> handled_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::string last_error_;
  std::thread thread_;
};

}  // namespace ckpt::etcd
