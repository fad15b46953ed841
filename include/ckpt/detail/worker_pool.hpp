#pragma once
// A fixed set of threads running posted tasks in order of posting. Used for
// parallel compression and background writing of snapshots. (Not Boost.Asio's
// thread_pool: its standalone atomic fences are invisible to ThreadSanitizer,
// and this code is what the sanitizer must check.)

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace ckpt::detail {

class WorkerPool {
 public:
  explicit WorkerPool(std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool() { join(); }

  /// Runs `task` on a worker. After join(), tasks are dropped.
  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
  }

  /// Runs what is queued, then stops the workers. Idempotent.
  void join() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
    for (auto& w : workers_)
      if (w.joinable()) w.join();
  }

  std::size_t size() const noexcept { return workers_.size(); }

 private:
  void work() {
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return closed_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // closed and drained
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool closed_ = false;
  std::vector<std::jthread> workers_;
};

}  // namespace ckpt::detail
