#pragma once
// One member of a clustered keyed counting service, for the cluster tests and
// their member process (cluster_member_child.cpp): a ClusterMember whose one
// worker thread owns a keyed backend ("counter": a ValueState count and a
// MapState of the rounds that touched each key) and an operator store
// ("offsets": how many increments this member applied, as list state,
// redistributed by even split on rescale). The worker runs posted tasks and
// calls both participants' sync points; hold() keeps it from reaching them
// (a slow member). The listener records what it heard, and whether etcd
// already held the commit at that moment.
#include <ckpt/ckpt.hpp>
#include <ckpt/etcd/checkpoint_commits.hpp>
#include <ckpt/cluster/cluster_member.hpp>
#include <ckpt/fs/local_file_system.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ckpt::etcd::test {

inline constexpr std::uint64_t cluster_keys = 64;

/// Client options for a loopback etcd: short timeouts.
inline Options fast_cluster(const std::string& endpoint) {
  Options o = Options::at(endpoint);
  o.connect_timeout = std::chrono::milliseconds{500};
  o.request_timeout = std::chrono::milliseconds{2000};
  return o;
}

/// Member `index` of `members` of `job` ("m<index>"), as the cluster tests
/// run them: lease TTL 2 s, poll 10 ms, timeout 10 s.
inline ClusterOptions cluster_options(const std::string& job, std::uint32_t index, std::uint32_t members,
                                      bool candidate) {
  ClusterOptions o;
  o.job = job;
  o.member_id = "m" + std::to_string(index);
  o.index = index;
  o.members = members;
  o.lease_ttl = std::chrono::seconds{2};
  o.poll = std::chrono::milliseconds{10};
  o.timeout = std::chrono::seconds{10};
  o.candidate = candidate;
  return o;
}

/// The names of the files in <dir>/chk-<id>/ (none when it does not exist).
inline std::set<std::string> checkpoint_files(const std::string& dir, std::uint64_t id) {
  std::set<std::string> out;
  const auto chk = dir + "/chk-" + std::to_string(id);
  if (!std::filesystem::exists(chk)) return out;
  for (const auto& e : std::filesystem::directory_iterator(chk)) out.insert(e.path().filename().string());
  return out;
}

class ClusterNode final : public CheckpointedFunction, public CheckpointListener {
 public:
  using Stall = std::function<void(std::uint64_t id)>;

  ClusterNode(const std::string& endpoint, const std::string& dir, ClusterOptions options, Stall stall = {})
      : member_(fast_cluster(endpoint), std::make_shared<fs::LocalFileSystem>(dir), std::move(options),
                StorageOptions::defaults().retain(2).with_compression_threads(1)),
        observer_(fast_cluster(endpoint)),
        backend_(KeyedStateBackendOptions::for_subtask(member_.options().index, member_.options().members,
                                                      member_.options().max_parallelism)),
        store_(member_.options().index, member_.options().members),
        stall_(std::move(stall)) {
    counts_ = backend_.get_state(ValueStateDescriptor<std::uint64_t>{"count", 0});
    rounds_ = backend_.get_map_state(MapStateDescriptor<std::uint64_t, std::uint64_t>{"rounds"});
    counter_ = &member_.service().add_participant(member_.participant("counter", &backend_));
    offsets_ = &member_.service().add_participant(member_.participant("offsets", nullptr, &store_, this, this));
  }
  ~ClusterNode() override { stop(); }

  ClusterMember& member() { return member_; }

  /// Restores, starts the member and the worker.
  std::optional<std::uint64_t> restore_and_start() {
    const auto restored = member_.restore();
    member_.start();
    worker_ = std::thread([this] { work(); });
    return restored;
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
      held_ = false;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    member_.stop();
  }

