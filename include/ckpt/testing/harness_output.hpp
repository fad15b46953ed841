#pragma once
// HarnessOutput<T>: what a function under a test harness emitted — records
// with their timestamps, in order, and the watermarks it passed on — to read,
// take or clear — and what it sent to each side output (OutputTag). Every
// harness of a function with output has these members.

#include <ckpt/function/output_tag.hpp>
#include <ckpt/function/side_outputs.hpp>
#include <ckpt/runtime/stream_element.hpp>
#include <ckpt/runtime/timestamped_collector.hpp>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace ckpt {

template <class T>
class HarnessOutput {
 public:
  /// Records emitted since the start (or the last take/clear or restore), in order.
  const std::vector<Record<T>>& output() const noexcept { return buffer_->records; }
  /// Their values, without timestamps (Flink's extractOutputValues).
  std::vector<T> extract_output_values() const {
    std::vector<T> out;
    out.reserve(buffer_->records.size());
    for (const auto& r : buffer_->records) out.push_back(r.value);
    return out;
  }
  /// The records emitted so far; the output is empty afterwards.
  std::vector<Record<T>> take_output() { return std::exchange(buffer_->records, {}); }
  /// The values emitted so far; the output is empty afterwards.
  std::vector<T> take_output_values() {
    auto values = extract_output_values();
    buffer_->records.clear();
    return values;
  }
  /// Watermarks passed downstream (each greater than the one before), in order.
  const std::vector<std::int64_t>& emitted_watermarks() const noexcept { return buffer_->watermarks; }
  /// Records sent to the side output `tag` since the start (or the last
  /// clear or restore), in order, with their timestamps.
  template <class S>
  std::vector<Record<S>> side_output(const OutputTag<S>& tag) const {
    std::vector<Record<S>> out;
    for (auto& [value, timestamp] : side_->captured(tag)) out.push_back(Record<S>{std::move(value), timestamp});
    return out;
  }
  /// Their values, without timestamps.
  template <class S>
  std::vector<S> side_output_values(const OutputTag<S>& tag) const {
    std::vector<S> out;
    for (auto& [value, timestamp] : side_->captured(tag)) out.push_back(std::move(value));
    return out;
  }
  /// Forgets every record (main and side outputs) and watermark emitted so far.
  void clear_output() noexcept {
    buffer_->records.clear();
    buffer_->watermarks.clear();
    side_->clear();
  }

 protected:
  HarnessOutput() : buffer_(std::make_unique<Buffer>()), side_(std::make_unique<detail::SideOutputs>(true)) {}
  /// The collector handed to the function; its address is stable across moves.
  detail::TimestampedCollector<T>& collector() noexcept { return *buffer_; }
  /// Where the function's side outputs go; its address is stable across moves.
  detail::SideOutputs& side_outputs() noexcept { return *side_; }
  void emit_watermark(std::int64_t watermark) { buffer_->watermarks.push_back(watermark); }

 private:
  struct Buffer final : detail::TimestampedCollector<T> {
    void emit(Record<T> record) override { records.push_back(std::move(record)); }
    std::vector<Record<T>> records;
    std::vector<std::int64_t> watermarks;
  };
  std::unique_ptr<Buffer> buffer_;
  std::unique_ptr<detail::SideOutputs> side_;
};

}  // namespace ckpt
