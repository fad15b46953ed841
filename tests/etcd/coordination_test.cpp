// The coordination primitives against a real etcd on loopback: leases and
// their loss, membership, leader election, fencing of a deposed leader's
// commit, and the checkpoint id counter under concurrent clients. Every wait
// is on the event (bounded); no test measures time.
#include <ckpt/etcd/checkpoint_commits.hpp>
#include <ckpt/etcd/checkpoint_id_counter.hpp>
#include <ckpt/etcd/leader_election.hpp>
#include <ckpt/etcd/lease.hpp>
#include <ckpt/etcd/membership.hpp>

#include "etcd_server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ckpt::etcd {
namespace {

using namespace std::chrono_literals;
using test::EtcdServer;
using test::fast;

using test::event_bound;

TEST(EtcdLease, KeepsItsKeysAliveAndRevokesThemOnDestruction) {
  EtcdServer server;
  Client client(fast(server.endpoint()));
  std::int64_t id = 0;
  {
    Lease lease(client, 2s);  // renewed every ~667 ms
    id = lease.id();
    client.put("/l/key", "v", id);
    // Past two TTLs the lease must still be there: wait for a loss that must not come.
    EXPECT_FALSE(lease.wait_lost(4s)) << lease.lost_reason();
    EXPECT_TRUE(client.get("/l/key"));
    EXPECT_NE(client.lease_time_to_live(id), -1);  // whole seconds left: 0 is still alive
  }
  EXPECT_FALSE(client.get("/l/key"));  // revoked as it was destroyed
  EXPECT_EQ(client.lease_time_to_live(id), -1);
}

TEST(EtcdLease, DestructionWakesTheKeepAliveThread) {
  // Renewals an hour apart: were destruction to wait for the next one, this
  // test would outlast ctest's timeout.
  EtcdServer server;
  Client client(fast(server.endpoint()));
  std::int64_t id = 0;
  {
    Lease lease(client, 30s, {}, std::chrono::hours{1});
    id = lease.id();
  }
  EXPECT_EQ(client.lease_time_to_live(id), -1);  // and it was revoked
}

TEST(EtcdLease, ReportsItsLossWhenRevokedElsewhere) {
  EtcdServer server;
  Client client(fast(server.endpoint()));
  std::atomic<int> callbacks{0};
  std::promise<std::string> told;
  Lease lease(client, 2s, [&](const std::string& why) {
    if (++callbacks == 1) told.set_value(why);
  }, 100ms);
  ASSERT_FALSE(lease.lost());
  Client other(fast(server.endpoint()));
  ASSERT_TRUE(other.lease_revoke(lease.id()));
  ASSERT_TRUE(lease.wait_lost(event_bound));
  EXPECT_NE(lease.lost_reason().find("no longer has it"), std::string::npos) << lease.lost_reason();
  EXPECT_NE(lease.lost_reason().find(std::to_string(lease.id())), std::string::npos) << lease.lost_reason();
  // The callback runs on the keep-alive thread, once, after lost() turned true.
  auto said = told.get_future();
  ASSERT_EQ(said.wait_for(event_bound), std::future_status::ready);
  EXPECT_EQ(said.get(), lease.lost_reason());
  EXPECT_EQ(callbacks.load(), 1);
}

TEST(EtcdLease, ReportsItsLossWhenEtcdIsGoneLongerThanTheTtl) {
  EtcdServer server;
  Client client(fast(server.endpoint()));
  Lease lease(client, 1s, {}, 100ms);
  server.kill();
  ASSERT_TRUE(lease.wait_lost(event_bound));
  EXPECT_NE(lease.lost_reason().find("TTL ran out"), std::string::npos) << lease.lost_reason();
  EXPECT_NE(lease.lost_reason().find(server.endpoint()), std::string::npos) << lease.lost_reason();
}  // destruction with etcd gone: the revoke fails quietly, the thread is already stopped

TEST(EtcdMembership, MembersAreListedSortedAndAnExpiredLeaseRemovesItsMember) {
  EtcdServer server;
  Client client(fast(server.endpoint()));
  const JobKeys keys("ckpt", "job1");
  Membership members(client, keys);
  Lease lease_b(client, 10s);
  Lease lease_a(client, 2s);  // short, to expire soon once abandoned; renewed until then
  members.join("member-b", lease_b, "10.0.0.2:80");
  members.join("member-a", lease_a, "10.0.0.1:80");
  members.join("member-a", lease_a, "10.0.0.1:81");  // again under its own lease: updated
  const MemberView both = members.members();
  EXPECT_EQ(both.ids(), (std::vector<std::string>{"member-a", "member-b"}));
  EXPECT_EQ(both.members[0].info, "10.0.0.1:81");
  EXPECT_EQ(both.members[0].lease, lease_a.id());
  // Another process may not take a live member's id.
  Lease intruder(client, 10s);
  EXPECT_THROW(members.join("member-a", intruder), ConfigError);

  // member-a's process "dies": no more keep-alive, no revoke; etcd expires its lease.
  lease_a.abandon();
  const auto after = members.wait_for_change(both, event_bound);
  ASSERT_TRUE(after) << "member-a still listed after " << event_bound.count() << " s";
  EXPECT_EQ(after->ids(), std::vector<std::string>{"member-b"});
  EXPECT_GT(after->revision, both.revision);
  // Its id is free again.
  members.join("member-a", intruder);
  EXPECT_EQ(members.members().ids(), (std::vector<std::string>{"member-a", "member-b"}));
  members.leave("member-b");
  EXPECT_EQ(members.members().ids(), std::vector<std::string>{"member-a"});
}

TEST(EtcdLeaderElection, TheOtherCandidateLeadsWhenTheLeadersLeaseIsRevoked) {
  EtcdServer server;
  Client client_a(fast(server.endpoint()));
  Client client_b(fast(server.endpoint()));
  const JobKeys keys("ckpt", "job2");
  LeaderElection election_a(client_a, keys);
  LeaderElection election_b(client_b, keys);
  Lease lease_a(client_a, 10s);
  Lease lease_b(client_b, 10s);

  EXPECT_FALSE(election_a.leader());
  const auto term_a = election_a.try_acquire("a", lease_a);
  ASSERT_TRUE(term_a);
  EXPECT_EQ(term_a->member_id, "a");
  EXPECT_GT(term_a->create_revision, 0);
  EXPECT_EQ(election_a.try_acquire("a", lease_a), term_a);  // asking again: the same term
  EXPECT_FALSE(election_b.try_acquire("b", lease_b));
  EXPECT_EQ(election_b.leader(), term_a);

  lease_a.revoke();  // the leader's lease ends: its key goes
  const auto term_b = election_b.campaign("b", lease_b, event_bound);
  ASSERT_TRUE(term_b);
  EXPECT_EQ(term_b->member_id, "b");
  EXPECT_GT(term_b->create_revision, term_a->create_revision);
  EXPECT_TRUE(election_b.is_leader(*term_b));
  EXPECT_FALSE(election_a.is_leader(*term_a));
  EXPECT_FALSE(election_a.resign(*term_a));  // an ended term cannot resign another's
  EXPECT_EQ(election_a.leader(), term_b);
  EXPECT_TRUE(election_b.resign(*term_b));
  EXPECT_FALSE(election_b.leader());
}

TEST(EtcdLeaderElection, AnExpiredLeaderLeaseLetsTheOtherCandidateLead) {
  EtcdServer server;
  Client client(fast(server.endpoint()));
  const JobKeys keys("ckpt", "job3");
  LeaderElection election(client, keys);
  Lease lease_a(client, 2s);  // short, to expire soon once abandoned; renewed until then
  Lease lease_b(client, 10s);
  const auto term_a = election.try_acquire("a", lease_a);
  ASSERT_TRUE(term_a);
  lease_a.abandon();  // the leader is paused or dead: its lease expires
  const auto term_b = election.campaign("b", lease_b, event_bound);
  ASSERT_TRUE(term_b);
  EXPECT_EQ(term_b->member_id, "b");
}

TEST(EtcdFencing, ADeposedLeadersCommitFailsAndTheLatestPointerIsUnchanged) {
  EtcdServer server;
  Client client_a(fast(server.endpoint()));
  Client client_b(fast(server.endpoint()));
  const JobKeys keys("ckpt", "job4");
  LeaderElection election(client_b, keys);
  CheckpointCommits commits_a(client_a, keys);
  CheckpointCommits commits_b(client_b, keys);
  Lease lease_b(client_b, 10s);

  EXPECT_FALSE(commits_a.latest());
  auto lease_a = std::make_unique<Lease>(client_a, 10s);
  const auto term_a = LeaderElection(client_a, keys).try_acquire("a", *lease_a);
  ASSERT_TRUE(term_a);
  commits_a.commit(*term_a, 1, "chk-1/_metadata");
  ASSERT_TRUE(commits_b.latest());
  EXPECT_EQ(commits_b.latest()->id, 1);
  EXPECT_EQ(commits_b.latest()->record, "chk-1/_metadata");
  // Not newer than the latest: refused, whoever asks.
  EXPECT_THROW(commits_a.commit(*term_a, 1, "again"), CheckpointError);

  // a is deposed (its lease ends); b leads and commits 2.
  lease_a->revoke();
  const auto term_b = election.campaign("b", lease_b, event_bound);
  ASSERT_TRUE(term_b);
  commits_b.commit(*term_b, 2, "chk-2/_metadata");

  // a, not knowing, commits 3 with its old term: fenced.
  try {
    commits_a.commit(*term_a, 3, "chk-3/_metadata");
    FAIL() << "a deposed leader's commit succeeded";
  } catch (const FencingError& e) {
    EXPECT_EQ(e.code(), errc::checkpoint_aborted);
    EXPECT_NE(std::string(e.what()).find("no longer the leader"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'b' leads"), std::string::npos) << e.what();
  }
  const auto latest = commits_b.latest();
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->id, 2);
  EXPECT_EQ(latest->record, "chk-2/_metadata");
  EXPECT_FALSE(commits_b.record(3));

  // a leads again later: a new term, and its old token is still fenced.
  EXPECT_TRUE(election.resign(*term_b));
  lease_a = std::make_unique<Lease>(client_a, 10s);
  const auto term_a2 = LeaderElection(client_a, keys).try_acquire("a", *lease_a);
  ASSERT_TRUE(term_a2);
  EXPECT_NE(term_a2->create_revision, term_a->create_revision);
  EXPECT_THROW(commits_a.commit(*term_a, 3, "stale"), FencingError);
  EXPECT_EQ(commits_a.latest()->id, 2);
  commits_a.commit(*term_a2, 3, "chk-3/_metadata");
  EXPECT_EQ(commits_b.latest()->id, 3);
  // With nobody leading nothing commits.
  lease_a->revoke();
  EXPECT_THROW(commits_a.commit(*term_a2, 4, "x"), FencingError);
  EXPECT_EQ(commits_b.latest()->id, 3);
}

TEST(EtcdCheckpointIdCounter, StrictlyIncreasingUnderTwoConcurrentClients) {
  EtcdServer server;
  const JobKeys keys("ckpt", "job5");
  constexpr int per_client = 40;
  std::vector<std::int64_t> ids[2];
  std::string errors[2];
  std::vector<std::thread> threads;
  for (int c = 0; c < 2; ++c) {
    threads.emplace_back([&, c] {
      try {
        Client client(fast(server.endpoint()));
        CheckpointIdCounter counter(client, keys);
        for (int i = 0; i < per_client; ++i) ids[c].push_back(counter.get_and_increment());
      } catch (const std::exception& e) {
        errors[c] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(errors[0], "");
  ASSERT_EQ(errors[1], "");
  std::set<std::int64_t> all;
  for (const auto& seq : ids) {
    ASSERT_EQ(seq.size(), static_cast<std::size_t>(per_client));
    EXPECT_TRUE(std::is_sorted(seq.begin(), seq.end()) &&
                std::adjacent_find(seq.begin(), seq.end()) == seq.end());  // strictly increasing per client
    all.insert(seq.begin(), seq.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(2 * per_client));  // no id handed out twice
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), 2 * per_client);  // and none skipped
  Client client(fast(server.endpoint()));
  EXPECT_EQ(CheckpointIdCounter(client, keys).get(), 2 * per_client + 1);
}

TEST(EtcdCheckpointIdCounter, AGarbledCounterIsAnErrorNamingTheKey) {
  EtcdServer server;
  Client client(fast(server.endpoint()));
  const JobKeys keys("ckpt", "job6");
  client.put(keys.checkpoint_id_counter(), "12abc");
  try {
    CheckpointIdCounter(client, keys).get_and_increment();
    FAIL() << "a garbled counter was used";
  } catch (const CorruptionError& e) {
    EXPECT_NE(std::string(e.what()).find(keys.checkpoint_id_counter()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ckpt::etcd
