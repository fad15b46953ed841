// The cluster demo (issue 17): one keyed counting service run as several
// member processes coordinated through etcd, over one shared checkpoint
// storage. examples/cluster_demo.sh starts etcd on loopback and runs this
// driver, which starts the members, SIGKILLs members and the leader at seeded
// random moments, restarts each killed member (same id and index), rescales
// the job 3 -> 2 -> 4 (every member stopped, a new generation restores the
// latest committed global checkpoint), and at the end compares the committed
// output and the final state with a failure-free computation.
//
//   cluster_demo --etcd URL --storage DIR [--checkpoints URI] [--events-per-partition N]
//                [--rate EVENTS_PER_S] [--kills K] [--interval-ms MS] [--seed S] [--sizes 3,2,4]
//
// The checkpoints go to <storage>/checkpoints, or to --checkpoints URI (an
// s3://bucket/prefix?endpoint=..., with credentials from the environment, when
// built with ckpt::s3): every member writes its parts there, the leader the
// global _metadata. The output and final state stay under <storage>.
//
// The input: one replayable partition per key group (event i of partition g
// is a pure function of g and i, so any offset can be read again), so a
// member reads exactly the partitions of the key groups it owns, and a
// partition's offset is keyed state of that key group: it moves with its key
// group on rescale and is cut together with the counts.
//
// The output: every event gives one record "g:i key count". At each cut a
// member stages the records since its previous cut in <storage>/output/staged/
// (the pre-commit of a two-phase commit). When it hears that etcd committed
// checkpoint N it moves every file it staged up to N to output/committed/: a
// file of an aborted checkpoint too, since this process's state at N holds
// its records. A process that restores checkpoint R settles what its killed
// predecessor (same member id) left: files up to R hold records R's state
// holds, and are committed; later ones hold records it does not, which will
// be read again, and are removed. The driver does the same for a whole
// generation after it stopped.
//
// The last line is "exactly-once: OK (...)" or "exactly-once: FAILED (...)"
// with a non-zero exit status.

#include <ckpt/ckpt.hpp>
#include <ckpt/cluster/cluster_member.hpp>
#include <ckpt/etcd/checkpoint_commits.hpp>
#include <ckpt/etcd/leader_election.hpp>
#include <ckpt/etcd/membership.hpp>
#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/fs/registry.hpp>
#ifdef CKPT_DEMO_S3
#include <ckpt/s3/register.hpp>  // s3:// and obs:// in the registry
#endif

#include <fcntl.h>
#include <poll.h>
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
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::uint32_t kKeyGroups = 12;  // = input partitions; divides well for 2, 3 and 4 members
constexpr std::uint64_t kKeys = 600;
constexpr const char* kJob = "counts";
constexpr auto kS3LockLease = 2s;  // with --checkpoints s3://...: how long a killed member's lock outlives it
constexpr int kStaleRestore = 3;  // a member's exit status: etcd committed after our restore; start me again

struct Options {
  std::string etcd;
  std::string storage;
  std::string checkpoints;  // a URI; empty: <storage>/checkpoints on local disk
  std::uint64_t events_per_partition = 4000;
  std::uint64_t rate = 400;  // events per second per partition
  int kills = 5;
  int interval_ms = 200;
  std::uint64_t seed = std::random_device{}();
  std::vector<std::uint32_t> sizes{3, 2, 4};
  // member mode
  bool member = false;
  std::string id;
  std::uint32_t index = 0;
  std::uint32_t members = 1;
};

// -- the input ---------------------------------------------------------------

/// The keys of each key group.
const std::vector<std::vector<std::uint64_t>>& keys_by_group() {
  static const auto groups = [] {
    std::vector<std::vector<std::uint64_t>> g(kKeyGroups);
    for (std::uint64_t k = 0; k < kKeys; ++k) g[ckpt::key_group_for(k, kKeyGroups)].push_back(k);
    return g;
  }();
  return groups;
}

