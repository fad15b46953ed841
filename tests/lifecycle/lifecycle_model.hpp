#pragma once
// The model-based lifecycle test's engine: a job's life as random sessions,
// each started one of four ways (restore the latest, restore a named
// savepoint, roll back to a tag and restore its savepoint, roll back and
// restart plainly), at a random parallelism, then driven through random
// steps (read further, checkpoint, intermediate savepoint, a disk that fills
// up, a checkpoint that times out) and ended by a crash, stop with savepoint,
// cancel, a SIGKILL of the process it runs in, or — last — the end of the
// input. The same sessions run a pipeline (log -> count per key -> file sink)
// or a CheckpointedService whose workers keep their read positions and counts
// in keyed state and their output in a two-phase-commit sink. After every
// session the committed output must hold no duplicate, and after the last it
// must equal a failure-free run's.
//
// A plan is text ("L;;2,3,1;r;a5,c,s,f2,t,x3"), so a child process can run
// one and a failing sequence prints what it did.

#include <ckpt/clock.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/runtime/checkpointed_service.hpp>
#include <ckpt/runtime/job_runner.hpp>
#include <ckpt/state/keyed_state_backend.hpp>
#include <ckpt/state/map_state.hpp>
#include <ckpt/state/operator_state_store.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "lifecycle_support.hpp"

#include <cereal/types/string.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace ckpt::lifecycle {

enum class Engine : char { pipeline = 'p', service = 'v' };

/// How a session begins.
enum class Start : char {
  latest = 'L',              // restore the latest restore point (or start empty)
  savepoint = 'S',           // restore a named savepoint (only when nothing committed after it)
  rollback_savepoint = 'R',  // roll back to a tag, then restore its savepoint by name
  rollback_latest = 'B',     // roll back to a tag, then a plain restart
};

enum class Op : char {
  advance = 'a',     // n more events per partition may be read
  checkpoint = 'c',
  savepoint = 's',   // intermediate: the job goes on
  disk_full = 'f',   // the next checkpoint's n-th write to storage fails
  timeout = 't',     // the next checkpoint cannot complete and times out
  crash = 'x',       // a task fails at the next event (after n more may be read)
  stop = 'p',        // stop with savepoint
  cancel = 'k',
  finish = 'e',      // read to the end; the job finishes with a final checkpoint
};

struct Step {
  Op op;
  std::uint32_t n = 0;
};

struct SessionPlan {
  Start start = Start::latest;
  std::string tag;  // the savepoint or tag a start names
  Parallelism par;
  bool reopen_storage = true;
  std::vector<Step> steps;

  std::string encode() const {
    std::string out;
    out += static_cast<char>(start);
    out += ";" + tag + ";" + std::to_string(par.source) + "," + std::to_string(par.count) + "," +
           std::to_string(par.sink) + ";" + (reopen_storage ? "r" : "k") + ";";
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (i) out += ",";
      out += static_cast<char>(steps[i].op);
      if (steps[i].n) out += std::to_string(steps[i].n);
    }
    return out;
  }
  static SessionPlan decode(const std::string& text) {
    std::vector<std::string> parts;
    std::stringstream in(text);
    for (std::string part; std::getline(in, part, ';');) parts.push_back(part);
    if (parts.size() < 4 || parts[0].size() != 1) throw std::invalid_argument("bad plan '" + text + "'");
    SessionPlan p;
    p.start = static_cast<Start>(parts[0][0]);
    p.tag = parts[1];
    std::sscanf(parts[2].c_str(), "%u,%u,%u", &p.par.source, &p.par.count, &p.par.sink);
    p.reopen_storage = parts[3] == "r";
    if (parts.size() > 4) {
      std::stringstream steps(parts[4]);
      for (std::string s; std::getline(steps, s, ',');)
        if (!s.empty()) p.steps.push_back({static_cast<Op>(s[0]), s.size() > 1 ? static_cast<std::uint32_t>(std::stoul(s.substr(1))) : 0u});
    }
    return p;
  }
};

/// Everything one sequence shares across its sessions.
struct World {
  Engine engine = Engine::pipeline;
  Input input;
  std::shared_ptr<fs::FileSystem> out;          // the sink's output
  std::shared_ptr<FlakyFileSystem> storage_fs;  // the checkpoint storage's
  StorageOptions options;
  std::unique_ptr<CheckpointStorage> storage;
  std::uint64_t hold = 0;  // how far each partition may be read: only grows
  std::uint32_t names = 0;  // savepoints named so far

