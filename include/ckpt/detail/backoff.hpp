#pragma once
// Exponential back-off with full jitter (the AWS architecture blog's
// recommendation): retry n waits a random time in [0, min(cap, base * 2^(n-1))],
// so clients that failed together do not retry together. The S3 client's
// request retries and a cluster member's rejoins use it.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

namespace ckpt::detail {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap)
      : initial_(initial), cap_(cap), rng_(std::random_device{}()) {}

  /// The ceiling before retry `n` (1 = the first retry).
  std::chrono::milliseconds ceiling(int n) const {
    const auto cap = cap_.count();
    std::int64_t v = initial_.count();
    for (int i = 1; i < n && v < cap; ++i) v *= 2;
    return std::chrono::milliseconds(std::min<std::int64_t>(v, cap));
  }

  /// A random delay in [0, ceiling(n)]. Thread-safe.
  std::chrono::milliseconds delay(int n) {
    const auto c = ceiling(n).count();
    if (c <= 0) return std::chrono::milliseconds(0);
    std::lock_guard lock(mutex_);
    return std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(0, c)(rng_));
  }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  std::mutex mutex_;
  std::mt19937_64 rng_;
};

}  // namespace ckpt::detail
