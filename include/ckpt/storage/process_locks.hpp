#pragma once
// The storage locks this process holds, so that a lock another storage cannot
// take is told apart: held by a second CheckpointStorage in this very process
// (close the first, or share it), or by another process.

#include <unistd.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace ckpt::detail {

class ProcessLocks {
 public:
  static ProcessLocks& instance() {
    static ProcessLocks locks;
    return locks;
  }

  /// Marks `key` (the storage's URI and lock file) held while the result lives.
  std::shared_ptr<void> hold(const std::string& key) {
    std::lock_guard lock(mutex_);
    const auto it = keys_.insert(here(key));
    return std::shared_ptr<void>(nullptr, [this, it](void*) {
      std::lock_guard l(mutex_);
      keys_.erase(it);
    });
  }
  bool held(const std::string& key) const {
    std::lock_guard lock(mutex_);
    return keys_.contains(here(key));
  }

 private:
  // With the pid: a child forked without exec inherits the set, not the locks.
  static std::string here(const std::string& key) { return std::to_string(::getpid()) + " " + key; }

  mutable std::mutex mutex_;
  std::multiset<std::string> keys_;
};

}  // namespace ckpt::detail
