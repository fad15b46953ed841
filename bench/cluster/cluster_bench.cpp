// Issue 17's figures: one job across members coordinated through etcd (a real
// etcd on loopback, started here) against one process holding the same total
// state, on local disk.
//
//   cluster_checkpoint_vs_single  trigger -> commit in etcd of a global
//                                 checkpoint with 3 members (threads of this
//                                 process, each its own ClusterMember, etcd
//                                 client and share of the key groups) / a
//                                 CheckpointedService checkpoint of all the
//                                 state in one process (trigger -> complete)
//   cluster_restore_vs_single     3 members restoring their parts of the
//                                 committed checkpoint at once (until the last
//                                 is done) / one process restoring it all
//   cluster_failover_s            3 member processes (this program again),
//                                 each campaigning and triggering every
//                                 --interval-ms; the leader SIGKILLed and at
//                                 once started again (as an orchestrator
//                                 would): from the SIGKILL to the next commit
//                                 in etcd, minus the lease TTL. Beside it, the
//                                 median gap between commits without faults.
//
// Medians of --runs runs (at least 5), the two sides of a ratio measured back
// to back. The table goes to stdout and the figures to --json.
//
//   ckpt_bench_cluster [--keys N] [--runs N] [--interval-ms MS] [--json PATH] [--dir PATH]

#include <ckpt/ckpt.hpp>
#include <ckpt/cluster/cluster_member.hpp>
#include <ckpt/etcd/checkpoint_commits.hpp>
#include <ckpt/etcd/leader_election.hpp>
#include <ckpt/etcd/membership.hpp>
#include <ckpt/fs/local_file_system.hpp>

#include "bench_support.hpp"
#include "etcd_server.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;
using ckpt::bench::Clock;
using ckpt::bench::median;
using ckpt::bench::seconds_since;

constexpr std::uint32_t kMembers = 3;
constexpr auto kLeaseTtl = 2s;

struct Args {
  std::uint64_t keys = 2'000'000;
  int runs = 5;
  int interval_ms = 100;
  std::string json = "cluster_report.json";
  std::string dir;
  // member mode (cluster_failover_s)
  bool member = false;
  std::string endpoint;
  std::uint32_t index = 0;
};

ckpt::etcd::Options etcd_client(const std::string& endpoint) {
  auto o = ckpt::etcd::Options::at(endpoint);
  o.connect_timeout = 500ms;
  o.request_timeout = 5000ms;
  return o;
}

ckpt::etcd::ClusterOptions member_options(const std::string& job, std::uint32_t index, bool candidate,
                                          std::optional<std::chrono::milliseconds> interval) {
  ckpt::etcd::ClusterOptions o;
  o.job = job;
  o.member_id = "m" + std::to_string(index);
  o.index = index;
  o.members = kMembers;
  o.lease_ttl = kLeaseTtl;
  o.poll = 10ms;
  o.timeout = interval ? std::chrono::milliseconds{1500} : std::chrono::milliseconds{60000};
  o.interval = interval;
  o.candidate = candidate;
  o.tolerable_failed_checkpoints = 1000000;
  return o;
}

/// Gives `b` (subtask `index` of `parallelism`) its share of keys 0..n-1.
void fill(ckpt::KeyedStateBackend<std::uint64_t>& b, std::uint32_t index, std::uint32_t parallelism, std::uint64_t n) {
  auto count = b.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"count", 0});
  const auto range = ckpt::KeyGroupRange::for_subtask(ckpt::default_max_parallelism, parallelism, index);
  for (std::uint64_t k = 0; k < n; ++k) {
    if (!range.contains(ckpt::key_group_for(k, ckpt::default_max_parallelism))) continue;
    b.set_current_key(k);
    count.update(ckpt::bench::value_of(k));
  }
}

/// A keyed backend of subtask `index` of `parallelism`, with its share of keys 0..n-1 when `filled`.
std::unique_ptr<ckpt::KeyedStateBackend<std::uint64_t>> filled_backend(std::uint32_t index, std::uint32_t parallelism,
                                                                      std::uint64_t n, bool filled = true) {
  auto b = std::make_unique<ckpt::KeyedStateBackend<std::uint64_t>>(
      ckpt::KeyedStateBackendOptions::for_subtask(index, parallelism));
  (void)b->get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"count", 0});
  if (filled) fill(*b, index, parallelism, n);
  return b;
}

/// A worker thread reaching its participant's sync points until destroyed.
class Worker {
 public:
  explicit Worker(ckpt::ServiceParticipant& p) : p_(p), thread_([this] {
    while (!stop_) {
      p_.sync_point();
      p_.wait_for_event(5ms);
    }
  }) {}
  ~Worker() {
    stop_ = true;
    thread_.join();
  }

