// Pipelines end to end: bounded runs, failures with restarts (exactly-once
// output), barrier alignment, at-least-once, stop with savepoint and a restart
// at another parallelism, task failures.
#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/function/transactional_file_sink.hpp>
#include <ckpt/runtime/job_runner.hpp>
#include <ckpt/runtime/supervisor.hpp>
#include <ckpt/snapshot/state_file_reader.hpp>

#include "job_util.hpp"
#include "keyed_backend_under_test.hpp"
#include "pipeline_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <set>
#include <limits>
#include <thread>

namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ckpt::test::Count;
using ckpt::test::Event;

#ifdef CKPT_SANITIZED
constexpr std::uint64_t kRecords = 400;
#else
constexpr std::uint64_t kRecords = 3000;
#endif
constexpr std::uint32_t kPartitions = 4;
constexpr std::uint64_t kDataflowKeys = 50;

/// What a failure-free run must commit: one line per event, and per key the final count.
std::map<std::string, std::int64_t> expected_counts() {
  std::map<std::string, std::int64_t> out;
  for (std::uint32_t p = 0; p < kPartitions; ++p)
    for (std::uint64_t o = 0; o < kRecords; ++o) ++out[ckpt::test::make_event(p, o, kDataflowKeys).key];
  return out;
}

/// Checks the committed lines: every event exactly once, final counts right.
void expect_exactly_once(ckpt::fs::FileSystem& fs) {
  const auto lines = ckpt::test::committed_lines(fs, "out");
  std::map<std::string, int> per_event;
  std::map<std::string, std::int64_t> max_count;
  for (const auto& line : lines) {
    std::istringstream in(line);
    std::string id, key;
    std::int64_t count = 0, sum = 0;
    in >> id >> key >> count >> sum;
    ++per_event[id];
    max_count[key] = std::max(max_count[key], count);
  }
  std::size_t duplicated = 0;
  for (const auto& [id, n] : per_event) duplicated += n > 1 ? 1 : 0;
  EXPECT_EQ(per_event.size(), kPartitions * kRecords) << "lost events";
  EXPECT_EQ(duplicated, 0u);
  EXPECT_EQ(lines.size(), kPartitions * kRecords);
  EXPECT_EQ(max_count, expected_counts());
}

using Offset = std::shared_ptr<std::atomic<std::uint64_t>>;

void build(ckpt::Pipeline& p, std::shared_ptr<ckpt::fs::FileSystem> out_fs, std::uint32_t source_par = 2,
           std::uint32_t keyed_par = 3, std::uint32_t sink_par = 2, bool bounded = true, Offset fail_at = nullptr,
           Offset hold_at = nullptr) {
  auto events = p.add_source("log", source_par, [bounded, hold_at](std::uint32_t) {
    return std::make_unique<ckpt::test::LogSource>(kPartitions, kRecords, kDataflowKeys, bounded, 64, 0, hold_at);
  });
  auto counts = events.key_by([](const Event& e) { return e.key; }).process("count", keyed_par, [fail_at](std::uint32_t) {
    return std::make_unique<ckpt::test::CountPerKey>(fail_at);
  });
  counts.add_sink("out", sink_par, [out_fs](std::uint32_t) {
    return std::make_unique<ckpt::TransactionalFileSink<Count>>(out_fs, "out", ckpt::test::format_count);
  });
}

using ckpt::test::run_until_checkpoints;

TEST(Dataflow, BoundedPipelineEndsWithAFinalCheckpointAndCommitsEverything) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  ckpt::Pipeline p;
  build(p, fs);
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(5ms), ckpt::test::on_backend(ckpt::JobOptions::defaults()));
  job.run();
  EXPECT_GE(job.coordinator().completed_checkpoints(), 1u);
  expect_exactly_once(*fs);
  EXPECT_TRUE(fs->list("out/_pending/0").empty());
}

