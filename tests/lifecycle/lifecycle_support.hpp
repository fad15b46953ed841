#pragma once
// Pieces for the lifecycle tests: a replayable log held back at an offset,
// a per-key count that can be made to fail or to block, a tap that counts
// what reaches the sink, a storage file system that fails on demand, and the
// exactly-once oracle over the committed part files.

#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/file_util.hpp>
#include <ckpt/function/keyed_process_function.hpp>
#include <ckpt/function/partitioned_source.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/function/transactional_file_sink.hpp>
#include <ckpt/runtime/pipeline.hpp>

#include "forwarding_file_system.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ckpt::lifecycle {

inline constexpr std::uint64_t no_limit = std::numeric_limits<std::uint64_t>::max();

struct Event {
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;
  std::string key;
  std::int64_t value = 0;
  template <class A>
  void serialize(A& ar) {
    ar(partition, offset, key, value);
  }
};

/// The shape of the input: `partitions` logs of `records` events over `keys` keys.
struct Input {
  std::uint32_t partitions = 4;
  std::uint64_t records = 60;
  std::uint64_t keys = 7;

  Event event(std::uint32_t partition, std::uint64_t offset) const {
    const auto n = partition * 1000003ULL + offset * 7919ULL;
    return {partition, offset, "k" + std::to_string(n % keys), static_cast<std::int64_t>(n % 100)};
  }
  std::uint64_t total() const { return partitions * records; }
};

/// What a test steers while a job runs: how far the log may be read, where
/// the count fails, and whether it blocks (so a checkpoint cannot complete).
struct Controls {
  std::atomic<std::uint64_t> hold{no_limit};     // events at this offset and beyond are "not yet"
  std::atomic<std::uint64_t> fail_at{no_limit};  // the count throws at the first event at or beyond
  std::atomic<std::uint64_t> tapped{0};          // records that reached the sink's input

  std::mutex mutex;
  std::condition_variable changed;
  bool blocked = false;
  std::uint64_t aborts_heard = 0;  // by ObservedSink subtasks

  /// Blocks until sinks heard of `n` aborted checkpoints in all.
  void wait_aborts_heard(std::uint64_t n) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return aborts_heard >= n; });
  }

  void block() {
    std::lock_guard lock(mutex);
    blocked = true;
  }
  void unblock() {
    {
      std::lock_guard lock(mutex);
      blocked = false;
    }
    changed.notify_all();
  }
  void wait_while_blocked() {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return !blocked; });
  }
  void count_tapped() {
    {
      std::lock_guard lock(mutex);
      ++tapped;
    }
    changed.notify_all();
  }
  /// Blocks until `n` records reached the sink's input.
  void wait_tapped(std::uint64_t n) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return tapped.load() >= n; });
  }
};

class HeldLog final : public PartitionedSource<Event> {
 public:
  HeldLog(Input input, std::shared_ptr<Controls> controls)
      : PartitionedSource<Event>(input.partitions, 16), input_(input), controls_(std::move(controls)) {}
  Read read(std::uint32_t partition, std::uint64_t offset) override {
    if (offset >= input_.records) return Read::end_of_partition();
    if (offset >= controls_->hold.load()) return Read::later();
    return Read::of(input_.event(partition, offset));
  }

 private:
  Input input_;
  std::shared_ptr<Controls> controls_;
};

struct Count {
  std::string key;
  std::int64_t count = 0;
  std::int64_t sum = 0;
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;
};

inline std::string format_count(const Count& c) {
  return std::to_string(c.partition) + ":" + std::to_string(c.offset) + " " + c.key + " " + std::to_string(c.count) +
         " " + std::to_string(c.sum);
}

class CountPerKey final : public KeyedProcessFunction<std::string, Event, Count> {
 public:
  explicit CountPerKey(std::shared_ptr<Controls> controls) : controls_(std::move(controls)) {}
  void initialize_state(FunctionInitializationContext& ctx) override {
    auto& backend = ctx.keyed_state_backend<std::string>();
    count_ = backend.get_state(ValueStateDescriptor<std::int64_t>{"count", 0});
    sum_ = backend.get_state(ValueStateDescriptor<std::int64_t>{"sum", 0});
  }
  void process_element(const Event& e, Context& ctx, Collector<Count>& out) override {
    controls_->wait_while_blocked();
    if (e.offset >= controls_->fail_at.load()) throw std::runtime_error("injected failure in the count");
    count_.update(count_.value() + 1);
    sum_.update(sum_.value() + e.value);
    out.collect({ctx.current_key(), count_.value(), sum_.value(), e.partition, e.offset});
  }

 private:
  std::shared_ptr<Controls> controls_;
  ValueState<std::int64_t> count_;
  ValueState<std::int64_t> sum_;
};

/// Passes records on and counts them: once the tap has seen a record, the
/// sink gets it before any barrier that follows.
class Tap final : public ProcessFunction<Count, Count> {
 public:
  explicit Tap(std::shared_ptr<Controls> controls) : controls_(std::move(controls)) {}
  void process_element(const Count& c, Collector<Count>& out) override {
    out.collect(c);
    controls_->count_tapped();
  }

 private:
  std::shared_ptr<Controls> controls_;
};

/// The transactional file sink, telling `controls` when it heard that a
/// checkpoint was aborted: mail to a task is handled in order, so by then it
/// has handled every notification sent before.
class ObservedSink final : public TransactionalFileSink<Count> {
 public:
  ObservedSink(std::shared_ptr<fs::FileSystem> fs, std::string dir, std::shared_ptr<Controls> controls)
      : TransactionalFileSink<Count>(std::move(fs), std::move(dir), format_count), controls_(std::move(controls)) {}
  void notify_checkpoint_aborted(std::uint64_t id) override {
    TransactionalFileSink<Count>::notify_checkpoint_aborted(id);
    {
      std::lock_guard lock(controls_->mutex);
      ++controls_->aborts_heard;
    }
    controls_->changed.notify_all();
  }