 private:
  ckpt::ServiceParticipant& p_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// One member of the in-process cluster.
struct Node {
  std::unique_ptr<ckpt::etcd::ClusterMember> member;
  std::unique_ptr<ckpt::KeyedStateBackend<std::uint64_t>> backend;
  ckpt::ServiceParticipant* participant = nullptr;

  Node(const std::string& endpoint, const std::string& dir, std::uint32_t index, std::uint64_t keys, bool fill) {
    member = std::make_unique<ckpt::etcd::ClusterMember>(
        etcd_client(endpoint), std::make_shared<ckpt::fs::LocalFileSystem>(dir),
        member_options("bench", index, index == 0, std::nullopt), ckpt::StorageOptions::defaults().retain(2));
    backend = filled_backend(index, kMembers, keys, fill);
    participant = &member->service().add_participant(member->participant("counter", backend.get()));
  }
};

/// One process holding all the state.
struct Single {
  std::unique_ptr<ckpt::CheckpointStorage> storage;
  std::unique_ptr<ckpt::CheckpointedService> service;
  std::unique_ptr<ckpt::KeyedStateBackend<std::uint64_t>> backend;
  ckpt::ServiceParticipant* participant = nullptr;

  Single(const std::string& dir, std::uint64_t keys, bool fill) {
    storage = ckpt::CheckpointStorage::open("file://" + dir, ckpt::StorageOptions::defaults().retain(2));
    service = std::make_unique<ckpt::CheckpointedService>(*storage, ckpt::CheckpointConfig::on_demand());
    backend = filled_backend(0, 1, keys, fill);
    participant = &service->add_participant({"counter", 0, 1, backend.get()});
  }
};

struct Figures {
  double checkpoint_ratio = 0, cluster_checkpoint_s = 0, single_checkpoint_s = 0;
  double restore_ratio = 0, cluster_restore_s = 0, single_restore_s = 0, sequential_restore_s = 0;
  double failover_s = 0, failover_raw_s = 0, commit_gap_s = 0;
};

void checkpoint_and_restore(const Args& a, const std::string& endpoint, Figures& f) {
  const std::string cluster_dir = a.dir + "/cluster", single_dir = a.dir + "/single";
  std::vector<double> cluster, single;
  {
    std::vector<std::unique_ptr<Node>> nodes;
    for (std::uint32_t i = 0; i < kMembers; ++i) nodes.push_back(std::make_unique<Node>(endpoint, cluster_dir, i, a.keys, true));
    Single one(single_dir, a.keys, true);
    std::vector<std::unique_ptr<Worker>> workers;
    for (auto& n : nodes) {
      n->member->restore();
      n->member->start();
      workers.push_back(std::make_unique<Worker>(*n->participant));
    }
    one.service->start();
    workers.push_back(std::make_unique<Worker>(*one.participant));
    auto& leader = *nodes[0]->member;
    if (!leader.wait_until_leading(20s) || !leader.wait_for_members(kMembers, 20s))
      throw std::runtime_error("the cluster did not form: " + leader.last_error());
    const auto cluster_checkpoint = [&] {
      const auto r = leader.trigger_now();
      if (!r || !r->completed) throw std::runtime_error("a global checkpoint failed: " + (r ? r->reason : leader.last_error()));
    };
    const auto single_checkpoint = [&] {
      const auto s = one.service->checkpoint_now().get();
      if (s.outcome != ckpt::CheckpointOutcome::completed) throw std::runtime_error("a checkpoint failed: " + s.failure);
    };
    cluster_checkpoint();  // warm-up: files created, caches filled
    single_checkpoint();
    for (int r = 0; r < a.runs; ++r) {
      cluster.push_back(ckpt::bench::time_seconds(cluster_checkpoint));
      single.push_back(ckpt::bench::time_seconds(single_checkpoint));
    }
    workers.clear();
    for (auto& n : nodes) n->member->stop();
    one.service->stop();
  }
  f.cluster_checkpoint_s = median(cluster);
  f.single_checkpoint_s = median(single);
  f.checkpoint_ratio = f.cluster_checkpoint_s / f.single_checkpoint_s;

  cluster.clear();
  single.clear();
  std::vector<double> sequential;
  for (int r = 0; r < a.runs; ++r) {
    {
      std::vector<std::unique_ptr<Node>> nodes;
      for (std::uint32_t i = 0; i < kMembers; ++i) nodes.push_back(std::make_unique<Node>(endpoint, cluster_dir, i, a.keys, false));
      std::vector<std::thread> threads;
      const auto t0 = Clock::now();
      for (auto& n : nodes) threads.emplace_back([&n] { n->member->restore(); });
      for (auto& t : threads) t.join();
      cluster.push_back(seconds_since(t0));
      std::uint64_t restored = 0;
      for (auto& n : nodes) restored += n->backend->size("count");
      if (restored != a.keys) throw std::runtime_error("the members restored " + std::to_string(restored) + " keys");
    }
    {  // extra row: the same restores one member after another
      std::vector<std::unique_ptr<Node>> nodes;
      for (std::uint32_t i = 0; i < kMembers; ++i) nodes.push_back(std::make_unique<Node>(endpoint, cluster_dir, i, a.keys, false));
      const auto t0 = Clock::now();
      for (auto& n : nodes) n->member->restore();
      sequential.push_back(seconds_since(t0));
    }
    {
      Single one(single_dir, a.keys, false);
      const auto t0 = Clock::now();
      one.service->restore_latest();
      single.push_back(seconds_since(t0));
      if (one.backend->size("count") != a.keys) throw std::runtime_error("the single process restored too few keys");
    }
  }
  f.cluster_restore_s = median(cluster);
  f.single_restore_s = median(single);
  f.restore_ratio = f.cluster_restore_s / f.single_restore_s;
  f.sequential_restore_s = median(sequential);
}

// -- cluster_failover_s: member processes

int run_member(const Args& a) {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);
  const auto options = member_options("failover", a.index, true, std::chrono::milliseconds{a.interval_ms});
  ckpt::etcd::ClusterMember member(etcd_client(a.endpoint), std::make_shared<ckpt::fs::LocalFileSystem>(a.dir),
                                   options, ckpt::StorageOptions::defaults().retain(2));
  {  // a killed process with our id: its registration ends with its lease
    ckpt::etcd::Client client(etcd_client(a.endpoint));
    ckpt::etcd::Membership membership(client, member.keys());
    for (int i = 0; i < 2000; ++i) {
      const auto view = membership.members();
      if (std::none_of(view.members.begin(), view.members.end(), [&](const auto& m) { return m.id == options.member_id; }))
        break;
      std::this_thread::sleep_for(5ms);
    }
  }
  auto backend = filled_backend(a.index, kMembers, a.keys, false);
  auto& participant = member.service().add_participant(member.participant("counter", backend.get()));
  if (!member.restore()) fill(*backend, a.index, kMembers, a.keys);  // a first start
  member.start();
  Worker worker(participant);
  int sig = 0;
  sigwait(&term, &sig);
  member.stop();
  return 0;
}

