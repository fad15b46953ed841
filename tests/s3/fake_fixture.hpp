#pragma once
// A FakeS3 on loopback and S3FileSystems pointed at it.
#include "fake_s3.hpp"
#include "test_data.hpp"

#include <ckpt/s3/file_system.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ckpt::s3::test {

class FakeS3Test : public ::testing::Test {
 protected:
  explicit FakeS3Test(FakeS3Options o = {}) : server_(std::move(o)) {}

  /// Tight retries without back-off and short timeouts: fault tests fail fast.
  S3Options options() {
    return S3Options::custom_endpoint(server_.endpoint())
        .with_credentials(Credentials::make(server_.options().access_key_id, Secret(server_.options().secret)))
        .with_part_size(S3Options::min_part_size)
        .with_retry({4, std::chrono::milliseconds(0), std::chrono::milliseconds(0)})
        .with_timeouts(std::chrono::milliseconds(2000), std::chrono::milliseconds(10'000))
        .with_conditional_writes(ConditionalWrites::supported)
        .with_log([this](std::string_view line) {
          std::lock_guard lock(log_mutex_);
          log_.emplace_back(line);
        });
  }
  std::string root() const { return "s3://" + server_.options().bucket + "/root"; }
  std::shared_ptr<S3FileSystem> make_fs(S3Options o) { return S3FileSystem::make(root(), std::move(o)); }
  std::shared_ptr<S3FileSystem> make_fs() { return make_fs(options()); }

  std::vector<std::string> log_lines() {
    std::lock_guard lock(log_mutex_);
    return log_;
  }

  FakeS3 server_;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

}  // namespace ckpt::s3::test
