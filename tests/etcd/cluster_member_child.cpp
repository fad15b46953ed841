// A member process of the clustered counting service (cluster_node.hpp), for
// the tests that SIGKILL one: joins job <job> as member <id>, index <index> of
// <members>, over the shared storage <dir> (lease TTL 1 s); restores, and on a
// first start increments every key it owns once. Its cut of checkpoint
// <hang-at> writes its keyed state and then never finishes (it first puts
// /test/<id>/stalled = <id>, so the test knows when to SIGKILL it); 0: never.
// Runs until killed. With [candidate-interval-ms] it campaigns for leadership
// (lease TTL 2 s) and, while leading, triggers a global checkpoint every that
// many ms; it puts /test/<id>/leading = 1 when it becomes the leader and 0,
// with /test/<id>/deposed = its last error, when it stops leading.
//   ckpt_etcd_cluster_member_child <endpoint> <job> <dir> <id> <index> <members> <hang-at> [candidate-interval-ms]
#include "cluster_node.hpp"

#include <cstdio>
#include <exception>
#include <string>

#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 8 && argc != 9) {
    std::fprintf(stderr, "usage: %s <endpoint> <job> <dir> <id> <index> <members> <hang-at> [candidate-interval-ms]\n",
                 argv[0]);
    return 2;
  }
  try {
    using namespace ckpt::etcd;
    const std::string endpoint = argv[1];
    ClusterOptions o;
    o.job = argv[2];
    o.member_id = argv[4];
    o.index = static_cast<std::uint32_t>(std::stoul(argv[5]));
    o.members = static_cast<std::uint32_t>(std::stoul(argv[6]));
    o.lease_ttl = std::chrono::seconds{1};
    o.poll = std::chrono::milliseconds{10};
    o.candidate = argc == 9;
    if (o.candidate) {
      o.lease_ttl = std::chrono::seconds{2};
      o.interval = std::chrono::milliseconds{std::stoll(argv[8])};
    }
    const std::uint64_t hang_at = std::stoull(argv[7]);
    Client marker(test::fast_cluster(endpoint));
    const std::string id = o.member_id;
    test::ClusterNode node(endpoint, argv[3], o, [&](std::uint64_t n) {
      if (n != hang_at) return;
      marker.put("/test/" + id + "/stalled", std::to_string(n));
      for (;;) ::pause();  // cutting state forever: the test SIGKILLs us here
    });
    if (!node.restore_and_start()) node.increment_owned(1);
    marker.put("/test/" + id + "/ready", "1");
    if (!o.candidate)
      for (;;) ::pause();
    for (;;) {  // events, not time: each wait ends when leadership changes
      if (!node.member().wait_until_leading(std::chrono::hours{1})) continue;
      marker.put("/test/" + id + "/leading", "1");
      if (!node.member().wait_until_not_leading(std::chrono::hours{1})) continue;
      marker.put("/test/" + id + "/deposed", node.member().last_error());
      marker.put("/test/" + id + "/leading", "0");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cluster member child: %s\n", e.what());
    return 1;
  }
}
