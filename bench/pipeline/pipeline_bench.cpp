// Pipeline throughput with checkpoints every second against the same pipeline
// without checkpoints, in the same run, and the synchronous pause each
// participant takes to cut its state.
//
//   ckpt_pipeline_bench [--events N] [--keys K] [--runs R] [--interval-ms MS]
//
// The pipeline: a source generating events over K keys (parallelism 2) ->
// keyed count per key (parallelism 2) -> a sink that discards. Runs of the two
// variants alternate; the figure is the ratio of their medians.

#include <ckpt/ckpt.hpp>
#include <ckpt/runtime/job_runner.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <stdlib.h>

namespace {

struct Event {
  std::uint64_t key;
  std::int64_t value;
};

/// Emits `count` events over `keys` keys, split between subtasks.
class Generator final : public ckpt::Source<Event> {
 public:
  Generator(std::uint64_t count, std::uint64_t keys, std::uint32_t subtask, std::uint32_t parallelism)
      : next_(subtask), end_(count), step_(parallelism), keys_(keys) {}
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    position_ = ctx.operator_state_store().get_list_state(ckpt::ListStateDescriptor<std::uint64_t>{"next"});
    for (auto n : position_.get()) next_ = n;
  }
  void snapshot_state(const ckpt::FunctionSnapshotContext&) override { position_.update({next_}); }
  ckpt::SourceStatus poll_next(ckpt::Collector<Event>& out) override {
    for (int i = 0; i < 256 && next_ < end_; ++i, next_ += step_)
      out.collect({(next_ * 0x9E3779B97F4A7C15ULL) % keys_, static_cast<std::int64_t>(next_ & 7)});
    return next_ < end_ ? ckpt::SourceStatus::more : ckpt::SourceStatus::finished;
  }

 private:
  std::uint64_t next_, end_, step_, keys_;
  ckpt::ListState<std::uint64_t> position_;
};

class Count final : public ckpt::KeyedProcessFunction<std::uint64_t, Event, std::int64_t> {
 public:
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    count_ = ctx.keyed_state_backend<std::uint64_t>().get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0});
  }
  void process_element(const Event& e, Context&, ckpt::Collector<std::int64_t>& out) override {
    const auto c = count_.value() + e.value;
    count_.update(c);
    if ((c & 0xfff) == 0) out.collect(c);  // a trickle to the sink
  }

 private:
  ckpt::ValueState<std::int64_t> count_;
};

class Discard final : public ckpt::Sink<std::int64_t> {
 public:
  void invoke(const std::int64_t&) override {}
};

struct Result {
  double seconds = 0;
  std::uint64_t checkpoints = 0;
  std::vector<double> pauses_ms;
};

Result run(std::uint64_t events, std::uint64_t keys, std::optional<int> interval_ms) {
  std::string dir = (std::filesystem::temp_directory_path() / "ckpt-pipeline-bench-XXXXXX").string();
  if (!::mkdtemp(dir.data())) throw std::runtime_error("mkdtemp");
  Result r;
  {
    auto storage = ckpt::CheckpointStorage::open("file://" + dir);
    ckpt::Pipeline p;
    p.add_source("generator", 2, [=](std::uint32_t i) { return std::make_unique<Generator>(events, keys, i, 2); })
        .key_by([](const Event& e) { return e.key; })
        .process("count", 2, [](std::uint32_t) { return std::make_unique<Count>(); })
        .add_sink("discard", 1, [](std::uint32_t) { return std::make_unique<Discard>(); });
    auto config = interval_ms ? ckpt::CheckpointConfig::every(std::chrono::milliseconds(*interval_ms))
                              : ckpt::CheckpointConfig::on_demand();
    ckpt::JobRunner job(p, *storage, config, [] {
      auto o = ckpt::JobOptions::defaults();
      o.restore = ckpt::JobOptions::Restore::none;
      return o;
    }());
    std::mutex m;
    job.coordinator().add_listener([&](const ckpt::CheckpointStats& s) {
      std::lock_guard lock(m);
      if (s.outcome != ckpt::CheckpointOutcome::completed) return;
      ++r.checkpoints;
      r.pauses_ms.push_back(std::chrono::duration<double, std::milli>(s.sync_pause).count());
    });
    const auto start = std::chrono::steady_clock::now();
    job.run();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  std::filesystem::remove_all(dir);
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t events = 20'000'000, keys = 1'000'000;
  int runs = 5, interval = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--events") events = std::stoull(argv[i + 1]);
    else if (a == "--keys") keys = std::stoull(argv[i + 1]);
    else if (a == "--runs") runs = std::stoi(argv[i + 1]);
    else if (a == "--interval-ms") interval = std::stoi(argv[i + 1]);
  }
  std::printf("pipeline: %llu events over %llu keys, checkpoints every %d ms vs none, %d runs each\n",
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(keys), interval, runs);
  std::vector<double> with, without, pauses;
  std::uint64_t checkpoints = 0;
  for (int i = 0; i < runs; ++i) {  // alternate, so drift on a shared machine hits both
    const auto a = run(events, keys, std::nullopt);
    const auto b = run(events, keys, interval);
    without.push_back(static_cast<double>(events) / a.seconds);
    with.push_back(static_cast<double>(events) / b.seconds);
    checkpoints += b.checkpoints;
    pauses.insert(pauses.end(), b.pauses_ms.begin(), b.pauses_ms.end());
    std::printf("  run %d: without %.2f M events/s, with %.2f M events/s (%llu checkpoints)\n", i + 1,
                without.back() / 1e6, with.back() / 1e6, static_cast<unsigned long long>(b.checkpoints));
  }
  const double ratio = median(with) / median(without);
  std::printf("throughput with checkpoints / without: %.3f (median %.2f vs %.2f M events/s; %.1f%% lost; goal: at most 5%%)\n",
              ratio, median(with) / 1e6, median(without) / 1e6, (1 - ratio) * 100);
  std::printf("synchronous pause per participant (max of a checkpoint's participants): median %.3f ms, max %.3f ms over %llu checkpoints\n",
              median(pauses), pauses.empty() ? 0.0 : *std::max_element(pauses.begin(), pauses.end()),
              static_cast<unsigned long long>(checkpoints));
  return 0;
}
