#pragma once
// SplitSourceTestHarness<S>: unit-tests a split source (split_source.hpp) —
// its enumerator and its readers together, through the same enumerator host
// and reader adapter the runtime uses, on a manual clock, with no threads.
//
//   ckpt::SplitSourceTestHarness harness(std::make_shared<MySource>(), 2);  // two readers
//   harness.poll_all();                          // every reader until none has more
//   auto checkpoint = harness.snapshot(1);       // splits, positions, the enumerator's state
//   harness.advance_time(1s);                    // periodic discovery that is due
//   harness.restore(checkpoint);                 // a failure: back to the checkpoint
//   harness.restore(checkpoint, 3);              // ... at parallelism 3 (splits by even split)
//   harness.output(1);                           // what reader 1 emitted since it started

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/function/checkpointed_function.hpp>
#include <ckpt/function/split_source.hpp>
#include <ckpt/runtime/split_enumerator_host.hpp>
#include <ckpt/state/operator_state_store.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace ckpt {

template <SplitSourceType S>
class SplitSourceTestHarness {
 public:
  using output_type = typename S::output_type;
  using split_type = typename S::split_type;
  using state_type = typename S::state_type;
  /// Every subtask's operator state: its splits, and in subtask 0's the enumerator's state.
  using Snapshot = std::vector<OperatorStateSnapshot>;

  explicit SplitSourceTestHarness(std::shared_ptr<S> source, std::uint32_t parallelism = 1)
      : source_(std::move(source)) {
    if (!source_) throw ConfigError(errc::invalid_argument, "SplitSourceTestHarness: the source is null");
    open(parallelism, nullptr);
  }

  std::uint32_t parallelism() const noexcept { return static_cast<std::uint32_t>(readers_.size()); }

  /// One poll of reader `subtask` (assignments reach it first). A finished
  /// reader is not polled again; its last watermark is the largest int64.
  SourceStatus poll_next(std::uint32_t subtask = 0) {
    auto& r = at(subtask);
    if (r.finished) return SourceStatus::finished;
    const auto status = r.fn->poll_next(r.out);
    if (const auto wm = r.fn->current_watermark(); wm > r.watermark) r.watermark = wm;
    if (status == SourceStatus::finished) {
      r.finished = true;
      r.watermark = std::numeric_limits<std::int64_t>::max();
    }
    return status;
  }
  /// Polls reader `subtask` while it says `more` (at most `max_polls` times).
  SourceStatus poll_while_more(std::uint32_t subtask = 0, std::size_t max_polls = 1'000'000) {
    auto status = SourceStatus::more;
    for (std::size_t n = 0; n < max_polls && status == SourceStatus::more; ++n) status = poll_next(subtask);
    return status;
  }
  /// Polls every reader, round after round, until two rounds running did
  /// nothing (no reader said `more`, emitted or finished: a split asked for
  /// in one round is read in the next); true when every reader has finished.
  bool poll_all(std::size_t max_rounds = 1'000'000) {
    for (std::size_t round = 0, quiet = 0; round < max_rounds && quiet < 2; ++round) {
      bool active = false;
      for (std::uint32_t i = 0; i < parallelism(); ++i) {
        auto& r = at(i);
        const auto emitted = r.out.values.size();
        const bool finished = r.finished;
        active = poll_next(i) == SourceStatus::more || r.out.values.size() != emitted || r.finished != finished || active;
      }
      quiet = active ? 0 : quiet + 1;
    }
    return all_finished();
  }
  bool is_finished(std::uint32_t subtask = 0) { return at(subtask).finished; }
  bool all_finished() const {
    for (const auto& r : readers_)
      if (!r.finished) return false;
    return true;
  }

  /// What reader `subtask` emitted since it was started or restored.
  const std::vector<output_type>& output(std::uint32_t subtask = 0) { return at(subtask).out.values; }
  const std::vector<std::int64_t>& timestamps(std::uint32_t subtask = 0) { return at(subtask).out.timestamps; }
  /// Every reader's output, reader 0's first.
  std::vector<output_type> all_output() const {
    std::vector<output_type> out;
    for (const auto& r : readers_) out.insert(out.end(), r.out.values.begin(), r.out.values.end());
    return out;
  }
  void clear_output() {
    for (auto& r : readers_) r.out = {};
  }
  /// The highest watermark reader `subtask` reported.
  std::int64_t current_watermark(std::uint32_t subtask = 0) { return at(subtask).watermark; }
  bool watermark_idle(std::uint32_t subtask = 0) { return at(subtask).fn->watermark_idle(); }

