// The coordinator with scripted participants and a manual clock: triggering,
// completion and its notifications, timeouts, tolerable failures, pauses,
// concurrency and subsumption — no sleeping anywhere.
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/runtime/checkpoint_coordinator.hpp>

#include "forwarding_file_system.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

/// Records what the coordinator tells it; the test decides when it acknowledges.
class ScriptedParticipant final : public ckpt::CheckpointParticipant {
 public:
  explicit ScriptedParticipant(std::string uid) : uid_(std::move(uid)) {}
  void trigger_checkpoint(const ckpt::CheckpointBarrier& b) override {
    std::lock_guard lock(mutex_);
    barriers_.push_back(b);
    changed_.notify_all();
  }
  void notify_checkpoint_complete(std::uint64_t id) override { record("complete " + std::to_string(id)); }
  void notify_checkpoint_aborted(std::uint64_t id) override { record("aborted " + std::to_string(id)); }

  /// Waits for the next barrier (triggered on the coordinator's thread).
  ckpt::CheckpointBarrier next_barrier() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !barriers_.empty(); });
    auto b = barriers_.front();
    barriers_.pop_front();
    return b;
  }
  void ack(ckpt::CheckpointCoordinator& c, std::size_t index, std::uint64_t id, std::int64_t value = 0) {
    ckpt::OperatorStateStore store;
    store.get_list_state(ckpt::ListStateDescriptor<std::int64_t>{"v"}).add(value);
    c.acknowledge(index, id, {uid_, 0, 1, nullptr, store.snapshot()}, 1ms);
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  void wait_events(std::size_t n) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return events_.size() >= n; });
  }

 private:
  void record(std::string e) {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(e));
    changed_.notify_all();
  }
  std::string uid_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<ckpt::CheckpointBarrier> barriers_;
  std::vector<std::string> events_;
};

/// A memory file system whose make_directories() (the start of a
/// checkpoint) can be held until the test releases it.
class GatedFileSystem final : public ckpt::test::ForwardingFileSystem {
 public:
  explicit GatedFileSystem(std::shared_ptr<ckpt::fs::MemoryFileSystem> memory)
      : ForwardingFileSystem(memory), memory_(std::move(memory)) {}
  ckpt::fs::MemoryFileSystem& memory() noexcept { return *memory_; }
  void hold() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  void wait_entered() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return entered_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    held_ = false;
    changed_.notify_all();
  }
  void make_directories(std::string_view d) override {
    {
      std::unique_lock lock(mutex_);
      entered_ = true;
      changed_.notify_all();
      changed_.wait(lock, [&] { return !held_; });
    }
    ForwardingFileSystem::make_directories(d);
  }

 private:
  std::shared_ptr<ckpt::fs::MemoryFileSystem> memory_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool held_ = false;
  bool entered_ = false;
};

struct Fixture {
  std::shared_ptr<ckpt::fs::MemoryFileSystem> fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage{fs, ckpt::StorageOptions::defaults().retain(5)};
  ckpt::ManualClock clock{1'700'000'000'000};
};

TEST(Coordinator, OnDemandCheckpointCompletesWhenEveryoneWroteAndNotifiesEveryone) {
  Fixture f;
  ckpt::CheckpointCoordinator c(f.storage, ckpt::CheckpointConfig::on_demand(), f.clock);
  ScriptedParticipant a("a"), b("b");
  const auto ia = c.add_participant(a, true);
  const auto ib = c.add_participant(b, false);  // learns of barriers from its input
  std::vector<ckpt::CheckpointStats> seen;
  c.add_listener([&](const ckpt::CheckpointStats& s) { seen.push_back(s); });
  c.set_properties({{"version", "7"}});
  c.start();
  auto done = c.trigger_checkpoint();
  const auto barrier = a.next_barrier();
  EXPECT_EQ(barrier.id, 1u);
  EXPECT_EQ(barrier.timestamp_millis, 1'700'000'000'000);
  a.ack(c, ia, 1, 10);
  EXPECT_EQ(done.wait_for(0s), std::future_status::timeout);  // b has not written yet
  b.ack(c, ib, 1, 20);
  const auto stats = done.get();
  EXPECT_EQ(stats.outcome, ckpt::CheckpointOutcome::completed);
  EXPECT_EQ(stats.participants, 2u);
  EXPECT_EQ(stats.sync_pause, 1ms);
  EXPECT_GT(stats.stored_bytes, 0u);
  a.wait_events(1);
  b.wait_events(1);
  EXPECT_THAT(a.events(), ElementsAre("complete 1"));
  EXPECT_THAT(b.events(), ElementsAre("complete 1"));
  c.stop();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].id, 1u);
  auto snapshot = f.storage.restore_latest();
  EXPECT_EQ(snapshot->manifest().properties.at("version"), "7");
  EXPECT_EQ(snapshot->manifest().operators.size(), 2u);
}

