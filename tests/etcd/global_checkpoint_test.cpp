// The global checkpoint protocol (GlobalCheckpointLeader, GlobalCheckpointMember)
// against a real etcd on loopback: members are threads with their own
// clients, and in one test a real process SIGKILLed mid-checkpoint. Deadlines
// run on a ManualClock, so a timeout needs no real waiting; every wait is on
// an event, bounded; no test measures time.
#include <ckpt/clock.hpp>
#include <ckpt/etcd/checkpoint_commits.hpp>
#include <ckpt/etcd/global_checkpoint_leader.hpp>
#include <ckpt/etcd/global_checkpoint_member.hpp>
#include <ckpt/etcd/leader_election.hpp>
#include <ckpt/etcd/lease.hpp>
#include <ckpt/etcd/membership.hpp>

#include "etcd_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>

#ifndef CKPT_ETCD_MEMBER_CHILD
#error "CKPT_ETCD_MEMBER_CHILD names the member child executable"
#endif

namespace ckpt::etcd {
namespace {

using namespace std::chrono_literals;
using test::EtcdServer;
using test::fast;

using test::event_bound;
constexpr auto deadline = 10s;  // by the ManualClock: passes only when a test advances it

using test::eventually;

/// A member in a thread of its own: its own client and lease, registered,
/// recording what its hooks saw.
class TestMember {
 public:
  TestMember(const std::string& endpoint, const JobKeys& keys, std::string id, bool participate = true)
      : client_(fast(endpoint)), keys_(keys), id_(std::move(id)), lease_(client_, 10s) {
    Membership(client_, keys_).join(id_, lease_);
    if (!participate) return;  // registered, but never reports
    GlobalCheckpointMemberHooks hooks;
    hooks.snapshot = [this](std::int64_t n) {
      record("snapshot " + std::to_string(n));
      return "part-" + id_ + "-" + std::to_string(n);
    };
    hooks.on_complete = [this](std::int64_t n) {
      // Flink's notifyCheckpointComplete: the commit must already be in etcd.
      const auto latest = CheckpointCommits(client_, keys_).latest();
      record("complete " + std::to_string(n) + (latest && latest->id == n ? " (latest)" : " (NOT latest)"));
    };
    hooks.on_abort = [this](std::int64_t n, const std::string& reason) {
      record("abort " + std::to_string(n) + ": " + reason);
    };
    member_ = std::make_unique<GlobalCheckpointMember>(client_, keys_, id_, hooks, 10ms);
    member_->start();
  }
  ~TestMember() { member_.reset(); }

  const std::string& id() const { return id_; }
  std::vector<std::string> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  /// Waits (bounded) until at least `n` outcomes (complete/abort) were delivered.
  std::vector<std::string> wait_outcomes(std::size_t n) const {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, event_bound, [&] { return outcomes_ >= n; });
    std::vector<std::string> out;
    for (const auto& e : events_)
      if (!e.starts_with("snapshot")) out.push_back(e);
    return out;
  }

 private:
  void record(std::string e) {
    {
      std::lock_guard lock(mutex_);
      if (!e.starts_with("snapshot")) ++outcomes_;
      events_.push_back(std::move(e));
    }
    changed_.notify_all();
  }

  Client client_;
  JobKeys keys_;
  std::string id_;
  Lease lease_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<std::string> events_;
  std::size_t outcomes_ = 0;
  std::unique_ptr<GlobalCheckpointMember> member_;
};

struct Fixture {
  EtcdServer server;
  JobKeys keys{"ckpt", "global"};
  Client client{fast(server.endpoint())};
  ManualClock clock;

