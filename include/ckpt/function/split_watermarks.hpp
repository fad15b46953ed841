#pragma once
// SplitWatermarks: the watermark of a source that reads several splits, each
// with its own generator from one WatermarkStrategy (Flink's per-split
// watermarks). The source's watermark is the minimum over the splits that are
// neither finished nor idle; when every split left is idle, the source is idle
// and its channel holds no operator downstream back.

#include <ckpt/clock.hpp>
#include <ckpt/function/watermark_strategy.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

namespace ckpt {

class SplitWatermarks {
 public:
  template <class T>
  SplitWatermarks(const WatermarkStrategy<T>& strategy, std::size_t splits)
      : factory_([strategy] { return strategy.create_generator(); }),
        idle_timeout_(strategy.idle_timeout()),
        clock_(&strategy.clock()) {
    for (std::size_t i = 0; i < splits; ++i) add_split();
  }

  /// A new split (discovered or assigned while running); returns its index.
  std::size_t add_split() {
    splits_.push_back({factory_(), clock_->now(), false});
    return splits_.size() - 1;
  }
  std::size_t splits() const noexcept { return splits_.size(); }

  void on_event(std::size_t split, std::int64_t timestamp) {
    auto& s = splits_.at(split);
    s.generator->on_event(timestamp);
    s.last_event = clock_->now();
  }
  /// The split has ended: it holds nothing back any more.
  void finish(std::size_t split) { splits_.at(split).finished = true; }
  /// The split is gone (an ended split a reader drops); later indices move down by one.
  void remove(std::size_t split) {
    static_cast<void>(splits_.at(split));  // out of range: throws
    splits_.erase(splits_.begin() + static_cast<std::ptrdiff_t>(split));
  }

  /// True while every split not finished is idle (and there is at least one).
  bool idle() const {
    const auto now = clock_->now();
    bool any = false;
    for (const auto& s : splits_) {
      if (s.finished) continue;
      if (!is_idle(s, now)) return false;
      any = true;
    }
    return any;
  }

  /// The minimum over the active splits' watermarks; no_timestamp while one
  /// of them has none yet, or when none is active.
  std::int64_t current_watermark() const {
    const auto now = clock_->now();
    std::int64_t min = std::numeric_limits<std::int64_t>::max();
    bool any = false;
    for (const auto& s : splits_) {
      if (s.finished || is_idle(s, now)) continue;
      min = std::min(min, s.generator->current_watermark());
      any = true;
    }
    return any ? min : no_timestamp;
  }

 private:
  struct Split {
    std::unique_ptr<WatermarkGenerator> generator;
    Clock::time_point last_event;
    bool finished = false;
  };

  bool is_idle(const Split& s, Clock::time_point now) const {
    return idle_timeout_ && now - s.last_event >= *idle_timeout_;
  }

  std::function<std::unique_ptr<WatermarkGenerator>()> factory_;
  std::optional<std::chrono::milliseconds> idle_timeout_;
  const Clock* clock_;
  std::vector<Split> splits_;
};

}  // namespace ckpt
