#pragma once
// ProcessContext<In, Out>: the ProcessFunction::Context a task or harness
// hands its function: the timestamp is the one the collector stamps records
// with (the input's), and side outputs go where the owner routes them.

#include <ckpt/function/side_outputs.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/runtime/timestamped_collector.hpp>

#include <cstdint>

namespace ckpt::detail {

template <class In, class Out>
class ProcessContext final : public ProcessFunction<In, Out>::Context {
 public:
  /// `out` and `side_outputs` (null: dropped) must outlive the context.
  ProcessContext(const TimestampedCollector<Out>& out, SideOutputs* side_outputs)
      : out_(out), side_outputs_(side_outputs) {}
  std::int64_t timestamp() const override { return out_.timestamp(); }
  SideOutputs* side_outputs() override { return side_outputs_; }

 private:
  const TimestampedCollector<Out>& out_;
  SideOutputs* side_outputs_;
};

}  // namespace ckpt::detail
