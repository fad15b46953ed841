#pragma once
// RecordSplitReader<T, Split>: a SourceReader that reads its splits one
// record at a time, round robin; subclasses implement read(split), which
// returns the record at the split's position and moves the position past it.
// A split that ended is dropped (from the reader's state too); a reader left with
// no split asks the enumerator for one, and finishes once told there are no
// more.
//
// Watermarks: with use_watermarks(strategy) each split has its own generator
// and the reader's watermark is their minimum, idle splits left out
// (split_watermarks.hpp); without one, the largest timestamp read.

#include <ckpt/function/source_reader.hpp>
#include <ckpt/function/split_watermarks.hpp>
#include <ckpt/function/watermark_strategy.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace ckpt {

template <class T, SourceSplit Split>
class RecordSplitReader : public SourceReader<T, Split> {
 public:
  enum class ReadStatus : std::uint8_t { record, not_yet, end };
  struct Read {
    ReadStatus status = ReadStatus::end;
    std::optional<T> record;
    static Read of(T value) { return {ReadStatus::record, std::move(value)}; }
    static Read later() { return {ReadStatus::not_yet, std::nullopt}; }
    static Read end_of_split() { return {ReadStatus::end, std::nullopt}; }
  };

  explicit RecordSplitReader(std::size_t records_per_poll = 64) : per_poll_(records_per_poll == 0 ? 1 : records_per_poll) {}

  /// The record at `split`'s position (and the position moved past it), not yet there, or the split's end.
  virtual Read read(Split& split) = 0;
  /// The event time of a record, if it has one (for watermarks).
  virtual std::int64_t timestamp_of(const T&) const { return no_timestamp; }

  /// Per-split watermarks by `strategy`; call before the reader starts.
  void use_watermarks(WatermarkStrategy<T> strategy) {
    strategy_.emplace(std::move(strategy));
    split_watermarks_.emplace(*strategy_, 0);
  }

  void start(SourceReaderContext& context) override { context_ = &context; }

  void add_splits(std::vector<Split> splits) override {
    for (auto& s : splits) {
      splits_.push_back(std::move(s));
      if (split_watermarks_) split_watermarks_->add_split();
    }
    if (!splits.empty()) requested_ = false;
  }
  void notify_no_more_splits() override { no_more_ = true; }

  SourceStatus poll_next(Collector<T>& out) override {
    bool progressed = false;
    for (std::size_t n = 0; n < per_poll_ && !splits_.empty(); ++n) {
      const auto i = next_++ % splits_.size();
      auto r = read(splits_[i]);
      if (r.status == ReadStatus::end) {  // dropped: an ended split is in no checkpoint
        splits_.erase(splits_.begin() + static_cast<std::ptrdiff_t>(i));
        if (split_watermarks_) split_watermarks_->remove(i);
        next_ = i;
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
      progressed = true;
    }
    if (splits_.empty()) {
      if (no_more_) return SourceStatus::finished;
      if (!requested_ && context_) {
        requested_ = true;  // once until a split arrives
        context_->send_split_request();
      }
      return SourceStatus::idle;
    }
    return progressed ? SourceStatus::more : SourceStatus::idle;
  }

  std::vector<Split> snapshot_state(std::uint64_t) override { return splits_; }

  std::int64_t current_watermark() const override {
    return split_watermarks_ ? split_watermarks_->current_watermark() : watermark_;
  }
  bool watermark_idle() const override { return split_watermarks_ && split_watermarks_->idle(); }

 private:
  std::size_t per_poll_;
  SourceReaderContext* context_ = nullptr;
  std::vector<Split> splits_;  // index i's watermark generator is split_watermarks_'s i
  std::size_t next_ = 0;
  bool no_more_ = false;
  bool requested_ = false;
  std::int64_t watermark_ = no_timestamp;
  std::optional<WatermarkStrategy<T>> strategy_;
  std::optional<SplitWatermarks> split_watermarks_;
};

}  // namespace ckpt