  GlobalCheckpointOptions options() const {
    GlobalCheckpointOptions o;
    o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(deadline);
    o.poll = 10ms;
    return o;
  }
  Leadership lead(const std::string& id, const Lease& lease) {
    const auto term = LeaderElection(client, keys).campaign(id, lease, event_bound, 20ms);
    if (!term) throw std::runtime_error(id + " did not become the leader");
    return *term;
  }
  bool nothing_pending() {
    return client.range_prefix(keys.pending()).kvs.empty() && client.range_prefix(keys.root() + "global/parts/").kvs.empty();
  }
  std::size_t parts_of(std::int64_t id) { return client.range_prefix(keys.parts(id)).kvs.size(); }
};

/// Stops the leader when the test leaves (before the future of its trigger() is destroyed).
struct StopOnExit {
  GlobalCheckpointLeader& leader;
  ~StopOnExit() { leader.stop(); }
};

std::string metadata_of(std::int64_t id, const std::vector<MemberPart>& parts) {
  std::string out = "chk-" + std::to_string(id) + "/_metadata:";
  for (const auto& p : parts) out += " " + p.member_id;
  return out;
}

TEST(EtcdGlobalCheckpoint, EveryMemberReportsAndLearnsOfTheCommitOnlyOnceItIsInEtcd) {
  Fixture f;
  TestMember a(f.server.endpoint(), f.keys, "a"), b(f.server.endpoint(), f.keys, "b"), c(f.server.endpoint(), f.keys, "c");
  Lease leader_lease(f.client, 10s);
  std::vector<std::vector<MemberPart>> finalized;
  GlobalCheckpointLeader leader(f.client, f.keys, f.lead("a", leader_lease), f.clock,
                                [&](std::int64_t id, const std::vector<MemberPart>& parts) {
                                  finalized.push_back(parts);
                                  return metadata_of(id, parts);
                                },
                                f.options());
  EXPECT_TRUE(leader.aborted_on_take_over().empty());

  const auto first = leader.trigger();
  ASSERT_TRUE(first.completed) << first.reason;
  const auto second = leader.trigger();
  ASSERT_TRUE(second.completed) << second.reason;
  EXPECT_GT(second.id, first.id);
  const std::vector<MemberPart> parts{{"a", "part-a-" + std::to_string(second.id)},
                                      {"b", "part-b-" + std::to_string(second.id)},
                                      {"c", "part-c-" + std::to_string(second.id)}};
  EXPECT_EQ(second.parts, parts);
  ASSERT_EQ(finalized.size(), 2u);
  EXPECT_EQ(finalized[1], parts);

  // The commit: latest = N, its record lists the parts and what finalize returned.
  const auto latest = CheckpointCommits(f.client, f.keys).latest();
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->id, second.id);
  const GlobalRecord record = decode_global_record(latest->record, f.keys.checkpoint(second.id));
  EXPECT_EQ(record.parts, parts);
  EXPECT_EQ(record.metadata, metadata_of(second.id, parts));
  EXPECT_TRUE(f.nothing_pending());

  const std::vector<std::string> expected{"complete " + std::to_string(first.id) + " (latest)",
                                          "complete " + std::to_string(second.id) + " (latest)"};
  for (const TestMember* m : {&a, &b, &c}) EXPECT_EQ(m->wait_outcomes(2), expected) << m->id();
}

TEST(EtcdGlobalCheckpoint, AMemberThatNeverReportsAbortsTheCheckpointAtTheDeadline) {
  Fixture f;
  TestMember a(f.server.endpoint(), f.keys, "a"), b(f.server.endpoint(), f.keys, "b");
  TestMember silent(f.server.endpoint(), f.keys, "c", /*participate=*/false);
  Lease leader_lease(f.client, 10s);
  std::atomic<int> finalizes{0};
  GlobalCheckpointLeader leader(f.client, f.keys, f.lead("a", leader_lease), f.clock,
                                [&](std::int64_t id, const std::vector<MemberPart>& parts) {
                                  ++finalizes;
                                  return metadata_of(id, parts);
                                },
                                f.options());
  auto running = std::async(std::launch::async, [&] { return leader.trigger(); });
  const StopOnExit unblock{leader};  // a failed assertion must not leave trigger() waiting
  // a and b report checkpoint 1 (the counter's first id); c never does.
  ASSERT_TRUE(eventually([&] { return f.parts_of(1) == 2; }));
  ASSERT_EQ(running.wait_for(0s), std::future_status::timeout);  // still waiting for c
  f.clock.advance(deadline + 1ms);
  ASSERT_EQ(running.wait_for(event_bound), std::future_status::ready);
  const auto result = running.get();
  EXPECT_EQ(result.id, 1);
  EXPECT_FALSE(result.completed);
  EXPECT_NE(result.reason.find("timed out"), std::string::npos) << result.reason;
  EXPECT_NE(result.reason.find("'c'"), std::string::npos) << result.reason;
  EXPECT_EQ(result.reason.find("'a'"), std::string::npos) << result.reason;
  EXPECT_EQ(finalizes.load(), 0);

  EXPECT_FALSE(CheckpointCommits(f.client, f.keys).latest());
  EXPECT_TRUE(f.nothing_pending());
  const std::vector<std::string> expected{"abort 1: " + result.reason};
  EXPECT_EQ(a.wait_outcomes(1), expected);
  EXPECT_EQ(b.wait_outcomes(1), expected);
}

