// R1, process crashes: a real child process checkpoints the reliability job
// into a real directory and is killed with a real SIGKILL -- at the n-th
// system call of a given kind (inside the write, fsync, rename and manifest
// sequence, before or right after the call), or at a random moment chosen by
// the parent. After each kill the parent, a fresh process as far as the
// storage is concerned, reopens the directory and restores: the checkpoint it
// gets must be the last one the child reported complete, or a newer one, with
// exactly the content its id implies; and nothing a crashed writer leaves may
// survive the reopening.
//
// CI: 300 iterations; CKPT_TEST_MODE=long: 5,000 (CKPT_REL_ITERATIONS overrides).

#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "job.hpp"
#include "process.hpp"
#include "reliability.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using ckpt::rel::Child;
using ckpt::rel::parse_report;

/// One checkpoint directory with its own options and history.
struct Storage {
  std::string name;
  bool incremental;
  std::uint32_t retain;
  std::unique_ptr<ckpt::test::TempDir> dir;
  std::uint64_t floor = 0;  // the restore may never go below: last reported complete, last restored
  std::map<std::string, std::uint64_t> calls;  // per kind, over one uninterrupted child life

  ckpt::StorageOptions options() const {
    return ckpt::StorageOptions::defaults().retain(retain).with_incremental(incremental).with_compression_threads(1);
  }
  std::map<std::string, std::string> env() const {
    return {{"CKPT_CHILD_RETAIN", std::to_string(retain)},
            {"CKPT_CHILD_INCREMENTAL", incremental ? "1" : "0"},
            {"CKPT_CHILD_CHECKPOINTS", "3"},
            {"CKPT_CHILD_KEYS", "200"}};
  }
};

struct Tally {
  std::uint64_t iterations = 0;
  std::uint64_t syscall_kills = 0;
  std::uint64_t random_kills = 0;
  std::uint64_t survived = 0;  // the child finished before its kill point
  std::uint64_t restored_reported = 0;  // restore gave exactly the last reported checkpoint
  std::uint64_t restored_newer = 0;     // ... a newer one, complete but killed before it could report
  std::map<std::string, std::uint64_t> by_phase;  // phase the kill landed in
  std::map<std::string, std::uint64_t> by_call;  // kind of call it landed on
  std::map<std::string, std::uint64_t> by_phase_call;
};

std::string fmt(const std::map<std::string, std::uint64_t>& m) {
  std::string out;
  for (const auto& [k, v] : m) out += "  " + k + "=" + std::to_string(v);
  return out;
}

/// Reopens `s` as a restarted program would, restores, and checks everything.
void check_after_crash(Storage& s, std::uint64_t reported, std::uint64_t begun, Tally& tally, const std::string& what) {
  auto storage = std::make_unique<ckpt::CheckpointStorage>(
      std::make_shared<ckpt::fs::LocalFileSystem>(s.dir->str()), s.options());
  auto snapshot = storage->restore_latest(ckpt::RestoreOptions::strict());
  const std::uint64_t id = snapshot ? snapshot->checkpoint_id() : 0;
  ASSERT_GE(id, s.floor) << what << ": restored checkpoint " << id << " but checkpoint " << s.floor
                         << " had been reported complete (or restored) before";
  ASSERT_GE(id, reported) << what << ": a checkpoint reported complete was lost";
  ASSERT_LE(id, std::max(begun, s.floor)) << what << ": restored a checkpoint that was never begun";
  if (snapshot) {
    const auto problem = ckpt::rel::restored_mismatch(*snapshot);
    ASSERT_EQ(problem, "") << what << ": checkpoint " << id << " does not hold what its id implies";
    EXPECT_TRUE(snapshot->notes().empty());
  }
  (id == std::max(reported, s.floor) ? tally.restored_reported : tally.restored_newer)++;
  s.floor = id;
  const auto left = ckpt::rel::leftovers(*storage, ckpt::rel::local_names(s.dir->path()));
  ASSERT_TRUE(left.empty()) << what << ": " << left.front();
}

