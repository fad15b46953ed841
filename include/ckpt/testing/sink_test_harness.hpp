#pragma once
// SinkTestHarness<Fn>: unit-tests a Sink — a TwoPhaseCommitSink included —
// through records, checkpoints (pre-commit), completions (commit), aborts,
// failures (the instance thrown away un-notified) and restores (recovery of
// pre-committed and open transactions).
//
//   ckpt::SinkTestHarness harness([&db](std::uint32_t) { return std::make_unique<DbSink>(db); });
//   harness.invoke(row);
//   auto checkpoint = harness.snapshot(1);   // pre-commits the open transaction
//   harness.restore(checkpoint);             // failure before the completion: recovered and committed

#include <ckpt/error.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/testing/detail/harness_factory.hpp>
#include <ckpt/testing/detail/test_harness_base.hpp>
#include <ckpt/testing/operator_subtask_state.hpp>
#include <ckpt/testing/test_harness_options.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace ckpt {

template <class Fn>
class SinkTestHarness final : public detail::TestHarnessBase<SinkTestHarness<Fn>> {
  using Base = detail::TestHarnessBase<SinkTestHarness<Fn>>;

 public:
  using function_type = Fn;
  using input_type = typename Fn::input_type;
  using Factory = std::function<std::unique_ptr<Fn>(std::uint32_t subtask)>;
  static_assert(std::is_base_of_v<Sink<input_type>, Fn>, "the function must be a Sink<In>");

  template <class F>
  explicit SinkTestHarness(F make, TestHarnessOptions options = {})
      : Base(options), make_(detail::harness_factory<Fn>(std::move(make))) {}

  /// One record into the sink.
  void invoke(const input_type& value) { typed(this->running()).fn->invoke(value); }

  Fn& function() { return *typed(this->instance()).fn; }

 private:
  friend Base;

  using Instance = detail::FunctionInstance<Fn>;

  static Instance& typed(detail::HarnessInstance& i) noexcept { return static_cast<Instance&>(i); }
  std::unique_ptr<detail::HarnessInstance> make_instance() {
    return std::make_unique<Instance>(this->options(), make_(this->subtask_index()));
  }
  SinkTestHarness with_options(const TestHarnessOptions& options) const { return SinkTestHarness(make_, options); }

  Factory make_;
};

template <class F>
SinkTestHarness(F) -> SinkTestHarness<detail::harness_function_t<F>>;
template <class F>
SinkTestHarness(F, TestHarnessOptions) -> SinkTestHarness<detail::harness_function_t<F>>;

}  // namespace ckpt
