#pragma once
// What flows through a pipeline's channels: records, and in between them
// checkpoint barriers, watermarks (and their idle status) and the end of the stream.

#include <ckpt/clock.hpp>
#include <ckpt/runtime/checkpoint_barrier.hpp>

#include <cstdint>
#include <variant>

namespace ckpt {

template <class T>
struct Record {
  T value;
  std::int64_t timestamp = no_timestamp;  // event time, when the source gives one
};

/// Event time has reached `timestamp`: event-time timers at or before it
/// fire (see function/watermark_strategy.hpp for what sources emit).
struct Watermark {
  std::int64_t timestamp = no_timestamp;
};

/// The channel's watermarks stop (idle) or start again (active): while idle,
/// the receiver leaves the channel out of its minimum (Flink's WatermarkStatus).
struct WatermarkStatus {
  bool idle = false;
};

struct EndOfStream {};

template <class T>
using StreamElement = std::variant<Record<T>, CheckpointBarrier, Watermark, WatermarkStatus, EndOfStream>;

}  // namespace ckpt
