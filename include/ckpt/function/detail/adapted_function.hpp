#pragma once
// AdaptedFunction<Base, Inner>: a function of the shape `Base` (a one-input
// process function) that runs a user function of another shape (`Inner`, a
// two-input one) and hands it every lifecycle call: state initialization,
// snapshots, checkpoint notifications, close, committed output. So the
// runtime's one-input tasks and test harnesses run two-input functions
// unchanged.

#include <ckpt/error.hpp>
#include <ckpt/function/checkpointed_function.hpp>
#include <ckpt/function/committed_output.hpp>

#include <cstdint>
#include <memory>
#include <utility>

namespace ckpt::detail {

template <class Base, class Inner>
class AdaptedFunction : public Base {
 public:
  explicit AdaptedFunction(std::unique_ptr<Inner> inner) : inner_(std::move(inner)) {
    if (!inner_)
      throw ConfigError(errc::invalid_argument, "the factory of a two-input function returned no function");
  }
  Inner& inner() noexcept { return *inner_; }

  void initialize_state(FunctionInitializationContext& ctx) override { inner_->initialize_state(ctx); }
  void snapshot_state(const FunctionSnapshotContext& ctx) override { inner_->snapshot_state(ctx); }
  void notify_checkpoint_complete(std::uint64_t id) override { inner_->notify_checkpoint_complete(id); }
  void notify_checkpoint_aborted(std::uint64_t id) override { inner_->notify_checkpoint_aborted(id); }
  void close() override { inner_->close(); }
  CommittedOutput* committed_output() override { return inner_->committed_output(); }

 protected:
  std::unique_ptr<Inner> inner_;
};

}  // namespace ckpt::detail
