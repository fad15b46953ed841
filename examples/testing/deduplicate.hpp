#pragma once
// Deduplicate: passes the first message with each id and drops repeats. An
// id is remembered until its event-time horizon passes (a timer at the
// message's timestamp + horizon clears it) or, at the latest, for a
// processing-time TTL (so ids of messages without timestamps, or whose
// watermark never comes, do not pile up in state).

#include <ckpt/function/keyed_process_function.hpp>
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/state/state_ttl_config.hpp>
#include <ckpt/state/value_state.hpp>

#include <cereal/types/string.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace example {

struct Message {
  std::string id;
  std::string body;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, body);
  }
  friend bool operator==(const Message&, const Message&) = default;
};

class Deduplicate final : public ckpt::KeyedProcessFunction<std::string, Message, Message> {
 public:
  Deduplicate(std::chrono::milliseconds ttl, std::int64_t event_time_horizon)
      : ttl_(ttl), horizon_(event_time_horizon) {}

  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    ckpt::ValueStateDescriptor<bool> seen{"seen", false};
    seen.enable_time_to_live(ckpt::StateTtlConfig::of(ttl_));  // on create and write, never return expired
    seen_ = ctx.keyed_state_backend<std::string>().get_state(seen);
  }

  void process_element(const Message& m, Context& ctx, ckpt::Collector<Message>& out) override {
    if (seen_.value()) return;  // a repeat
    seen_.update(true);
    out.collect(m);
    if (ctx.timestamp() != ckpt::no_timestamp) ctx.timer_service().register_event_time_timer(ctx.timestamp() + horizon_);
  }

  void on_timer(std::int64_t, OnTimerContext&, ckpt::Collector<Message>&) override {
    seen_.clear();  // event time passed the horizon: the id may come again
  }

 private:
  std::chrono::milliseconds ttl_;
  std::int64_t horizon_;
  ckpt::ValueState<bool> seen_;
};

}  // namespace example
