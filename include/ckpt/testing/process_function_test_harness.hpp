#pragma once
// ProcessFunctionTestHarness<Fn>: unit-tests a (non-keyed) ProcessFunction
// and its operator state, in memory and on one thread.
//
//   ckpt::ProcessFunctionTestHarness harness([](std::uint32_t) { return std::make_unique<Enrich>(); });
//   harness.process_element(order, /*timestamp*/ 10);
//   auto checkpoint = harness.snapshot(1);
//   auto two = harness.rescale(checkpoint, 2);  // operator state redistributed as on a restore

#include <ckpt/error.hpp>
#include <ckpt/runtime/process_context.hpp>
#include <ckpt/runtime/stream_element.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/testing/detail/harness_factory.hpp>
#include <ckpt/testing/detail/test_harness_base.hpp>
#include <ckpt/testing/harness_output.hpp>
#include <ckpt/testing/operator_subtask_state.hpp>
#include <ckpt/testing/test_harness_options.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace ckpt {

template <class Fn>
class ProcessFunctionTestHarness final : public detail::TestHarnessBase<ProcessFunctionTestHarness<Fn>>,
                                         public HarnessOutput<typename Fn::output_type> {
  using Base = detail::TestHarnessBase<ProcessFunctionTestHarness<Fn>>;

 public:
  using function_type = Fn;
  using input_type = typename Fn::input_type;
  using output_type = typename Fn::output_type;
  using Factory = std::function<std::unique_ptr<Fn>(std::uint32_t subtask)>;
  static_assert(std::is_base_of_v<ProcessFunction<input_type, output_type>, Fn>,
                "the function must be a ProcessFunction<In, Out>");

  template <class F>
  explicit ProcessFunctionTestHarness(F make, TestHarnessOptions options = {})
      : Base(options), make_(detail::harness_factory<Fn>(std::move(make))) {}

  /// One record with its event time (no_timestamp for none).
  void process_element(const input_type& value, std::int64_t timestamp = no_timestamp) {
    auto& i = typed(this->running());
    this->collector().set_timestamp(timestamp);
    detail::ProcessContext<input_type, output_type> context(this->collector(), &this->side_outputs());
    struct Reset {
      Fn& fn;
      ~Reset() { fn.set_context(nullptr); }
    } reset{*i.fn};
    i.fn->set_context(&context);
    i.fn->process_element(value, this->collector());
  }
  /// Passes a watermark on, if it is above the current one (as the runtime does).
  void process_watermark(std::int64_t watermark) {
    auto& i = typed(this->running());
    if (watermark <= i.watermark) return;
    i.watermark = watermark;
    this->emit_watermark(watermark);
  }
  std::int64_t current_watermark() const noexcept {
    const auto* i = this->current_instance();
    return i ? i->watermark : no_timestamp;
  }

  Fn& function() { return *typed(this->instance()).fn; }

 private:
  friend Base;

  using Instance = detail::FunctionInstance<Fn>;

  static Instance& typed(detail::HarnessInstance& i) noexcept { return static_cast<Instance&>(i); }
  std::unique_ptr<detail::HarnessInstance> make_instance() {
    return std::make_unique<Instance>(this->options(), make_(this->subtask_index()));
  }
  ProcessFunctionTestHarness with_options(const TestHarnessOptions& options) const {
    return ProcessFunctionTestHarness(make_, options);
  }
  void on_new_instance() { this->clear_output(); }

  Factory make_;
};

template <class F>
ProcessFunctionTestHarness(F) -> ProcessFunctionTestHarness<detail::harness_function_t<F>>;
template <class F>
ProcessFunctionTestHarness(F, TestHarnessOptions) -> ProcessFunctionTestHarness<detail::harness_function_t<F>>;

}  // namespace ckpt