/// The key of event i of partition g.
std::uint64_t event_key(std::uint32_t g, std::uint64_t i) {
  const auto& keys = keys_by_group()[g];
  const auto n = (g * 2654435761ULL + i * 40503ULL) ^ (i >> 3);
  return keys[n % keys.size()];
}

/// The key under which partition g's offset is kept (a key of group g).
std::uint64_t offset_key(std::uint32_t g) { return keys_by_group()[g].front(); }

/// Where the members' checkpoints go: --checkpoints, or <storage>/checkpoints.
std::shared_ptr<ckpt::fs::FileSystem> checkpoint_file_system(const Options& o) {
  if (o.checkpoints.empty()) return std::make_shared<ckpt::fs::LocalFileSystem>(o.storage + "/checkpoints");
  return ckpt::fs::open_file_system(o.checkpoints);
}

// -- the output's two-phase commit -------------------------------------------

std::string staged_dir(const std::string& storage) { return storage + "/output/staged"; }
std::string committed_dir(const std::string& storage) { return storage + "/output/committed"; }

/// "<checkpoint>-<member>-<records>"
std::string output_name(std::uint64_t id, const std::string& member, std::size_t records) {
  return std::to_string(id) + "-" + member + "-" + std::to_string(records);
}

/// Moves `name` from staged/ to committed/ (a file moved already: nothing).
void commit_output(const std::string& storage, const std::string& name) {
  std::error_code ec;
  stdfs::rename(staged_dir(storage) + "/" + name, committed_dir(storage) + "/" + name, ec);
}

/// After a restore of `restored` (none: nothing was committed), the staged
/// files of the members whose id starts with `members`: those of checkpoints
/// up to `restored` are committed, the later ones removed. Only while no
/// process with such an id runs.
void settle_outputs(const std::string& storage, std::optional<std::uint64_t> restored, const std::string& members) {
  for (const auto& e : stdfs::directory_iterator(staged_dir(storage))) {
    const auto name = e.path().filename().string();
    const auto first = name.find('-'), last = name.rfind('-');
    if (first == std::string::npos || first == last) continue;  // a .tmp of a write cut short is "<id>-<m>-<n>.tmp": removed below
    if (name.compare(first + 1, members.size(), members) != 0) continue;
    const auto id = std::stoull(name.substr(0, first));
    std::error_code ec;
    if (restored && id <= *restored && name.find(".tmp") == std::string::npos) commit_output(storage, name);
    else stdfs::remove(e.path(), ec);
  }
}

/// etcd's latest committed checkpoint.
std::optional<std::uint64_t> latest_committed(ckpt::etcd::CheckpointCommits& commits) {
  const auto latest = commits.latest();
  return latest ? std::optional<std::uint64_t>(static_cast<std::uint64_t>(latest->id)) : std::nullopt;
}

void write_synced(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + tmp);
  for (std::size_t done = 0; done < text.size();) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("cannot write " + tmp);
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  stdfs::rename(tmp, path);
}

// -- a member ----------------------------------------------------------------

