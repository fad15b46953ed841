#pragma once
// A parallel loop for work the state layer splits by key group (restoring
// key groups, each into its own maps): plain threads for the length of one
// call, the caller's among them.

#include <ckpt/bytes.hpp>

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace ckpt::detail {

/// Calls fn(i, scratch) for every i in [0, n) on up to `threads` threads (the
/// calling one included), items taken in ascending order as threads free up;
/// each thread has its own scratch buffer. After the first exception no new
/// item starts, and once every thread has stopped the exception is rethrown
/// here. With one thread (or one item) it is a plain loop on the caller.
inline void run_parallel(std::size_t threads, std::size_t n, const std::function<void(std::size_t, Bytes&)>& fn) {
  if (threads <= 1 || n <= 1) {
    Bytes scratch;
    for (std::size_t i = 0; i < n; ++i) fn(i, scratch);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  const auto work = [&] {
    Bytes scratch;
    while (!failed.load(std::memory_order_relaxed)) {
      const auto i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) return;
      try {
        fn(i, scratch);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        failed.store(true, std::memory_order_relaxed);
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (std::size_t t = 1; t < threads; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the ones we have do the work
    }
  }
  work();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace ckpt::detail
