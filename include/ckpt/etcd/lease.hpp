#pragma once
// An etcd lease held for as long as this object lives: granted with a TTL,
// kept alive by a thread of its own, revoked on destruction (its keys go with
// it). The keep-alive thread waits on a condition variable, so destruction
// wakes it at once; one renewal in flight is bounded by the client's request
// timeout.
//
// The lease is *lost* when etcd says it no longer has it (it expired or was
// revoked elsewhere) or when no renewal succeeded before the TTL last granted
// ran out (etcd unreachable). A lost lease is not renewed again: whoever held
// keys under it (membership, leadership) must assume they are gone. lost()
// and wait_lost() tell; the on_lost callback, when given, runs once on the
// keep-alive thread, just after lost() turned true (so it may not yet have
// run when wait_lost() returns); not when the holder itself revokes or
// abandons the lease.

#include <ckpt/error.hpp>
#include <ckpt/etcd/client.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace ckpt::etcd {

class Lease {
 public:
  using Clock = std::chrono::steady_clock;

  /// Grants a lease of `ttl` (at least 1 s) and starts keeping it alive,
  /// renewing every ttl/3 (or `interval` when given).
  Lease(Client& client, std::chrono::seconds ttl, std::function<void(const std::string&)> on_lost = {},
        std::chrono::milliseconds interval = std::chrono::milliseconds{0})
      : client_(client), on_lost_(std::move(on_lost)) {
    const Clock::time_point sent = Clock::now();
    const LeaseGrant g = client_.lease_grant(ttl);
    id_ = g.id;
    ttl_ = std::chrono::seconds{g.ttl};
    valid_until_ = sent + ttl_;
    interval_ = interval.count() > 0 ? interval
                                     : std::max(std::chrono::milliseconds{100},
                                                std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) / 3);
    thread_ = std::thread([this] { keep_alive(); });
  }

  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  /// Stops the keep-alive and revokes the lease (best effort: an unreachable
  /// etcd lets it expire by its TTL instead).
  ~Lease() {
    stop_thread();
    if (!abandoned_ && !revoked_) {
      try {
        client_.lease_revoke(id_);
      } catch (const Error&) {  // the TTL ends it
      }
    }
  }

  std::int64_t id() const noexcept { return id_; }
  /// The TTL etcd granted.
  std::chrono::seconds ttl() const noexcept { return ttl_; }

  bool lost() const {
    std::lock_guard lock(mutex_);
    return lost_;
  }
  /// Why the lease was lost (empty while it is not).
  std::string lost_reason() const {
    std::lock_guard lock(mutex_);
    return reason_;
  }
  /// Waits until the lease is lost or `timeout` passes; true when lost.
  bool wait_lost(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return lost_cv_.wait_for(lock, timeout, [&] { return lost_; });
  }

  /// Revokes the lease now: its keys are deleted and it is lost.
  void revoke() {
    stop_thread();
    revoked_ = true;
    client_.lease_revoke(id_);
    mark_lost("revoked by its holder");
  }

  /// Stops renewing without revoking, as a process that died would: etcd
  /// expires the lease after its TTL. For tests and for handing over.
  void abandon() {
    stop_thread();
    abandoned_ = true;
  }

 private:
  void stop_thread() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  void mark_lost(const std::string& why) {
    {
      std::lock_guard lock(mutex_);
      if (lost_) return;
      lost_ = true;
      reason_ = "etcd lease " + std::to_string(id_) + " at " + client_.endpoint() + " lost: " + why;
    }
    lost_cv_.notify_all();
  }

  void keep_alive() {
    std::unique_lock lock(mutex_);
    std::string last_error;
    while (!stop_) {
      if (wake_.wait_for(lock, interval_, [&] { return stop_; })) break;
      lock.unlock();
      std::string lost_because;
      const Clock::time_point sent = Clock::now();
      try {
        const std::int64_t ttl = client_.lease_keep_alive(id_);
        if (ttl <= 0) lost_because = "etcd no longer has it (expired or revoked)";
        else valid_until_ = sent + std::chrono::seconds{ttl};
      } catch (const std::exception& e) {  // nothing may escape the thread
        last_error = e.what();
        if (Clock::now() >= valid_until_)
          lost_because = "not renewed before its " + std::to_string(ttl_.count()) + " s TTL ran out: " + last_error;
      }
      if (!lost_because.empty()) {
        mark_lost(lost_because);
        if (on_lost_) {
          try {
            on_lost_(lost_reason());
          } catch (...) {  // the callback's failure is not the lease's
          }
        }
        lock.lock();
        break;
      }
      lock.lock();
    }
  }

  Client& client_;
  std::function<void(const std::string&)> on_lost_;
  std::int64_t id_ = 0;
  std::chrono::seconds ttl_{0};
  std::chrono::milliseconds interval_{0};
  Clock::time_point valid_until_{};  // only the keep-alive thread writes it once started

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  mutable std::condition_variable lost_cv_;
  bool stop_ = false;
  bool lost_ = false;
  std::string reason_;
  bool abandoned_ = false;  // only the owner's thread touches these two
  bool revoked_ = false;
  std::thread thread_;
};

}  // namespace ckpt::etcd
