#pragma once
// SourceReader<T, Split>: one reader subtask of a split source (Flink's
// FLIP-27 reader). It reads the splits the enumerator assigned to it; the
// splits it returns from snapshot_state(), each with its position, are its
// checkpointed state. All its methods run on the subtask's thread, between
// checkpoint cuts, so a snapshot is always consistent with what was emitted.

#include <ckpt/clock.hpp>
#include <ckpt/function/source_split.hpp>
#include <ckpt/function/stream_functions.hpp>

#include <cstdint>
#include <vector>

namespace ckpt {

class SourceReaderContext {
 public:
  virtual ~SourceReaderContext() = default;
  virtual std::uint32_t subtask_index() const = 0;
  /// Asks the enumerator for a split (delivered later, through add_splits()).
  virtual void send_split_request() = 0;
  /// Wakes the subtask waiting after poll_next() returned `idle`. Safe from
  /// any thread (a reader's own I/O callback).
  virtual void notify_available() = 0;
};

template <class T, SourceSplit Split>
class SourceReader {
 public:
  using output_type = T;
  using split_type = Split;
  virtual ~SourceReader() = default;

  virtual void start(SourceReaderContext&) {}
  /// New splits: assigned by the enumerator, or restored from a checkpoint.
  virtual void add_splits(std::vector<Split> splits) = 0;
  /// The enumerator will assign nothing more: finish after the splits held.
  virtual void notify_no_more_splits() = 0;
  /// Emits what is available (a few records). `idle`: nothing now; `finished`:
  /// no split left and no more to come.
  virtual SourceStatus poll_next(Collector<T>& out) = 0;
  /// Whether this reader calls notify_available() when data arrives: the
  /// subtask then sleeps after `idle` until notified (or a split arrives);
  /// otherwise it polls again after a short wait (a log's tail, which
  /// nothing announces).
  virtual bool signals_availability() const { return false; }
  /// The splits being read, each at the position of the next record.
  virtual std::vector<Split> snapshot_state(std::uint64_t checkpoint_id) = 0;
  virtual void notify_checkpoint_complete(std::uint64_t /*checkpoint_id*/) {}
  /// Event time reached, as Source::current_watermark().
  virtual std::int64_t current_watermark() const { return no_timestamp; }
  /// As Source::watermark_idle().
  virtual bool watermark_idle() const { return false; }
  virtual void close() {}
};

}  // namespace ckpt
