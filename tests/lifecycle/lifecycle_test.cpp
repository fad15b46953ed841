// Exactly-once on every lifecycle path: the restore point of a plain restart,
// intermediate savepoints, tags with rollback, errors that keep their class,
// the cancellation policy, and stop with savepoint in service mode.
#include <ckpt/clock.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/runtime/checkpointed_service.hpp>
#include <ckpt/runtime/job_runner.hpp>
#include <ckpt/runtime/supervisor.hpp>
#include <ckpt/state/keyed_state_backend.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "lifecycle_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace {

using namespace std::chrono_literals;
using namespace ckpt::lifecycle;
using ::testing::HasSubstr;
using ::testing::Not;

std::shared_ptr<ckpt::fs::MemoryFileSystem> mem() { return std::make_shared<ckpt::fs::MemoryFileSystem>(); }

/// A job running on its own thread; join() rethrows what run() threw.
class Running {
 public:
  explicit Running(ckpt::JobRunner& job) : done_(std::async(std::launch::async, [&job] { job.run(); })) {}
  ~Running() {
    if (done_.valid()) done_.wait();
  }
  void join() { done_.get(); }

 private:
  std::future<void> done_;
};

std::uint64_t events_below(const Input& input, std::uint64_t hold) { return input.partitions * std::min(hold, input.records); }

ckpt::CheckpointStats completed(std::shared_future<ckpt::CheckpointStats> f) {
  auto stats = f.get();
  EXPECT_EQ(stats.outcome, ckpt::CheckpointOutcome::completed) << stats.failure;
  return stats;
}

// -- The two defects, as the small programs they were found with ------------

TEST(Lifecycle, APlainRestartAfterStopWithSavepointContinuesFromTheSavepoint) {
  auto out = mem();
  ckpt::CheckpointStorage storage(mem());
  const Input input;
  auto controls = std::make_shared<Controls>();
  std::uint64_t savepoint = 0;
  {
    ckpt::Pipeline p;
    build_pipeline(p, input, controls, out, {});
    ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand());
    controls->hold = input.records / 2;  // before the job starts: its sources must not run ahead
    Running running(job);
    controls->wait_tapped(events_below(input, input.records / 2));
    completed(job.trigger_checkpoint());  // through half the input
    controls->hold = input.records * 3 / 4;
    controls->wait_tapped(events_below(input, input.records * 3 / 4));
    savepoint = completed(job.stop_with_savepoint("handover")).id;  // commits through three quarters
    running.join();
  }
  EXPECT_EQ(committed_lines(*out).size(), events_below(input, input.records * 3 / 4));
  auto rest = std::make_shared<Controls>();
  ckpt::Pipeline p;
  build_pipeline(p, input, rest, out, {});
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand());  // the default: restore the latest
  job.run();
  EXPECT_EQ(job.restored_from(), savepoint) << "the restart did not continue from the savepoint it stopped with";
  const auto verdict = judge(committed_lines(*out), input, true);
  EXPECT_TRUE(verdict.exactly_once()) << verdict.first_problem << " (" << verdict.duplicated << " duplicated)";
}

TEST(Lifecycle, AnIntermediateSavepointCommitsNothingSoACrashAfterItDuplicatesNothing) {
  auto out = mem();
  auto storage_fs = std::make_shared<FlakyFileSystem>(mem());
  ckpt::CheckpointStorage storage(storage_fs);
  const Input input;
  auto controls = std::make_shared<Controls>();
  std::uint64_t checkpoint = 0;
  {
    ckpt::Pipeline p;
    build_pipeline(p, input, controls, out, {});
    ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand().with_tolerable_failed_checkpoints(1));
    controls->hold = input.records / 3;  // before the job starts: its sources must not run ahead
    Running running(job);
    controls->wait_tapped(events_below(input, input.records / 3));
    checkpoint = completed(job.trigger_checkpoint()).id;
    controls->hold = input.records * 2 / 3;
    controls->wait_tapped(events_below(input, input.records * 2 / 3));
    completed(job.trigger_savepoint("mid"));  // the job goes on
    // A checkpoint that fails: once the sinks heard of its abort, they have
    // handled everything sent before it, the savepoint's completion included.
    storage_fs->fail_next(1000);
    EXPECT_NE(job.trigger_checkpoint().get().outcome, ckpt::CheckpointOutcome::completed);
    storage_fs->heal();
    controls->wait_aborts_heard(2);  // both sink subtasks
    EXPECT_EQ(committed_lines(*out).size(), events_below(input, input.records / 3))
        << "the intermediate savepoint committed output";
    controls->fail_at = input.records * 2 / 3;  // then the job crashes
    controls->hold = ckpt::lifecycle::no_limit;
    EXPECT_THROW(running.join(), ckpt::Error);
  }
  auto rest = std::make_shared<Controls>();
  ckpt::Pipeline p;
  build_pipeline(p, input, rest, out, {});
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand());
  job.run();
  EXPECT_EQ(job.restored_from(), checkpoint) << "a plain restart must not restore an intermediate savepoint";
  const auto verdict = judge(committed_lines(*out), input, true);
  EXPECT_TRUE(verdict.exactly_once()) << verdict.first_problem << " (" << verdict.duplicated << " duplicated)";
}