TEST(Coordinator, PeriodicCheckpointsFollowTheClock) {
  Fixture f;
  ckpt::CheckpointCoordinator c(f.storage, ckpt::CheckpointConfig::every(100ms), f.clock);
  ScriptedParticipant a("a");
  const auto ia = c.add_participant(a, true);
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::uint64_t> completed;
  c.add_listener([&](const ckpt::CheckpointStats& s) {
    std::lock_guard lock(m);
    completed.push_back(s.id);
    cv.notify_all();
  });
  c.start();
  for (std::uint64_t n = 1; n <= 3; ++n) {
    f.clock.advance(100ms);
    const auto b = a.next_barrier();
    EXPECT_EQ(b.id, n);
    a.ack(c, ia, b.id);
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return completed.size() == n; });
  }
  c.stop();
  EXPECT_THAT(completed, ElementsAre(1u, 2u, 3u));
}

TEST(Coordinator, TimeoutAbortsRemovesFilesNotifiesAndTheNextCheckpointSucceeds) {
  Fixture f;
  ckpt::CheckpointCoordinator c(f.storage, ckpt::CheckpointConfig::on_demand().with_timeout(500ms).with_tolerable_failed_checkpoints(1), f.clock);
  ScriptedParticipant a("a"), b("b");
  const auto ia = c.add_participant(a, true);
  const auto ib = c.add_participant(b, true);
  c.start();
  auto first = c.trigger_checkpoint();
  a.next_barrier();
  b.next_barrier();
  a.ack(c, ia, 1);  // b never answers
  f.clock.advance(600ms);
  const auto stats = first.get();
  EXPECT_EQ(stats.outcome, ckpt::CheckpointOutcome::timed_out);
  EXPECT_THAT(stats.failure, HasSubstr("500 ms"));
  a.wait_events(1);
  EXPECT_THAT(a.events(), ElementsAre("aborted 1"));
  EXPECT_FALSE(f.storage.restore_latest());
  b.ack(c, ib, 1);  // too late: dropped

  auto second = c.trigger_checkpoint();
  a.next_barrier();
  b.next_barrier();
  a.ack(c, ia, 2);
  b.ack(c, ib, 2);
  EXPECT_EQ(second.get().outcome, ckpt::CheckpointOutcome::completed);
  EXPECT_EQ(f.storage.restore_latest()->checkpoint_id(), 2u);
  c.stop();
  // a's write may still have been running when checkpoint 1 timed out; it
  // removes its own file when it ends, and stop() waited for the writers.
  EXPECT_FALSE(f.fs->exists("chk-1/a-0.state"));
}

