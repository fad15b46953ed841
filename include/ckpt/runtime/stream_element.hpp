#pragma once
// What flows through a pipeline's channels: records, and in between them
// checkpoint barriers, watermarks and the end of the stream.

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

/// Event time has reached `timestamp`: no record with a smaller one follows.
struct Watermark {
  std::int64_t timestamp = no_timestamp;
};

struct EndOfStream {};

template <class T>
using StreamElement = std::variant<Record<T>, CheckpointBarrier, Watermark, EndOfStream>;

}  // namespace ckpt
