#pragma once
// The broadcast-state pattern (Flink's KeyedBroadcastProcessFunction and
// BroadcastProcessFunction): `rules.broadcast(descriptors...)` sends every
// record of `rules` to every subtask, and `events.key_by(...).connect(it)`
// joins it to a keyed stream. process_broadcast_element() sees the broadcast
// state read-write (and may visit every key's keyed state through
// apply_to_keyed_state()); process_element() sees it read-only, beside keyed
// state and timers: every subtask must hold the same broadcast state, so
// only what every subtask sees (the broadcast input) may change it. The
// read-only view (ReadOnlyBroadcastState) has no writing members, so a write
// from the keyed side is a compile error.
//
// Broadcast state is operator broadcast state (OperatorStateStore::
// get_broadcast_state): checkpointed with the operator, and on restore at
// another parallelism every subtask gets a copy. The descriptors given to
// broadcast() are declared before the function's initialize_state(), so a
// restored broadcast state survives even if the function does not touch it.
// The broadcast input's records have no key; its watermarks count in the
// operator's minimum like any input's.

#include <ckpt/error.hpp>
#include <ckpt/function/co_process_function.hpp>
#include <ckpt/function/detail/adapted_function.hpp>
#include <ckpt/function/keyed_process_function.hpp>
#include <ckpt/function/side_outputs.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/state/broadcast_state.hpp>
#include <ckpt/state/keyed_state_store.hpp>
#include <ckpt/state/operator_state_store.hpp>
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/state/state_types.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace ckpt {

/// The broadcast states of a broadcast stream (or a broadcast harness):
/// declared on every subtask before its function's initialize_state().
class BroadcastStateDescriptors {
 public:
  BroadcastStateDescriptors() = default;
  template <class K, class V, class... More>
  explicit BroadcastStateDescriptors(const MapStateDescriptor<K, V>& first, const More&... more) {
    add(first);
    (add(more), ...);
  }
  template <class K, class V>
  void add(const MapStateDescriptor<K, V>& d) {
    declare_.push_back([d](OperatorStateStore& store) { (void)store.get_broadcast_state(d); });
  }
  void declare(OperatorStateStore& store) const {
    for (const auto& d : declare_) d(store);
  }
  std::size_t size() const noexcept { return declare_.size(); }

 private:
  std::vector<std::function<void(OperatorStateStore&)>> declare_;
};

namespace detail {

/// Where a broadcast function's contexts find the subtask's operator state.
class BroadcastStateAccess {
 public:
  virtual ~BroadcastStateAccess() = default;
  /// Not for users: the store the broadcast states live in.
  virtual OperatorStateStore& broadcast_state_store() = 0;
};

/// `Base` (a context of the non-broadcast side) with the broadcast state, read-only.
template <class Base>
class ReadOnlyBroadcastContext : public Base, public BroadcastStateAccess {
 public:
  template <class K, class V>
  ReadOnlyBroadcastState<K, V> get_broadcast_state(const MapStateDescriptor<K, V>& d) {
    return ReadOnlyBroadcastState<K, V>(broadcast_state_store().get_broadcast_state(d));
  }
};

/// The context of the broadcast side: the broadcast state, read-write.
template <class Element, class Out>
class BroadcastContext : public ProcessFunction<Element, Out>::Context, public BroadcastStateAccess {
 public:
  template <class K, class V>
  BroadcastState<K, V> get_broadcast_state(const MapStateDescriptor<K, V>& d) {
    return broadcast_state_store().get_broadcast_state(d);
  }
};

template <class K, class T>
ValueState<T> keyed_state_of(KeyedStateStore<K>& s, const ValueStateDescriptor<T>& d) {
  return s.get_state(d);
}
template <class K, class T>
ListState<T> keyed_state_of(KeyedStateStore<K>& s, const ListStateDescriptor<T>& d) {
  return s.get_list_state(d);
}
template <class K, class UK, class UV>
MapState<UK, UV> keyed_state_of(KeyedStateStore<K>& s, const MapStateDescriptor<UK, UV>& d) {
  return s.get_map_state(d);
}
template <class K, class T>
ReducingState<T> keyed_state_of(KeyedStateStore<K>& s, const ReducingStateDescriptor<T>& d) {
  return s.get_reducing_state(d);
}

}  // namespace detail

template <StateKey K, class A, class B, class Out>
class KeyedBroadcastProcessFunction : public StreamFunction {
 public:
  using key_type = K;
  using input_type = A;
  using broadcast_type = B;
  using output_type = Out;
  using element_type = TwoInputElement<A, B>;

  /// The keyed side's: current_key(), timestamp(), timer_service(),
  /// output(tag, value) and get_broadcast_state(d), read-only.
  using ReadOnlyContext =
      detail::ReadOnlyBroadcastContext<typename KeyedProcessFunction<K, element_type, Out>::Context>;
  class OnTimerContext : public ReadOnlyContext {
   public:
    virtual TimeDomain time_domain() const = 0;
  };
  /// The broadcast side's: timestamp(), output(tag, value), get_broadcast_state(d)
  /// read-write, and apply_to_keyed_state().
  class Context : public detail::BroadcastContext<element_type, Out> {
   public:
    /// Calls fn(key, state) for every key of this subtask that has an entry in
    /// the keyed state `descriptor` (a Value-, List-, Map- or ReducingStateDescriptor),
    /// with that key current, so fn may read, update or clear it.
    template <class Descriptor, class F>
    void apply_to_keyed_state(const Descriptor& descriptor, F&& fn) {
      auto& store = keyed_state_store();
      auto state = detail::keyed_state_of(store, descriptor);
      for (const auto& key : store.keys(descriptor.name())) {
        store.set_current_key(key);
        fn(key, state);
      }
    }
    /// Not for users: the keyed state of the subtask.
    virtual KeyedStateStore<K>& keyed_state_store() = 0;
  };

  virtual void process_element(const A& value, ReadOnlyContext& ctx, Collector<Out>& out) = 0;
  virtual void process_broadcast_element(const B& value, Context& ctx, Collector<Out>& out) = 0;
  virtual void on_timer(std::int64_t timestamp, OnTimerContext& ctx, Collector<Out>& out) {
    (void)timestamp;
    (void)ctx;
    (void)out;
  }
};

template <class A, class B, class Out>
class BroadcastProcessFunction : public StreamFunction {
 public:
  using input_type = A;
  using broadcast_type = B;
  using output_type = Out;
  using element_type = TwoInputElement<A, B>;

  /// timestamp(), output(tag, value) and get_broadcast_state(d), read-only.
  using ReadOnlyContext =
      detail::ReadOnlyBroadcastContext<typename ProcessFunction<element_type, Out>::Context>;
  /// timestamp(), output(tag, value) and get_broadcast_state(d), read-write.
  using Context = detail::BroadcastContext<element_type, Out>;

  virtual void process_element(const A& value, ReadOnlyContext& ctx, Collector<Out>& out) = 0;
  virtual void process_broadcast_element(const B& value, Context& ctx, Collector<Out>& out) = 0;
};

namespace detail {

/// Declares the broadcast states, keeps the operator state store for the contexts.
template <class Base, class Inner>
class BroadcastAdapterBase : public AdaptedFunction<Base, Inner>, public BroadcastStateAccess {
 public:
  BroadcastAdapterBase(std::unique_ptr<Inner> inner, BroadcastStateDescriptors descriptors)
      : AdaptedFunction<Base, Inner>(std::move(inner)), descriptors_(std::move(descriptors)) {}
  void initialize_state(FunctionInitializationContext& ctx) override {
    store_ = &ctx.operator_state_store();
    descriptors_.declare(*store_);
    this->inner_->initialize_state(ctx);
  }
  OperatorStateStore& broadcast_state_store() override {
    if (!store_)
      throw StateError(errc::invalid_argument, "broadcast state is used before initialize_state()");
    return *store_;
  }

 private:
  BroadcastStateDescriptors descriptors_;
  OperatorStateStore* store_ = nullptr;
};

/// A KeyedBroadcastProcessFunction as the KeyedProcessFunction of its
/// TwoInputElement; the broadcast input's records have no key.
template <class K, class A, class B, class Out>
class KeyedBroadcastAdapter final
    : public BroadcastAdapterBase<KeyedProcessFunction<K, TwoInputElement<A, B>, Out>,
                                  KeyedBroadcastProcessFunction<K, A, B, Out>>,
      public PartlyKeyedInput<TwoInputElement<A, B>> {
  using Keyed = KeyedProcessFunction<K, TwoInputElement<A, B>, Out>;
  using Fn = KeyedBroadcastProcessFunction<K, A, B, Out>;

 public:
  using BroadcastAdapterBase<Keyed, Fn>::BroadcastAdapterBase;

  void initialize_state(FunctionInitializationContext& ctx) override {
    keyed_ = &ctx.keyed_state_backend<K>();
    BroadcastAdapterBase<Keyed, Fn>::initialize_state(ctx);
  }
  bool has_key(const TwoInputElement<A, B>& value) const override { return value.index() == 0; }

  void process_element(const TwoInputElement<A, B>& value, typename Keyed::Context& ctx,
                       Collector<Out>& out) override {
    if (value.index() == 0) {
      KeyedSide side(*this, ctx, TimeDomain::event_time);
      this->inner_->process_element(std::get<0>(value), side, out);
    } else {
      BroadcastSide side(*this, ctx);
      this->inner_->process_broadcast_element(std::get<1>(value), side, out);
    }
  }
  void on_timer(std::int64_t timestamp, typename Keyed::OnTimerContext& ctx, Collector<Out>& out) override {
    KeyedSide side(*this, ctx, ctx.time_domain());
    this->inner_->on_timer(timestamp, side, out);
  }

 private:
  class KeyedSide final : public Fn::OnTimerContext {
   public:
    KeyedSide(KeyedBroadcastAdapter& a, typename Keyed::Context& ctx, TimeDomain domain)
        : a_(a), ctx_(ctx), domain_(domain) {}
    const K& current_key() const override { return ctx_.current_key(); }
    std::int64_t timestamp() const override { return ctx_.timestamp(); }
    TimerService& timer_service() override { return ctx_.timer_service(); }
    SideOutputs* side_outputs() override { return ctx_.side_outputs(); }
    TimeDomain time_domain() const override { return domain_; }
    OperatorStateStore& broadcast_state_store() override { return a_.broadcast_state_store(); }

   private:
    KeyedBroadcastAdapter& a_;
    typename Keyed::Context& ctx_;
    TimeDomain domain_;
  };
  class BroadcastSide final : public Fn::Context {
   public:
    BroadcastSide(KeyedBroadcastAdapter& a, typename Keyed::Context& ctx) : a_(a), ctx_(ctx) {}
    std::int64_t timestamp() const override { return ctx_.timestamp(); }
    SideOutputs* side_outputs() override { return ctx_.side_outputs(); }
    OperatorStateStore& broadcast_state_store() override { return a_.broadcast_state_store(); }
    KeyedStateStore<K>& keyed_state_store() override { return *a_.keyed_; }

   private:
    KeyedBroadcastAdapter& a_;
    typename Keyed::Context& ctx_;
  };

  KeyedStateStore<K>* keyed_ = nullptr;
};

/// A BroadcastProcessFunction as the ProcessFunction of its TwoInputElement.
template <class A, class B, class Out>
class BroadcastAdapter final : public BroadcastAdapterBase<ProcessFunction<TwoInputElement<A, B>, Out>,
                                                           BroadcastProcessFunction<A, B, Out>> {
  using Process = ProcessFunction<TwoInputElement<A, B>, Out>;
  using Fn = BroadcastProcessFunction<A, B, Out>;

 public:
  using BroadcastAdapterBase<Process, Fn>::BroadcastAdapterBase;

  void process_element(const TwoInputElement<A, B>& value, Collector<Out>& out) override {
    if (value.index() == 0) {
      Side<typename Fn::ReadOnlyContext> side(*this, this->context());
      this->inner_->process_element(std::get<0>(value), side, out);
    } else {
      Side<typename Fn::Context> side(*this, this->context());
      this->inner_->process_broadcast_element(std::get<1>(value), side, out);
    }
  }

 private:
  template <class Ctx>
  class Side final : public Ctx {
   public:
    Side(BroadcastAdapter& a, typename Process::Context& ctx) : a_(a), ctx_(ctx) {}
    std::int64_t timestamp() const override { return ctx_.timestamp(); }
    SideOutputs* side_outputs() override { return ctx_.side_outputs(); }
    OperatorStateStore& broadcast_state_store() override { return a_.broadcast_state_store(); }

   private:
    BroadcastAdapter& a_;
    typename Process::Context& ctx_;
  };
};

}  // namespace detail
}  // namespace ckpt