void say(const std::string& line) {
  static std::mutex m;
  std::lock_guard lock(m);
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

ckpt::etcd::Options etcd_client(const std::string& endpoint) {
  auto o = ckpt::etcd::Options::at(endpoint);
  o.connect_timeout = 500ms;
  o.request_timeout = 2000ms;
  return o;
}

ckpt::etcd::ClusterOptions cluster_options(const Options& o) {
  ckpt::etcd::ClusterOptions c;
  c.job = kJob;
  c.member_id = o.id;
  c.index = o.index;
  c.members = o.members;
  c.max_parallelism = kKeyGroups;
  c.lease_ttl = 2s;
  // Below the lease TTL: a checkpoint a killed member took part in is
  // committed or aborted before its registration expires, so before a new
  // process with its id can restore.
  c.timeout = 1000ms;
  c.poll = 20ms;
  c.interval = std::chrono::milliseconds{o.interval_ms};
  c.tolerable_failed_checkpoints = 1000000;  // the demo's kills fail checkpoints; the job goes on
  return c;
}

class CountingMember final : public ckpt::CheckpointedFunction, public ckpt::CheckpointListener {
 public:
  explicit CountingMember(const Options& o)
      : o_(o),
        member_(etcd_client(o.etcd), checkpoint_file_system(o),
                cluster_options(o), ckpt::StorageOptions::defaults().retain(2).with_compression_threads(1)),
        backend_(ckpt::KeyedStateBackendOptions::for_subtask(o.index, o.members, kKeyGroups)),
        store_(o.index, o.members) {
    count_ = backend_.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"count", 0});
    offset_ = backend_.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"offset", 0});
    participant_ = &member_.service().add_participant(member_.participant("counter", &backend_, &store_, this, this));
    const auto range = member_.key_groups();
    for (auto g = range.begin; g < range.end; ++g) groups_.push_back(g);
  }

  ckpt::etcd::ClusterMember& cluster() { return member_; }

  /// Waits until etcd no longer lists an earlier process with our id (a
  /// killed one: its lease expires), restores, joins. False when etcd
  /// committed a checkpoint between our restore and our join (our state is
  /// older than what the others go on from).
  bool restore_and_start() {
    ckpt::etcd::Client client(etcd_client(o_.etcd));
    ckpt::etcd::Membership membership(client, member_.keys());
    for (int i = 0; i < 1000; ++i) {  // bounded: a lease of 2 s expires within 20 s
      const auto view = membership.members();
      if (std::none_of(view.members.begin(), view.members.end(), [&](const auto& m) { return m.id == o_.id; })) break;
      std::this_thread::sleep_for(20ms);
    }
    ckpt::etcd::CheckpointCommits commits(client, member_.keys());
    const auto restored = member_.restore();
    member_.start();
    if (latest_committed(commits) != restored) return false;  // what our predecessor left is the next one's to settle
    settle_outputs(o_.storage, restored, o_.id + "-");
    say("restored " + (restored ? std::to_string(*restored) : std::string("nothing")));
    worker_ = std::thread([this] { work(); });
    return true;
  }

  void stop() {
    stop_ = true;
    if (worker_.joinable()) worker_.join();
    member_.stop();
  }

  // -- CheckpointedFunction, CheckpointListener (worker thread)
  void initialize_state(ckpt::FunctionInitializationContext&) override {}
  void snapshot_state(const ckpt::FunctionSnapshotContext& ctx) override {
    // Pre-commit: every record since the previous cut, durable before the part is.
    const auto id = ctx.checkpoint_id();
    std::string text;
    for (const auto& r : records_) text += r + "\n";
    const auto name = output_name(id, o_.id, records_.size());
    write_synced(staged_dir(o_.storage) + "/" + name, text);
    records_.clear();
    cuts_[id] = {name, all_read()};
  }
  void notify_checkpoint_complete(std::uint64_t id) override {
    const auto it = cuts_.find(id);
    if (it == cuts_.end()) return;
    for (auto c = cuts_.begin(); c != std::next(it); ++c) commit_output(o_.storage, c->second.name);
    const bool finished = it->second.all_read;
    cuts_.erase(cuts_.begin(), std::next(it));
    say("complete " + std::to_string(id));
    if (finished && !done_) {
      done_ = true;
      dump_state();
      say("done " + std::to_string(id));
    }
  }
  // An aborted cut's file stays staged: the next committed checkpoint of this process holds its records.
  void notify_checkpoint_aborted(std::uint64_t) override {}

 private:
  struct Cut {
    std::string name;
    bool all_read = false;
  };

  bool all_read() {
    for (const auto g : groups_) {
      backend_.set_current_key(offset_key(g));
      if (offset_.value() < o_.events_per_partition) return false;
    }
    return true;
  }

  void dump_state() {
    std::string text;
    for (const auto k : backend_.keys("count")) {
      backend_.set_current_key(k);
      text += std::to_string(k) + " " + std::to_string(count_.value()) + "\n";
    }
    write_synced(o_.storage + "/final/" + o_.id, text);
  }

  // Reads its partitions at `rate` events per second each, counts, emits.
  void work() {
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t budget_used = 0;
    while (!stop_) {
      const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const auto budget = static_cast<std::uint64_t>(elapsed * static_cast<double>(o_.rate));
      const auto step = budget - budget_used;
      budget_used = budget;
      for (const auto g : groups_) {
        backend_.set_current_key(offset_key(g));
        auto offset = offset_.value();
        const auto end = std::min(o_.events_per_partition, offset + step);
        for (; offset < end; ++offset) {
          const auto key = event_key(g, offset);
          backend_.set_current_key(key);
          const auto count = count_.value() + 1;
          count_.update(count);
          records_.push_back(std::to_string(g) + ":" + std::to_string(offset) + " " + std::to_string(key) + " " +
                             std::to_string(count));
        }
        backend_.set_current_key(offset_key(g));
        offset_.update(offset);
      }
      participant_->sync_point();
      participant_->wait_for_event(5ms);
    }
  }

  Options o_;
  ckpt::etcd::ClusterMember member_;
  ckpt::KeyedStateBackend<std::uint64_t> backend_;
  ckpt::OperatorStateStore store_;
  ckpt::ValueState<std::uint64_t> count_;
  ckpt::ValueState<std::uint64_t> offset_;
  ckpt::ServiceParticipant* participant_ = nullptr;
  std::vector<std::uint32_t> groups_;
  std::vector<std::string> records_;  // since the last cut
  std::map<std::uint64_t, Cut> cuts_;
  bool done_ = false;
  std::atomic<bool> stop_{false};
  std::thread worker_;
};

