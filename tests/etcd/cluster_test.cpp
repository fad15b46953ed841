// Clustered services (ClusterMember) against a real etcd on loopback and one
// shared local checkpoint directory: members are threads with their own
// clients, storages and services, or a real process (cluster_member_child.cpp)
// where one is SIGKILLed. Every wait is on an event, bounded; no test measures
// time.
#include <ckpt/cluster/cluster_member.hpp>
#include <ckpt/storage/part_manifest.hpp>

#include "cluster_node.hpp"
#include "etcd_server.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>

#ifndef CKPT_ETCD_CLUSTER_MEMBER_CHILD
#error "CKPT_ETCD_CLUSTER_MEMBER_CHILD names the cluster member child executable"
#endif

namespace ckpt::etcd {
namespace {
namespace cluster {

using namespace std::chrono_literals;
using test::ClusterNode;
using test::cluster_keys;
using test::EtcdServer;

constexpr auto bound = test::event_bound;

using test::eventually;

ClusterOptions member_options(const std::string& job, std::uint32_t index, std::uint32_t members, bool candidate) {
  return test::cluster_options(job, index, members, candidate);
}

/// `members` nodes of `job`, member 0 the only candidate for leadership, all
/// started (restored first) and registered; member 0 leads.
struct Generation {
  std::vector<std::unique_ptr<ClusterNode>> nodes;
  std::vector<std::optional<std::uint64_t>> restored;

  Generation(const EtcdServer& server, const std::string& dir, const std::string& job, std::uint32_t members,
             std::uint32_t tolerable = 0) {
    for (std::uint32_t i = 0; i < members; ++i) {
      auto o = member_options(job, i, members, i == 0);
      o.tolerable_failed_checkpoints = tolerable;
      nodes.push_back(std::make_unique<ClusterNode>(server.endpoint(), dir, o));
    }
    for (auto& n : nodes) restored.push_back(n->restore_and_start());
    if (!nodes[0]->member().wait_for_members(members, bound) || !nodes[0]->member().wait_until_leading(bound))
      throw std::runtime_error("the generation did not form");
  }
  ClusterMember& leader() { return nodes[0]->member(); }
  GlobalCheckpointResult checkpoint() {
    auto r = leader().trigger_now();
    if (!r) throw std::runtime_error("member 0 does not lead");
    return *r;
  }
  /// Every key's (count, rounds) across the members; fails if a key is held twice or by a non-owner.
  std::map<std::uint64_t, std::pair<std::uint64_t, std::size_t>> state() {
    std::map<std::uint64_t, std::pair<std::uint64_t, std::size_t>> all;
    for (auto& n : nodes)
      for (const auto& [k, v] : n->state()) {
        EXPECT_EQ(n->member().owner_of(k), n->member().options().index) << "key " << k;
        EXPECT_TRUE(all.emplace(k, v).second) << "key " << k << " is held by two members";
      }
    return all;
  }
  std::uint64_t applied() {
    std::uint64_t sum = 0;
    for (auto& n : nodes) sum += n->applied();
    return sum;
  }
};

bool exists(const std::string& dir, const std::string& path) { return std::filesystem::exists(dir + "/" + path); }

std::set<std::string> files_of(const std::string& dir, std::uint64_t id) { return test::checkpoint_files(dir, id); }

TEST(EtcdCluster, ThreeMembersCommitAGlobalCheckpointWhoseMetadataListsEveryPart) {
  EtcdServer server;
  ckpt::test::TempDir dir("ckpt-cluster");
  Generation g(server, dir.str(), "happy", 3);
  for (auto& n : g.nodes) n->increment_owned(1);
  const auto r = g.checkpoint();
  ASSERT_TRUE(r.completed) << r.reason;
  ASSERT_EQ(r.parts.size(), 3u);

  const auto n = static_cast<std::uint64_t>(r.id);
  EXPECT_EQ((std::set<std::string>{"_metadata", "_part-m0", "_part-m1", "_part-m2", "m0~counter-0.state",
                                   "m0~offsets-0.state", "m1~counter-1.state", "m1~offsets-1.state",
                                   "m2~counter-2.state", "m2~offsets-2.state"}),
            files_of(dir.str(), n));
  auto snapshot = CheckpointStorage::open_snapshot("file://" + dir.str() + "/chk-" + std::to_string(n));
  ASSERT_EQ(snapshot->manifest().operators.size(), 2u);
  for (const auto& op : snapshot->manifest().operators) {
    ASSERT_EQ(op.subtasks.size(), 3u) << op.uid;
    for (std::uint32_t i = 0; i < 3; ++i)
      EXPECT_EQ(op.subtasks[i].files.at(0).path, "m" + std::to_string(i) + "~" + op.uid + "-" + std::to_string(i) + ".state");
  }
  // Listeners hear of it only once etcd holds the commit.
  for (auto& node : g.nodes) {
    EXPECT_TRUE(node->wait_event("complete " + std::to_string(n) + " (committed)")) << node->member().options().member_id;
    for (const auto& e : node->events()) EXPECT_EQ(e.find("NOT"), std::string::npos) << e;
  }
  // The record in etcd names where the global _metadata is.
  const auto latest = CheckpointCommits(g.leader().client(), g.leader().keys()).latest();
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->id, r.id);
  EXPECT_EQ(decode_global_record(latest->record, "latest").metadata, "chk-" + std::to_string(n));