TEST(Lifecycle, TheTransactionOfAnIntermediateSavepointIsCommittedByTheNextCheckpoint) {
  auto out = mem();
  ckpt::CheckpointStorage storage(mem());
  const Input input;
  auto controls = std::make_shared<Controls>();
  ckpt::Pipeline p;
  build_pipeline(p, input, controls, out, {});
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand());
  controls->hold = input.records / 2;  // before the job starts: its sources must not run ahead
  Running running(job);
  controls->wait_tapped(events_below(input, input.records / 2));
  completed(job.trigger_savepoint());
  completed(job.trigger_checkpoint());  // commits what the savepoint pre-committed
  controls->hold = ckpt::lifecycle::no_limit;
  running.join();  // the bounded input ends with a final checkpoint
  const auto verdict = judge(committed_lines(*out), input, true);
  EXPECT_TRUE(verdict.exactly_once()) << verdict.first_problem;
}

// -- Tags and rollback ------------------------------------------------------

ckpt::StorageOptions tagged() { return ckpt::StorageOptions::defaults().retain(2).with_tags(ckpt::TagOptions::defaults().tag_savepoints()); }

/// Runs a job until it stops with a savepoint, taking checkpoints and a tagged
/// savepoint on the way; returns the savepoint "v1"'s id.
std::uint64_t run_with_a_tag(ckpt::CheckpointStorage& storage, std::shared_ptr<ckpt::fs::FileSystem> out, const Input& input) {
  auto controls = std::make_shared<Controls>();
  ckpt::Pipeline p;
  build_pipeline(p, input, controls, out, {});
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand());
  controls->hold = input.records / 4;  // before the job starts: its sources must not run ahead
  Running running(job);
  controls->wait_tapped(events_below(input, input.records / 4));
  completed(job.trigger_checkpoint());
  controls->hold = input.records / 2;
  controls->wait_tapped(events_below(input, input.records / 2));
  const auto tag = completed(job.trigger_savepoint("v1")).id;
  controls->hold = input.records * 3 / 4;
  controls->wait_tapped(events_below(input, input.records * 3 / 4));
  completed(job.trigger_checkpoint());
  completed(job.stop_with_savepoint("end"));
  running.join();
  return tag;
}

void run_to_the_end(ckpt::CheckpointStorage& storage, std::shared_ptr<ckpt::fs::FileSystem> out, const Input& input,
                    ckpt::JobOptions options, std::optional<std::uint64_t> expect_restored) {
  auto controls = std::make_shared<Controls>();
  ckpt::Pipeline p;
  build_pipeline(p, input, controls, out, {3, 1, 2});  // at another parallelism, too
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand(), std::move(options));
  job.run();
  EXPECT_EQ(job.restored_from(), expect_restored);
}

TEST(Tags, ASavepointIsTaggedWithItsNameOrItsId) {
  ckpt::CheckpointStorage storage(mem(), tagged());
  auto named = storage.begin_savepoint(4, 1000, "v1");
  named->complete();
  auto unnamed = storage.begin_savepoint(5, 2000);
  unnamed->complete();
  const auto tags = storage.tags();
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0].name, "v1");
  EXPECT_EQ(tags[0].savepoint_id, 4u);
  EXPECT_EQ(tags[0].created_millis, 1000);
  EXPECT_EQ(tags[0].savepoint_directory, "savepoints/savepoint-4-v1");
  EXPECT_EQ(tags[1].name, "savepoint-5");
  EXPECT_FALSE(tags[1].automatic);
  // A second savepoint named like an existing tag is refused before it begins.
  EXPECT_THROW(storage.begin_savepoint(6, 3000, "v1"), ckpt::CheckpointError);
}

