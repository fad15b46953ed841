#pragma once
// The runtime side of a split source: SplitEnumeratorHost runs the source's
// one enumerator for all reader subtasks of a run (one shared object, every
// call under its lock, on whichever reader thread asks: no thread of its
// own), and SplitReaderFunction adapts a subtask's SourceReader to a Source,
// so the source task and the harness drive it like any source.
//
// One checkpoint holds the enumerator and the readers consistently without
// stopping them all at once: subtask 0 cuts the enumerator's state beside its
// own splits, together with the splits "in flight" (assigned but not yet in a
// reader's cut of that checkpoint: still queued for a reader, or taken by a
// reader after it cut); and a reader that has not yet cut the enumerator's
// latest checkpoint takes no new split until it has. So every split is in
// exactly one of: the enumerator's state, its in-flight list, one reader's
// cut. On restore the in-flight splits go back through add_splits_back().
//
// The enumerator's state is union list state of the readers (only subtask 0
// writes it), so at any parallelism every new subtask sees it and the first
// to start restores the enumerator; the readers' splits are even-split list
// state, so at the same parallelism each reader gets its own splits back and
// at another the old readers' splits are dealt round robin (as Flink's source
// operator does), without the enumerator.

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/function/split_source.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/state/list_state.hpp>
#include <ckpt/state/operator_state_store.hpp>
#include <ckpt/state/state_descriptor.hpp>

#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace ckpt::detail {

/// What subtask 0 checkpoints for the enumerator.
template <class Split, class State>
struct EnumeratorCheckpoint {
  State state{};
  std::vector<std::pair<std::uint32_t, Split>> in_flight;  // (old subtask, split)

  template <class Archive>
  void serialize(Archive& ar) {
    ar(state, in_flight);
  }
};

template <class T, class Split, class State>
class SplitEnumeratorHost final : public SplitEnumeratorContext<Split> {
 public:
  using Checkpoint = EnumeratorCheckpoint<Split, State>;
  struct Delivery {
    std::vector<Split> splits;
    bool no_more = false;
  };

  SplitEnumeratorHost(std::shared_ptr<SplitSource<T, Split, State>> source, std::uint32_t parallelism, const Clock& clock)
      : source_(std::move(source)), parallelism_(parallelism), clock_(clock), readers_(parallelism) {}

  /// Reader `subtask` starts: the first to start creates the enumerator from
  /// `restored` (the union state, empty on a fresh start). `wake` wakes its
  /// thread when something is assigned to it.
  void open(std::uint32_t subtask, const std::vector<Checkpoint>& restored, std::function<void()> wake) {
    std::lock_guard lock(mutex_);
    if (restored.size() > 1)
      throw RestoreError(errc::corrupt_data, "split source: " + std::to_string(restored.size()) +
                                                 " enumerator states restored, expected at most one");
    if (!enumerator_) {
      enumerator_ = source_->create_enumerator(
          *this, restored.empty() ? std::nullopt : std::optional<State>(restored.front().state));
      if (!enumerator_) throw ConfigError(errc::invalid_argument, "split source: create_enumerator() returned null");
      if (!restored.empty())
        for (const auto& [old, split] : restored.front().in_flight) enumerator_->add_splits_back({split}, old);
      enumerator_->start();
    }
    auto& r = readers_.at(subtask);
    r.wake = std::move(wake);
    r.registered = true;
    enumerator_->add_reader(subtask);
  }

  void request_split(std::uint32_t subtask) {
    std::lock_guard lock(mutex_);
    enumerator_->handle_split_request(subtask);
  }

  /// What was assigned to `subtask` since it last took, unless it must first
  /// cut the enumerator's latest checkpoint (then nothing yet).
  Delivery take(std::uint32_t subtask) {
    std::lock_guard lock(mutex_);
    auto& r = readers_.at(subtask);
    if (r.cut < enumerator_cut_) return {};
    Delivery d{std::move(r.pending), r.no_more_pending};
    r.pending.clear();
    r.no_more_pending = false;
    for (const auto& s : d.splits) taken_.push_back({r.cut, subtask, s});
    return d;
  }

  /// Reader `subtask` cuts checkpoint `id` (after its own splits); subtask 0
  /// gets the enumerator's part of the checkpoint.
  std::optional<Checkpoint> on_cut(std::uint32_t subtask, std::uint64_t id) {
    std::lock_guard lock(mutex_);
    readers_.at(subtask).cut = id;
    if (subtask != 0) return std::nullopt;
    enumerator_cut_ = id;
    Checkpoint cp{enumerator_->snapshot_state(id), {}};
    for (std::uint32_t i = 0; i < parallelism_; ++i)
      for (const auto& s : readers_[i].pending) cp.in_flight.emplace_back(i, s);
    // Taken after the reader's cut of `id` (or a later one): not in that cut.
    for (const auto& t : taken_)
      if (t.after_cut >= id) cp.in_flight.emplace_back(t.subtask, t.split);
    std::erase_if(taken_, [id](const Taken& t) { return t.after_cut <= id; });  // later checkpoints have ids > id
    return cp;
  }

  void notify_checkpoint_complete(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    enumerator_->notify_checkpoint_complete(id);
  }

  /// Runs the periodic calls that are due; returns when the next one is.
  std::optional<Clock::time_point> run_periodic() {
    std::lock_guard lock(mutex_);
    const auto now = clock_.now();
    std::optional<Clock::time_point> next;
    for (auto& p : periodic_) {
      if (p.due <= now) {
        p.fn();
        p.due = now + p.interval;
      }
      if (!next || p.due < *next) next = p.due;
    }
    return next;
  }