TEST(EtcdGlobalCheckpoint, AFinalizeThatThrowsAbortsAndLatestStays) {
  Fixture f;
  TestMember a(f.server.endpoint(), f.keys, "a"), b(f.server.endpoint(), f.keys, "b"), c(f.server.endpoint(), f.keys, "c");
  Lease leader_lease(f.client, 10s);
  std::atomic<bool> fail{false};
  GlobalCheckpointLeader leader(f.client, f.keys, f.lead("b", leader_lease), f.clock,
                                [&](std::int64_t id, const std::vector<MemberPart>& parts) {
                                  if (fail) throw IoError(errc::no_space, "chk-2/_metadata", "no space left writing _metadata");
                                  return metadata_of(id, parts);
                                },
                                f.options());
  // A slow member (not registered, so not expected) that polls only now and then.
  std::vector<std::string> slow_events;
  GlobalCheckpointMemberHooks slow_hooks;
  slow_hooks.snapshot = [](std::int64_t) -> std::string { throw std::logic_error("not expected to snapshot"); };
  slow_hooks.on_complete = [&](std::int64_t n) { slow_events.push_back("complete " + std::to_string(n)); };
  slow_hooks.on_abort = [&](std::int64_t n, const std::string&) { slow_events.push_back("abort " + std::to_string(n)); };
  GlobalCheckpointMember slow(f.client, f.keys, "slow", slow_hooks);
  slow.poll_once();
  const auto first = leader.trigger();
  ASSERT_TRUE(first.completed) << first.reason;
  fail = true;
  const auto second = leader.trigger();
  EXPECT_FALSE(second.completed);
  EXPECT_NE(second.reason.find("finalize failed"), std::string::npos) << second.reason;
  EXPECT_NE(second.reason.find("no space left"), std::string::npos) << second.reason;
  EXPECT_EQ(CheckpointCommits(f.client, f.keys).latest()->id, first.id);
  EXPECT_FALSE(CheckpointCommits(f.client, f.keys).record(second.id));
  EXPECT_TRUE(f.nothing_pending());
  const std::vector<std::string> expected{"complete " + std::to_string(first.id) + " (latest)",
                                          "abort " + std::to_string(second.id) + ": " + second.reason};
  for (const TestMember* m : {&a, &b, &c}) EXPECT_EQ(m->wait_outcomes(2), expected) << m->id();
  // The slow member missed both while not polling: one poll delivers each, in order, once.
  slow.poll_once();
  slow.poll_once();
  EXPECT_EQ(slow_events, (std::vector<std::string>{"complete " + std::to_string(first.id),
                                                   "abort " + std::to_string(second.id)}));
}