TEST(Tags, CreatedByHandDeletedAndExpired) {
  auto options = ckpt::StorageOptions::defaults().with_tags(ckpt::TagOptions::defaults().retain_for(10s));
  ckpt::CheckpointStorage storage(mem(), options);
  storage.begin_savepoint(3, 0, "release")->complete();
  EXPECT_TRUE(storage.tags().empty());  // savepoints are not tagged unless asked
  const auto tag = storage.create_tag("golden", 3, 5000);
  EXPECT_EQ(tag.expires_millis, 15000);
  EXPECT_THROW(storage.create_tag("golden", 3, 5000), ckpt::CheckpointError);
  EXPECT_THROW(storage.create_tag("other", 99, 5000), ckpt::RestoreError);
  EXPECT_THROW(storage.create_tag("../escape", 3, 5000), ckpt::ConfigError);
  EXPECT_TRUE(storage.expire_tags(14999).empty());
  EXPECT_EQ(storage.expire_tags(15000), std::vector<std::string>{"golden"});
  EXPECT_TRUE(storage.tags().empty());
  EXPECT_EQ(storage.savepoints().size(), 1u) << "a savepoint the user took is never deleted with its tag";
  storage.create_tag("again", 3, 0);
  storage.delete_tag("again");
  EXPECT_THROW(storage.delete_tag("again"), ckpt::RestoreError);
}

TEST(Tags, AScheduleTagsOnePeriodAtATimeAndKeepsTheNewestN) {
  ckpt::ManualClock clock(1'764'763'200'000);  // 2025-12-03T12:00:00Z
  auto options = ckpt::StorageOptions::defaults().with_tags(
      ckpt::TagOptions::defaults().create_every(std::chrono::hours(1)).retain_max(2));
  ckpt::CheckpointStorage storage(mem(), options);
  ckpt::CheckpointedService service(storage, ckpt::CheckpointConfig::on_demand(), {ckpt::Alignment::independent, &clock});
  ckpt::KeyedStateBackend<std::string> backend;
  auto& worker = service.add_participant({.uid = "w", .keyed = &backend});
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> completed_savepoints;
  service.coordinator().add_listener([&](const ckpt::CheckpointStats& s) {
    std::lock_guard lock(m);
    if (s.kind == ckpt::SnapshotKind::savepoint && s.outcome == ckpt::CheckpointOutcome::completed)
      completed_savepoints.push_back(std::to_string(s.id));
    cv.notify_all();
  });
  service.start();
  std::atomic<bool> stop{false};
  std::thread owner([&] {
    while (!stop) {
      worker.wait_for_event(50ms);
      worker.sync_point();
    }
  });
  for (std::size_t hour = 1; hour <= 3; ++hour) {
    clock.advance(std::chrono::hours(1));
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return completed_savepoints.size() >= hour; });
  }
  stop = true;
  owner.join();
  service.stop();
  const auto tags = storage.tags();
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0].name, "2025-12-03T13");  // the hour [13:00, 14:00), tagged at 14:00
  EXPECT_EQ(tags[1].name, "2025-12-03T14");
  EXPECT_TRUE(tags[0].automatic);
  EXPECT_EQ(storage.savepoints().size(), 2u) << "the oldest scheduled tag took its savepoint with it";
}

TEST(Tags, ScheduledTagNamesFollowThePeriod) {
  const std::int64_t t = 1'764'763'500'000;  // 2025-12-03T12:05:00Z
  EXPECT_EQ(ckpt::scheduled_tag_name(t, std::chrono::hours(24)), "2025-12-03");
  EXPECT_EQ(ckpt::scheduled_tag_name(t, std::chrono::hours(2)), "2025-12-03T12");
  EXPECT_EQ(ckpt::scheduled_tag_name(t, std::chrono::minutes(5)), "2025-12-03T12-05");
  EXPECT_EQ(ckpt::scheduled_tag_name(t, std::chrono::seconds(30)), "2025-12-03T12-05-00");
}

