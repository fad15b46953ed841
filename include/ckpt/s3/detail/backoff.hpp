#pragma once
// The S3 client's retry delays: ckpt::detail::Backoff (exponential, full
// jitter) configured by RetryOptions.

#include <ckpt/detail/backoff.hpp>
#include <ckpt/s3/options.hpp>

namespace ckpt::s3::detail {

class Backoff : public ckpt::detail::Backoff {
 public:
  explicit Backoff(RetryOptions options) : ckpt::detail::Backoff(options.initial_backoff, options.max_backoff) {}
};

}  // namespace ckpt::s3::detail
