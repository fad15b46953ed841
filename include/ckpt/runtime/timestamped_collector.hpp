#pragma once
// TimestampedCollector<T>: the Collector a function is handed. What it
// collects is stamped with the event time of the input being processed (or of
// the event-time timer firing), as Flink's TimestampedCollector does; where
// the stamped records go (a task's channels, a test harness's output) is up
// to the subclass.

#include <ckpt/runtime/stream_element.hpp>
#include <ckpt/function/stream_functions.hpp>

#include <cstdint>
#include <utility>

namespace ckpt::detail {

template <class T>
class TimestampedCollector : public Collector<T> {
 public:
  void collect(T value) final { emit(Record<T>{std::move(value), timestamp_}); }
  void collect_with_timestamp(T value, std::int64_t timestamp) final {
    emit(Record<T>{std::move(value), timestamp});
  }
  /// The timestamp collect() gives from now on (no_timestamp for none).
  void set_timestamp(std::int64_t timestamp) noexcept { timestamp_ = timestamp; }
  std::int64_t timestamp() const noexcept { return timestamp_; }

 protected:
  virtual void emit(Record<T> record) = 0;

 private:
  std::int64_t timestamp_ = no_timestamp;
};

}  // namespace ckpt::detail