TEST(Tags, RollbackToATagThenRestoringItsSavepointIsExactlyOnce) {
  auto out = mem();
  ckpt::CheckpointStorage storage(mem(), tagged());
  const Input input;
  const auto tag = run_with_a_tag(storage, out, input);
  ckpt::FileSinkOutput output(out, "out");
  const auto restore_point = storage.rollback_to_tag("v1", {&output});
  EXPECT_GT(restore_point.id, tag);
  // Only what the tag's lineage committed is left: everything up to the savepoint.
  EXPECT_EQ(judge(committed_lines(*out), input, false).lines, events_below(input, input.records / 2));
  auto savepoint = std::shared_ptr<ckpt::SnapshotReader>(storage.open_savepoint("v1"));
  run_to_the_end(storage, out, input, ckpt::JobOptions::from_savepoint(savepoint), tag);
  const auto verdict = judge(committed_lines(*out), input, true);
  EXPECT_TRUE(verdict.exactly_once()) << verdict.first_problem;
}

TEST(Tags, APlainRestartAfterARollbackContinuesFromTheTag) {
  auto out = mem();
  ckpt::CheckpointStorage storage(mem(), tagged());
  const Input input;
  run_with_a_tag(storage, out, input);
  ckpt::FileSinkOutput output(out, "out");
  const auto restore_point = storage.rollback_to_tag("v1", {&output});
  run_to_the_end(storage, out, input, ckpt::JobOptions::defaults(), restore_point.id);
  const auto verdict = judge(committed_lines(*out), input, true);
  EXPECT_TRUE(verdict.exactly_once()) << verdict.first_problem;
}

TEST(Tags, RollbackRemovesLaterCheckpointsAndTagsButNoSavepoint) {
  auto out = mem();
  ckpt::CheckpointStorage storage(mem(), tagged());
  const Input input;
  const auto tag = run_with_a_tag(storage, out, input);
  ASSERT_EQ(storage.tags().size(), 2u);  // "v1" and the final savepoint's "end"
  ckpt::FileSinkOutput output(out, "out");
  const auto restore_point = storage.rollback_to_tag("v1", {&output});
  const auto tags = storage.tags();
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0].name, "v1");
  for (const auto& c : storage.checkpoints()) EXPECT_TRUE(c.id < tag || c.id == restore_point.id) << c.id;
  EXPECT_EQ(storage.savepoints().size(), 2u);
  EXPECT_THROW(storage.rollback_to_tag("end", {&output}), ckpt::RestoreError);
}

TEST(Tags, ADamagedTagFileIsLeftOutAndNamed) {
  auto fs = mem();
  ckpt::CheckpointStorage storage(fs, tagged());
  storage.begin_savepoint(1, 0, "a")->complete();
  storage.begin_savepoint(2, 0, "b")->complete();
  auto bytes = ckpt::fs::read_file(*fs, "tags/b", 4096);
  bytes.back() ^= std::byte{1};
  fs->remove("tags/b");
  ckpt::fs::write_file(*fs, "tags/b", bytes);
  std::vector<std::string> problems;
  const auto tags = storage.tags(&problems);
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0].name, "a");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("tags/b"));
  EXPECT_THAT(problems[0], HasSubstr("checksum"));
  // A tag file renamed by hand names another tag: refused.
  ckpt::fs::write_file(*fs, "tags/c", ckpt::fs::read_file(*fs, "tags/a", 4096));
  EXPECT_THROW(storage.find_tag("c"), ckpt::CorruptionError);
}

// -- Errors keep their class across the job boundary ------------------------

/// A sink whose output file system fails every write with EIO.
class BrokenDisk final : public ckpt::test::ForwardingFileSystem {
 public:
  using ForwardingFileSystem::ForwardingFileSystem;
  std::unique_ptr<ckpt::fs::WritableFile> create(std::string_view p) override {
    throw ckpt::IoError(ckpt::errc::io_error, std::string(p), "creating " + std::string(p) + " failed: EIO (injected)");
  }
};

TEST(Errors, ATasksIoErrorReachesTheCallerAsAnIoErrorNamingTheTask) {
  auto out = std::make_shared<BrokenDisk>(mem());
  ckpt::CheckpointStorage storage(mem());
  const Input input;
  ckpt::Pipeline p;
  build_pipeline(p, input, std::make_shared<Controls>(), out, {1, 1, 1});
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand());
  try {
    job.run();
    FAIL() << "the job did not fail";
  } catch (const ckpt::IoError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::io_error);
    EXPECT_THAT(e.path(), HasSubstr("out/_pending/0/part-"));
    EXPECT_THAT(e.what(), HasSubstr("task 'out' subtask 0 of 1 failed: creating"));
  }
}