  // -- SplitEnumeratorContext (called by the enumerator, under the lock)
  std::uint32_t parallelism() const override { return parallelism_; }
  std::vector<std::uint32_t> registered_readers() const override {
    std::vector<std::uint32_t> out;
    for (std::uint32_t i = 0; i < parallelism_; ++i)
      if (readers_[i].registered) out.push_back(i);
    return out;
  }
  void assign_split(Split split, std::uint32_t subtask) override {
    auto& r = reader(subtask);
    r.pending.push_back(std::move(split));
    if (r.wake) r.wake();
  }
  void signal_no_more_splits(std::uint32_t subtask) override {
    auto& r = reader(subtask);
    r.no_more_pending = true;
    if (r.wake) r.wake();
  }
  void call_periodically(std::function<void()> fn, std::chrono::milliseconds interval) override {
    if (interval.count() <= 0)
      throw ConfigError(errc::invalid_argument, "call_periodically: the interval must be positive, not " +
                                                    std::to_string(interval.count()) + " ms");
    periodic_.push_back({std::move(fn), interval, clock_.now() + interval});
  }

 private:
  struct Reader {
    std::vector<Split> pending;
    bool no_more_pending = false;
    bool registered = false;
    std::uint64_t cut = 0;  // the last checkpoint this reader cut
    std::function<void()> wake;
  };
  struct Taken {
    std::uint64_t after_cut;  // the reader's last cut when it took the split
    std::uint32_t subtask;
    Split split;
  };
  struct Periodic {
    std::function<void()> fn;
    std::chrono::milliseconds interval;
    Clock::time_point due;
  };

  Reader& reader(std::uint32_t subtask) {
    if (subtask >= parallelism_)
      throw ConfigError(errc::invalid_argument, "split enumerator: reader " + std::to_string(subtask) +
                                                    " does not exist (parallelism " + std::to_string(parallelism_) + ")");
    return readers_[subtask];
  }

  std::shared_ptr<SplitSource<T, Split, State>> source_;
  std::uint32_t parallelism_;
  const Clock& clock_;
  std::mutex mutex_;
  std::unique_ptr<SplitEnumerator<Split, State>> enumerator_;
  std::vector<Reader> readers_;
  std::vector<Taken> taken_;
  std::uint64_t enumerator_cut_ = 0;  // the latest checkpoint subtask 0 cut the enumerator for
  std::vector<Periodic> periodic_;
};

/// A subtask's SourceReader as a Source: its splits and the enumerator's
/// state are operator state, assignments reach it between polls.
template <class T, class Split, class State>
class SplitReaderFunction final : public Source<T>, private SourceReaderContext {
 public:
  using Host = SplitEnumeratorHost<T, Split, State>;

  SplitReaderFunction(std::shared_ptr<Host> host, std::unique_ptr<SourceReader<T, Split>> reader, std::uint32_t subtask)
      : host_(std::move(host)), reader_(std::move(reader)), subtask_(subtask) {
    if (!reader_) throw ConfigError(errc::invalid_argument, "split source: create_reader() returned null");
  }

  /// How the host wakes this subtask's thread (before initialize_state()).
  void set_wake(std::function<void()> wake) { wake_ = std::move(wake); }
  SourceReader<T, Split>& reader() noexcept { return *reader_; }
  bool signals_availability() const { return reader_->signals_availability(); }
  std::optional<Clock::time_point> run_periodic() { return host_->run_periodic(); }

  void initialize_state(FunctionInitializationContext& ctx) override {
    auto& store = ctx.operator_state_store();
    splits_ = store.get_list_state(ListStateDescriptor<Split>{"source-splits"});
    enumerator_ = store.get_union_list_state(ListStateDescriptor<typename Host::Checkpoint>{"split-enumerator"});
    reader_->start(*this);
    std::vector<typename Host::Checkpoint> restored;
    if (ctx.is_restored()) {
      reader_->add_splits(splits_.get());
      restored = enumerator_.get();
    }
    host_->open(subtask_, restored, wake_);
  }

  void snapshot_state(const FunctionSnapshotContext& ctx) override {
    splits_.update(reader_->snapshot_state(ctx.checkpoint_id()));
    auto cp = host_->on_cut(subtask_, ctx.checkpoint_id());
    std::vector<typename Host::Checkpoint> mine;
    if (cp) mine.push_back(std::move(*cp));
    enumerator_.update(std::move(mine));
  }

  void notify_checkpoint_complete(std::uint64_t id) override {
    reader_->notify_checkpoint_complete(id);
    if (subtask_ == 0) host_->notify_checkpoint_complete(id);
  }

  SourceStatus poll_next(Collector<T>& out) override {
    auto delivery = host_->take(subtask_);
    if (!delivery.splits.empty()) reader_->add_splits(std::move(delivery.splits));
    if (delivery.no_more) reader_->notify_no_more_splits();
    const auto status = reader_->poll_next(out);
    if (requested_) {  // the reader asked during its poll: an assignment now wakes this subtask
      requested_ = false;
      host_->request_split(subtask_);
    }
    return status;
  }

  std::int64_t current_watermark() const override { return reader_->current_watermark(); }
  bool watermark_idle() const override { return reader_->watermark_idle(); }
  void close() override { reader_->close(); }

 private:
  // -- SourceReaderContext
  std::uint32_t subtask_index() const override { return subtask_; }
  void send_split_request() override { requested_ = true; }  // sent at the next poll, outside the reader's call
  void notify_available() override {
    if (wake_) wake_();
  }

  std::shared_ptr<Host> host_;
  std::unique_ptr<SourceReader<T, Split>> reader_;
  std::uint32_t subtask_;
  std::function<void()> wake_;
  bool requested_ = false;
  ListState<Split> splits_;
  ListState<typename Host::Checkpoint> enumerator_;
};

}  // namespace ckpt::detail
