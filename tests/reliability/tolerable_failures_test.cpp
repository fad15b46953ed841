// R3 at the level of a running program: a service checkpointing through a
// CheckpointCoordinator on FaultInjectingFileSystem. An I/O fault fails one
// checkpoint (its stats name the file), the workers keep running, the next
// checkpoint completes; more consecutive failures than tolerated fail the job
// with the last error; after a power loss the last completed checkpoint
// restores with its content.

#include <ckpt/ckpt.hpp>
#include <ckpt/fs/fault_injecting_file_system.hpp>
#include <ckpt/runtime/checkpointed_service.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <future>
#include <memory>
#include <string>

namespace {
namespace tolerable_failures {

using ckpt::fs::FaultInjectingFileSystem;
using ckpt::fs::FaultInjectingOs;
using Op = FaultInjectingOs::Op;
using testing::HasSubstr;

const std::string kRoot = "/ckpt";

/// One worker counting per key; `step()` serves one request and reaches the
/// sync point, as a service's loop does.
struct CountingService {
  std::shared_ptr<FaultInjectingOs> os;
  ckpt::CheckpointStorage storage;
  ckpt::KeyedStateBackend<std::uint64_t> backend;
  ckpt::ValueState<std::uint64_t> count = backend.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"count", 0});
  ckpt::CheckpointedService service;
  ckpt::ServiceParticipant& worker;
  std::uint64_t requests = 0;

  CountingService(std::shared_ptr<FaultInjectingOs> fault_os, int tolerable)
      : os(std::move(fault_os)),
        storage(std::make_shared<FaultInjectingFileSystem>(os, kRoot),
                ckpt::StorageOptions::defaults().retain(1).with_compression_threads(1)),
        service(storage, ckpt::CheckpointConfig::on_demand().with_tolerable_failed_checkpoints(tolerable)),
        worker(service.add_participant({.uid = "counter", .keyed = &backend})) {}

  void step() {
    backend.set_current_key(requests++ % 16);
    count.update(count.value() + 1);
    worker.sync_point();
  }
  /// Serves requests until checkpoint `f` is decided; its stats.
  ckpt::CheckpointStats serve_until(const std::shared_future<ckpt::CheckpointStats>& f) {
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) step();
    return f.get();
  }
  std::uint64_t total() {
    std::uint64_t sum = 0;
    for (std::uint64_t k = 0; k < 16; ++k) {
      backend.set_current_key(k);
      sum += count.value();
    }
    return sum;
  }
};

TEST(TolerableFailures, AnIoFaultFailsOneCheckpointAndTheServiceGoesOn) {
  auto os = std::make_shared<FaultInjectingOs>();
  CountingService s(os, /*tolerable=*/1);
  bool job_failed = false;
  s.service.coordinator().on_job_failure([&](const ckpt::CheckpointError&) { job_failed = true; });
  s.service.start();

  ASSERT_EQ(s.serve_until(s.service.checkpoint_now()).outcome, ckpt::CheckpointOutcome::completed);
  os->fail_call(Op::fsync, 1, EIO);  // the next checkpoint's first fsync: its directory's
  const auto failed = s.serve_until(s.service.checkpoint_now());
  EXPECT_NE(failed.outcome, ckpt::CheckpointOutcome::completed);
  EXPECT_THAT(failed.failure, HasSubstr("'chk-2'"));  // names the directory
  EXPECT_FALSE(job_failed);

  const auto third = s.serve_until(s.service.checkpoint_now());
  ASSERT_EQ(third.outcome, ckpt::CheckpointOutcome::completed);
  EXPECT_EQ(third.id, 3u);
  const auto at_third = s.requests;  // the cut is at the sync point that completed it, at the latest
  s.service.stop();
  EXPECT_FALSE(job_failed);

  // Power loss: only what was durable survives; checkpoint 3 restores.
  os->crash();
  ckpt::CheckpointStorage after(std::make_shared<FaultInjectingFileSystem>(os, kRoot));
  auto latest = after.restore_latest();
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->checkpoint_id(), 3u);
  ckpt::KeyedStateBackend<std::uint64_t> restored;
  auto count = restored.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"count", 0});
  latest->restore("counter", &restored, nullptr);
  std::uint64_t sum = 0;
  for (std::uint64_t k = 0; k < 16; ++k) {
    restored.set_current_key(k);
    sum += count.value();
  }
  EXPECT_GT(sum, 0u);
  EXPECT_LE(sum, at_third);
}

TEST(TolerableFailures, MoreConsecutiveFailuresThanToleratedFailTheJobWithTheLastError) {
  auto os = std::make_shared<FaultInjectingOs>();
  CountingService s(os, /*tolerable=*/1);
  std::promise<std::string> failure;
  s.service.coordinator().on_job_failure([&](const ckpt::CheckpointError& e) { failure.set_value(e.what()); });
  s.service.start();

  ASSERT_EQ(s.serve_until(s.service.checkpoint_now()).outcome, ckpt::CheckpointOutcome::completed);
  os->fail_call(Op::write, 1, ENOSPC);
  EXPECT_NE(s.serve_until(s.service.checkpoint_now()).outcome, ckpt::CheckpointOutcome::completed);
  auto message = failure.get_future();
  EXPECT_EQ(message.wait_for(std::chrono::seconds(0)), std::future_status::timeout);  // one is tolerated
  os->fail_call(Op::write, 1, ENOSPC);
  EXPECT_NE(s.serve_until(s.service.checkpoint_now()).outcome, ckpt::CheckpointOutcome::completed);
  const auto text = message.get();  // the job fails: the handler runs right after the promise is set
  EXPECT_THAT(text, HasSubstr("chk-3/"));
  EXPECT_THAT(text, HasSubstr("No space left on device"));
  s.service.stop();

  // The first checkpoint is still the latest.
  auto latest = s.storage.restore_latest();
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->checkpoint_id(), 1u);
}

}  // namespace tolerable_failures
}  // namespace