  CheckpointStorage& open_storage(bool reopen) {
    if (reopen || !storage) {
      storage.reset();  // the lock first
      storage = std::make_unique<CheckpointStorage>(storage_fs, options);
    }
    return *storage;
  }
  std::string next_name(const char* prefix) { return prefix + std::to_string(++names); }
};

enum class Ending : std::uint8_t { finished, stopped, cancelled, crashed, failed };

struct SessionResult {
  Ending ending = Ending::failed;
  std::optional<std::uint64_t> restored_from;
  std::string error;  // set when something went wrong that the plan did not ask for
};

inline CheckpointConfig session_config() {
  return CheckpointConfig::on_demand().with_timeout(std::chrono::minutes(1)).with_tolerable_failed_checkpoints(1);
}

/// Rolls back when the plan says so and returns the snapshot to restore from
/// explicitly (nullptr: the latest).
inline std::shared_ptr<SnapshotReader> prepare_start(World& w, CheckpointStorage& storage, const SessionPlan& plan) {
  if (plan.start == Start::rollback_savepoint || plan.start == Start::rollback_latest) {
    FileSinkOutput output(w.out, "out");
    storage.rollback_to_tag(plan.tag, {&output});
  }
  if (plan.start == Start::savepoint || plan.start == Start::rollback_savepoint)
    return std::shared_ptr<SnapshotReader>(storage.open_savepoint(plan.tag));
  return nullptr;
}

/// Drives `f` to its end while the checkpoint cannot complete: the manual
/// clock moves past the timeout until the coordinator has aborted it.
inline CheckpointStats force_timeout(ManualClock& clock, std::shared_future<CheckpointStats> f) {
  while (f.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready) clock.advance(std::chrono::minutes(2));
  return f.get();
}

/// Lets every partition be read up to `hold` (but never to its end: that is
/// the last session's).
inline void read_to(World& w, Controls& controls, std::uint64_t hold) {
  w.hold = std::max(w.hold, std::min(hold, w.input.records - 1));
  controls.hold = w.hold;
}

/// The first event at the current hold fails (every partition has one: the
/// hold stays below the end until the input finishes), and `n` more may be read.
inline void crash_at_hold(World& w, Controls& controls, std::uint32_t n) {
  controls.fail_at = w.hold;
  const auto hold = std::min(w.hold + std::max<std::uint32_t>(1, n), w.input.records);
  controls.hold = hold;
  w.hold = std::min(hold, w.input.records - 1);
}

// -- The pipeline -------------------------------------------------------------