TEST(Dataflow, FailuresAndRestartsStillCommitEveryEventExactlyOnce) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  ckpt::Supervisor supervisor(ckpt::restart::fixed_delay(10, 0ms));
  std::vector<std::optional<std::uint64_t>> restored_from;
  supervisor.run([&](std::uint32_t attempt) {
    // Attempts 0..2 read up to a hold offset, wait there until a checkpoint
    // completed, then fail at the first event past it; each restart restores
    // the latest checkpoint. The last attempt runs to the end.
    const bool failing = attempt < 3;
    const auto hold = (attempt + 1) * kRecords / 4;
    auto hold_at = std::make_shared<std::atomic<std::uint64_t>>(failing ? hold : std::numeric_limits<std::uint64_t>::max());
    auto fail_at = failing ? std::make_shared<std::atomic<std::uint64_t>>(hold) : nullptr;
    ckpt::Pipeline p;
    build(p, fs, 2, 3, 2, true, fail_at, hold_at);
    ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms), ckpt::test::on_backend(ckpt::JobOptions::defaults()));
    job.coordinator().add_listener([hold_at](const ckpt::CheckpointStats& s) {
      if (s.outcome == ckpt::CheckpointOutcome::completed) hold_at->store(std::numeric_limits<std::uint64_t>::max());
    });
    try {
      job.run();
    } catch (...) {
      restored_from.push_back(job.restored_from());
      throw;
    }
    restored_from.push_back(job.restored_from());
  });
  EXPECT_EQ(supervisor.restarts().size(), 3u);
  for (const auto& f : supervisor.failures()) EXPECT_THAT(f, HasSubstr("injected failure in CountPerKey"));
  ASSERT_EQ(restored_from.size(), 4u);
  EXPECT_FALSE(restored_from[0]);
  for (std::size_t i = 1; i < 4; ++i) EXPECT_TRUE(restored_from[i]) << "attempt " << i << " did not restore";
  expect_exactly_once(*fs);
}

TEST(Dataflow, ATaskExceptionFailsTheJobNamingTheTask) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  ckpt::Pipeline p;
  build(p, fs, 2, 3, 2, true, std::make_shared<std::atomic<std::uint64_t>>(100));
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand(), ckpt::test::on_backend(ckpt::JobOptions::defaults()));
  try {
    job.run();
    FAIL() << "the job did not fail";
  } catch (const ckpt::Error& e) {
    EXPECT_EQ(e.code(), ckpt::errc::job_failed);
    EXPECT_THAT(e.what(), HasSubstr("task 'count' subtask"));
    EXPECT_THAT(e.what(), HasSubstr("injected failure"));
  }
}

/// Remembers every record it saw, in operator state.
class Seen final : public ckpt::ProcessFunction<Event, int> {
 public:
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    seen_ = ctx.operator_state_store().get_list_state(ckpt::ListStateDescriptor<std::string>{"seen"});
  }
  void process_element(const Event& e, ckpt::Collector<int>&) override {
    seen_.add(std::to_string(e.partition) + ":" + std::to_string(e.offset));
  }

 private:
  ckpt::ListState<std::string> seen_;
};

/// Seen's two-input form: a's records on input 1, b's on input 2.
class CoSeen final : public ckpt::CoProcessFunction<Event, Event, int> {
 public:
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    seen_ = ctx.operator_state_store().get_list_state(ckpt::ListStateDescriptor<std::string>{"seen"});
  }
  void process_element1(const Event& e, Context&, ckpt::Collector<int>&) override { add(e); }
  void process_element2(const Event& e, Context&, ckpt::Collector<int>&) override { add(e); }

 private:
  void add(const Event& e) { seen_.add(std::to_string(e.partition) + ":" + std::to_string(e.offset)); }
  ckpt::ListState<std::string> seen_;
};

/// For every retained checkpoint: what "seen" holds against the sources' offsets.
void check_alignment(ckpt::CheckpointStorage& storage, bool exactly_once) {
  const auto infos = storage.checkpoints();
  ASSERT_GE(infos.size(), 3u);
  std::size_t checked_with_data = 0;
  for (const auto& info : infos) {
    auto snapshot = storage.open_checkpoint(info.id);
    std::set<std::string> expected;
    for (const auto* uid : {"a", "b"})
      for (const auto& op : snapshot->operator_state(uid))
        for (const auto& entry : op.states)
          for (const auto& bytes : entry.elements) {
            const auto pos = ckpt::serial::decode<ckpt::PartitionOffset>(bytes);
            const auto base = std::string(uid) == "a" ? 0u : 100u;
            for (std::uint64_t o = 0; o < pos.offset; ++o)
              expected.insert(std::to_string(base + pos.partition) + ":" + std::to_string(o));
          }
    std::multiset<std::string> seen;
    for (const auto& op : snapshot->operator_state("seen"))
      for (const auto& entry : op.states)
        for (const auto& bytes : entry.elements) seen.insert(ckpt::serial::decode<std::string>(bytes));
    if (!expected.empty()) ++checked_with_data;
    for (const auto& id : expected) ASSERT_TRUE(seen.count(id)) << "checkpoint " << info.id << " lost " << id;
    if (exactly_once) {
      // Nothing from after the barrier on either input, and nothing twice.
      ASSERT_EQ(seen.size(), expected.size()) << "checkpoint " << info.id;
    }
  }
  EXPECT_GE(checked_with_data, 1u);
}

