#pragma once
// The per-record and per-timer logic of a keyed process function, shared by
// the runtime's KeyedProcessTask and the test harness (ckpt/testing), so a
// function behaves the same in both: the operator owns the subtask's keyed
// state backend and timer service, makes each record's key current, stamps
// what the function collects with the record's timestamp (or an event-time
// timer's), and fires timers in timestamp order with their key current.
//
// Its life: construct; the function's initialize_state() (after any restore
// of the backend); open(), which starts the timer service on the timers in
// the backend; then records, watermarks and processing-time advances.

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/function/keyed_process_function.hpp>
#include <ckpt/runtime/stream_element.hpp>
#include <ckpt/state/timer_service.hpp>
#include <ckpt/runtime/timestamped_collector.hpp>
#include <ckpt/state/keyed_state_backend.hpp>
#include <ckpt/state/keyed_state_store.hpp>
#include <ckpt/state/kv_keyed_state_backend.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

namespace ckpt::detail {

template <class K, class In, class Out>
class KeyedProcessOperator {
 public:
  using Function = KeyedProcessFunction<K, In, Out>;

  /// Subtask `subtask` of `parallelism`; `clock` gives processing time to
  /// timers and state TTL, and must outlive the operator, as must `out`.
  /// Keyed state lives in the heap backend, or in what `backend` makes
  /// (e.g. ckpt::rocksdb::keyed_backend()) when it is set.
  KeyedProcessOperator(std::uint32_t subtask, std::uint32_t parallelism, std::uint32_t max_parallelism,
                       const Clock& clock, std::unique_ptr<Function> fn, std::function<K(const In&)> key_of,
                       TimestampedCollector<Out>& out, const KeyedBackendFactory& backend = {})
      : clock_(clock),
        backend_(make_backend(subtask, parallelism, max_parallelism, clock, backend)),
        fn_(std::move(fn)),
        key_of_(std::move(key_of)),
        out_(out),
        context_(*this) {
    if (!fn_) throw ConfigError(errc::invalid_argument, "the keyed process function is null");
    partly_keyed_ = dynamic_cast<const PartlyKeyedInput<In>*>(fn_.get());
  }
  KeyedProcessOperator(const KeyedProcessOperator&) = delete;
  KeyedProcessOperator& operator=(const KeyedProcessOperator&) = delete;

  KeyedStateStore<K>& backend() noexcept { return *backend_; }
  const KeyedStateStore<K>& backend() const noexcept { return *backend_; }
  Function& function() noexcept { return *fn_; }
  /// Where the function's ctx.output(tag, value) goes (null: dropped); must outlive the operator.
  void set_side_outputs(SideOutputs* side_outputs) noexcept { side_outputs_ = side_outputs; }

  /// Starts the timer service on the timers in the backend (restored ones
  /// included). After the function's initialize_state(), so the function's
  /// states are declared first, as in every snapshot.
  void open() {
    timers_ = std::make_unique<Timers>(*backend_, [&clock = clock_] { return clock.epoch_millis(); });
  }
  bool is_open() const noexcept { return timers_ != nullptr; }
  using Timers = InternalTimerService<K, KeyedStateStore<K>>;
  Timers& timer_service() { return *checked_timers(); }
  const Timers& timer_service() const { return *checked_timers(); }

  /// One record: its key becomes current (unless it has none: a broadcast
  /// input's), then the function processes it.
  void process_element(const Record<In>& record) {
    (void)checked_timers();
    if (!partly_keyed_ || partly_keyed_->has_key(record.value)) backend_->set_current_key(key_of_(record.value));
    out_.set_timestamp(record.timestamp);
    context_.timestamp_ = record.timestamp;
    fn_->process_element(record.value, context_, out_);
  }
  /// Event time reached `watermark`: fires every event-time timer at or before it.
  void process_watermark(std::int64_t watermark) { checked_timers()->advance_watermark(watermark, fire_); }
  /// The earliest processing-time timer, if any.
  std::optional<std::int64_t> next_processing_time() const { return checked_timers()->next_processing_time(); }
  /// Processing time reached `now`: fires every processing-time timer at or before it.
  void advance_processing_time(std::int64_t now) { checked_timers()->advance_processing_time(now, fire_); }

 private:
  class Context final : public Function::OnTimerContext {
   public:
    explicit Context(KeyedProcessOperator& op) : op_(op) {}
    const K& current_key() const override { return op_.backend_->current_key(); }
    std::int64_t timestamp() const override { return timestamp_; }
    TimerService& timer_service() override { return *op_.checked_timers(); }
    TimeDomain time_domain() const override { return domain_; }
    SideOutputs* side_outputs() override { return op_.side_outputs_; }
    std::int64_t timestamp_ = no_timestamp;
    TimeDomain domain_ = TimeDomain::event_time;

   private:
    KeyedProcessOperator& op_;
  };

  static std::unique_ptr<KeyedStateStore<K>> make_backend(std::uint32_t subtask, std::uint32_t parallelism,
                                                          std::uint32_t max_parallelism, const Clock& clock,
                                                          const KeyedBackendFactory& factory) {
    auto o = KeyedStateBackendOptions::for_subtask(subtask, parallelism, max_parallelism);
    o.clock = &clock;
    if (!factory) return std::make_unique<KeyedStateBackend<K>>(o);
    return std::make_unique<KvKeyedStateStore<K>>(
        factory(KvKeyedStateStore<K>::settings(max_parallelism, *o.key_groups, &clock, subtask)));
  }

  Timers* checked_timers() const {
    if (!timers_)
      throw StateError(errc::invalid_argument, "the keyed operator is not open: call open() after initialize_state()");
    return timers_.get();
  }

  void fire(std::int64_t t, TimeDomain d) {
    context_.timestamp_ = d == TimeDomain::event_time ? t : no_timestamp;
    context_.domain_ = d;
    out_.set_timestamp(context_.timestamp_);
    fn_->on_timer(t, context_, out_);
  }

  const Clock& clock_;
  std::unique_ptr<KeyedStateStore<K>> backend_;
  std::unique_ptr<Function> fn_;
  std::function<K(const In&)> key_of_;
  TimestampedCollector<Out>& out_;
  Context context_;
  std::unique_ptr<Timers> timers_;
  SideOutputs* side_outputs_ = nullptr;
  const PartlyKeyedInput<In>* partly_keyed_ = nullptr;  // a broadcast input's records have no key
  typename Timers::Fire fire_ = [this](const K&, std::int64_t t, TimeDomain d) { fire(t, d); };
};

}  // namespace ckpt::detail
