// A member process for the global checkpoint tests: joins job <job> as
// <member> under a lease of <ttl> s and runs a GlobalCheckpointMember whose
// snapshot of checkpoint <hang-at> never returns (it first puts
// /test/<member>/snapshotting = <id>, so the test knows when to SIGKILL it);
// every other snapshot returns "part-<member>-<id>". Runs until killed.
//   ckpt_etcd_member_child <endpoint> <job> <member> <ttl-s> <hang-at>
#include <ckpt/etcd/global_checkpoint_member.hpp>
#include <ckpt/etcd/lease.hpp>
#include <ckpt/etcd/membership.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s <endpoint> <job> <member> <ttl-s> <hang-at>\n", argv[0]);
    return 2;
  }
  try {
    using namespace ckpt::etcd;
    Options options = Options::at(argv[1]);
    options.connect_timeout = std::chrono::milliseconds{500};
    options.request_timeout = std::chrono::milliseconds{2000};
    Client client(options);
    const JobKeys keys("ckpt", argv[2]);
    const std::string member = argv[3];
    const std::int64_t hang_at = std::stoll(argv[5]);
    Lease lease(client, std::chrono::seconds{std::stoll(argv[4])});
    GlobalCheckpointMemberHooks hooks;
    hooks.snapshot = [&](std::int64_t id) {
      if (id == hang_at) {
        client.put("/test/" + member + "/snapshotting", std::to_string(id));
        for (;;) ::pause();  // cutting state forever: the test SIGKILLs us here
      }
      return "part-" + member + "-" + std::to_string(id);
    };
    GlobalCheckpointMember participant(client, keys, member, hooks);
    Membership(client, keys).join(member, lease);
    participant.start();
    for (;;) ::pause();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "member child: %s\n", e.what());
    return 1;
  }
}
