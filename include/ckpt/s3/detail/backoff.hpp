#pragma once
// Exponential back-off with full jitter (the AWS architecture blog's
// recommendation): retry n sleeps uniformly in [0, min(cap, base * 2^(n-1))].

#include <ckpt/s3/options.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

namespace ckpt::s3::detail {

class Backoff {
 public:
  explicit Backoff(RetryOptions options) : options_(options), rng_(std::random_device{}()) {}

  /// The ceiling before retry `n` (1 = the first retry).
  std::chrono::milliseconds ceiling(int n) const {
    const auto base = options_.initial_backoff.count();
    const auto cap = options_.max_backoff.count();
    std::int64_t v = base;
    for (int i = 1; i < n && v < cap; ++i) v *= 2;
    return std::chrono::milliseconds(std::min<std::int64_t>(v, cap));
  }

  /// A random delay in [0, ceiling(n)].
  std::chrono::milliseconds delay(int n) {
    const auto c = ceiling(n).count();
    if (c <= 0) return std::chrono::milliseconds(0);
    std::lock_guard lock(mutex_);
    return std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(0, c)(rng_));
  }

 private:
  RetryOptions options_;
  std::mutex mutex_;
  std::mt19937_64 rng_;
};

}  // namespace ckpt::s3::detail
