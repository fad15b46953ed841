#pragma once
// AggregatingState<In, Acc, Out>: inputs folded into an accumulator per key by
// the descriptor's AggregateFunction; get() reads the result.

#include <ckpt/state/detail/state_error.hpp>

#include <optional>
#include <utility>

namespace ckpt {
namespace detail {
template <class In, class Out>
class AggregatingStateImpl {
 public:
  virtual ~AggregatingStateImpl() = default;
  virtual std::optional<Out> get() = 0;
  virtual void add(const In& value) = 0;
  virtual void clear() = 0;
};
}  // namespace detail

template <class In, class Acc, class Out>
class AggregatingState {
 public:
  using input_type = In;
  using accumulator_type = Acc;
  using result_type = Out;
  AggregatingState() = default;
  explicit AggregatingState(detail::AggregatingStateImpl<In, Out>* impl) noexcept : impl_(impl) {}

  /// The result for the current key, or nothing if nothing was added.
  std::optional<Out> get() const { return impl().get(); }
  void add(const In& value) { impl().add(value); }
  void clear() { impl().clear(); }

 private:
  detail::AggregatingStateImpl<In, Out>& impl() const {
    if (!impl_) detail::throw_unbound_state("AggregatingState");
    return *impl_;
  }
  detail::AggregatingStateImpl<In, Out>* impl_ = nullptr;
};

}  // namespace ckpt
