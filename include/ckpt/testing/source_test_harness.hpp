#pragma once
// SourceTestHarness<Fn>: unit-tests a Source — one keeping its read
// positions in operator state through CheckpointedFunction or a
// ListCheckpointedBinding — polling it as the runtime's source task does and
// checkpointing between polls.
//
//   ckpt::SourceTestHarness harness([](std::uint32_t) { return std::make_unique<MyLog>(4); });
//   harness.poll_next();                         // one poll: what it emitted is in output()
//   auto checkpoint = harness.snapshot(1);       // read positions at this point
//   harness.poll_while_more();                   // up to idle or finished
//   harness.restore(checkpoint);                 // a failure: re-reads from the checkpoint
//   auto three = harness.rescale(checkpoint, 3); // positions split between three subtasks

#include <ckpt/error.hpp>
#include <ckpt/runtime/stream_element.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/testing/detail/harness_factory.hpp>
#include <ckpt/testing/detail/test_harness_base.hpp>
#include <ckpt/testing/harness_output.hpp>
#include <ckpt/testing/operator_subtask_state.hpp>
#include <ckpt/testing/test_harness_options.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace ckpt {

template <class Fn>
class SourceTestHarness final : public detail::TestHarnessBase<SourceTestHarness<Fn>>,
                                public HarnessOutput<typename Fn::output_type> {
  using Base = detail::TestHarnessBase<SourceTestHarness<Fn>>;

 public:
  using function_type = Fn;
  using output_type = typename Fn::output_type;
  using Factory = std::function<std::unique_ptr<Fn>(std::uint32_t subtask)>;
  static_assert(std::is_base_of_v<Source<output_type>, Fn>, "the function must be a Source<T>");

  template <class F>
  explicit SourceTestHarness(F make, TestHarnessOptions options = {})
      : Base(options), make_(detail::harness_factory<Fn>(std::move(make))) {}

  /// One poll_next(); then the source's watermark is passed on if it rose.
  /// A finished source is not polled again.
  SourceStatus poll_next() {
    auto& i = typed(this->running());
    if (i.finished) return SourceStatus::finished;
    this->collector().set_timestamp(no_timestamp);
    const auto status = i.fn->poll_next(this->collector());
    if (const auto wm = i.fn->current_watermark(); wm > i.watermark) {
      i.watermark = wm;
      this->emit_watermark(wm);
    }
    if (status == SourceStatus::finished) i.finished = true;
    return status;
  }
  /// Polls while the source says `more`, at most `max_polls` times; returns
  /// the last status (`more` only when max_polls ran out).
  SourceStatus poll_while_more(std::size_t max_polls = 1'000'000) {
    auto status = SourceStatus::more;
    for (std::size_t n = 0; n < max_polls && status == SourceStatus::more; ++n) status = poll_next();
    return status;
  }
  /// Whether the source reported `finished`.
  bool is_finished() const noexcept {
    const auto* i = this->current_instance();
    return i && static_cast<const Instance*>(i)->finished;
  }
  std::int64_t current_watermark() const noexcept {
    const auto* i = this->current_instance();
    return i ? i->watermark : no_timestamp;
  }
  /// Whether every split the source reads is idle now (Source::watermark_idle()).
  bool watermark_idle() { return typed(this->instance()).fn->watermark_idle(); }

  Fn& function() { return *typed(this->instance()).fn; }

 private:
  friend Base;

  struct Instance final : detail::FunctionInstance<Fn> {
    using detail::FunctionInstance<Fn>::FunctionInstance;
    bool finished = false;
  };

  static Instance& typed(detail::HarnessInstance& i) noexcept { return static_cast<Instance&>(i); }
  std::unique_ptr<detail::HarnessInstance> make_instance() {
    return std::make_unique<Instance>(this->options(), make_(this->subtask_index()));
  }
  SourceTestHarness with_options(const TestHarnessOptions& options) const { return SourceTestHarness(make_, options); }
  void on_new_instance() { this->clear_output(); }

  Factory make_;
};

template <class F>
SourceTestHarness(F) -> SourceTestHarness<detail::harness_function_t<F>>;
template <class F>
SourceTestHarness(F, TestHarnessOptions) -> SourceTestHarness<detail::harness_function_t<F>>;

}  // namespace ckpt