 private:
  std::shared_ptr<Controls> controls_;
};

struct Parallelism {
  std::uint32_t source = 2;
  std::uint32_t count = 2;
  std::uint32_t sink = 2;
};

/// log -> count per key -> tap -> transactional file sink writing to `out_dir` of `out`.
inline void build_pipeline(Pipeline& p, const Input& input, std::shared_ptr<Controls> controls,
                           std::shared_ptr<fs::FileSystem> out, Parallelism par, const std::string& out_dir = "out") {
  p.add_source("log", par.source, [input, controls](std::uint32_t) { return std::make_unique<HeldLog>(input, controls); })
      .key_by([](const Event& e) { return e.key; })
      .process("count", par.count, [controls](std::uint32_t) { return std::make_unique<CountPerKey>(controls); })
      .process("tap", par.sink, [controls](std::uint32_t) { return std::make_unique<Tap>(controls); })
      .add_sink("out", par.sink, [out, out_dir, controls](std::uint32_t) {
        return std::make_unique<ObservedSink>(out, out_dir, controls);
      });
}

/// The committed lines of the part files in `dir` (not under _pending).
inline std::vector<std::string> committed_lines(fs::FileSystem& fs, const std::string& dir = "out") {
  std::vector<std::string> out;
  for (const auto& e : fs.list(dir)) {
    if (e.type != fs::EntryType::file) continue;
    const auto bytes = fs::read_file(fs, dir + "/" + e.name, 1ULL << 30);
    std::istringstream in{std::string(as_string_view(bytes))};
    for (std::string line; std::getline(in, line);) out.push_back(line);
  }
  return out;
}

/// What the committed output says against a failure-free run.
struct Verdict {
  std::uint64_t lines = 0;
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t wrong_counts = 0;  // keys whose counts are not exactly 1..n with the right final sum
  std::string first_problem;

  bool exactly_once() const { return lost == 0 && duplicated == 0 && wrong_counts == 0; }
};

/// `complete`: the whole input must be there with every key's counts 1..n
/// and its final sum; otherwise only no duplicates is checked.
/// `per_partition`: keys are counted per partition ("p2/k5"), as the service does.
inline Verdict judge(const std::vector<std::string>& lines, const Input& input, bool complete,
                     bool per_partition = false) {
  Verdict v;
  v.lines = lines.size();
  std::map<std::string, int> per_event;
  std::map<std::string, std::vector<std::int64_t>> counts;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> last;  // key -> (count, sum) of its highest count
  for (const auto& line : lines) {
    std::istringstream in(line);
    std::string id, key;
    std::int64_t count = 0, sum = 0;
    in >> id >> key >> count >> sum;
    if (++per_event[id] == 2) {
      ++v.duplicated;
      if (v.first_problem.empty()) v.first_problem = "event " + id + " committed twice";
    }
    counts[key].push_back(count);
    if (count > last[key].first) last[key] = {count, sum};
  }
  if (!complete) return v;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> expected;  // key -> (events, sum)
  for (std::uint32_t p = 0; p < input.partitions; ++p)
    for (std::uint64_t o = 0; o < input.records; ++o) {
      const auto e = input.event(p, o);
      const auto key = per_partition ? "p" + std::to_string(p) + "/" + e.key : e.key;
      ++expected[key].first;
      expected[key].second += e.value;
      if (!per_event.count(std::to_string(p) + ":" + std::to_string(o))) {
        ++v.lost;
        if (v.first_problem.empty()) v.first_problem = "event " + std::to_string(p) + ":" + std::to_string(o) + " lost";
      }
    }
  for (const auto& [key, want] : expected) {
    auto got = counts[key];
    std::sort(got.begin(), got.end());
    bool ok = static_cast<std::int64_t>(got.size()) == want.first && last[key] == want;
    for (std::size_t i = 0; ok && i < got.size(); ++i) ok = got[i] == static_cast<std::int64_t>(i + 1);
    if (!ok) {
      ++v.wrong_counts;
      if (v.first_problem.empty()) v.first_problem = "key " + key + " has wrong counts";
    }
  }
  return v;
}

/// A file system whose writes fail with ENOSPC while armed (a full disk).
class FlakyFileSystem final : public test::ForwardingFileSystem {
 public:
  using ForwardingFileSystem::ForwardingFileSystem;
  /// The next `n` creates and publishes fail.
  void fail_next(int n) {
    skip_ = 0;
    failures_ = n;
  }
  /// After `n` more creates and publishes succeed, every one fails until heal().
  void fail_after(std::uint32_t n) {
    skip_ = static_cast<int>(n);
    failures_ = std::numeric_limits<int>::max();
  }
  void heal() { failures_ = 0; }

  std::unique_ptr<fs::WritableFile> create(std::string_view p) override {
    maybe_fail(p);
    return ForwardingFileSystem::create(p);
  }
  void publish(std::string_view p, std::span<const std::byte> d) override {
    maybe_fail(p);
    ForwardingFileSystem::publish(p, d);
  }

 private:
  void maybe_fail(std::string_view p) {
    if (failures_.load() <= 0) return;
    if (skip_.fetch_sub(1) > 0) return;
    if (failures_.fetch_sub(1) <= 0) return;
    throw IoError(errc::no_space, std::string(p), "writing " + std::string(p) + " failed: no space left on device (injected)");
  }
  std::atomic<int> failures_{0};
  std::atomic<int> skip_{0};
};

}  // namespace ckpt::lifecycle