TEST(Errors, AUserExceptionIsNestedInAJobErrorAndTheSupervisorKeepsTheClass) {
  const Input input;
  ckpt::CheckpointStorage storage(mem());
  auto controls = std::make_shared<Controls>();
  controls->fail_at = 3;
  ckpt::Supervisor supervisor(ckpt::restart::none());
  try {
    supervisor.run([&](std::uint32_t) {
      ckpt::Pipeline p;
      build_pipeline(p, input, controls, mem(), {1, 1, 1});
      ckpt::JobRunner(p, storage, ckpt::CheckpointConfig::on_demand()).run();
    });
    FAIL() << "the job did not fail";
  } catch (const ckpt::JobError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::job_failed);
    EXPECT_THAT(e.what(), HasSubstr("task 'count' subtask 0 of 1 failed: injected failure"));
    try {
      std::rethrow_if_nested(e);
      FAIL() << "nothing nested";
    } catch (const std::runtime_error& inner) {
      EXPECT_STREQ(inner.what(), "injected failure in the count");
    }
  }
}

TEST(Errors, ASecondWriterGetsAnIoErrorOfKindLocked) {
  auto fs = mem();
  ckpt::CheckpointStorage first(fs);
  try {
    ckpt::CheckpointStorage second(fs);
    FAIL() << "a second writer got in";
  } catch (const ckpt::IoError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::locked);
    EXPECT_EQ(e.path(), "_lock");
  }
}

TEST(Errors, EveryErrorClassKeepsItsKindAndDetailsWithContext) {
  const auto check = [](const auto& original, auto probe) {
    try {
      std::rethrow_exception(ckpt::with_context(std::make_exception_ptr(original), "ctx: "));
    } catch (const std::decay_t<decltype(original)>& e) {
      EXPECT_EQ(e.code(), original.code());
      EXPECT_EQ(std::string(e.what()), std::string("ctx: ") + original.what());
      probe(e);
    }
  };
  check(ckpt::IoError(ckpt::errc::no_space, "chk-1/x.state", "full", std::make_error_code(std::errc::no_space_on_device)),
        [](const ckpt::IoError& e) {
          EXPECT_EQ(e.path(), "chk-1/x.state");
          EXPECT_EQ(e.system_code(), std::make_error_code(std::errc::no_space_on_device));
        });
  check(ckpt::CorruptionError(ckpt::errc::corrupt_data, "chk-1/_metadata", "manifest", "bad"),
        [](const ckpt::CorruptionError& e) { EXPECT_EQ(e.block(), "manifest"); });
  check(ckpt::StateError(ckpt::errc::no_current_key, "no key"), [](const ckpt::StateError&) {});
  check(ckpt::ConfigError(ckpt::errc::invalid_name, "bad name"), [](const ckpt::ConfigError&) {});
  check(ckpt::CheckpointError(ckpt::errc::checkpoint_timeout, "slow"), [](const ckpt::CheckpointError&) {});
  check(ckpt::RestoreError(ckpt::errc::not_found, "none"), [](const ckpt::RestoreError&) {});
}

// -- Cancellation -----------------------------------------------------------

void cancel_a_running_job(ckpt::CheckpointStorage& storage) {
  const Input input;
  auto controls = std::make_shared<Controls>();
  controls->hold = 10;
  ckpt::Pipeline p;
  build_pipeline(p, input, controls, mem(), {});
  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand());
  Running running(job);
  completed(job.trigger_checkpoint());
  completed(job.trigger_savepoint("kept"));
  job.cancel();
  running.join();
}

TEST(Cancel, DeleteOnCancellationRemovesTheCheckpointsAndKeepsSavepoints) {
  ckpt::CheckpointStorage storage(
      mem(), ckpt::StorageOptions::defaults().with_cancellation_policy(ckpt::CancellationPolicy::delete_on_cancellation));
  cancel_a_running_job(storage);
  EXPECT_TRUE(storage.checkpoints().empty());
  EXPECT_EQ(storage.savepoints().size(), 1u);
}

TEST(Cancel, RetainOnCancellationKeepsTheCheckpoints) {
  ckpt::CheckpointStorage storage(mem());
  cancel_a_running_job(storage);
  EXPECT_EQ(storage.checkpoints().size(), 1u);
}

TEST(Cancel, AJobThatEndedIsNotCancelledByItsDestructor) {
  ckpt::CheckpointStorage storage(
      mem(), ckpt::StorageOptions::defaults().with_cancellation_policy(ckpt::CancellationPolicy::delete_on_cancellation));
  {
    ckpt::Pipeline p;
    build_pipeline(p, Input{}, std::make_shared<Controls>(), mem(), {});
    ckpt::JobRunner(p, storage, ckpt::CheckpointConfig::on_demand()).run();  // bounded: ends with a final checkpoint
  }
  EXPECT_EQ(storage.checkpoints().size(), 1u);
}