/// `connected`: a two-input operator (a.connect(b)) instead of a union.
void run_two_inputs(ckpt::CheckpointingMode mode, bool connected = false) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::defaults().retain(1000));
  ckpt::Pipeline p(ckpt::PipelineOptions{128, 64, 8});
  // Two inputs at different speeds, so their barriers arrive at different times.
  auto a = p.add_source("a", 1, [](std::uint32_t) { return std::make_unique<ckpt::test::LogSource>(1, kRecords, 10, false, 1, 0); });
  auto b = p.add_source("b", 1, [](std::uint32_t) { return std::make_unique<ckpt::test::LogSource>(2, kRecords / 2, 10, false, 16, 100); });
  if (connected) a.connect(b).process("seen", 1, [](std::uint32_t) { return std::make_unique<CoSeen>(); });
  else a.union_with(b).process("seen", 1, [](std::uint32_t) { return std::make_unique<Seen>(); });
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(1ms).with_mode(mode), ckpt::test::on_backend(ckpt::JobOptions::defaults()));
  run_until_checkpoints(job, 5);
  check_alignment(storage, mode == ckpt::CheckpointingMode::exactly_once);
}

TEST(Dataflow, AlignmentKeepsRecordsAfterBarrierNOutOfSnapshotNOnEitherInput) {
  run_two_inputs(ckpt::CheckpointingMode::exactly_once);
}

TEST(Dataflow, AlignmentOfATwoInputOperatorCoversBothInputs) {
  run_two_inputs(ckpt::CheckpointingMode::exactly_once, /*connected=*/true);
}

TEST(Dataflow, AtLeastOnceNeverLoses) { run_two_inputs(ckpt::CheckpointingMode::at_least_once); }

TEST(Dataflow, StopWithSavepointThenRestartAtAnotherParallelism) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  {
    ckpt::Pipeline p;
    build(p, fs, 2, 2, 1, /*bounded=*/false);  // never ends on its own
    ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms), ckpt::test::on_backend(ckpt::JobOptions::defaults()));
    run_until_checkpoints(job, 3, "rescale");  // run() returned: the job ended with the savepoint
  }
  // The savepoint's sinks committed; the rest comes from the restarted job.
  auto savepoint = std::shared_ptr<ckpt::SnapshotReader>(storage.open_savepoint("rescale"));
  ckpt::Pipeline p;
  build(p, fs, 3, 4, 2, /*bounded=*/true);
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms), ckpt::test::on_backend(ckpt::JobOptions::from_savepoint(savepoint)));
  job.run();
  EXPECT_EQ(job.restored_from(), savepoint->checkpoint_id());
  expect_exactly_once(*fs);
}

// Keyed state moves between backends through savepoints (the canonical
// format), at another parallelism each time: the first and the last job run
// on the backend under test (RocksDB in ckpt_dataflow_on_rocksdb_tests), the
// one between on the heap backend; the output is exactly once throughout.
TEST(Dataflow, SavepointsMoveKeyedStateBetweenBackendsAtAnotherParallelism) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  {
    ckpt::Pipeline p;
    build(p, fs, 2, 2, 1, /*bounded=*/false);
    ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms), ckpt::test::on_backend(ckpt::JobOptions::defaults()));
    run_until_checkpoints(job, 2, "to-heap");
  }
  {
    ckpt::Pipeline p;
    build(p, fs, 3, 4, 2, /*bounded=*/false);
    ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms),
                        ckpt::JobOptions::from_savepoint(std::shared_ptr<ckpt::SnapshotReader>(storage.open_savepoint("to-heap"))));
    run_until_checkpoints(job, 2, "back");
  }
  auto back = std::shared_ptr<ckpt::SnapshotReader>(storage.open_savepoint("back"));
  ckpt::Pipeline p;
  build(p, fs, 1, 3, 2, /*bounded=*/true);
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms), ckpt::test::on_backend(ckpt::JobOptions::from_savepoint(back)));
  job.run();
  EXPECT_EQ(job.restored_from(), back->checkpoint_id());
  expect_exactly_once(*fs);
}

/// Flips a bit in the last key-group block of the keyed operator's second
/// subtask in the snapshot at `directory`: its manifest and index still
/// verify, the block fails its checksum only when a restore reads it.
void damage_a_keyed_block(ckpt::fs::FileSystem& fs, const std::string& directory, ckpt::SnapshotReader& snapshot) {
  const auto path = directory + "/" + snapshot.manifest().find("count")->subtasks[1].files[0].path;
  auto bytes = ckpt::fs::read_file(fs, path, 1 << 26);
  const auto block = ckpt::StateFileReader(fs.open(path)).index().blocks.back();
  bytes[block.offset + block.stored_size / 2] ^= std::byte{0x10};
  fs.remove(path);
  fs.publish(path, bytes);
}

