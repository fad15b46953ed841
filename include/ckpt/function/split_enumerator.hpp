#pragma once
// SplitEnumerator<Split, State>: the one instance of a split source that
// discovers splits and assigns them to the reader subtasks (Flink's FLIP-27
// enumerator). Its checkpointed State (by default the unassigned splits) is
// cut in the same checkpoint as the readers' splits, so every split is either
// in the enumerator's state or in exactly one reader's.
//
// Every method, and every callback given to call_periodically(), runs with
// the runtime's enumerator lock held, never concurrently with another; the
// context's methods may only be called from inside them.

#include <ckpt/function/source_split.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace ckpt {

template <class Split>
class SplitEnumeratorContext {
 public:
  virtual ~SplitEnumeratorContext() = default;
  virtual std::uint32_t parallelism() const = 0;
  /// The reader subtasks registered so far (add_reader() was called for them), ascending.
  virtual std::vector<std::uint32_t> registered_readers() const = 0;
  /// Hands `split` to reader `subtask`; the reader gets it on its own thread.
  virtual void assign_split(Split split, std::uint32_t subtask) = 0;
  void assign_splits(std::vector<Split> splits, std::uint32_t subtask) {
    for (auto& s : splits) assign_split(std::move(s), subtask);
  }
  /// Reader `subtask` will get no split after those already assigned: it
  /// finishes when it has read them.
  virtual void signal_no_more_splits(std::uint32_t subtask) = 0;
  /// Calls `fn` every `interval` while the job runs (split discovery), driven
  /// by the runtime's clock: never a busy loop of the enumerator's own.
  virtual void call_periodically(std::function<void()> fn, std::chrono::milliseconds interval) = 0;
};

template <SourceSplit Split, class State = std::vector<Split>>
class SplitEnumerator {
 public:
  using split_type = Split;
  using state_type = State;
  virtual ~SplitEnumerator() = default;

  /// Once, before any reader is added: first discovery, periodic calls.
  virtual void start() {}
  /// Reader `subtask` asks for a split (it has none left to read).
  virtual void handle_split_request(std::uint32_t /*subtask*/) {}
  /// Reader `subtask` started (each run, after a restore too).
  virtual void add_reader(std::uint32_t subtask) = 0;
  /// Splits that were assigned to `subtask` after the checkpoint being
  /// restored (or were still on their way to it) come back: assign them
  /// again. `subtask` is the old reader, which may not exist at a new parallelism.
  virtual void add_splits_back(std::vector<Split> splits, std::uint32_t subtask) = 0;
  /// The enumerator's checkpointed state for checkpoint `checkpoint_id`.
  virtual State snapshot_state(std::uint64_t checkpoint_id) = 0;
  virtual void notify_checkpoint_complete(std::uint64_t /*checkpoint_id*/) {}
};

}  // namespace ckpt
