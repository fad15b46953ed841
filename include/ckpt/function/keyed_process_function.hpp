#pragma once
// KeyedProcessFunction<K, In, Out>: per-key logic with keyed state and timers
// (Flink's KeyedProcessFunction). Records arrive with their key current, so
// every state access and timer applies to that key. Declare keyed state in
// initialize_state() through ctx.keyed_state_backend<K>(). K is a
// ckpt::StateKey (state_types.hpp).

#include <ckpt/function/output_tag.hpp>
#include <ckpt/function/side_outputs.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/state/state_types.hpp>
#include <ckpt/state/timer_service.hpp>

#include <cstdint>
#include <utility>

namespace ckpt {

template <StateKey K, class In, class Out>
class KeyedProcessFunction : public StreamFunction {
 public:
  using key_type = K;
  using input_type = In;
  using output_type = Out;

  class Context {
   public:
    virtual ~Context() = default;
    virtual const K& current_key() const = 0;
    /// The event time of the record (or timer) being processed.
    virtual std::int64_t timestamp() const = 0;
    virtual TimerService& timer_service() = 0;
    /// Sends `value` to the side output `tag`, stamped with timestamp().
    template <class T>
    void output(const OutputTag<T>& tag, T value) {
      if (auto* s = side_outputs()) s->emit(tag, std::move(value), timestamp());
    }
    /// Where output() goes; a Context that has none drops side outputs.
    virtual detail::SideOutputs* side_outputs() { return nullptr; }
  };
  class OnTimerContext : public Context {
   public:
    virtual TimeDomain time_domain() const = 0;
  };

  virtual void process_element(const In& value, Context& ctx, Collector<Out>& out) = 0;
  virtual void on_timer(std::int64_t timestamp, OnTimerContext& ctx, Collector<Out>& out) {
    (void)timestamp;
    (void)ctx;
    (void)out;
  }
};

namespace detail {

/// Implemented by a keyed function some of whose records have no key (those
/// of a broadcast input): the operator makes no key current for them.
template <class In>
class PartlyKeyedInput {
 public:
  virtual ~PartlyKeyedInput() = default;
  virtual bool has_key(const In& value) const = 0;
};

}  // namespace detail
}  // namespace ckpt
