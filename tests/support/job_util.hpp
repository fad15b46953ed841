#pragma once
// Driving a JobRunner from a test: run it until some checkpoints completed,
// then stop it with a savepoint.

#include <ckpt/runtime/job_runner.hpp>

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace ckpt::test {

/// Runs `job` until `n` checkpoints completed, then stops it with a savepoint.
inline void run_until_checkpoints(JobRunner& job, int n, const std::string& savepoint = "stop") {
  std::mutex m;
  std::condition_variable cv;
  int completed = 0;
  job.coordinator().add_listener([&](const CheckpointStats& s) {
    std::lock_guard lock(m);
    if (s.outcome == CheckpointOutcome::completed && s.kind == SnapshotKind::checkpoint) ++completed;
    cv.notify_all();
  });
  std::thread runner([&] { job.run(); });
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return completed >= n; });
  }
  const auto stats = job.stop_with_savepoint(savepoint).get();
  EXPECT_EQ(stats.outcome, CheckpointOutcome::completed) << stats.failure;
  runner.join();
}

}  // namespace ckpt::test