/// The member, once its storage is ours: on S3 the member lock a killed
/// predecessor held is a lease, which keeps us out until it expires.
std::unique_ptr<CountingMember> open_member(const Options& o) {
  for (int attempt = 0;; ++attempt) {
    try {
      return std::make_unique<CountingMember>(o);
    } catch (const ckpt::IoError& e) {
      if (e.code() != ckpt::errc::locked || attempt >= 200) throw;
      std::this_thread::sleep_for(50ms);  // a lease of kS3LockLease: at most 2 s
    }
  }
}

int run_member(const Options& o) {
  // SIGTERM (a rescale, the end) is taken by sigwait below, on this thread only.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);
  auto owned = open_member(o);
  auto& m = *owned;
  if (!m.restore_and_start()) {
    m.stop();
    return kStaleRestore;
  }
  std::thread leadership([&] {
    for (;;) {
      if (!m.cluster().wait_until_leading(std::chrono::hours{1})) continue;
      say("leading");
      if (!m.cluster().wait_until_not_leading(std::chrono::hours{1})) continue;
      say("not leading");
    }
  });
  leadership.detach();
  int sig = 0;
  sigwait(&term, &sig);
  m.stop();
  say("stopped");
  std::fflush(stdout);
  std::_Exit(0);  // the detached leadership thread waits on the member
}

// -- the driver ----------------------------------------------------------------

struct Member {
  std::string id;
  std::uint32_t index = 0;
  pid_t pid = -1;
  int out = -1;
  std::string buffer;
  bool leading = false;
  bool done = false;
  bool exited = false;
  int status = 0;
};

class Driver {
 public:
  explicit Driver(Options o)
      : o_(std::move(o)), rng_(o_.seed), client_(etcd_client(o_.etcd)), commits_(client_, ckpt::etcd::JobKeys("ckpt", kJob)) {}

