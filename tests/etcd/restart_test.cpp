// etcd killed (SIGKILL) and restarted on the same data directory in the
// middle of a sequence: calls fail with IoError while it is down, and the
// same client objects carry on once it is back, with nothing lost.
#include <ckpt/etcd/checkpoint_commits.hpp>
#include <ckpt/etcd/checkpoint_id_counter.hpp>
#include <ckpt/etcd/leader_election.hpp>
#include <ckpt/etcd/lease.hpp>
#include <ckpt/etcd/membership.hpp>

#include "etcd_server.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ckpt::etcd {
namespace {

using namespace std::chrono_literals;

TEST(EtcdRestart, TheClientRecoversAfterEtcdIsKilledAndRestarted) {
  test::EtcdServer server;
  Client client(test::fast(server.endpoint()));
  const JobKeys keys("ckpt", "restart");
  CheckpointIdCounter counter(client, keys);
  Membership members(client, keys);
  LeaderElection election(client, keys);
  CheckpointCommits commits(client, keys);
  Lease lease(client, 30s, {}, 200ms);  // outlives the restart

  members.join("m0", lease);
  const auto term = election.try_acquire("m0", lease);
  ASSERT_TRUE(term);
  const std::int64_t first = counter.get_and_increment();
  commits.commit(*term, first, "chk-" + std::to_string(first));
  client.put("/restart/k", "before");

  server.kill();
  try {
    counter.get_and_increment();
    FAIL() << "etcd is down, yet the counter moved";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(server.endpoint()), std::string::npos) << e.what();
  }
  EXPECT_THROW(client.put("/restart/k", "during"), IoError);

  server.start();  // same ports, same data directory
  EXPECT_EQ(client.get("/restart/k")->value, "before");
  const std::int64_t second = counter.get_and_increment();
  EXPECT_GT(second, first);
  EXPECT_EQ(members.members().ids(), std::vector<std::string>{"m0"});
  EXPECT_EQ(election.leader(), term);
  commits.commit(*term, second, "chk-" + std::to_string(second));
  EXPECT_EQ(commits.latest()->id, second);
  EXPECT_FALSE(lease.lost()) << lease.lost_reason();
  EXPECT_GT(client.lease_time_to_live(lease.id()), 0);
  client.put("/restart/k", "after");
  EXPECT_EQ(client.get("/restart/k")->value, "after");
}

}  // namespace
}  // namespace ckpt::etcd