inline SessionResult run_pipeline_session(World& w, const SessionPlan& plan,
                                          const std::function<void(const std::string&)>& progress = {}) {
  SessionResult result;
  auto& storage = w.open_storage(plan.reopen_storage);
  JobOptions options;
  options.restore_from = prepare_start(w, storage, plan);
  ManualClock clock;
  options.clock = &clock;
  auto controls = std::make_shared<Controls>();
  controls->hold = w.hold;
  Pipeline pipeline;
  build_pipeline(pipeline, w.input, controls, w.out, plan.par);
  JobRunner job(pipeline, storage, session_config(), std::move(options));
  std::exception_ptr failure;
  std::future<void> running = std::async(std::launch::async, [&] {
    try {
      job.run();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  job.wait_running();  // restored (steps such as a full disk are for later checkpoints)
  const auto ended = [&] { return running.wait_for(std::chrono::seconds(0)) == std::future_status::ready; };
  bool crash_asked = false;
  std::optional<Ending> ending;
  for (std::size_t i = 0; i < plan.steps.size() && !ending && !ended(); ++i) {
    const auto& step = plan.steps[i];
    switch (step.op) {
      case Op::advance: read_to(w, *controls, w.hold + step.n); break;
      case Op::checkpoint: job.trigger_checkpoint().get(); break;
      case Op::savepoint: job.trigger_savepoint(w.next_name("sp")).get(); break;
      case Op::disk_full: {
        w.storage_fs->fail_after(step.n);
        job.trigger_checkpoint().get();
        w.storage_fs->heal();
        break;
      }
      case Op::timeout: {
        controls->block();
        read_to(w, *controls, w.hold + 1);
        force_timeout(clock, job.trigger_checkpoint());
        controls->unblock();
        break;
      }
      case Op::crash:
        crash_asked = true;
        crash_at_hold(w, *controls, step.n);
        ending = Ending::crashed;
        break;
      case Op::stop:
        if (job.stop_with_savepoint(w.next_name("stop")).get().outcome == CheckpointOutcome::completed)
          ending = Ending::stopped;
        break;
      case Op::cancel:
        job.cancel();
        ending = Ending::cancelled;
        break;
      case Op::finish:
        w.hold = w.input.records;
        controls->hold = no_limit;
        ending = Ending::finished;
        break;
    }
    if (progress) progress("step " + std::to_string(i));
  }
  if (!ending) job.cancel();  // a plan without an end (a child about to be killed)
  running.wait();
  result.restored_from = job.restored_from();
  result.ending = ending.value_or(Ending::cancelled);
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const JobError& e) {
      if (!crash_asked) result.error = std::string("the job failed: ") + e.what();
      result.ending = Ending::crashed;
    } catch (const CheckpointError& e) {
      if (e.code() != errc::checkpoint_aborted && e.code() != errc::checkpoint_timeout)
        result.error = std::string("the job failed: ") + e.what();
      result.ending = Ending::failed;  // more checkpoints failed in a row than tolerated
    } catch (const std::exception& e) {
      result.error = std::string("the job failed: ") + e.what();
    }
  } else if (crash_asked) {
    result.error = "the job did not crash when asked";
  }
  return result;
}

// -- The service --------------------------------------------------------------

/// One worker of the service: reads the partitions whose key ("p<i>") is in
/// its key groups, counts per partition and key in keyed state (so both move
/// with their key group on a rescale), writes a line per event through a
/// two-phase-commit file sink that commits when checkpoints complete.
class ServiceWorker final : public CheckpointedFunction, public CheckpointListener {
 public:
  ServiceWorker(World& w, std::uint32_t index, std::uint32_t workers)
      : input_(w.input),
        backend_(KeyedStateBackendOptions::for_subtask(index, workers)),
        store_(index, workers),
        sink_(w.out, "out", format_count) {
    const auto range = KeyGroupRange::for_subtask(default_max_parallelism, workers, index);
    for (std::uint32_t p = 0; p < input_.partitions; ++p)
      if (range.contains(key_group_for(partition_key(p), default_max_parallelism))) partitions_.push_back(p);
  }
  static std::string partition_key(std::uint32_t p) { return "p" + std::to_string(p); }

  ParticipantOptions participant(std::uint32_t index, std::uint32_t workers) {
    return {"svc", index, workers, &backend_, &store_, this, this};
  }

  void initialize_state(FunctionInitializationContext& ctx) override {
    offset_ = backend_.get_state(ValueStateDescriptor<std::uint64_t>{"offset", 0});
    count_ = backend_.get_map_state(MapStateDescriptor<std::string, std::int64_t>{"count"});
    sum_ = backend_.get_map_state(MapStateDescriptor<std::string, std::int64_t>{"sum"});
    sink_.initialize_state(ctx);
  }
  void snapshot_state(const FunctionSnapshotContext& ctx) override { sink_.snapshot_state(ctx); }
  void notify_checkpoint_complete(std::uint64_t id) override {
    sink_.notify_checkpoint_complete(id);
    std::lock_guard lock(mutex_);
    last_completed_ = std::max(last_completed_, id);
    changed_.notify_all();
  }

  /// The worker's loop, on its own thread, until stop() (or a crash).
  void run(ServiceParticipant& participant, Controls& controls, bool blockable) {
    while (!stopping_) {
      if (blockable) controls.wait_while_blocked();  // a worker that never reaches a sync point
      bool progressed = false, done = true;
      for (const auto p : partitions_) {
        backend_.set_current_key(partition_key(p));
        const auto offset = offset_.value();
        if (offset < input_.records) done = false;
        if (offset >= input_.records || offset >= controls.hold.load()) continue;
        if (offset >= controls.fail_at.load()) {
          crashed("injected failure in the worker");
          return;
        }
        const auto e = input_.event(p, offset);
        const auto key = partition_key(p) + "/" + e.key;
        const auto count = count_.get(key).value_or(0) + 1;
        const auto sum = sum_.get(key).value_or(0) + e.value;
        count_.put(key, count);
        sum_.put(key, sum);
        sink_.invoke({key, count, sum, p, offset});
        offset_.update(offset + 1);
        progressed = true;
      }
      try {
        participant.sync_point();
      } catch (const std::exception& e) {
        crashed(e.what());
        return;
      }
      {
        std::lock_guard lock(mutex_);
        done_ = done;
        changed_.notify_all();
      }
      if (!progressed) participant.wait_for_event(std::chrono::milliseconds(1));  // idle: nothing to read yet
    }
  }
  void stop() { stopping_ = true; }

  /// Blocks until the worker read all of its partitions, heard of checkpoint
  /// `id`, or crashed.
  void wait_done() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return done_ || crash_; });
  }
  void wait_completed(std::uint64_t id) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return last_completed_ >= id || crash_; });
  }
  void wait_crashed() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return crash_.has_value(); });
  }
  std::optional<std::string> crash() {
    std::lock_guard lock(mutex_);
    return crash_;
  }
  bool reads_any_partition() const { return !partitions_.empty(); }

 private:
  void crashed(std::string why) {
    std::lock_guard lock(mutex_);
    crash_ = std::move(why);
    changed_.notify_all();
  }

  Input input_;
  KeyedStateBackend<std::string> backend_;
  OperatorStateStore store_;
  TransactionalFileSink<Count> sink_;
  std::vector<std::uint32_t> partitions_;
  ValueState<std::uint64_t> offset_;
  MapState<std::string, std::int64_t> count_;
  MapState<std::string, std::int64_t> sum_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  bool done_ = false;
  std::uint64_t last_completed_ = 0;
  std::optional<std::string> crash_;
};