  // A second checkpoint: retention (2) is the committer's, keyed on commits.
  for (auto& node : g.nodes) node->increment_owned(2);
  const auto second = g.checkpoint();
  ASSERT_TRUE(second.completed) << second.reason;
  const auto third = g.checkpoint();
  ASSERT_TRUE(third.completed) << third.reason;
  EXPECT_TRUE(files_of(dir.str(), n).empty());  // the oldest of three committed: gone
  EXPECT_TRUE(exists(dir.str(), "chk-" + std::to_string(second.id) + "/_metadata"));
  EXPECT_EQ(g.leader().consecutive_failed_checkpoints(), 0u);
}

TEST(EtcdCluster, ThePeriodicTriggerOfTheLeaderCommitsCheckpoints) {
  EtcdServer server;
  ckpt::test::TempDir dir("ckpt-cluster");
  std::vector<std::unique_ptr<ClusterNode>> nodes;
  for (std::uint32_t i = 0; i < 2; ++i) {
    auto o = member_options("periodic", i, 2, true);  // both campaign: whoever wins triggers
    o.interval = 50ms;
    nodes.push_back(std::make_unique<ClusterNode>(server.endpoint(), dir.str(), o));
  }
  for (auto& n : nodes) n->restore_and_start();
  Client client(test::fast_cluster(server.endpoint()));
  const JobKeys keys("ckpt", "periodic");
  ASSERT_TRUE(eventually([&] {
    const auto latest = CheckpointCommits(client, keys).latest();
    return latest && latest->id >= 2;
  }));
  EXPECT_NE(nodes[0]->member().leading(), nodes[1]->member().leading());
}

// A member killed while cutting its state for checkpoint N (its keyed state
// already written): N aborts as soon as its lease ends, naming it; its files
// go; nothing of N is restorable. The choice for the next checkpoints: they
// fail too (the dead member's subtasks have no state), and with
// tolerable_failed_checkpoints = 1 the second failure in a row reports a job
// failure, once; a process with its id and index that joins again restores
// the last committed checkpoint and the next one commits.
TEST(EtcdCluster, AMemberProcessKilledMidCheckpointAbortsItAndTheJobFailsPerTheTolerableFailures) {
  EtcdServer server;
  ckpt::test::TempDir dir("ckpt-cluster");
  const std::string job = "killed";
  std::vector<std::unique_ptr<ClusterNode>> nodes;
  for (std::uint32_t i = 0; i < 2; ++i) {
    auto o = member_options(job, i, 3, i == 0);
    o.tolerable_failed_checkpoints = 1;
    nodes.push_back(std::make_unique<ClusterNode>(server.endpoint(), dir.str(), o));
  }
  std::vector<std::string> failures;
  std::mutex failures_mutex;
  nodes[0]->member().on_job_failure([&](const CheckpointError& e) {
    std::lock_guard lock(failures_mutex);
    failures.push_back(e.what());
  });
  for (auto& n : nodes) {
    n->restore_and_start();
    n->increment_owned(1);
  }
  Client client(test::fast_cluster(server.endpoint()));
  const JobKeys keys("ckpt", job);
  // The child stalls in the checkpoint after the first.
  struct Child {
    pid_t pid = -1;
    void start(const std::string& endpoint, const std::string& job_name, const std::string& storage,
               std::int64_t hang_at) {
      std::vector<std::string> args{CKPT_ETCD_CLUSTER_MEMBER_CHILD, endpoint, job_name, storage, "m2", "2", "3",
                                    std::to_string(hang_at)};
      std::vector<char*> argv;
      for (auto& s : args) argv.push_back(s.data());
      argv.push_back(nullptr);
      if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
        throw std::runtime_error("could not start the cluster member child");
    }
    void kill() {
      if (pid <= 0) return;
      ::kill(pid, SIGKILL);
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      pid = -1;
    }
    ~Child() { kill(); }
  } child;
  ASSERT_TRUE(nodes[0]->member().wait_until_leading(bound));
  // Ids: the first checkpoint is 1 (a fresh etcd and directory), the stalled one 2.
  child.start(server.endpoint(), job, dir.str(), 2);
  ASSERT_TRUE(eventually([&] { return client.get("/test/m2/ready").has_value(); }));
  ASSERT_TRUE(nodes[0]->member().wait_for_members(3, bound));

  const auto first = *nodes[0]->member().trigger_now();
  ASSERT_TRUE(first.completed) << first.reason;
  ASSERT_EQ(first.id, 1);

  auto running = std::async(std::launch::async, [&] { return nodes[0]->member().trigger_now(); });
  ASSERT_TRUE(eventually([&] { return client.get("/test/m2/stalled").has_value(); }));
  ASSERT_TRUE(eventually([&] { return exists(dir.str(), "chk-2/m2~counter-2.state"); }));  // its keyed state is written
  child.kill();
  ASSERT_EQ(running.wait_for(bound), std::future_status::ready);
  const auto aborted = *running.get();
  EXPECT_FALSE(aborted.completed);
  EXPECT_EQ(aborted.id, 2);
  EXPECT_NE(aborted.reason.find("member(s) 'm2' left the job"), std::string::npos) << aborted.reason;
  EXPECT_TRUE(eventually([&] { return files_of(dir.str(), 2).empty(); }));  // every member's files of 2, the dead one's too
  for (auto& n : nodes) EXPECT_TRUE(n->wait_event("abort 2"));
  EXPECT_EQ(CheckpointCommits(client, keys).latest()->id, 1);

  // The next one fails too (m2's subtasks have no state): the second failure in a row fails the job.
  const auto next = *nodes[0]->member().trigger_now();
  EXPECT_FALSE(next.completed);
  EXPECT_NE(next.reason.find("no member wrote operator 'counter' subtask 2 of 3"), std::string::npos) << next.reason;
  EXPECT_TRUE(files_of(dir.str(), static_cast<std::uint64_t>(next.id)).empty());
  EXPECT_EQ(nodes[0]->member().consecutive_failed_checkpoints(), 2u);
  {
    std::lock_guard lock(failures_mutex);
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_NE(failures[0].find("more than 1 consecutive global checkpoints failed"), std::string::npos) << failures[0];
  }
  // Nothing but the committed checkpoint is restorable.
  {
    auto reader = CheckpointStorage::open(dir.str(), StorageOptions::read_only_access());
    const auto listed = reader->checkpoints();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].id, 1u);
  }

