// Embedded (service) mode: worker threads with sync points, checkpoints while
// they run, restore into a fresh service.
#include <ckpt/ckpt.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/runtime/checkpointed_service.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kKeys = 97;

/// A worker that applies "requests" (increment key n % kKeys) and remembers
/// how many it applied, in operator state, at every cut: a restored copy is
/// consistent iff the per-key counts add up to that number.
class Worker final : public ckpt::CheckpointedFunction {
 public:
  explicit Worker(std::uint32_t subtask, std::uint32_t parallelism)
      : backend(ckpt::KeyedStateBackendOptions::for_subtask(subtask, parallelism)), store(subtask, parallelism) {
    counts = backend.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"counts", 0});
  }
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    applied_state = ctx.operator_state_store().get_list_state(ckpt::ListStateDescriptor<std::uint64_t>{"applied"});
    for (auto n : applied_state.get()) applied += n;
    restored = ctx.is_restored();
  }
  void snapshot_state(const ckpt::FunctionSnapshotContext&) override { applied_state.update({applied}); }

  void apply(std::uint64_t request) {
    for (auto k = request;; ++k) {  // the next key this subtask owns
      if (!backend.key_groups().contains(backend.key_group_of(k % kKeys))) continue;
      backend.set_current_key(k % kKeys);
      counts.update(counts.value() + 1);
      ++applied;
      return;
    }
  }
  std::uint64_t total() {
    std::uint64_t sum = 0;
    for (auto k : backend.keys("counts")) {
      backend.set_current_key(k);
      sum += counts.value();
    }
    return sum;
  }

  ckpt::KeyedStateBackend<std::uint64_t> backend;
  ckpt::OperatorStateStore store;
  ckpt::ValueState<std::uint64_t> counts;
  ckpt::ListState<std::uint64_t> applied_state;
  std::uint64_t applied = 0;
  bool restored = false;
};

void run_service(ckpt::Alignment alignment) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  std::uint64_t expected_checkpoint = 0;
  {
    ckpt::CheckpointStorage storage(fs);
    ckpt::CheckpointedService service(storage, ckpt::CheckpointConfig::on_demand(), {alignment, nullptr});
    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<ckpt::ServiceParticipant*> participants;
    for (std::uint32_t i = 0; i < 2; ++i) {
      workers.push_back(std::make_unique<Worker>(i, 2));
      participants.push_back(&service.add_participant(
          {"workers", i, 2, &workers[i]->backend, &workers[i]->store, workers[i].get(), nullptr}));
    }
    EXPECT_FALSE(service.restore_latest());
    service.start();
    std::atomic<bool> stop{false};
    std::vector<std::jthread> threads;
    for (std::uint32_t i = 0; i < 2; ++i)
      threads.emplace_back([&, i] {
        for (std::uint64_t n = 0; !stop; ++n) {
          workers[i]->apply(n);
          participants[i]->sync_point();
        }
        participants[i]->sync_point();
      });
    for (int round = 0; round < 5; ++round) {
      const auto stats = service.checkpoint_now().get();
      ASSERT_EQ(stats.outcome, ckpt::CheckpointOutcome::completed) << stats.failure;
      EXPECT_EQ(stats.participants, 2u);
      expected_checkpoint = stats.id;
    }
    stop = true;
    threads.clear();
    service.stop();
  }
  // A restart: a fresh service restores the last checkpoint, consistent per worker.
  ckpt::CheckpointStorage storage(fs);
  ckpt::CheckpointedService service(storage, ckpt::CheckpointConfig::on_demand(), {alignment, nullptr});
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::uint32_t i = 0; i < 2; ++i) {
    workers.push_back(std::make_unique<Worker>(i, 2));
    service.add_participant({"workers", i, 2, &workers[i]->backend, &workers[i]->store, workers[i].get(), nullptr});
  }
  EXPECT_EQ(service.restore_latest(), expected_checkpoint);
  for (auto& w : workers) {
    EXPECT_TRUE(w->restored);
    EXPECT_GT(w->applied, 0u);
    EXPECT_EQ(w->total(), w->applied);  // the cut was at a consistent point
  }
}

TEST(Service, IndependentCutsAreEachConsistent) { run_service(ckpt::Alignment::independent); }
TEST(Service, GloballyAlignedCuts) { run_service(ckpt::Alignment::global); }

TEST(Service, SyncPointIsCheapWhenNothingIsPending) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  ckpt::CheckpointedService service(storage, ckpt::CheckpointConfig::on_demand());
  Worker w(0, 1);
  auto& p = service.add_participant({"w", 0, 1, &w.backend, &w.store, &w, nullptr});
  service.start();
  for (int i = 0; i < 1000; ++i) p.sync_point();  // nothing pending: no cut, no effect
  auto done = service.checkpoint_now();
  p.wait_for_event(10s);  // returns as soon as the barrier is pending
  p.sync_point();         // cuts here
  EXPECT_EQ(done.get().outcome, ckpt::CheckpointOutcome::completed);
  p.sync_point();  // delivers the completion
}

TEST(Service, RestoreIntoAServiceWithoutThatStateNeedsAllowNonRestoredState) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  {
    ckpt::CheckpointStorage storage(fs);
    ckpt::CheckpointedService service(storage, ckpt::CheckpointConfig::on_demand());
    Worker a(0, 1), b(0, 1);
    auto& pa = service.add_participant({"a", 0, 1, &a.backend, &a.store, &a, nullptr});
    auto& pb = service.add_participant({"b", 0, 1, &b.backend, &b.store, &b, nullptr});
    service.start();
    auto done = service.checkpoint_now();
    pa.wait_for_event(10s);
    pa.sync_point();
    pb.wait_for_event(10s);
    pb.sync_point();
    ASSERT_EQ(done.get().outcome, ckpt::CheckpointOutcome::completed);
  }
  ckpt::CheckpointStorage storage(fs);
  ckpt::CheckpointedService service(storage, ckpt::CheckpointConfig::on_demand());
  Worker a(0, 1);
  service.add_participant({"a", 0, 1, &a.backend, &a.store, &a, nullptr});
  EXPECT_THROW(service.restore_latest(), ckpt::RestoreError);
}

TEST(Service, AParticipantAddedAfterStartIsRefused) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  ckpt::CheckpointedService service(storage, ckpt::CheckpointConfig::on_demand());
  Worker a(0, 1), late(0, 1);
  service.add_participant({"a", 0, 1, &a.backend, &a.store, &a, nullptr});
  service.start();
  try {
    service.add_participant({"late", 0, 1, &late.backend, &late.store, &late, nullptr});
    ADD_FAILURE() << "a participant added after start() was accepted";
  } catch (const ckpt::ConfigError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::invalid_argument);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("'late'"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("after restore() or start()"));
  }
}

TEST(AlignmentGroup, ReleasesWhenAllArriveOrOnAbort) {
  ckpt::detail::AlignmentGroup group;
  group.set_size(2);
  std::atomic<bool> a_result{false};
  std::jthread a([&] { a_result = group.arrive_and_wait(1); });
  EXPECT_TRUE(group.arrive_and_wait(1));
  a.join();
  EXPECT_TRUE(a_result);
  std::jthread waiting([&] { a_result = group.arrive_and_wait(2); });
  group.abort(2);
  waiting.join();
  EXPECT_FALSE(a_result);
}

}  // namespace