TEST(ProcessCrash, SigkillAtAnyMomentLosesNothingReportedComplete) {
  const auto iterations = ckpt::rel::iterations(300, 5000, 40);
  std::vector<Storage> storages;
  storages.push_back({"full, retain 1", false, 1, std::make_unique<ckpt::test::TempDir>("rel-crash"), 0, {}});
  storages.push_back({"incremental, retain 2", true, 2, std::make_unique<ckpt::test::TempDir>("rel-crash"), 0, {}});
  storages.push_back({"full, retain 3", false, 3, std::make_unique<ckpt::test::TempDir>("rel-crash"), 0, {}});

  // One uninterrupted life per storage: how many calls of each kind it makes.
  for (auto& s : storages) {
    ckpt::test::TempDir scratch("rel-calibrate");
    Child child(CKPT_REL_CHILD, {"run", scratch.str()}, s.env());
    for (const auto& line : child.drain()) {
      if (!line.starts_with("counts ")) continue;
      std::istringstream in(line.substr(7));
      std::string item;
      while (in >> item) {
        const auto eq = item.find('=');
        s.calls[item.substr(0, eq)] = std::stoull(item.substr(eq + 1));
      }
    }
    ASSERT_EQ(child.exit_code(), 0) << child.describe_status();
    ASSERT_GT(s.calls["any"], 0u);
    ASSERT_GT(s.calls["fsync-dir"], 0u);
  }

  // Kinds of call to die at; "any" spreads kills evenly over all calls, the
  // others make sure each step of writing and publishing is hit often.
  const std::vector<std::string> targets = {
      "any",          "any",        "any",    "write",  "fsync-file", "fsync-dir", "rename", "close",
      "unlink",       "mkdir",      "open",   "write@write", "fsync-file@write", "rename@write",
      "fsync-dir@write", "write@manifest", "fsync-file@manifest", "rename@manifest", "fsync-dir@manifest-sync",
      "unlink@retention"};
  std::mt19937_64 rng(20240611);
  Tally tally;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; tally.iterations < iterations; ++i) {
    auto& s = storages[i % storages.size()];
    auto env = s.env();
    const bool at_syscall = rng() % 4 != 0;  // three in four at a call, one in four at a random moment
    std::string what = "iteration " + std::to_string(i) + " (" + s.name + ")";
    if (at_syscall) {
      const auto& op = targets[rng() % targets.size()];
      const auto count = s.calls.count(op) ? s.calls[op] : 0;
      if (count == 0) continue;  // e.g. no unlink in a first life that retains 3
      // Up to 5% past one life's count: a child that outlives its kill point is fine too.
      const auto at = 1 + rng() % (count + count / 20 + 1);
      env["CKPT_KILL_OP"] = op;
      env["CKPT_KILL_AT"] = std::to_string(at);
      if (rng() % 2) env["CKPT_KILL_AFTER"] = "1";
      what += " killed at " + op + " call " + std::to_string(at) + (env.count("CKPT_KILL_AFTER") ? " (after it)" : "");
    }
    Child child(CKPT_REL_CHILD, {"run", s.dir->str()}, env);
    std::string last_event = "start";
    if (!at_syscall) {
      // Kill after a random report line, plus a random delay of up to 3 ms:
      // the moment is what is random here, nothing is being waited for.
      const auto after_lines = 1 + rng() % 8;
      const auto delay = std::chrono::microseconds(rng() % 3000);
      for (std::uint64_t n = 0; n < after_lines; ++n)
        if (!child.next_line()) break;
      std::this_thread::sleep_for(delay);
      child.kill();
    }
    const auto& lines = child.drain();
    std::uint64_t reported = 0, begun = 0;
    std::string kill_line;
    for (const auto& line : lines) {
      const auto [word, n] = parse_report(line);
      if (word == "complete") reported = n;
      if (word == "begin") begun = n;
      if (word == "kill") kill_line = line;
      if (word == "error") ADD_FAILURE() << what << ": child reported " << line;
      if (word != "counts") last_event = word;
    }
    if (child.killed()) {
      if (at_syscall) {
        ASSERT_FALSE(kill_line.empty()) << what << ": killed without reporting its kill point";
        std::istringstream in(kill_line.substr(5));
        std::string phase, call;
        in >> phase >> call;
        ++tally.syscall_kills;
        ++tally.by_phase[phase];
        ++tally.by_call[call];
        ++tally.by_phase_call[phase + "/" + call];
      } else {
        ++tally.random_kills;
        ++tally.by_phase["random, after '" + last_event + "'"];
      }
    } else {
      ASSERT_EQ(child.exit_code(), 0) << what << ": child " << child.describe_status();
      ++tally.survived;
    }
    ++tally.iterations;
    check_after_crash(s, reported, begun, tally, what);
    if (HasFatalFailure()) return;
    s.floor = std::max(s.floor, reported);
  }
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("[ R1 ] %llu iterations in %.1f s: %llu SIGKILLs at a system call, %llu at random moments, "
              "%llu children finished first\n",
              static_cast<unsigned long long>(tally.iterations), seconds,
              static_cast<unsigned long long>(tally.syscall_kills), static_cast<unsigned long long>(tally.random_kills),
              static_cast<unsigned long long>(tally.survived));
  std::printf("[ R1 ] restores: %llu exactly the last reported checkpoint, %llu a newer one completed unreported; "
              "none lost, none partial\n",
              static_cast<unsigned long long>(tally.restored_reported),
              static_cast<unsigned long long>(tally.restored_newer));
  std::printf("[ R1 ] kill points by phase:%s\n", fmt(tally.by_phase).c_str());
  std::printf("[ R1 ] kill points by call:%s\n", fmt(tally.by_call).c_str());
  std::printf("[ R1 ] kill points by phase/call:%s\n", fmt(tally.by_phase_call).c_str());
  for (const auto& s : storages) std::printf("[ R1 ] %s: last checkpoint %llu\n", s.name.c_str(),
                                             static_cast<unsigned long long>(s.floor));

  // Every step of writing and publishing was hit at least once.
  if (tally.iterations >= 300) {
    for (const char* point : {"write/write", "write/fsync-file", "write/rename", "write/fsync-dir", "manifest/write",
                              "manifest/fsync-file", "manifest/rename", "manifest-sync/fsync-dir", "retention/unlink",
                              "begin/mkdir"})
      EXPECT_GT(tally.by_phase_call[point], 0u) << "no kill landed at " << point;
  }
}

}  // namespace