  /// Runs `task` on the worker thread and waits for it.
  void run(std::function<void()> task) {
    std::promise<void> done;
    auto future = done.get_future();
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back([&] {
        task();
        done.set_value();
      });
    }
    cv_.notify_all();
    future.get();
  }

  /// One more increment of every key this member owns (round `round`).
  void increment_owned(std::uint64_t round) {
    run([&] {
      for (std::uint64_t k = 0; k < cluster_keys; ++k) {
        if (member_.owner_of(k) != member_.options().index) continue;
        backend_.set_current_key(k);
        counts_.update(counts_.value() + 1);
        rounds_.put(round, k);
        ++applied_;
      }
    });
  }

  /// key -> (count, rounds recorded), of every key this member holds.
  std::map<std::uint64_t, std::pair<std::uint64_t, std::size_t>> state() {
    std::map<std::uint64_t, std::pair<std::uint64_t, std::size_t>> out;
    run([&] {
      for (auto k : backend_.keys("count")) {
        backend_.set_current_key(k);
        out[k] = {counts_.value(), rounds_.size()};
      }
    });
    return out;
  }
  std::uint64_t applied() {
    std::uint64_t n = 0;
    run([&] { n = applied_; });
    return n;
  }

  /// Keeps the worker away from its sync points until release().
  void hold() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      held_ = false;
    }
    cv_.notify_all();
  }

  std::vector<std::string> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  /// Waits (bounded) for an event equal to `e`.
  bool wait_event(const std::string& e, std::chrono::milliseconds bound = std::chrono::seconds{20}) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, bound, [&] { return std::find(events_.begin(), events_.end(), e) != events_.end(); });
  }

  // -- CheckpointedFunction, CheckpointListener (worker thread)
  void initialize_state(FunctionInitializationContext& ctx) override {
    applied_state_ = ctx.operator_state_store().get_list_state(ListStateDescriptor<std::uint64_t>{"applied"});
    for (auto n : applied_state_.get()) applied_ += n;
  }
  void snapshot_state(const FunctionSnapshotContext& ctx) override {
    if (stall_) stall_(ctx.checkpoint_id());
    applied_state_.update({applied_});
  }
  void notify_checkpoint_complete(std::uint64_t id) override {
    std::optional<CommittedCheckpoint> latest;
    try {
      latest = CheckpointCommits(observer_, member_.keys()).latest();
    } catch (const Error&) {  // etcd went away (a fault test) before the worker got here
      record("complete " + std::to_string(id) + " (etcd unreachable)");
      return;
    }
    record("complete " + std::to_string(id) +
           (latest && latest->id == static_cast<std::int64_t>(id) ? " (committed)" : " (NOT committed)"));
  }
  void notify_checkpoint_aborted(std::uint64_t id) override { record("abort " + std::to_string(id)); }

 private:
  void record(std::string e) {
    {
      std::lock_guard lock(mutex_);
      events_.push_back(std::move(e));
    }
    cv_.notify_all();
  }

  void work() {
    for (;;) {
      std::deque<std::function<void()>> tasks;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || !held_; });
        if (stop_) return;
        tasks.swap(tasks_);
      }
      for (auto& t : tasks) t();
      counter_->sync_point();
      offsets_->sync_point();
      // Idle: wake for a checkpoint event at once, for a task within a few ms.
      offsets_->wait_for_event(std::chrono::milliseconds{5});
    }
  }

  ClusterMember member_;
  Client observer_;
  KeyedStateBackend<std::uint64_t> backend_;
  OperatorStateStore store_;
  ValueState<std::uint64_t> counts_;
  MapState<std::uint64_t, std::uint64_t> rounds_;
  ListState<std::uint64_t> applied_state_;
  std::uint64_t applied_ = 0;
  Stall stall_;
  ServiceParticipant* counter_ = nullptr;
  ServiceParticipant* offsets_ = nullptr;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::string> events_;
  bool stop_ = false;
  bool held_ = false;
  std::thread worker_;
};

}  // namespace ckpt::etcd::test