  // m2 comes back (a new process, restoring checkpoint 1): checkpoints commit again.
  client.delete_range("/test/m2/ready");
  child.start(server.endpoint(), job, dir.str(), 0);
  ASSERT_TRUE(eventually([&] { return client.get("/test/m2/ready").has_value(); }));
  ASSERT_TRUE(nodes[0]->member().wait_for_members(3, bound));
  const auto again = *nodes[0]->member().trigger_now();
  ASSERT_TRUE(again.completed) << again.reason;
  EXPECT_EQ(nodes[0]->member().consecutive_failed_checkpoints(), 0u);
  {
    std::lock_guard lock(failures_mutex);
    EXPECT_EQ(failures.size(), 1u);
  }
}

// Every key's count is restored exactly once, on its owner: at the same size,
// then 3 -> 2 and 2 -> 3, and from storage alone when etcd has no record.
TEST(EtcdCluster, RestoresAtTheSameSizeAndRescalesThreeToTwoAndTwoToThreeKeepingEveryKeyOnce) {
  EtcdServer server;
  ckpt::test::TempDir dir("ckpt-cluster");
  const auto expect_counts = [](Generation& g, std::uint64_t count) {
    const auto all = g.state();
    ASSERT_EQ(all.size(), count == 0 ? 0 : cluster_keys);
    for (const auto& [k, v] : all) {
      EXPECT_EQ(v.first, count) << "key " << k;
      EXPECT_EQ(v.second, count) << "key " << k;  // one map entry per round
    }
    EXPECT_EQ(g.applied(), count * cluster_keys);  // operator list state, redistributed
  };
  std::uint64_t round = 0;
  std::int64_t last = 0;
  const auto step = [&](std::uint32_t members, std::uint64_t count_before) {
    Generation g(server, dir.str(), "rescale", members);
    for (const auto& r : g.restored) EXPECT_EQ(r, last == 0 ? std::nullopt : std::optional<std::uint64_t>(last));
    expect_counts(g, count_before);
    ++round;
    for (auto& n : g.nodes) n->increment_owned(round);
    const auto r = g.checkpoint();
    ASSERT_TRUE(r.completed) << r.reason;
    EXPECT_GT(r.id, last);
    last = r.id;
  };
  step(3, 0);
  step(3, 1);  // same size
  step(2, 2);  // 3 -> 2
  step(3, 3);  // 2 -> 3
  {
    // A job whose etcd has no record (a new job name here): the newest _metadata in storage.
    Generation g(server, dir.str(), "rescale-elsewhere", 2);
    for (const auto& r : g.restored) EXPECT_EQ(r, std::optional<std::uint64_t>(last));
    expect_counts(g, 4);
    const auto r = g.checkpoint();  // its ids go past the storage's
    ASSERT_TRUE(r.completed) << r.reason;
    EXPECT_GT(r.id, last);
  }
}