  int run() {
    const auto started = std::chrono::steady_clock::now();
    std::cout << "cluster demo: " << kKeyGroups << " partitions x " << o_.events_per_partition << " events at "
              << o_.rate << "/s each, generations of";
    for (auto s : o_.sizes) std::cout << " " << s;
    std::cout << " members, " << o_.kills << " SIGKILLs, global checkpoint every " << o_.interval_ms
              << " ms, seed " << o_.seed << "\n  etcd " << o_.etcd << ", storage " << o_.storage
              << (o_.checkpoints.empty() ? std::string() : ", checkpoints " + ckpt::fs::Uri::parse(o_.checkpoints).redacted())
              << "\n";
    for (const auto* d : {"/checkpoints", "/output/staged", "/output/committed", "/final"})
      stdfs::create_directories(o_.storage + d);

    const std::uint64_t total = kKeyGroups * o_.events_per_partition;
    // A generation ends (rescale) once this share of the input is committed; the last runs to the end.
    const int kills_per_generation = (o_.kills + static_cast<int>(o_.sizes.size()) - 1) / static_cast<int>(o_.sizes.size());
    for (std::size_t gen = 0; gen < o_.sizes.size(); ++gen) {
      const bool last = gen + 1 == o_.sizes.size();
      const auto size = o_.sizes[gen];
      const std::uint64_t until = last ? total : total * (gen + 1) / o_.sizes.size();
      std::cout << "  generation " << gen + 1 << ": " << size << " members" << (gen ? " (rescaled)" : "") << "\n";
      members_.clear();
      for (std::uint32_t i = 0; i < size; ++i) {
        Member m;
        m.id = "g" + std::to_string(gen + 1) + "m" + std::to_string(i);
        m.index = i;
        members_.push_back(std::move(m));
        spawn(members_.back(), size);
      }
      int kills_here = std::min(kills_per_generation, o_.kills - kills_);
      auto next_kill = std::chrono::steady_clock::now() + kill_delay();
      for (;;) {
        pump(size);
        if (failed_) return fail(*failed_);
        const auto committed = committed_records();
        const bool all_done = std::all_of(members_.begin(), members_.end(), [](const Member& m) { return m.done; });
        if (kills_here == 0 && (last ? all_done : committed >= until)) break;
        if (kills_here > 0 && std::chrono::steady_clock::now() >= next_kill) {
          kill_one(size, kills_here % 2 == 1);
          --kills_here;
          next_kill = std::chrono::steady_clock::now() + kill_delay();
        }
        if (std::chrono::steady_clock::now() - started > 170s) return fail("did not finish within 170 s");
      }
      for (auto& m : members_) ::kill(m.pid, SIGTERM);
      for (auto& m : members_) reap(m);
      settle_outputs(o_.storage, latest_committed(commits_), "g" + std::to_string(gen + 1) + "m");
      if (gen + 1 < o_.sizes.size()) ++rescales_;
    }
    return verify();
  }

 private:
  std::chrono::milliseconds kill_delay() { return std::chrono::milliseconds{std::uniform_int_distribution<int>(1500, 4000)(rng_)}; }