TEST(Coordinator, TooManyConsecutiveFailuresFailTheJob) {
  Fixture f;
  ckpt::CheckpointCoordinator c(f.storage, ckpt::CheckpointConfig::on_demand().with_tolerable_failed_checkpoints(1), f.clock);
  ScriptedParticipant a("a");
  const auto ia = c.add_participant(a, true);
  std::promise<std::string> failed;
  c.on_job_failure([&](const ckpt::CheckpointError& e) { failed.set_value(e.what()); });
  c.start();
  auto f1 = c.trigger_checkpoint();
  c.decline(ia, a.next_barrier().id, "disk on fire");
  EXPECT_EQ(f1.get().outcome, ckpt::CheckpointOutcome::declined);
  auto failure = failed.get_future();
  EXPECT_EQ(failure.wait_for(0s), std::future_status::timeout);  // one failure is tolerated
  auto f2 = c.trigger_checkpoint();
  c.decline(ia, a.next_barrier().id, "disk still on fire");
  f2.get();
  EXPECT_THAT(failure.get(), HasSubstr("disk still on fire"));
  c.stop();
}

TEST(Coordinator, ASuccessResetsTheFailureCount) {
  Fixture f;
  ckpt::CheckpointCoordinator c(f.storage, ckpt::CheckpointConfig::on_demand().with_tolerable_failed_checkpoints(1), f.clock);
  ScriptedParticipant a("a");
  const auto ia = c.add_participant(a, true);
  bool failed = false;
  c.on_job_failure([&](const ckpt::CheckpointError&) { failed = true; });
  for (int round = 0; round < 3; ++round) {
    auto bad = c.trigger_checkpoint();
    c.decline(ia, a.next_barrier().id, "flaky");
    bad.get();
    auto good = c.trigger_checkpoint();
    a.ack(c, ia, a.next_barrier().id);
    EXPECT_EQ(good.get().outcome, ckpt::CheckpointOutcome::completed);
  }
  EXPECT_FALSE(failed);
}

TEST(Coordinator, MinimumPauseAfterACompletedCheckpoint) {
  Fixture f;
  ckpt::CheckpointCoordinator c(f.storage, ckpt::CheckpointConfig::every(100ms).with_min_pause(1s), f.clock);
  ScriptedParticipant a("a");
  const auto ia = c.add_participant(a, true);
  std::promise<void> first_done;
  std::atomic<int> completions{0};
  c.add_listener([&](const ckpt::CheckpointStats&) {
    if (++completions == 1) first_done.set_value();
  });
  c.start();
  const auto t0 = f.clock.now();
  f.clock.advance(100ms);
  a.ack(c, ia, a.next_barrier().id);
  first_done.get_future().wait();
  // Completed at t0+100ms: not due at t0+200ms (the interval) but a pause later.
  EXPECT_EQ(c.next_periodic_trigger(), t0 + 1100ms);
  f.clock.advance(1s);
  const auto second = a.next_barrier();
  EXPECT_EQ(second.id, 2u);
  EXPECT_EQ(second.timestamp_millis, 1'700'000'000'000 + 1100);
  c.stop();
}

TEST(Coordinator, CompletingNSubsumesOlderCheckpointsInFlight) {
  Fixture f;
  ckpt::CheckpointCoordinator c(f.storage, ckpt::CheckpointConfig::on_demand().with_max_concurrent(2), f.clock);
  ScriptedParticipant a("a");
  const auto ia = c.add_participant(a, true);
  bool job_failed = false;  // no tolerable failures: a subsumed checkpoint is not one
  c.on_job_failure([&](const ckpt::CheckpointError&) { job_failed = true; });
  c.start();
  auto one = c.trigger_checkpoint();
  auto two = c.trigger_checkpoint();
  EXPECT_EQ(a.next_barrier().id, 1u);
  EXPECT_EQ(a.next_barrier().id, 2u);
  a.ack(c, ia, 2);
  EXPECT_EQ(two.get().outcome, ckpt::CheckpointOutcome::completed);
  const auto first = one.get();
  EXPECT_EQ(first.outcome, ckpt::CheckpointOutcome::aborted);
  EXPECT_THAT(first.failure, HasSubstr("subsumed by checkpoint 2"));
  EXPECT_FALSE(job_failed);
  a.wait_events(2);
  EXPECT_THAT(a.events(), ElementsAre("aborted 1", "complete 2"));
  c.stop();
}

