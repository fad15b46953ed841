#pragma once
// PartitionSplitSource<T>: the partitioned log of PartitionedSource on split
// sources: one split per partition, its offset the split's position. The log
// is read through an existing PartitionedSource subclass's read(partition,
// offset) and timestamp_of(), so a log written for PartitionedSource runs
// here unchanged (and still runs as a PartitionedSource).
//
// A fresh start gives reader i the partitions p with p % parallelism == i, as
// PartitionedSource does; after a restore each reader reads the partitions of
// its restored state (at another parallelism, the old readers' partitions by
// even split, with their offsets).

#include <ckpt/function/partitioned_source.hpp>
#include <ckpt/function/record_split_reader.hpp>
#include <ckpt/function/split_source.hpp>

#include <cereal/types/vector.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ckpt {

struct PartitionSplit {
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;  // the next record to read

  std::string split_id() const { return "partition-" + std::to_string(partition); }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(partition, offset);
  }
  friend bool operator==(const PartitionSplit&, const PartitionSplit&) = default;
};

/// State: the partitions not assigned yet (those of readers not started).
class PartitionSplitEnumerator final : public SplitEnumerator<PartitionSplit> {
 public:
  PartitionSplitEnumerator(SplitEnumeratorContext<PartitionSplit>& context, std::uint32_t partitions,
                           std::optional<std::vector<PartitionSplit>> restored)
      : context_(context) {
    if (restored) {
      unassigned_ = std::move(*restored);
    } else {
      for (std::uint32_t p = 0; p < partitions; ++p) unassigned_.push_back({p, 0});
    }
  }

  void add_reader(std::uint32_t subtask) override {
    assign_owned_by(subtask);
    context_.signal_no_more_splits(subtask);  // a fixed partition count: nothing is discovered later
  }
  void add_splits_back(std::vector<PartitionSplit> splits, std::uint32_t) override {
    unassigned_.insert(unassigned_.end(), splits.begin(), splits.end());
    for (const auto r : context_.registered_readers()) assign_owned_by(r);
  }
  std::vector<PartitionSplit> snapshot_state(std::uint64_t) override { return unassigned_; }

 private:
  void assign_owned_by(std::uint32_t subtask) {
    const auto parallelism = context_.parallelism();
    auto owned = std::stable_partition(unassigned_.begin(), unassigned_.end(),
                                       [&](const PartitionSplit& s) { return s.partition % parallelism != subtask; });
    for (auto it = owned; it != unassigned_.end(); ++it) context_.assign_split(*it, subtask);
    unassigned_.erase(owned, unassigned_.end());
  }

  SplitEnumeratorContext<PartitionSplit>& context_;
  std::vector<PartitionSplit> unassigned_;
};

template <class T>
class PartitionSplitSource final : public SplitSource<T, PartitionSplit> {
 public:
  /// The log a reader reads through (a PartitionedSource used only for read() and timestamp_of()).
  using LogFactory = std::function<std::unique_ptr<PartitionedSource<T>>(std::uint32_t subtask)>;

  template <class F>
  PartitionSplitSource(std::uint32_t partitions, F make_log, std::size_t records_per_poll = 64)
      : partitions_(partitions),
        make_log_([make = std::move(make_log)](std::uint32_t i) -> std::unique_ptr<PartitionedSource<T>> { return make(i); }),
        per_poll_(records_per_poll) {}

  /// Per-partition watermarks by `strategy`, as PartitionedSource::use_watermarks().
  void use_watermarks(WatermarkStrategy<T> strategy) { strategy_.emplace(std::move(strategy)); }

  std::unique_ptr<SplitEnumerator<PartitionSplit>> create_enumerator(
      SplitEnumeratorContext<PartitionSplit>& context, std::optional<std::vector<PartitionSplit>> restored) override {
    return std::make_unique<PartitionSplitEnumerator>(context, partitions_, std::move(restored));
  }
  std::unique_ptr<SourceReader<T, PartitionSplit>> create_reader(std::uint32_t subtask) override {
    auto reader = std::make_unique<Reader>(make_log_(subtask), per_poll_);
    if (strategy_) reader->use_watermarks(*strategy_);
    return reader;
  }

 private:
  class Reader final : public RecordSplitReader<T, PartitionSplit> {
    using Base = RecordSplitReader<T, PartitionSplit>;

   public:
    Reader(std::unique_ptr<PartitionedSource<T>> log, std::size_t per_poll) : Base(per_poll), log_(std::move(log)) {}
    typename Base::Read read(PartitionSplit& split) override {
      auto r = log_->read(split.partition, split.offset);
      using Status = typename PartitionedSource<T>::ReadStatus;
      if (r.status == Status::end) return Base::Read::end_of_split();
      if (r.status == Status::not_yet) return Base::Read::later();
      ++split.offset;
      return Base::Read::of(std::move(*r.record));
    }
    std::int64_t timestamp_of(const T& value) const override { return log_->timestamp_of(value); }

   private:
    std::unique_ptr<PartitionedSource<T>> log_;
  };

  std::uint32_t partitions_;
  LogFactory make_log_;
  std::size_t per_poll_;
  std::optional<WatermarkStrategy<T>> strategy_;
};

}  // namespace ckpt
