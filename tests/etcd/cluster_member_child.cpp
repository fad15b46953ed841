// A member process of the clustered counting service (cluster_node.hpp), for
// the tests that SIGKILL one: joins job <job> as member <id>, index <index> of
// <members>, over the shared storage <dir> (lease TTL 1 s); restores, and on a
// first start increments every key it owns once. Its cut of checkpoint
// <hang-at> writes its keyed state and then never finishes (it first puts
// /test/<id>/stalled = <id>, so the test knows when to SIGKILL it); 0: never.
// Runs until killed.
//   ckpt_etcd_cluster_member_child <endpoint> <job> <dir> <id> <index> <members> <hang-at>
#include "cluster_node.hpp"

#include <cstdio>
#include <exception>
#include <string>

#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: %s <endpoint> <job> <dir> <id> <index> <members> <hang-at>\n", argv[0]);
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
    o.candidate = false;
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
    for (;;) ::pause();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cluster member child: %s\n", e.what());
    return 1;
  }
}