pid_t spawn_member(const Args& a, const std::string& endpoint, const std::string& dir, std::uint32_t index) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // no member outlives this program
    const std::vector<std::string> args{"ckpt_bench_cluster", "--member", endpoint, "--dir", dir, "--index",
                                        std::to_string(index), "--keys", std::to_string(a.keys / 10),
                                        "--interval-ms", std::to_string(a.interval_ms)};
    std::vector<char*> argv;
    for (const auto& s : args) argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  return pid;
}

void failover(const Args& a, const std::string& endpoint, Figures& f) {
  const std::string dir = a.dir + "/failover";
  stdfs::create_directories(dir);
  ckpt::etcd::Client client(etcd_client(endpoint));
  const ckpt::etcd::JobKeys keys("ckpt", "failover");
  ckpt::etcd::CheckpointCommits commits(client, keys);
  ckpt::etcd::LeaderElection election(client, keys);
  const auto latest = [&]() -> std::int64_t {
    const auto l = commits.latest();
    return l ? l->id : 0;
  };
  // Waits (bounded) for a commit after `after`; its id and when it was seen.
  const auto next_commit = [&](std::int64_t after) {
    for (const auto until = Clock::now() + 60s; Clock::now() < until;) {
      if (const auto id = latest(); id > after) return std::pair{id, Clock::now()};
      std::this_thread::sleep_for(2ms);
    }
    throw std::runtime_error("no checkpoint was committed within 60 s");
  };
  std::vector<pid_t> pids;
  for (std::uint32_t i = 0; i < kMembers; ++i) pids.push_back(spawn_member(a, endpoint, dir, i));
  std::vector<double> failovers, gaps;
  try {
    auto [id, seen] = next_commit(0);
    for (int r = 0; r < a.runs; ++r) {
      // The fault-free gap between two commits, then the leader's SIGKILL.
      for (int g = 0; g < 3; ++g) {
        const auto [next, at] = next_commit(id);
        gaps.push_back(std::chrono::duration<double>(at - seen).count());
        id = next;
        seen = at;
      }
      const auto term = election.leader();
      if (!term) throw std::runtime_error("nobody leads");
      const auto index = static_cast<std::uint32_t>(std::stoul(term->member_id.substr(1)));
      const auto t0 = Clock::now();
      ::kill(pids[index], SIGKILL);
      ::waitpid(pids[index], nullptr, 0);
      const auto before = latest();
      pids[index] = spawn_member(a, endpoint, dir, index);
      const auto [next, at] = next_commit(before);
      failovers.push_back(std::chrono::duration<double>(at - t0).count() -
                          std::chrono::duration<double>(kLeaseTtl).count());
      id = next;
      seen = at;
    }
  } catch (...) {
    for (const auto p : pids) ::kill(p, SIGKILL), ::waitpid(p, nullptr, 0);
    throw;
  }
  for (const auto p : pids) ::kill(p, SIGTERM);
  for (const auto p : pids) ::waitpid(p, nullptr, 0);
  f.failover_s = median(failovers);
  f.failover_raw_s = f.failover_s + std::chrono::duration<double>(kLeaseTtl).count();
  f.commit_gap_s = median(gaps);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(s + " needs a value");
      return argv[++i];
    };
    if (s == "--keys") a.keys = std::stoull(next());
    else if (s == "--runs") a.runs = std::stoi(next());
    else if (s == "--interval-ms") a.interval_ms = std::stoi(next());
    else if (s == "--json") a.json = next();
    else if (s == "--dir") a.dir = next();
    else if (s == "--member") {
      a.member = true;
      a.endpoint = next();
    } else if (s == "--index") a.index = static_cast<std::uint32_t>(std::stoul(next()));
    else if (s == "-h" || s == "--help") {
      std::puts("usage: ckpt_bench_cluster [--keys N] [--runs N] [--interval-ms MS] [--json PATH] [--dir PATH]");
      std::exit(0);
    } else {
      throw std::invalid_argument("unknown option " + s);
    }
  }
  if (a.runs < 1 || a.keys == 0 || a.interval_ms < 1) throw std::invalid_argument("runs, keys and interval must be positive");
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args a = parse(argc, argv);
    if (a.member) return run_member(a);
    std::optional<ckpt::test::TempDir> scratch;
    if (a.dir.empty()) {
      scratch.emplace("ckpt-bench-cluster");
      a.dir = scratch->path().string();
    }
    ckpt::etcd::test::EtcdServer etcd;
    std::fprintf(stderr, "== etcd on %s; %llu keys, %u members, %d runs\n", etcd.endpoint().c_str(),
                 static_cast<unsigned long long>(a.keys), kMembers, a.runs);
    Figures f;
    checkpoint_and_restore(a, etcd.endpoint(), f);
    failover(a, etcd.endpoint(), f);
    std::printf("| field | goal | measured | beside |\n|---|---|---|---|\n");
    std::printf("| cluster_checkpoint_vs_single | <= 1.5 | %.3f | trigger -> etcd commit, 3 members %.3f s / one process %.3f s (%llu keys) |\n",
                f.checkpoint_ratio, f.cluster_checkpoint_s, f.single_checkpoint_s, static_cast<unsigned long long>(a.keys));
    std::printf("| cluster_failover_s | <= 2 s | %.3f | SIGKILL -> next commit %.3f s, minus the %lld s lease TTL; commits %.3f s apart without faults (interval %d ms, %llu keys) |\n",
                f.failover_s, f.failover_raw_s, static_cast<long long>(kLeaseTtl.count()), f.commit_gap_s, a.interval_ms,
                static_cast<unsigned long long>(a.keys / 10));
    std::printf("| cluster_restore_vs_single | <= 1.2 | %.3f | 3 members at once %.3f s / one process %.3f s |\n",
                f.restore_ratio, f.cluster_restore_s, f.single_restore_s);
    std::printf("| (extra) the 3 members one after another / one process | | %.3f | %.3f s |\n",
                f.sequential_restore_s / f.single_restore_s, f.sequential_restore_s);
    std::ofstream json(a.json);
    json << "{\n  \"cluster_checkpoint_vs_single\": " << f.checkpoint_ratio << ",\n  \"cluster_failover_s\": "
         << f.failover_s << ",\n  \"cluster_restore_vs_single\": " << f.restore_ratio << "\n}\n";
    json.close();
    std::printf("%s\n", stdfs::absolute(a.json).string().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ckpt_bench_cluster: %s\n", e.what());
    return 1;
  }
}