TEST(EtcdGlobalCheckpoint, ALeaderDeposedBeforeItsCommitIsFencedAndTheNextLeaderAbortsItsCheckpoint) {
  Fixture f;
  TestMember a(f.server.endpoint(), f.keys, "a"), b(f.server.endpoint(), f.keys, "b"), c(f.server.endpoint(), f.keys, "c");
  Client client_b(fast(f.server.endpoint()));
  Lease lease_a(f.client, 10s);
  Lease lease_b(client_b, 10s);
  const Leadership term_a = f.lead("a", lease_a);
  std::unique_ptr<GlobalCheckpointLeader> leader_b;
  std::atomic<int> finalizes_b{0};
  auto finalize_b = [&](std::int64_t id, const std::vector<MemberPart>& parts) {
    ++finalizes_b;
    return metadata_of(id, parts);
  };
  std::atomic<bool> depose{false};
  GlobalCheckpointLeader leader_a(f.client, f.keys, term_a, f.clock,
                                  [&](std::int64_t id, const std::vector<MemberPart>& parts) {
                                    if (depose) {
                                      // Between announce and commit: a's lease ends, b leads and takes over.
                                      lease_a.revoke();
                                      const auto term_b = LeaderElection(client_b, f.keys).campaign("b", lease_b, event_bound, 20ms);
                                      if (!term_b) throw std::runtime_error("b did not become the leader");
                                      leader_b = std::make_unique<GlobalCheckpointLeader>(client_b, f.keys, *term_b, f.clock,
                                                                                          finalize_b, f.options());
                                    }
                                    return metadata_of(id, parts);
                                  },
                                  f.options());
  const auto first = leader_a.trigger();
  ASSERT_TRUE(first.completed) << first.reason;
  depose = true;
  EXPECT_THROW(leader_a.trigger(), FencingError);
  const std::int64_t in_flight = first.id + 1;
  ASSERT_TRUE(leader_b);
  EXPECT_EQ(leader_b->aborted_on_take_over(), std::vector<std::int64_t>{in_flight});
  EXPECT_EQ(CheckpointCommits(f.client, f.keys).latest()->id, first.id);
  EXPECT_FALSE(CheckpointCommits(f.client, f.keys).record(in_flight));
  EXPECT_TRUE(f.nothing_pending());

  // The deposed leader cannot even announce; the new one goes on, with a larger id.
  EXPECT_THROW(leader_a.trigger(), FencingError);
  EXPECT_TRUE(f.nothing_pending());
  const auto third = leader_b->trigger();
  ASSERT_TRUE(third.completed) << third.reason;
  EXPECT_GT(third.id, in_flight + 1);  // the fenced announce burnt an id: ids still increase
  EXPECT_EQ(CheckpointCommits(f.client, f.keys).latest()->id, third.id);
  EXPECT_EQ(finalizes_b.load(), 1);

  for (const TestMember* m : {&a, &b, &c}) {
    const auto got = m->wait_outcomes(3);
    ASSERT_EQ(got.size(), 3u) << m->id();
    EXPECT_EQ(got[0], "complete " + std::to_string(first.id) + " (latest)");
    EXPECT_TRUE(got[1].starts_with("abort " + std::to_string(in_flight) + ": ")) << got[1];
    EXPECT_NE(got[1].find("'b' took over as leader (announced by 'a'"), std::string::npos) << got[1];
    EXPECT_EQ(got[2], "complete " + std::to_string(third.id) + " (latest)");
  }
}

TEST(EtcdGlobalCheckpoint, StopAbortsTheCheckpointAndALatePartIsNotWritten) {
  Fixture f;
  TestMember a(f.server.endpoint(), f.keys, "a");
  Lease lease_c(f.client, 10s);
  Membership(f.client, f.keys).join("c", lease_c);
  Lease leader_lease(f.client, 10s);
  GlobalCheckpointLeader leader(f.client, f.keys, f.lead("a", leader_lease), f.clock, metadata_of, f.options());
  auto running = std::async(std::launch::async, [&] { return leader.trigger(); });
  const StopOnExit unblock{leader};  // a failed assertion must not leave trigger() waiting
  ASSERT_TRUE(eventually([&] { return f.parts_of(1) == 1; }));

  // c is slow: while it cuts its state the leader stops, aborting checkpoint 1;
  // c's part, reported after that, must not land under the aborted checkpoint.
  std::vector<std::string> c_events;
  GlobalCheckpointMemberHooks hooks;
  hooks.snapshot = [&](std::int64_t n) {
    leader.stop();
    running.wait();
    return "part-c-" + std::to_string(n);
  };
  hooks.on_abort = [&](std::int64_t n, const std::string&) { c_events.push_back("abort " + std::to_string(n)); };
  GlobalCheckpointMember c(f.client, f.keys, "c", hooks);
  c.poll_once();
  const auto result = running.get();
  EXPECT_FALSE(result.completed);
  EXPECT_NE(result.reason.find("stopped"), std::string::npos) << result.reason;
  EXPECT_NE(result.reason.find("'c'"), std::string::npos) << result.reason;
  EXPECT_TRUE(f.nothing_pending());  // c's late part included
  c.poll_once();
  EXPECT_EQ(c_events, std::vector<std::string>{"abort 1"});
}

