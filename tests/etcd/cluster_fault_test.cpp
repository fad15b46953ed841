// Faults of a clustered service (issue 17 item 4) with real processes and a
// real etcd on loopback: the leader process SIGKILLed or SIGSTOPped past its
// lease mid-checkpoint, etcd restarted mid-checkpoint, etcd unreachable.
// The leader is a process (cluster_member_child.cpp, campaigning and
// triggering every 50 ms); the other members are threads of this process.
// A member's worker can be stalled in its cut of a checkpoint (Gate), so a
// checkpoint is in flight when the fault strikes; which one is chosen by a
// seeded random number (the seed is printed; CKPT_TEST_SEED replays it).
// Every wait is on an event, bounded; no test measures time.
#include <ckpt/cluster/cluster_member.hpp>

#include "../reliability/process.hpp"
#include "cluster_node.hpp"
#include "etcd_server.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#ifndef CKPT_ETCD_CLUSTER_MEMBER_CHILD
#error "CKPT_ETCD_CLUSTER_MEMBER_CHILD names the cluster member child executable"
#endif

namespace ckpt::etcd {
namespace {
namespace cluster_fault {

using namespace std::chrono_literals;
using test::checkpoint_files;
using test::cluster_keys;
using test::cluster_options;
using test::ClusterNode;
using test::EtcdServer;
using test::eventually;

constexpr auto bound = test::event_bound;
constexpr auto child_lease_ttl = 2s;  // cluster_member_child.cpp's, when it campaigns

std::uint64_t test_seed() {
  const char* env = std::getenv("CKPT_TEST_SEED");
  const std::uint64_t seed = env ? std::stoull(env) : std::random_device{}();
  std::printf("seed %llu (CKPT_TEST_SEED=%llu replays it)\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  return seed;
}

/// Stalls the worker that calls it in its cut of a checkpoint: once armed,
/// it lets `pass` cuts go by and holds the next until release().
class Gate {
 public:
  void arm(int pass) {
    std::lock_guard lock(mutex_);
    pass_ = pass;
  }
  void operator()(std::uint64_t id) {
    std::unique_lock lock(mutex_);
    if (pass_ < 0 || open_) return;
    if (pass_ > 0) {
      --pass_;
      return;
    }
    pass_ = -1;
    stalled_ = id;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  /// The id of the checkpoint held (bounded wait).
  std::optional<std::uint64_t> wait_stalled() {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, bound, [&] { return stalled_.has_value(); });
    return stalled_;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int pass_ = -1;
  bool open_ = false;
  std::optional<std::uint64_t> stalled_;
};

/// Opens the gate when the test leaves (before the nodes it stalls stop).
struct ReleaseOnExit {
  Gate& gate;
  ~ReleaseOnExit() { gate.release(); }
};

/// Every value etcd's checkpoints/latest took while it runs, read every 10 ms.
class LatestObserver {
 public:
  LatestObserver(const std::string& endpoint, const JobKeys& keys)
      : client_(test::fast_cluster(endpoint)), keys_(keys), thread_([this] { run(); }) {}
  ~LatestObserver() { stop(); }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  std::vector<std::int64_t> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      lock.unlock();
      std::optional<std::int64_t> id;
      try {
        if (const auto latest = CheckpointCommits(client_, keys_).latest()) id = latest->id;
      } catch (const Error&) {  // etcd away: nothing to see
      }
      lock.lock();
      if (id && (seen_.empty() || seen_.back() != *id)) seen_.push_back(*id);
      cv_.wait_for(lock, 10ms, [&] { return stop_; });
    }
  }

  Client client_;
  JobKeys keys_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<std::int64_t> seen_;
  std::thread thread_;
};

/// The leader process m0 (index 0 of 3), campaigning and triggering every 50 ms.
std::unique_ptr<rel::Child> leader_process(const EtcdServer& server, const std::string& job, const std::string& dir) {
  return std::make_unique<rel::Child>(
      CKPT_ETCD_CLUSTER_MEMBER_CHILD,
      std::vector<std::string>{server.endpoint(), job, dir, "m0", "0", "3", "0", "50"},
      std::map<std::string, std::string>{});
}

/// m0 again, as a plain member (no campaign), restoring the latest committed checkpoint.
std::unique_ptr<rel::Child> member_process(const EtcdServer& server, const std::string& job, const std::string& dir) {
  return std::make_unique<rel::Child>(CKPT_ETCD_CLUSTER_MEMBER_CHILD,
                                      std::vector<std::string>{server.endpoint(), job, dir, "m0", "0", "3", "0"},
                                      std::map<std::string, std::string>{});
}

bool holds(Client& client, const std::string& key, const std::string& value) {
  const auto kv = client.get(key);
  return kv && kv->value == value;
}

std::optional<Outcome> outcome_of(Client& client, const JobKeys& keys, std::int64_t id) {
  const auto kv = client.get(keys.outcome(id));
  if (!kv) return std::nullopt;
  return decode_outcome(kv->value, kv->key);
}

/// The ids of every committed checkpoint's record in etcd.
std::vector<std::int64_t> committed_ids(Client& client, const JobKeys& keys) {
  std::vector<std::int64_t> ids;
  for (const auto& kv : client.range_prefix(keys.root() + "checkpoints/").kvs) {
    if (kv.key == keys.latest_checkpoint()) continue;
    ids.push_back(std::stoll(kv.key.substr(kv.key.rfind('/') + 1)));
  }
  return ids;
}

/// The member processes' and threads' checkpoints as storage lists them (read only).
std::vector<std::uint64_t> restorable(const std::string& dir) {
  std::vector<std::uint64_t> ids;
  auto reader = CheckpointStorage::open(dir, StorageOptions::read_only_access());
  for (const auto& c : reader->checkpoints()) ids.push_back(c.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

/// The in-process members m1 (a candidate) and m2 (stalled by `gate`) of a
/// job of 3 whose m0 is the leader process, both started with their first
/// increment; returns once a checkpoint announced after that increment is
/// committed.
struct Followers {
  std::unique_ptr<ClusterNode> m1, m2;
  std::int64_t committed = 0;

  Followers(const EtcdServer& server, const std::string& dir, const std::string& job, Gate& gate, Client& client,
            const JobKeys& keys) {
    m1 = std::make_unique<ClusterNode>(server.endpoint(), dir, cluster_options(job, 1, 3, true));
    m2 = std::make_unique<ClusterNode>(server.endpoint(), dir, cluster_options(job, 2, 3, false),
                                       [&gate](std::uint64_t id) { gate(id); });
    for (auto* n : {m1.get(), m2.get()}) {
      n->restore_and_start();
      n->increment_owned(1);
    }
    const std::int64_t after = CheckpointIdCounter(client, keys).get();  // every later id is cut after the increments
    if (!eventually([&] {
          const auto latest = CheckpointCommits(client, keys).latest();
          if (latest && latest->id >= after) committed = latest->id;
          return committed != 0;
        }))
      throw std::runtime_error("the leader process committed no checkpoint with all three members");
  }
};

/// Every key's (count, rounds) in a new generation of 3 in-process members
/// restoring the latest committed checkpoint; each must restore `expected_id`.
std::map<std::uint64_t, std::pair<std::uint64_t, std::size_t>> restored_state(const EtcdServer& server,
                                                                               const std::string& dir,
                                                                               const std::string& job,
                                                                               std::int64_t expected_id) {
  std::map<std::uint64_t, std::pair<std::uint64_t, std::size_t>> all;
  std::vector<std::unique_ptr<ClusterNode>> nodes;
  for (std::uint32_t i = 0; i < 3; ++i) {
    nodes.push_back(std::make_unique<ClusterNode>(server.endpoint(), dir, cluster_options(job, i, 3, false)));
    EXPECT_EQ(nodes.back()->restore_and_start(), std::optional<std::uint64_t>(static_cast<std::uint64_t>(expected_id)));
  }
  for (auto& n : nodes)
    for (const auto& [k, v] : n->state()) EXPECT_TRUE(all.emplace(k, v).second) << "key " << k << " held twice";
  return all;
}

// The leader process is SIGKILLed while a checkpoint waits for a stalled
// member: m1 takes over within the lease TTL (plus a bound), aborting it; its
// files go and it never becomes restorable. m0 comes back as a plain member
// (restoring the last commit), the next checkpoint commits, and a new
// generation restores exactly that commit's state.
TEST(EtcdClusterFaults, ALeaderProcessKilledMidCheckpointIsReplacedAndItsCheckpointAborted) {
  std::mt19937_64 rng(test_seed());
  const int pass = static_cast<int>(rng() % 3);  // cuts that m2 lets by before the one it stalls
  EtcdServer server;
  ckpt::test::TempDir dir("ckpt-cluster-fault");
  const std::string job = "leader-killed";
  Client client(test::fast_cluster(server.endpoint()));
  const JobKeys keys("ckpt", job);

  auto leader = leader_process(server, job, dir.str());
  ASSERT_TRUE(eventually([&] { return holds(client, "/test/m0/leading", "1"); }));
  Gate gate;
  Followers f(server, dir.str(), job, gate, client, keys);
  const ReleaseOnExit release{gate};

  gate.arm(pass);
  const auto stalled = gate.wait_stalled();
  ASSERT_TRUE(stalled);
  const auto k = static_cast<std::int64_t>(*stalled);
  ASSERT_TRUE(eventually([&] { return client.range_prefix(keys.parts(k)).kvs.size() == 2; }));  // m0's and m1's
  const std::int64_t before = CheckpointCommits(client, keys).latest()->id;
  leader->kill();
  leader->wait();

  ASSERT_TRUE(f.m1->member().wait_until_leading(child_lease_ttl + bound));
  std::optional<Outcome> outcome;
  ASSERT_TRUE(eventually([&] { return (outcome = outcome_of(client, keys, k)).has_value(); }));
  EXPECT_FALSE(outcome->completed);
  EXPECT_NE(outcome->reason.find("took over as leader"), std::string::npos) << outcome->reason;
  gate.release();  // m2's late part is refused; it removes its files on hearing of the abort
  for (auto* n : {f.m1.get(), f.m2.get()}) EXPECT_TRUE(n->wait_event("abort " + std::to_string(k)));
  EXPECT_TRUE(eventually([&] { return checkpoint_files(dir.str(), static_cast<std::uint64_t>(k)).empty(); }));
  EXPECT_EQ(CheckpointCommits(client, keys).latest()->id, before);

  // m0 back (a new process, not a candidate): the next checkpoint commits.
  client.delete_range("/test/m0/ready");
  auto member = member_process(server, job, dir.str());
  ASSERT_TRUE(eventually([&] { return client.get("/test/m0/ready").has_value(); }));
  ASSERT_TRUE(f.m1->member().wait_for_members(3, bound));
  for (auto* n : {f.m1.get(), f.m2.get()}) n->increment_owned(2);
  const auto next = f.m1->member().trigger_now();
  ASSERT_TRUE(next);
  ASSERT_TRUE(next->completed) << next->reason;
  EXPECT_GT(next->id, k);
  EXPECT_FALSE(CheckpointCommits(client, keys).record(k));
  const auto listed = restorable(dir.str());
  EXPECT_EQ(std::count(listed.begin(), listed.end(), static_cast<std::uint64_t>(k)), 0);
  EXPECT_TRUE(checkpoint_files(dir.str(), static_cast<std::uint64_t>(k)).empty());
  f.m1->increment_owned(3);  // not committed: no restore may see it

  member.reset();  // SIGKILLed: its registration lasts until its lease ends
  f.m1.reset();
  f.m2.reset();
  ASSERT_TRUE(eventually([&] { return !client.get(keys.member("m0")).has_value(); }));
  const auto state = restored_state(server, dir.str(), job, next->id);
  ASSERT_EQ(state.size(), cluster_keys);
  for (const auto& [key, v] : state) {
    const std::uint64_t expected = KeyGroupRange::for_subtask(default_max_parallelism, 3, 0)
                                           .contains(key_group_for(key, default_max_parallelism))
                                       ? 1   // m0's keys: its first increment, restored by its second process
                                       : 2;  // m1's and m2's: two increments
    EXPECT_EQ(v.first, expected) << "key " << key;
    EXPECT_EQ(v.second, expected) << "key " << key;
  }
}

// The leader process is SIGSTOPped past its lease while a checkpoint is in
// flight: m1 takes over and aborts it. After SIGCONT the old leader's writes
// are fenced: it commits nothing, notices that it no longer leads, and
// rejoins as a new registration; m1's next checkpoint commits with it, and
// etcd's latest pointer never went backwards.
TEST(EtcdClusterFaults, ALeaderPausedPastItsLeaseIsFencedAfterSigcontAndRejoinsAsAMember) {
  std::mt19937_64 rng(test_seed());
  const int pass = static_cast<int>(rng() % 3);
  EtcdServer server;
  ckpt::test::TempDir dir("ckpt-cluster-fault");
  const std::string job = "leader-paused";
  Client client(test::fast_cluster(server.endpoint()));
  const JobKeys keys("ckpt", job);

  auto leader = leader_process(server, job, dir.str());
  ASSERT_TRUE(eventually([&] { return holds(client, "/test/m0/leading", "1"); }));
  Gate gate;
  Followers f(server, dir.str(), job, gate, client, keys);
  const ReleaseOnExit release{gate};
  LatestObserver observer(server.endpoint(), keys);
  const auto m0_registration = client.get(keys.member("m0"))->create_revision;

  gate.arm(pass);
  const auto stalled = gate.wait_stalled();
  ASSERT_TRUE(stalled);
  const auto k = static_cast<std::int64_t>(*stalled);
  ASSERT_TRUE(eventually([&] { return client.range_prefix(keys.parts(k)).kvs.size() == 2; }));
  const std::int64_t before = CheckpointCommits(client, keys).latest()->id;
  ASSERT_EQ(::kill(leader->pid(), SIGSTOP), 0);
  struct ContinueOnExit {
    pid_t pid;
    ~ContinueOnExit() { ::kill(pid, SIGCONT); }
  } resume{leader->pid()};

  // While m0 is stopped its lease ends; m1 leads and aborts k.
  ASSERT_TRUE(f.m1->member().wait_until_leading(child_lease_ttl + bound));
  EXPECT_EQ(client.get(keys.leader())->value, "m1");
  EXPECT_FALSE(client.get(keys.member("m0")));  // its registration went with its lease
  std::optional<Outcome> outcome;
  ASSERT_TRUE(eventually([&] { return (outcome = outcome_of(client, keys, k)).has_value(); }));
  EXPECT_FALSE(outcome->completed);
  gate.release();

  ASSERT_EQ(::kill(leader->pid(), SIGCONT), 0);
  // It notices it is deposed and comes back as a new registration.
  ASSERT_TRUE(eventually([&] { return holds(client, "/test/m0/leading", "0"); }));
  const auto deposed = client.get("/test/m0/deposed");
  ASSERT_TRUE(deposed);
  // Why: its fenced write (announce, abort or commit refused on its old term), or its lease found lost first.
  EXPECT_TRUE(deposed->value.find("is no longer the leader") != std::string::npos ||
              deposed->value.find("lost") != std::string::npos)
      << deposed->value;
  std::printf("the old leader stopped leading: %s\n", deposed->value.c_str());
  ASSERT_TRUE(eventually([&] {
    const auto kv = client.get(keys.member("m0"));
    return kv && kv->create_revision != m0_registration;
  }));
  ASSERT_TRUE(f.m1->member().wait_for_members(3, bound));
  EXPECT_EQ(client.get(keys.leader())->value, "m1");

  for (auto* n : {f.m1.get(), f.m2.get()}) n->increment_owned(2);
  const auto next = f.m1->member().trigger_now();
  ASSERT_TRUE(next);
  ASSERT_TRUE(next->completed) << next->reason;
  EXPECT_EQ(CheckpointCommits(client, keys).latest()->id, next->id);
  EXPECT_TRUE(eventually([&] {  // the observer's next read sees it too
    const auto now = observer.seen();
    return !now.empty() && now.back() == next->id;
  }));
  observer.stop();

  // Nothing was committed between the pause and m1's checkpoint: not k, nothing by the old leader.
  std::vector<std::int64_t> after_pause;
  for (const auto id : committed_ids(client, keys))
    if (id > before) after_pause.push_back(id);
  EXPECT_EQ(after_pause, std::vector<std::int64_t>{next->id});
  EXPECT_FALSE(checkpoint_files(dir.str(), static_cast<std::uint64_t>(k)).contains("_metadata"));
  const auto seen = observer.seen();
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end())) << "checkpoints/latest went backwards";
  const auto listed = restorable(dir.str());
  EXPECT_EQ(std::count(listed.begin(), listed.end(), static_cast<std::uint64_t>(k)), 0);
}

// etcd is SIGKILLed while a checkpoint waits for a stalled member and stays
// away until every member's lease is lost: the checkpoint fails and is never
// committed, the service keeps serving; once etcd is back on the same data
// directory and port, the members rejoin by themselves (new leases, new
// registrations), the leader aborts what was left pending, and checkpoints
// commit again, without restarting anything.
TEST(EtcdClusterFaults, AnEtcdRestartMidCheckpointNeverHalfCommitsAndMembersRejoinByThemselves) {
  EtcdServer server;
  ckpt::test::TempDir dir("ckpt-cluster-fault");
  const std::string job = "etcd-restart";
  Client client(test::fast_cluster(server.endpoint()));
  const JobKeys keys("ckpt", job);
  Gate gate;
  std::vector<std::unique_ptr<ClusterNode>> nodes;
  for (std::uint32_t i = 0; i < 3; ++i) {
    ClusterNode::Stall stall;
    if (i == 2) stall = [&gate](std::uint64_t id) { gate(id); };
    nodes.push_back(std::make_unique<ClusterNode>(server.endpoint(), dir.str(), cluster_options(job, i, 3, i == 0), stall));
  }
  const ReleaseOnExit release{gate};
  for (auto& n : nodes) {
    n->restore_and_start();
    n->increment_owned(1);
  }
  auto& leader = nodes[0]->member();
  ASSERT_TRUE(leader.wait_for_members(3, bound) && leader.wait_until_leading(bound));
  const auto first = leader.trigger_now();
  ASSERT_TRUE(first && first->completed) << (first ? first->reason : "not leading");
  for (auto& n : nodes) ASSERT_TRUE(n->wait_event("complete " + std::to_string(first->id) + " (committed)"));

  gate.arm(0);
  auto running = std::async(std::launch::async, [&] { return leader.trigger_now(); });
  const auto stalled = gate.wait_stalled();
  ASSERT_TRUE(stalled);
  const auto k = static_cast<std::int64_t>(*stalled);
  ASSERT_TRUE(eventually([&] { return client.range_prefix(keys.parts(k)).kvs.size() == 2; }));
  server.kill();

  // The service serves on; every member's lease is lost while etcd is away.
  nodes[0]->increment_owned(2);
  for (auto& n : nodes) EXPECT_TRUE(eventually([&] { return !n->member().registered(); }));
  gate.release();  // m2's part is written; its report cannot reach etcd
  ASSERT_EQ(running.wait_for(bound), std::future_status::ready);
  const auto during = running.get();
  if (during) {
    EXPECT_FALSE(during->completed);
  }
  EXPECT_TRUE(leader.wait_until_not_leading(bound));  // its lease is lost: so is its leadership

  server.start();  // the same data directory and port
  for (auto& n : nodes)
    EXPECT_TRUE(eventually([&] { return n->member().registered() && n->member().registrations() >= 2; }))
        << n->member().options().member_id << ": " << n->member().last_error();
  ASSERT_TRUE(leader.wait_until_leading(child_lease_ttl + bound)) << leader.last_error();
  std::optional<Outcome> outcome;
  ASSERT_TRUE(eventually([&] { return (outcome = outcome_of(client, keys, k)).has_value(); }));
  EXPECT_FALSE(outcome->completed);
  EXPECT_FALSE(CheckpointCommits(client, keys).record(k));
  for (auto& n : nodes) EXPECT_TRUE(n->wait_event("abort " + std::to_string(k)));
  EXPECT_TRUE(eventually([&] { return checkpoint_files(dir.str(), static_cast<std::uint64_t>(k)).empty(); }));

  ASSERT_TRUE(leader.wait_for_members(3, bound));
  for (std::size_t i = 1; i < nodes.size(); ++i) nodes[i]->increment_owned(2);
  const auto next = leader.trigger_now();
  ASSERT_TRUE(next);
  ASSERT_TRUE(next->completed) << next->reason;
  EXPECT_GT(next->id, k);
  EXPECT_EQ(CheckpointCommits(client, keys).latest()->id, next->id);
  EXPECT_EQ(restorable(dir.str()), (std::vector<std::uint64_t>{static_cast<std::uint64_t>(first->id),
                                                                static_cast<std::uint64_t>(next->id)}));
  for (auto& n : nodes)
    for (const auto& [key, v] : n->state()) {
      EXPECT_EQ(v.first, 2u) << "key " << key;
      EXPECT_EQ(v.second, 2u) << "key " << key;
    }
}

// etcd goes away under a running member: its checkpoints fail with an error
// naming etcd's endpoint, its state updates go on, and what it had committed
// stays in storage as it was.
TEST(EtcdClusterFaults, AnUnreachableEtcdFailsCheckpointsNamingItsEndpointWhileTheServiceServes) {
  EtcdServer server;
  ckpt::test::TempDir dir("ckpt-cluster-fault");
  ClusterNode node(server.endpoint(), dir.str(), cluster_options("unreachable-later", 0, 1, true));
  node.restore_and_start();
  node.increment_owned(1);
  ASSERT_TRUE(node.member().wait_until_leading(bound));
  const auto first = node.member().trigger_now();
  ASSERT_TRUE(first && first->completed) << (first ? first->reason : "not leading");
  ASSERT_TRUE(node.wait_event("complete " + std::to_string(first->id) + " (committed)"));
  const auto committed_files = checkpoint_files(dir.str(), static_cast<std::uint64_t>(first->id));

  const std::string endpoint = server.endpoint().substr(std::string("http://").size());  // 127.0.0.1:<port>
  server.kill();
  node.increment_owned(2);  // the service serves on
  const auto failed = node.member().trigger_now();
  if (failed) {  // still leading as far as it knows (its lease not yet given up)
    EXPECT_FALSE(failed->completed);
    EXPECT_NE(failed->reason.find(endpoint), std::string::npos) << failed->reason;
  }
  EXPECT_TRUE(eventually([&] { return node.member().last_error().find(endpoint) != std::string::npos; }))
      << node.member().last_error();
  const auto state = node.state();
  ASSERT_EQ(state.size(), cluster_keys);
  for (const auto& [key, v] : state) EXPECT_EQ(v, (std::pair<std::uint64_t, std::size_t>{2, 2})) << "key " << key;
  EXPECT_EQ(restorable(dir.str()), std::vector<std::uint64_t>{static_cast<std::uint64_t>(first->id)});
  EXPECT_EQ(checkpoint_files(dir.str(), static_cast<std::uint64_t>(first->id)), committed_files);
  EXPECT_TRUE(checkpoint_files(dir.str(), static_cast<std::uint64_t>(first->id) + 1).empty());
}

}  // namespace cluster_fault
}  // namespace
}  // namespace ckpt::etcd