inline SessionResult run_service_session(World& w, const SessionPlan& plan,
                                         const std::function<void(const std::string&)>& progress = {}) {
  SessionResult result;
  auto& storage = w.open_storage(plan.reopen_storage);
  const auto from = prepare_start(w, storage, plan);
  ManualClock clock;
  auto controls = std::make_shared<Controls>();
  controls->hold = w.hold;
  const auto workers_n = plan.par.count;
  CheckpointedService service(storage, session_config(), {Alignment::independent, &clock});
  std::vector<std::unique_ptr<ServiceWorker>> workers;
  std::vector<ServiceParticipant*> participants;
  for (std::uint32_t i = 0; i < workers_n; ++i) {
    workers.push_back(std::make_unique<ServiceWorker>(w, i, workers_n));
    participants.push_back(&service.add_participant(workers.back()->participant(i, workers_n)));
  }
  try {
    if (from) {
      service.restore(*from);
      result.restored_from = from->checkpoint_id();
    } else {
      result.restored_from = service.restore_latest();
    }
  } catch (const std::exception& e) {
    result.error = std::string("restoring failed: ") + e.what();
    return result;
  }
  service.start();
  std::vector<std::thread> threads;
  for (std::uint32_t i = 0; i < workers_n; ++i)
    threads.emplace_back([&, i] { workers[i]->run(*participants[i], *controls, i == 0); });
  const auto stop_all = [&] {
    controls->unblock();
    for (auto& worker : workers) worker->stop();
    for (auto& t : threads)
      if (t.joinable()) t.join();
  };
  const auto any_crash = [&]() -> std::optional<std::string> {
    for (auto& worker : workers)
      if (auto c = worker->crash()) return c;
    return std::nullopt;
  };
  /// A checkpoint every worker has heard complete (or nothing, if it failed).
  const auto checkpoint_heard = [&](std::shared_future<CheckpointStats> f) {
    const auto stats = f.get();
    if (stats.outcome == CheckpointOutcome::completed)
      for (auto& worker : workers) worker->wait_completed(stats.id);
    return stats.outcome == CheckpointOutcome::completed;
  };
  std::optional<Ending> ending;
  bool crash_asked = false;
  for (std::size_t i = 0; i < plan.steps.size() && !ending && !any_crash(); ++i) {
    const auto& step = plan.steps[i];
    switch (step.op) {
      case Op::advance: read_to(w, *controls, w.hold + step.n); break;
      case Op::checkpoint: service.checkpoint_now().get(); break;
      case Op::savepoint: service.savepoint(w.next_name("sp")).get(); break;
      case Op::disk_full:
        w.storage_fs->fail_after(step.n);
        service.checkpoint_now().get();
        w.storage_fs->heal();
        break;
      case Op::timeout:
        controls->block();  // worker 0 stops at its next loop
        force_timeout(clock, service.checkpoint_now());
        controls->unblock();
        break;
      case Op::crash: {
        crash_asked = true;
        crash_at_hold(w, *controls, step.n);
        for (auto& worker : workers)
          if (worker->reads_any_partition()) {
            worker->wait_crashed();  // one that reads something fails at its next event
            break;
          }
        ending = Ending::crashed;
        break;
      }
      case Op::stop:
        if (checkpoint_heard(service.stop_with_savepoint(w.next_name("stop")))) ending = Ending::stopped;
        break;
      case Op::cancel:
        stop_all();
        service.cancel();
        ending = Ending::cancelled;
        break;
      case Op::finish:
        w.hold = w.input.records;
        controls->hold = no_limit;
        for (auto& worker : workers) worker->wait_done();
        while (!any_crash() && !checkpoint_heard(service.checkpoint_now())) {
        }
        ending = Ending::finished;
        break;
    }
    if (progress) progress("step " + std::to_string(i));
  }
  stop_all();
  service.stop();  // a crash: what was in flight is lost, as in a dead process
  result.ending = ending.value_or(Ending::cancelled);
  if (const auto c = any_crash(); c && (!crash_asked || c->find("injected") == std::string::npos))
    result.error = "a worker failed: " + *c;
  if (crash_asked) result.ending = Ending::crashed;
  return result;
}