/// A member process (member_child.cpp), SIGKILLed and reaped at the end.
class ChildMember {
 public:
  ChildMember(const std::string& endpoint, const std::string& job, const std::string& id, std::int64_t hang_at) {
    std::vector<std::string> args{CKPT_ETCD_MEMBER_CHILD, endpoint, job, id, "1", std::to_string(hang_at)};
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ);
    if (rc != 0) throw std::runtime_error(std::string("could not start ") + CKPT_ETCD_MEMBER_CHILD);
  }
  ChildMember(const ChildMember&) = delete;
  ChildMember& operator=(const ChildMember&) = delete;
  ~ChildMember() { kill(); }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// The choice: a checkpoint expects the members Membership lists at its
// announcement. The killed member's checkpoint aborts naming it as soon as its
// lease has expired (no need to wait for the deadline); it is then no longer
// a member, so the next checkpoint expects only the survivors and completes.
TEST(EtcdGlobalCheckpoint, AMemberProcessKilledMidCheckpointAbortsItAndTheNextCompletesWithoutIt) {
  Fixture f;
  TestMember a(f.server.endpoint(), f.keys, "a"), b(f.server.endpoint(), f.keys, "b");
  ChildMember child(f.server.endpoint(), "global", "c", /*hang_at=*/1);
  Membership members(f.client, f.keys);
  ASSERT_TRUE(eventually([&] { return members.members().ids().size() == 3; }));
  Lease leader_lease(f.client, 10s);
  GlobalCheckpointLeader leader(f.client, f.keys, f.lead("a", leader_lease), f.clock, metadata_of, f.options());

  auto running = std::async(std::launch::async, [&] { return leader.trigger(); });
  const StopOnExit unblock{leader};  // a failed assertion must not leave trigger() waiting
  // c is cutting its state for checkpoint 1 (and never will finish): kill it there.
  ASSERT_TRUE(eventually([&] { return f.client.get("/test/c/snapshotting").has_value(); }));
  child.kill();
  // Its lease (1 s) expires: the leader aborts at once, long before the deadline (the clock never moves).
  ASSERT_EQ(running.wait_for(event_bound), std::future_status::ready);
  const auto aborted = running.get();
  EXPECT_FALSE(aborted.completed);
  EXPECT_NE(aborted.reason.find("member(s) 'c' left the job"), std::string::npos) << aborted.reason;
  EXPECT_EQ(aborted.reason.find("'a'"), std::string::npos) << aborted.reason;
  EXPECT_FALSE(CheckpointCommits(f.client, f.keys).latest());
  EXPECT_TRUE(f.nothing_pending());

  // c is not a member any more, so not expected.
  EXPECT_EQ(members.members().ids(), (std::vector<std::string>{"a", "b"}));
  const auto next = leader.trigger();
  ASSERT_TRUE(next.completed) << next.reason;
  EXPECT_EQ(next.parts, (std::vector<MemberPart>{{"a", "part-a-2"}, {"b", "part-b-2"}}));
  EXPECT_EQ(CheckpointCommits(f.client, f.keys).latest()->id, next.id);
  const std::vector<std::string> expected{"abort 1: " + aborted.reason, "complete 2 (latest)"};
  EXPECT_EQ(a.wait_outcomes(2), expected);
  EXPECT_EQ(b.wait_outcomes(2), expected);
}

}  // namespace
}  // namespace ckpt::etcd
