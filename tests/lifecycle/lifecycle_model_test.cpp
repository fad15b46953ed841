// The model-based lifecycle test (lifecycle_model.hpp): random sequences of
// sessions over a pipeline and over a CheckpointedService, in this process,
// and over a pipeline in child processes that are SIGKILLed at random steps.
// After every session the committed output holds no duplicate; after the
// last, it equals a failure-free run's: 0 lost, 0 duplicated.
//
// Every sequence is seeded; a failure prints its seed and its plans. To run
// one again: CKPT_LIFECYCLE_SEED=<seed> with --gtest_filter on its test.
// CKPT_LIFECYCLE_SEQUENCES=<n> sets how many sequences each shard runs;
// CKPT_TEST_MODE=long runs ten times as many.
#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/fs/memory_file_system.hpp>

#include "lifecycle_model.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

using namespace ckpt::lifecycle;

constexpr std::uint64_t base_seed = 20261203;

#ifdef CKPT_SANITIZED_THREAD
constexpr std::uint64_t scale_down = 8;  // TSan runs each sequence ~10x slower
#else
constexpr std::uint64_t scale_down = 1;
#endif

std::uint64_t sequences(std::uint64_t ci) {
  if (const char* n = std::getenv("CKPT_LIFECYCLE_SEQUENCES")) return std::strtoull(n, nullptr, 10);
  const char* mode = std::getenv("CKPT_TEST_MODE");
  const bool long_mode = mode && std::string(mode) == "long";
  return std::max<std::uint64_t>(1, (long_mode ? ci * 10 : ci) / scale_down);
}

std::optional<std::uint64_t> only_seed() {
  if (const char* s = std::getenv("CKPT_LIFECYCLE_SEED")) return std::strtoull(s, nullptr, 10);
  return std::nullopt;
}

/// The sequence of `seed` on `w` (whose file systems are set); empty when
/// exactly-once held throughout, otherwise what went wrong and the plans.
template <class RunSession>
std::string run_sequence(World& w, std::uint64_t seed, RunSession&& run) {
  std::mt19937_64 rng(seed);
  shape_world(w, rng);
  const auto sessions = 1 + rng() % 4;
  std::string log = "seed " + std::to_string(seed) + ", input " + std::to_string(w.input.partitions) + "x" +
                    std::to_string(w.input.records) + ", retain " + std::to_string(w.options.retained_checkpoints) +
                    (w.options.incremental ? " incremental" : "") + "\n";
  const bool service = w.engine == Engine::service;
  bool finished = false;
  // The last session reads to the end; if too many checkpoints failed in a
  // row on the way, the job failed and one more plain restart finishes it.
  for (std::uint64_t s = 0; !finished && s <= sessions + 3; ++s) {
    const bool last = s >= sessions;
    const auto plan = s > sessions ? SessionPlan{Start::latest, {}, {2, 2, 2}, true, {{Op::finish}}} : random_plan(rng, w, last);
    log += "  session " + std::to_string(s) + ": " + plan.encode();
    const auto result = run(plan, rng);
    if (!result.error.empty()) return log + "\n  failed: " + result.error;
    finished = last && result.ending == Ending::finished;
    const auto verdict = judge(committed_lines(*w.out), w.input, finished, service);
    log += " -> " + std::to_string(verdict.lines) + " lines\n";
    if (verdict.duplicated || (finished && !verdict.exactly_once()))
      return log + "  " + verdict.first_problem + " (lost " + std::to_string(verdict.lost) + ", duplicated " +
             std::to_string(verdict.duplicated) + ", keys with wrong counts " + std::to_string(verdict.wrong_counts) + ")";
  }
  if (!finished) return log + "  the job never finished";
  return {};
}

/// Sequences in this process, on in-memory file systems.
void run_in_process(Engine engine, std::uint64_t shard, std::uint64_t per_shard) {
  std::vector<std::uint64_t> seeds;
  if (const auto seed = only_seed()) seeds.push_back(*seed);
  else
    for (std::uint64_t i = 0; i < per_shard; ++i) seeds.push_back(base_seed + (shard << 32) + i + (engine == Engine::service ? 1u << 20 : 0));
  for (const auto seed : seeds) {
    World w;
    w.engine = engine;
    w.out = std::make_shared<ckpt::fs::MemoryFileSystem>();
    w.storage_fs = std::make_shared<FlakyFileSystem>(std::make_shared<ckpt::fs::MemoryFileSystem>());
    const auto problem = run_sequence(w, seed, [&](const SessionPlan& plan, std::mt19937_64&) { return run_session(w, plan); });
    ASSERT_EQ(problem, "") << "sequence failed; replay with CKPT_LIFECYCLE_SEED=" << seed;
  }
  std::printf("[ lifecycle ] %s shard %llu: %zu sequences, 0 lost, 0 duplicated\n",
              engine == Engine::pipeline ? "pipeline" : "service", static_cast<unsigned long long>(shard), seeds.size());
}