// A leader deposed while its checkpoint waits for a slow member: once the
// parts are in, its finalize writes _metadata, its commit is fenced, and it
// removes that _metadata, so nothing uncommitted is restorable. It campaigns
// again; its new term aborts the checkpoint left pending and goes on.
TEST(EtcdCluster, ADeposedLeadersCommitIsFencedAndLeavesNoRestorableCheckpoint) {
  EtcdServer server;
  ckpt::test::TempDir dir("ckpt-cluster");
  Generation g(server, dir.str(), "fenced", 3);
  for (auto& n : g.nodes) n->increment_owned(1);
  const auto first = g.checkpoint();
  ASSERT_TRUE(first.completed) << first.reason;

  Client client(test::fast_cluster(server.endpoint()));
  const JobKeys keys("ckpt", "fenced");
  g.nodes[2]->hold();  // m2 is slow to reach its sync point
  auto running = std::async(std::launch::async, [&] { return g.leader().trigger_now(); });
  std::int64_t id = 0;
  ASSERT_TRUE(eventually([&] {
    const auto pending = client.range_prefix(keys.pending()).kvs;
    if (pending.empty()) return false;
    id = decode_announcement(pending.front().value, pending.front().key).id;
    return client.range_prefix(keys.parts(id)).kvs.size() == 2;
  }));
  client.delete_range(keys.leader());  // m0's term ends; nobody else campaigns
  g.nodes[2]->release();
  ASSERT_EQ(running.wait_for(bound), std::future_status::ready);
  EXPECT_THROW(running.get(), FencingError);
  const auto n = static_cast<std::uint64_t>(id);
  EXPECT_FALSE(exists(dir.str(), "chk-" + std::to_string(n) + "/_metadata"));
  EXPECT_EQ(CheckpointCommits(client, keys).latest()->id, first.id);
  EXPECT_FALSE(CheckpointCommits(client, keys).record(id));
  {
    auto reader = CheckpointStorage::open(dir.str(), StorageOptions::read_only_access());
    EXPECT_EQ(reader->restore_latest()->checkpoint_id(), static_cast<std::uint64_t>(first.id));
  }

  // m0 leads again (a new term), aborting what its old term left pending.
  ASSERT_TRUE(g.leader().wait_until_leading(bound));
  for (auto& node : g.nodes) EXPECT_TRUE(node->wait_event("abort " + std::to_string(n)));
  EXPECT_TRUE(eventually([&] { return files_of(dir.str(), n).empty(); }));
  const auto next = g.checkpoint();
  ASSERT_TRUE(next.completed) << next.reason;
  EXPECT_GT(next.id, id);
  for (auto& node : g.nodes) {
    EXPECT_TRUE(node->wait_event("complete " + std::to_string(next.id) + " (committed)"));
    const auto events = node->events();
    EXPECT_EQ(std::count(events.begin(), events.end(), "complete " + std::to_string(n) + " (committed)"), 0);
  }
}