  void spawn(Member& m, std::uint32_t size) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // no member outlives this program
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      const std::vector<std::string> args{"cluster_demo", "--member", m.id, "--index", std::to_string(m.index),
                                          "--members", std::to_string(size), "--etcd", o_.etcd, "--storage",
                                          o_.storage, "--checkpoints", o_.checkpoints,
                                          "--events-per-partition", std::to_string(o_.events_per_partition),
                                          "--rate", std::to_string(o_.rate), "--interval-ms",
                                          std::to_string(o_.interval_ms)};
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    m.pid = pid;
    m.out = fds[0];
    m.buffer.clear();
    m.leading = m.done = m.exited = false;
  }

  // Reads the members' lines (waiting at most 50 ms for one); restarts a member that asked for it.
  void pump(std::uint32_t size) {
    std::vector<pollfd> fds;
    for (auto& m : members_) fds.push_back({m.out, POLLIN, 0});
    ::poll(fds.data(), fds.size(), 50);
    for (auto& m : members_) {
      char chunk[4096];
      for (ssize_t n; (n = ::read(m.out, chunk, sizeof chunk)) > 0;) m.buffer.append(chunk, static_cast<std::size_t>(n));
      for (std::size_t nl; (nl = m.buffer.find('\n')) != std::string::npos;) {
        const auto line = m.buffer.substr(0, nl);
        m.buffer.erase(0, nl + 1);
        if (line == "leading") {
          m.leading = true;
          ++leaderships_;
        } else if (line == "not leading") {
          m.leading = false;
        } else if (line.rfind("complete ", 0) == 0) {
          checkpoints_.insert(std::stoull(line.substr(9)));
        } else if (line.rfind("done ", 0) == 0) {
          m.done = true;
        }
      }
      int status = 0;
      if (::waitpid(m.pid, &status, WNOHANG) == m.pid) {
        ::close(m.out);
        if (WIFEXITED(status) && WEXITSTATUS(status) == kStaleRestore) {
          ++stale_restarts_;
          spawn(m, size);
        } else {
          failed_ = "member " + m.id + " exited by itself (status " + std::to_string(status) + ")";
        }
      }
    }
  }

  void kill_one(std::uint32_t size, bool leader) {
    auto it = std::find_if(members_.begin(), members_.end(), [](const Member& m) { return m.leading; });
    if (!leader || it == members_.end())
      it = members_.begin() + std::uniform_int_distribution<std::ptrdiff_t>(0, static_cast<std::ptrdiff_t>(members_.size()) - 1)(rng_);
    const bool was_leader = it->leading;
    ::kill(it->pid, SIGKILL);
    int status = 0;
    ::waitpid(it->pid, &status, 0);
    ::close(it->out);
    ++kills_;
    if (was_leader) ++leader_kills_;
    std::cout << "    SIGKILL " << it->id << (was_leader ? " (the leader)" : "") << ", committed " << committed_records()
              << " records so far; restarting it\n";
    spawn(*it, size);
  }

  void reap(Member& m) {
    int status = 0;
    ::waitpid(m.pid, &status, 0);
    ::close(m.out);
  }

  std::uint64_t committed_records() const {
    std::uint64_t n = 0;
    for (const auto& e : stdfs::directory_iterator(committed_dir(o_.storage))) {
      const auto name = e.path().filename().string();
      n += std::stoull(name.substr(name.rfind('-') + 1));
    }
    return n;
  }

  int fail(const std::string& why) {
    for (auto& m : members_)
      if (m.pid > 0) ::kill(m.pid, SIGKILL);
    std::cout << "exactly-once: FAILED (" << why << ")\n";
    return 1;
  }

  int verify() {
    std::map<std::string, int> seen;
    std::map<std::uint64_t, std::uint64_t> output_count, final_count, expected;
    for (const auto& e : stdfs::directory_iterator(committed_dir(o_.storage))) {
      std::ifstream in(e.path());
      for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        std::string at;
        std::uint64_t key = 0, count = 0;
        fields >> at >> key >> count;
        ++seen[at];
        output_count[key] = std::max(output_count[key], count);
      }
    }
    const std::string last_generation = "g" + std::to_string(o_.sizes.size()) + "m";
    for (const auto& e : stdfs::directory_iterator(o_.storage + "/final")) {
      if (e.path().filename().string().rfind(last_generation, 0) != 0) continue;  // an earlier generation's
      std::ifstream in(e.path());
      for (std::uint64_t key = 0, count = 0; in >> key >> count;) final_count[key] += count;
    }
    std::uint64_t lost = 0, duplicated = 0;
    for (std::uint32_t g = 0; g < kKeyGroups; ++g)
      for (std::uint64_t i = 0; i < o_.events_per_partition; ++i) {
        ++expected[event_key(g, i)];
        const auto it = seen.find(std::to_string(g) + ":" + std::to_string(i));
        if (it == seen.end()) ++lost;
        else duplicated += static_cast<std::uint64_t>(it->second - 1);
      }
    const std::uint64_t total = kKeyGroups * o_.events_per_partition;
    const bool output_right = output_count == expected && seen.size() == total;
    const bool state_right = final_count == expected;
    std::cout << "  " << checkpoints_.size() << " global checkpoints committed, " << leaderships_
              << " leaderships taken, " << leader_kills_ << " of the kills hit the leader, " << stale_restarts_
              << " restarts after a commit raced a restore\n"
              << "  committed output " << (output_right ? "matches" : "DOES NOT match")
              << " the failure-free computation; final state " << (state_right ? "matches" : "DOES NOT match") << "\n";
    const bool ok = output_right && state_right && lost == 0 && duplicated == 0 && kills_ == o_.kills;
    std::cout << "exactly-once: " << (ok ? "OK" : "FAILED") << " (members=";
    for (std::size_t i = 0; i < o_.sizes.size(); ++i) std::cout << (i ? "->" : "") << o_.sizes[i];
    std::cout << ", kills=" << kills_ << ", rescales=" << rescales_ << ", checkpoints=" << checkpoints_.size()
              << ", lost=" << lost << ", duplicated=" << duplicated << ")\n";
    return ok ? 0 : 1;
  }

  Options o_;
  std::mt19937_64 rng_;
  ckpt::etcd::Client client_;
  ckpt::etcd::CheckpointCommits commits_;
  std::vector<Member> members_;
  std::optional<std::string> failed_;
  std::set<std::uint64_t> checkpoints_;
  int kills_ = 0;
  int leader_kills_ = 0;
  int rescales_ = 0;
  int leaderships_ = 0;
  int stale_restarts_ = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--etcd") o.etcd = next();
    else if (a == "--storage") o.storage = next();
    else if (a == "--checkpoints") o.checkpoints = next();
    else if (a == "--events-per-partition") o.events_per_partition = std::stoull(next());
    else if (a == "--rate") o.rate = std::stoull(next());
    else if (a == "--kills") o.kills = std::stoi(next());
    else if (a == "--interval-ms") o.interval_ms = std::stoi(next());
    else if (a == "--seed") o.seed = std::stoull(next());
    else if (a == "--sizes") {
      o.sizes.clear();
      std::istringstream in(next());
      for (std::string s; std::getline(in, s, ',');) o.sizes.push_back(static_cast<std::uint32_t>(std::stoul(s)));
    } else if (a == "--member") {
      o.member = true;
      o.id = next();
    } else if (a == "--index") o.index = static_cast<std::uint32_t>(std::stoul(next()));
    else if (a == "--members") o.members = static_cast<std::uint32_t>(std::stoul(next()));
    else if (a == "-h" || a == "--help") {
      std::cout << "usage: cluster_demo --etcd URL --storage DIR [--checkpoints URI] [--events-per-partition N]\n"
                   "                    [--rate EVENTS_PER_S] [--kills K] [--interval-ms MS] [--seed S] [--sizes 3,2,4]\n";
      std::exit(0);
    } else {
      throw std::invalid_argument("unknown option " + a);
    }
  }
  if (o.etcd.empty() || o.storage.empty()) throw std::invalid_argument("--etcd and --storage are required");
  if (o.sizes.empty() || o.rate == 0 || o.events_per_partition == 0 || o.kills < 0)
    throw std::invalid_argument("sizes, rate and events must be positive");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  try {
#ifdef CKPT_DEMO_S3
    // A short lock lease: a killed member's successor waits for it (open_member).
    ckpt::s3::register_file_systems(ckpt::s3::S3Options::from_environment().with_lock_lease(kS3LockLease));
#endif
    const auto options = parse(argc, argv);
    return options.member ? run_member(options) : Driver(options).run();
  } catch (const std::exception& e) {
    std::cerr << "cluster_demo: " << e.what() << "\n";
    std::cout << "exactly-once: FAILED (" << e.what() << ")\n";
    return 1;
  }
}