TEST(Dataflow, ABlockFailingItsChecksumDuringARestoreFallsBackToThePreviousRestorePoint) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::defaults().retain(2));
  {
    ckpt::Pipeline p;
    build(p, fs, 2, 2, 1, /*bounded=*/false);
    ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms), ckpt::test::on_backend(ckpt::JobOptions::defaults()));
    run_until_checkpoints(job, 3, "stop");
  }
  // The restore point is the savepoint the job stopped with: damage one
  // key-group block of the keyed operator in it (the index still verifies).
  const auto previous = storage.checkpoints().front().id;
  damage_a_keyed_block(*fs, storage.savepoints().front().directory, *storage.open_savepoint("stop"));

  ckpt::Pipeline p;
  build(p, fs, 2, 2, 1, /*bounded=*/true);
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms), ckpt::test::on_backend(ckpt::JobOptions::defaults()));
  job.run();
  EXPECT_EQ(job.restored_from(), previous) << "the partly restored tasks were replaced by the previous checkpoint's";
  // What the damaged savepoint's sinks committed is rolled back: the replay
  // from the previous checkpoint commits it again, once.
  expect_exactly_once(*fs);
  // A snapshot named explicitly never falls back.
  auto named = std::shared_ptr<ckpt::SnapshotReader>(storage.open_savepoint("stop"));
  ckpt::Pipeline again;
  build(again, fs, 2, 2, 1, /*bounded=*/true);
  EXPECT_THROW(ckpt::JobRunner(again, storage, ckpt::CheckpointConfig::on_demand(), ckpt::test::on_backend(ckpt::JobOptions::from_savepoint(named))).run(),
               ckpt::CorruptionError);
}

TEST(Dataflow, AFallbackRollsBackWhatTheSkippedRestorePointsCommittedSoNothingIsCommittedTwice) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::defaults().retain(1000));
  {
    // The first checkpoint is cut while the sources are held halfway; the
    // later ones and the savepoint commit the rest.
    auto hold = std::make_shared<std::atomic<std::uint64_t>>(kRecords / 2);
    ckpt::Pipeline p;
    build(p, fs, 2, 2, 1, /*bounded=*/false, nullptr, hold);
    ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms), ckpt::test::on_backend(ckpt::JobOptions::defaults()));
    job.coordinator().add_listener([hold](const ckpt::CheckpointStats& s) {
      if (s.outcome == ckpt::CheckpointOutcome::completed) hold->store(std::numeric_limits<std::uint64_t>::max());
    });
    run_until_checkpoints(job, 4, "stop");
  }
  // Every restore point but the oldest checkpoint is damaged: the restore
  // falls back to it, past output the others committed.
  const auto oldest = storage.checkpoints().back().id;
  damage_a_keyed_block(*fs, storage.savepoints().front().directory, *storage.open_savepoint("stop"));
  for (const auto& c : storage.checkpoints())
    if (c.id != oldest) damage_a_keyed_block(*fs, c.directory, *storage.open_checkpoint(c.id));
  std::size_t committed_after_oldest = 0;
  for (const auto& e : fs->list("out")) {
    const auto id = ckpt::detail::committed_part_checkpoint(e.name);
    if (id && *id > oldest) committed_after_oldest += ckpt::fs::read_file(*fs, "out/" + e.name, 1 << 26).size();
  }
  ASSERT_GT(committed_after_oldest, 0u) << "nothing was committed after the checkpoint the restore falls back to";

  ckpt::Pipeline p;
  build(p, fs, 2, 2, 1, /*bounded=*/true);
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::every(2ms), ckpt::test::on_backend(ckpt::JobOptions::defaults()));
  job.run();
  EXPECT_EQ(job.restored_from(), oldest);
  ASSERT_FALSE(job.restore_notes().empty());
  EXPECT_THAT(job.restore_notes().back(), HasSubstr("rolled back"));
  expect_exactly_once(*fs);  // the replay from the oldest checkpoint committed it all again, once
}

TEST(Dataflow, RestoreWithoutAnOperatorNeedsAllowNonRestoredState) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  {
    ckpt::Pipeline p;
    build(p, fs);
    ckpt::JobRunner(p, storage, ckpt::CheckpointConfig::on_demand(), ckpt::test::on_backend(ckpt::JobOptions::defaults())).run();
  }
  ckpt::Pipeline smaller;
  smaller.add_source("log", 2, [](std::uint32_t) { return std::make_unique<ckpt::test::LogSource>(kPartitions, kRecords, kDataflowKeys); })
      .add_sink("other", 1, [](std::uint32_t) {
        return std::make_unique<ckpt::test::CollectingSink<Event>>(std::make_shared<ckpt::test::CollectingSink<Event>::Shared>());
      });
  EXPECT_THROW(ckpt::JobRunner(smaller, storage, ckpt::CheckpointConfig::on_demand()).run(), ckpt::RestoreError);
  auto options = ckpt::test::on_backend(ckpt::JobOptions::defaults());
  options.allow_non_restored_state = true;
  EXPECT_NO_THROW(ckpt::JobRunner(smaller, storage, ckpt::CheckpointConfig::on_demand(), options).run());
}

}  // namespace