TEST(EtcdCluster, OwnerOfFollowsTheGenerationsKeyGroupsAndMembershipChangesAreReported) {
  EtcdServer server;
  ckpt::test::TempDir dir("ckpt-cluster");
  std::vector<std::size_t> sizes;
  std::mutex sizes_mutex;
  std::condition_variable sizes_changed;
  auto first = std::make_unique<ClusterNode>(server.endpoint(), dir.str(), member_options("routing", 0, 2, true));
  first->member().on_membership_change([&](const MemberView& v) {
    {
      std::lock_guard lock(sizes_mutex);
      sizes.push_back(v.members.size());
    }
    sizes_changed.notify_all();
  });
  first->restore_and_start();
  auto second = std::make_unique<ClusterNode>(server.endpoint(), dir.str(), member_options("routing", 1, 2, false));
  second->restore_and_start();
  // The last view reported has `n` members.
  const auto saw = [&](std::size_t n) {
    std::unique_lock lock(sizes_mutex);
    return sizes_changed.wait_for(lock, bound, [&] { return !sizes.empty() && sizes.back() == n; });
  };
  EXPECT_TRUE(saw(2));
  for (std::uint64_t k = 0; k < cluster_keys; ++k) {
    const auto owner = first->member().owner_of(k);
    EXPECT_EQ(owner, subtask_for_key_group(default_max_parallelism, 2, key_group_for(k, default_max_parallelism)));
    EXPECT_TRUE(KeyGroupRange::for_subtask(default_max_parallelism, 2, owner).contains(key_group_for(k, default_max_parallelism)));
  }
  EXPECT_EQ(first->member().member_at(1), std::optional<std::string>("m1"));
  second.reset();  // leaves: its lease is revoked
  EXPECT_TRUE(saw(1));
  EXPECT_EQ(first->member().member_at(1), std::nullopt);
}

TEST(EtcdCluster, AnUnreachableEtcdIsAClearErrorAndTheServiceKeepsItsState) {
  ckpt::test::TempDir dir("ckpt-cluster");
  const int port = test::free_loopback_port();  // nothing listens there
  auto o = member_options("unreachable", 0, 1, true);
  ClusterNode node("http://127.0.0.1:" + std::to_string(port), dir.str(), o);
  try {
    node.member().restore();
    FAIL() << "restore() without etcd succeeded";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)), std::string::npos) << e.what();
  }
  EXPECT_THROW(node.member().start(), IoError);
  EXPECT_FALSE(node.member().leading());
  EXPECT_TRUE(files_of(dir.str(), 1).empty());
}

}  // namespace cluster
}  // namespace
}  // namespace ckpt::etcd