inline SessionResult run_session(World& w, const SessionPlan& plan,
                                 const std::function<void(const std::string&)>& progress = {}) {
  return w.engine == Engine::pipeline ? run_pipeline_session(w, plan, progress) : run_service_session(w, plan, progress);
}

// -- Plans --------------------------------------------------------------------

/// The newest snapshot whose side effects were committed.
inline std::uint64_t newest_commit_point(CheckpointStorage& storage) {
  std::uint64_t newest = 0;
  for (const auto& c : storage.checkpoints()) newest = std::max(newest, c.id);
  for (const auto& s : storage.savepoints())
    if (s.ends_job) newest = std::max(newest, s.id);
  return newest;
}

/// A random session for `w` as its storage now is; `last` ends with the end
/// of the input, `killable` leaves the end to a SIGKILL now and then.
inline SessionPlan random_plan(std::mt19937_64& rng, World& w, bool last) {
  const auto pick = [&](std::uint32_t n) { return static_cast<std::uint32_t>(rng() % n); };
  SessionPlan plan;
  plan.par = {1 + pick(3), 1 + pick(3), 1 + pick(3)};
  plan.reopen_storage = pick(2) == 0;
  auto& storage = w.open_storage(false);
  const auto tags = storage.tags();
  const auto choice = pick(8);
  if (choice == 0 || choice == 1) {
    // A named savepoint, where restoring it commits nothing twice: nothing
    // was committed after it. Otherwise its tag is rolled back first.
    const auto newest = newest_commit_point(storage);
    std::vector<SnapshotInfo> fresh;
    for (const auto& s : storage.savepoints())
      if (s.id > newest) fresh.push_back(s);
    if (!fresh.empty()) {
      plan.start = Start::savepoint;
      plan.tag = fresh[pick(static_cast<std::uint32_t>(fresh.size()))].name;
    }
  }
  if (plan.start == Start::latest && (choice == 2 || choice == 3 || choice == 1) && !tags.empty()) {
    plan.start = pick(2) ? Start::rollback_savepoint : Start::rollback_latest;
    plan.tag = tags[pick(static_cast<std::uint32_t>(tags.size()))].name;
  }
  const auto room = [&] { return static_cast<std::uint32_t>(w.input.records / 6); };
  const auto middle = pick(6);
  for (std::uint32_t i = 0; i < middle; ++i) {
    switch (pick(9)) {
      case 0: case 1: case 2: plan.steps.push_back({Op::advance, 1 + pick(room())}); break;
      case 3: case 4: plan.steps.push_back({Op::checkpoint}); break;
      case 5: case 6: plan.steps.push_back({Op::savepoint}); break;
      case 7: plan.steps.push_back({Op::disk_full, pick(4)}); break;
      default: plan.steps.push_back({Op::timeout}); break;
    }
  }
  if (last) {
    plan.steps.push_back({Op::finish});
  } else {
    switch (pick(3)) {
      case 0: plan.steps.push_back({Op::crash, 1 + pick(room())}); break;
      case 1: plan.steps.push_back({Op::stop}); break;
      default: plan.steps.push_back({Op::cancel}); break;
    }
  }
  return plan;
}

/// A sequence's input and storage options, the first draws from its seed:
/// retention, incremental checkpoints, savepoints tagged.
inline void shape_world(World& w, std::mt19937_64& rng) {
  w.input = {2 + static_cast<std::uint32_t>(rng() % 3), 24 + rng() % 40, 3 + rng() % 6};
  w.options = StorageOptions::defaults().retain(1 + static_cast<std::uint32_t>(rng() % 3));
  w.options.incremental = rng() % 2 == 0;
  w.options.with_tags(TagOptions::defaults().tag_savepoints());
  w.options.compression_threads = 1;
}

}  // namespace ckpt::lifecycle