TEST(Coordinator, AtMostOneInFlightByDefaultOnDemandRequestsQueue) {
  Fixture f;
  ckpt::CheckpointCoordinator c(f.storage, ckpt::CheckpointConfig::on_demand(), f.clock);
  ScriptedParticipant a("a");
  const auto ia = c.add_participant(a, true);
  c.start();
  auto one = c.trigger_checkpoint();
  auto two = c.trigger_checkpoint();
  EXPECT_EQ(a.next_barrier().id, 1u);
  EXPECT_EQ(c.in_flight(), 1u);
  a.ack(c, ia, 1);
  one.get();
  EXPECT_EQ(a.next_barrier().id, 2u);  // triggered once the first completed
  a.ack(c, ia, 2);
  EXPECT_EQ(two.get().outcome, ckpt::CheckpointOutcome::completed);
  c.stop();
}

TEST(Coordinator, SavepointsGoToTheirOwnDirectoryAndNeverFailTheJob) {
  Fixture f;
  ckpt::CheckpointCoordinator c(f.storage, ckpt::CheckpointConfig::on_demand(), f.clock);
  ScriptedParticipant a("a");
  const auto ia = c.add_participant(a, true);
  bool failed = false;
  c.on_job_failure([&](const ckpt::CheckpointError&) { failed = true; });
  c.start();
  auto sp = c.trigger_savepoint("before-upgrade");
  const auto b = a.next_barrier();
  EXPECT_TRUE(b.is_savepoint());
  a.ack(c, ia, b.id);
  EXPECT_EQ(sp.get().outcome, ckpt::CheckpointOutcome::completed);
  EXPECT_EQ(f.storage.savepoints().at(0).name, "before-upgrade");
  auto bad = c.trigger_savepoint("x");
  c.decline(ia, a.next_barrier().id, "no");
  EXPECT_EQ(bad.get().outcome, ckpt::CheckpointOutcome::declined);
  EXPECT_FALSE(failed);
  c.stop();
}

TEST(Coordinator, StopAbortsWhatIsInFlight) {
  Fixture f;
  auto c = std::make_unique<ckpt::CheckpointCoordinator>(f.storage, ckpt::CheckpointConfig::on_demand(), f.clock);
  ScriptedParticipant a("a");
  c->add_participant(a, true);
  c->start();
  auto pending = c->trigger_checkpoint();
  a.next_barrier();
  c->stop();
  EXPECT_EQ(pending.get().outcome, ckpt::CheckpointOutcome::aborted);
  EXPECT_EQ(c->trigger_checkpoint().get().outcome, ckpt::CheckpointOutcome::declined);
}

// stop() while a checkpoint is starting on another thread: that checkpoint
// must not be left in flight, or a later stop() (the destructor's) would
// notify participants that were destroyed meanwhile.
TEST(Coordinator, StopWhileACheckpointIsStartingLeavesNothingInFlight) {
  auto fs = std::make_shared<GatedFileSystem>(std::make_shared<ckpt::fs::MemoryFileSystem>());
  ckpt::CheckpointStorage storage(fs);
  ckpt::ManualClock clock{1'700'000'000'000};
  ckpt::CheckpointCoordinator c(storage, ckpt::CheckpointConfig::on_demand(), clock);
  ScriptedParticipant a("a");
  c.add_participant(a, true);
  fs->hold();
  std::shared_future<ckpt::CheckpointStats> starting;
  std::thread caller([&] { starting = c.trigger_checkpoint(); });  // not started: triggers on the caller's thread
  fs->wait_entered();
  c.stop();
  fs->release();
  caller.join();
  EXPECT_EQ(c.in_flight(), 0u);
  ASSERT_EQ(starting.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(starting.get().outcome, ckpt::CheckpointOutcome::declined);
  EXPECT_THAT(starting.get().failure, HasSubstr("stopped"));
  EXPECT_TRUE(a.events().empty());
  for (const auto& e : fs->memory().list(""))
    if (e.name != "_lock") ADD_FAILURE() << "left behind: " << e.name;  // _lock is the storage's own
}

}  // namespace