// -- Service mode -----------------------------------------------------------

/// Records what the service told it.
class Recorder final : public ckpt::CheckpointListener {
 public:
  void notify_checkpoint_complete(std::uint64_t id) override {
    std::lock_guard lock(mutex);
    completed.push_back(id);
  }
  std::mutex mutex;
  std::vector<std::uint64_t> completed;
};

TEST(Service, StopWithSavepointNotifiesAndIsWhereAPlainRestartContinues) {
  ckpt::CheckpointStorage storage(mem());
  std::uint64_t savepoint = 0, intermediate = 0, checkpoint = 0;
  Recorder recorder;
  {
    ckpt::CheckpointedService service(storage, ckpt::CheckpointConfig::on_demand());
    ckpt::KeyedStateBackend<std::string> backend;
    auto visits = backend.get_state(ckpt::ValueStateDescriptor<int>{"visits", 0});
    auto& worker = service.add_participant({.uid = "sessions", .keyed = &backend, .listener = &recorder});
    service.start();
    const auto drive = [&](std::shared_future<ckpt::CheckpointStats> f) {
      while (f.wait_for(0s) != std::future_status::ready) {
        worker.wait_for_event(10ms);
        worker.sync_point();
      }
      worker.sync_point();  // delivers the completion, if any
      return completed(f).id;
    };
    backend.set_current_key("ann");
    visits.update(1);
    checkpoint = drive(service.checkpoint_now());
    visits.update(2);
    intermediate = drive(service.savepoint("mid"));
    visits.update(3);
    savepoint = drive(service.stop_with_savepoint("handover"));
    service.stop();
  }
  {
    std::lock_guard lock(recorder.mutex);
    EXPECT_EQ(recorder.completed, (std::vector<std::uint64_t>{checkpoint, savepoint}))
        << "the intermediate savepoint " << intermediate << " must not reach the listener";
  }
  ckpt::CheckpointedService restarted(storage, ckpt::CheckpointConfig::on_demand());
  ckpt::KeyedStateBackend<std::string> backend;
  restarted.add_participant({.uid = "sessions", .keyed = &backend});
  EXPECT_EQ(restarted.restore_latest(), savepoint);
  auto visits = backend.get_state(ckpt::ValueStateDescriptor<int>{"visits", 0});
  backend.set_current_key("ann");
  EXPECT_EQ(visits.value(), 3);
}

TEST(Service, ATimeoutNamesTheParticipantThatNeverReachedASyncPoint) {
  ckpt::ManualClock clock;
  ckpt::CheckpointStorage storage(mem());
  ckpt::CheckpointedService service(storage, ckpt::CheckpointConfig::on_demand().with_timeout(1min),
                                    {ckpt::Alignment::independent, &clock});
  ckpt::KeyedStateBackend<std::string> a(ckpt::KeyedStateBackendOptions::for_subtask(0, 2));
  auto& busy = service.add_participant({.uid = "busy", .subtask = 0, .parallelism = 2, .keyed = &a});
  ckpt::KeyedStateBackend<std::string> b(ckpt::KeyedStateBackendOptions::for_subtask(1, 2));
  service.add_participant({.uid = "busy", .subtask = 1, .parallelism = 2, .keyed = &b});  // never calls sync_point()
  service.start();
  auto f = service.checkpoint_now();
  busy.wait_for_event(1min);  // the trigger reached it (this is a real wait, on the event)
  busy.sync_point();
  clock.wait_for_sleepers(1);  // the coordinator waits for the deadline
  clock.advance(2min);
  const auto stats = f.get();
  EXPECT_EQ(stats.outcome, ckpt::CheckpointOutcome::timed_out);
  // Subtask 0 cut its state (its write may still run); subtask 1 never did.
  const auto laggards = stats.failure.substr(stats.failure.find("never cut its state"));
  EXPECT_THAT(laggards.substr(0, laggards.find(';')),
              HasSubstr("(did not reach a sync point or align its barriers): participant 'busy' subtask 1 of 2"));
  EXPECT_THAT(laggards.substr(0, laggards.find(';')), Not(HasSubstr("subtask 0 of 2")));
  service.stop();
}

}  // namespace