class PipelineLifecycle : public ::testing::TestWithParam<int> {};
class ServiceLifecycle : public ::testing::TestWithParam<int> {};

// In CI: 8 x 80 pipeline and 4 x 70 service sequences, and 4 x 35 below in
// killed processes: 1,060 (--long runs 10,600). The tsan preset leaves this
// area out (as the testing area): their threads are the runtime's, whose own
// tests run under TSan.
// The pipeline shards were most of the ASan stage's time at 250 each; CI's
// 30-minute budget cut them again when the RocksDB and etcd tests came in.
TEST_P(PipelineLifecycle, RandomSequencesAreExactlyOnce) {
  run_in_process(Engine::pipeline, static_cast<std::uint64_t>(GetParam()), sequences(80));
}
INSTANTIATE_TEST_SUITE_P(Shard, PipelineLifecycle, ::testing::Range(0, 8));

TEST_P(ServiceLifecycle, RandomSequencesAreExactlyOnce) {
  run_in_process(Engine::service, static_cast<std::uint64_t>(GetParam()), sequences(70));
}
INSTANTIATE_TEST_SUITE_P(Shard, ServiceLifecycle, ::testing::Range(0, 4));

// -- Sequences in child processes, SIGKILLed at a random step ---------------

/// Runs `plan` in a child process on `dir` and SIGKILLs it after its
/// `kill_at`-th report line (0: as it starts; never if past its end).
SessionResult run_in_child(const World& w, const std::string& dir, std::uint64_t seed, const SessionPlan& plan,
                           std::size_t kill_at, bool& killed) {
  SessionResult result;
  ckpt::rel::Child child(CKPT_LIFECYCLE_CHILD,
                         {dir, std::to_string(seed), plan.encode(), std::to_string(w.hold), std::to_string(w.names)}, {});
  std::size_t lines = 0;
  std::string last;
  while (auto line = child.next_line()) {
    last = *line;
    if (line->rfind("error ", 0) == 0) result.error = line->substr(6);
    if (line->rfind("ended ", 0) == 0) result.ending = static_cast<Ending>(std::stoi(line->substr(6)));
    if (lines++ == kill_at) {
      child.kill();
      break;
    }
  }
  child.drain();
  killed = child.killed();
  if (!killed && child.exit_code() != 0 && result.error.empty())
    result.error = "the child ended with " + child.describe_status() + " after: " + last;
  if (killed) result.ending = Ending::crashed;
  return result;
}

class KilledLifecycle : public ::testing::TestWithParam<int> {};

TEST_P(KilledLifecycle, RandomSequencesWithSigkillsAreExactlyOnce) {
  const auto shard = static_cast<std::uint64_t>(GetParam());
  std::vector<std::uint64_t> seeds;
  if (const auto seed = only_seed()) seeds.push_back(*seed);
  else
    for (std::uint64_t i = 0; i < sequences(35); ++i) seeds.push_back(base_seed + (1ULL << 40) + (shard << 32) + i);
  std::uint64_t kills = 0;
  for (const auto seed : seeds) {
    ckpt::test::TempDir dir("lifecycle");
    std::filesystem::create_directories(dir.path() / "ckpt");
    World w;
    w.engine = Engine::pipeline;
    w.out = std::make_shared<ckpt::fs::LocalFileSystem>(dir.str());
    w.storage_fs = std::make_shared<FlakyFileSystem>(std::make_shared<ckpt::fs::LocalFileSystem>(dir.str() + "/ckpt"));
    const auto problem = run_sequence(w, seed, [&](const SessionPlan& plan, std::mt19937_64& rng) {
      w.storage.reset();  // the child takes the lock
      // The child's World follows the parent's: the hold it reaches and the
      // names it gives are the plan's, whether or not it lives to use them.
      bool killed = false;
      const auto kill_at = static_cast<std::size_t>(rng() % (plan.steps.size() + 2));
      const bool last = plan.steps.back().op == Op::finish;  // the last session is never killed
      auto error = run_in_child(w, dir.str(), seed, plan, last ? std::size_t(-1) : kill_at, killed);
      kills += killed ? 1 : 0;
      for (const auto& step : plan.steps) {
        if (step.op == Op::advance) w.hold = std::min(w.hold + step.n, w.input.records - 1);
        if (step.op == Op::crash) w.hold = std::min(w.hold + std::max<std::uint32_t>(1, step.n), w.input.records - 1);
      }
      w.names += 100;
      return error;
    });
    ASSERT_EQ(problem, "") << "sequence failed; replay with CKPT_LIFECYCLE_SEED=" << seed;
  }
  std::printf("[ lifecycle ] killed processes, shard %llu: %zu sequences, %llu SIGKILLs, 0 lost, 0 duplicated\n",
              static_cast<unsigned long long>(shard), seeds.size(), static_cast<unsigned long long>(kills));
}
INSTANTIATE_TEST_SUITE_P(Shard, KilledLifecycle, ::testing::Range(0, 4));

}  // namespace