  /// The splits reader `subtask` holds now, with their positions.
  std::vector<split_type> splits(std::uint32_t subtask = 0) { return at(subtask).fn->reader().snapshot_state(0); }
  SourceReader<output_type, split_type>& reader(std::uint32_t subtask = 0) { return at(subtask).fn->reader(); }

  /// Cuts checkpoint `id` on every reader, reader 0 (with the enumerator)
  /// first. `after_cut(i)`, when given, runs after reader i's cut: polls,
  /// discovery or assignments there happen between the readers' cuts, as in
  /// a running job, where the readers cut one after another.
  Snapshot snapshot(std::uint64_t checkpoint_id, const std::function<void(std::uint32_t)>& after_cut = {}) {
    Snapshot out(readers_.size());
    for (std::uint32_t i = 0; i < parallelism(); ++i) {
      auto& r = readers_[i];
      r.fn->snapshot_state(SimpleSnapshotContext(checkpoint_id, clock_.epoch_millis()));
      out[i] = r.store->snapshot();
      if (after_cut) after_cut(i);
    }
    return out;
  }
  void notify_checkpoint_complete(std::uint64_t checkpoint_id) {
    for (auto& r : readers_) r.fn->notify_checkpoint_complete(checkpoint_id);
  }

  /// Throws the readers and the enumerator away and restores new ones from
  /// `snapshot`, at `parallelism` (the snapshot's when not given).
  void restore(const Snapshot& snapshot, std::optional<std::uint32_t> parallelism = std::nullopt) {
    open(parallelism.value_or(static_cast<std::uint32_t>(snapshot.size())), &snapshot);
  }

  /// Moves the manual clock on and runs the enumerator's periodic calls that are due (discovery).
  void advance_time(std::chrono::milliseconds d) {
    clock_.advance(d);
    host_->run_periodic();
  }
  ManualClock& clock() noexcept { return clock_; }

 private:
  using Host = detail::SplitEnumeratorHost<output_type, split_type, state_type>;
  using Function = detail::SplitReaderFunction<output_type, split_type, state_type>;

  struct Collecting final : Collector<output_type> {
    std::vector<output_type> values;
    std::vector<std::int64_t> timestamps;
    void collect(output_type value) override { collect_with_timestamp(std::move(value), no_timestamp); }
    void collect_with_timestamp(output_type value, std::int64_t timestamp) override {
      values.push_back(std::move(value));
      timestamps.push_back(timestamp);
    }
  };
  struct Instance {
    std::unique_ptr<OperatorStateStore> store;
    std::unique_ptr<Function> fn;
    Collecting out;
    std::int64_t watermark = no_timestamp;
    bool finished = false;
  };

  Instance& at(std::uint32_t subtask) {
    if (subtask >= readers_.size())
      throw ConfigError(errc::invalid_argument, "SplitSourceTestHarness: reader " + std::to_string(subtask) +
                                                    " does not exist (parallelism " + std::to_string(readers_.size()) + ")");
    return readers_[subtask];
  }

  void open(std::uint32_t parallelism, const Snapshot* from) {
    if (parallelism == 0) throw ConfigError(errc::invalid_argument, "SplitSourceTestHarness: parallelism must be at least 1");
    readers_.clear();
    host_ = std::make_shared<Host>(source_, parallelism, clock_);
    readers_.resize(parallelism);
    for (std::uint32_t i = 0; i < parallelism; ++i) {
      auto& r = readers_[i];
      r.store = std::make_unique<OperatorStateStore>(i, parallelism);
      if (from) r.store->restore(std::span<const OperatorStateSnapshot>(*from));
      r.fn = std::make_unique<Function>(host_, source_->create_reader(i), i);
    }
    for (auto& r : readers_) {
      SimpleInitializationContext ctx(*r.store);
      r.fn->initialize_state(ctx);
    }
  }

  std::shared_ptr<S> source_;
  ManualClock clock_;
  std::shared_ptr<Host> host_;
  std::vector<Instance> readers_;
};

template <class S>
SplitSourceTestHarness(std::shared_ptr<S>) -> SplitSourceTestHarness<S>;
template <class S>
SplitSourceTestHarness(std::shared_ptr<S>, std::uint32_t) -> SplitSourceTestHarness<S>;

}  // namespace ckpt
