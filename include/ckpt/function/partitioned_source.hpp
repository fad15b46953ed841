#pragma once
// PartitionedSource<T>: the base of a replayable source (Kafka-like: numbered
// partitions, each an ordered log read by offset). Its read positions live in
// even-split operator list state, one entry per partition, so after a restore
// it resumes exactly where the checkpoint left off, and on a rescale the
// partitions move between subtasks with their offsets. Subclasses implement
// read(partition, offset).
//
// Watermarks: with use_watermarks(strategy), each partition this subtask
// reads has its own generator and the source's watermark is their minimum
// (an idle partition left out, see split_watermarks.hpp); without one, the
// watermark is the largest timestamp read across its partitions.

#include <ckpt/function/split_watermarks.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/function/watermark_strategy.hpp>
#include <ckpt/state/list_state.hpp>
#include <ckpt/state/state_descriptor.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace ckpt {

struct PartitionOffset {
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;  // the next record to read

  template <class Archive>
  void serialize(Archive& ar) {
    ar(partition, offset);
  }
  friend bool operator==(const PartitionOffset&, const PartitionOffset&) = default;
};

template <class T>
class PartitionedSource : public Source<T> {
 public:
  enum class ReadStatus : std::uint8_t { record, not_yet, end };
  struct Read {
    ReadStatus status = ReadStatus::end;
    std::optional<T> record;
    static Read of(T value) { return {ReadStatus::record, std::move(value)}; }
    static Read later() { return {ReadStatus::not_yet, std::nullopt}; }
    static Read end_of_partition() { return {ReadStatus::end, std::nullopt}; }
  };

  /// `partitions` in all; a fresh start gives subtask i the partitions p with p % parallelism == i.
  explicit PartitionedSource(std::uint32_t partitions, std::size_t records_per_poll = 64)
      : partitions_(partitions), per_poll_(records_per_poll) {}

  /// The record at `offset` of `partition`, not yet there, or the partition's end.
  virtual Read read(std::uint32_t partition, std::uint64_t offset) = 0;
  /// The event time of a record, if the source has one (for watermarks).
  virtual std::int64_t timestamp_of(const T&) const { return no_timestamp; }

  /// Per-partition watermarks by `strategy`; call before the job starts (in
  /// the source's factory).
  void use_watermarks(WatermarkStrategy<T> strategy) { strategy_.emplace(std::move(strategy)); }

  void initialize_state(FunctionInitializationContext& ctx) override {
    state_ = ctx.operator_state_store().get_list_state(ListStateDescriptor<PartitionOffset>{"partition-offsets"});
    if (ctx.is_restored()) {
      positions_ = state_.get();
    } else {
      for (std::uint32_t p = ctx.subtask_index(); p < partitions_; p += ctx.parallelism()) positions_.push_back({p, 0});
    }
    ended_.assign(positions_.size(), false);
    if (strategy_) split_watermarks_.emplace(*strategy_, positions_.size());
  }

  void snapshot_state(const FunctionSnapshotContext&) override { state_.update(positions_); }

  SourceStatus poll_next(Collector<T>& out) override {
    if (positions_.empty()) return SourceStatus::finished;
    bool progressed = false;
    for (std::size_t n = 0; n < per_poll_; ++n) {
      const auto i = next_++ % positions_.size();
      if (ended_[i]) {
        if (std::find(ended_.begin(), ended_.end(), false) == ended_.end()) return SourceStatus::finished;
        continue;
      }
      auto r = read(positions_[i].partition, positions_[i].offset);
      if (r.status == ReadStatus::end) {
        ended_[i] = true;
        if (split_watermarks_) split_watermarks_->finish(i);
        continue;
      }
      if (r.status == ReadStatus::not_yet) continue;
      auto ts = timestamp_of(*r.record);
      if (split_watermarks_) {
        ts = strategy_->timestamp_of(*r.record, ts);
        split_watermarks_->on_event(i, ts);
      } else if (ts != no_timestamp) {
        watermark_ = std::max(watermark_, ts);
      }
      out.collect_with_timestamp(std::move(*r.record), ts);
      ++positions_[i].offset;  // after the emit: a barrier never separates the two
      progressed = true;
    }
    return progressed ? SourceStatus::more : SourceStatus::idle;
  }

  std::int64_t current_watermark() const override {
    return split_watermarks_ ? split_watermarks_->current_watermark() : watermark_;
  }
  bool watermark_idle() const override { return split_watermarks_ && split_watermarks_->idle(); }
  const std::vector<PartitionOffset>& positions() const noexcept { return positions_; }

 private:
  std::uint32_t partitions_;
  std::size_t per_poll_;
  ListState<PartitionOffset> state_;
  std::vector<PartitionOffset> positions_;
  std::vector<bool> ended_;
  std::size_t next_ = 0;
  std::int64_t watermark_ = no_timestamp;  // without a strategy
  std::optional<WatermarkStrategy<T>> strategy_;
  std::optional<SplitWatermarks> split_watermarks_;
};

}  // namespace ckpt
