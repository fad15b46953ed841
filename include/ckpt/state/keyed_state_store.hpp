#pragma once
// KeyedStateStore<Key>: the keyed state of one subtask as user code sees it,
// whichever backend keeps it (Flink's KeyedStateStore). Functions declare
// their state through it, so the backend is a matter of configuration:
//
//   void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
//     auto& store = ctx.keyed_state_backend<std::string>();  // heap or RocksDB
//     count_ = store.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0});
//   }
//
// The heap backend (KeyedStateBackend<Key>) answers get_state() with its own
// typed states; a backend that keeps bytes (the RocksDB one) answers through
// declare_kv() with a KvStateSpec (kv_state.hpp) that carries what depends on
// the state's types, so it needs no template per state type.

#include <ckpt/error.hpp>
#include <ckpt/state/aggregating_state.hpp>
#include <ckpt/state/detail/key_hash.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/keyed_state_backend_base.hpp>
#include <ckpt/state/kv_state.hpp>
#include <ckpt/state/list_state.hpp>
#include <ckpt/state/map_state.hpp>
#include <ckpt/state/reducing_state.hpp>
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/state/state_types.hpp>
#include <ckpt/state/value_state.hpp>

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace ckpt {

template <StateKey Key, class Hash, class KeyEqual>
class KeyedStateBackend;

template <StateKey Key>
class KeyedStateStore : public KeyedStateBackendBase {
 public:
  using key_type = Key;

  // -- the current key ---------------------------------------------------

  /// Makes `key` the key every state access applies to; a StateError if
  /// its key group is not this backend's.
  virtual void set_current_key(const Key& key) = 0;
  virtual bool has_current_key() const noexcept = 0;
  /// A StateError (no_current_key) before the first set_current_key().
  virtual const Key& current_key() const = 0;
  virtual std::uint32_t current_key_group() const = 0;
  /// The key group of any key under this backend's max parallelism.
  std::uint32_t key_group_of(const Key& key) const { return key_group_for(key, max_parallelism()); }

  // -- declaring state -------------------------------------------------------
  // Declaring a state again under the same name, kind and types gives the
  // same state; under other types it is a StateError (state_type_mismatch).

  template <class T>
  ValueState<T> get_state(const ValueStateDescriptor<T>& d) {
    if (auto* heap = as_heap()) return heap->get_state(d);
    return ValueState<T>(declared<detail::ValueStateImpl<T>>(kv_state_spec<Key>(d)));
  }
  template <class T>
  ListState<T> get_list_state(const ListStateDescriptor<T>& d) {
    if (auto* heap = as_heap()) return heap->get_list_state(d);
    return ListState<T>(declared<detail::ListStateImpl<T>>(kv_state_spec<Key>(d)));
  }
  template <class UK, class UV>
  MapState<UK, UV> get_map_state(const MapStateDescriptor<UK, UV>& d) {
    if (auto* heap = as_heap()) return heap->get_map_state(d);
    return MapState<UK, UV>(declared<detail::MapStateImpl<UK, UV>>(kv_state_spec<Key>(d)));
  }
  template <class T>
  ReducingState<T> get_reducing_state(const ReducingStateDescriptor<T>& d) {
    if (auto* heap = as_heap()) return heap->get_reducing_state(d);
    return ReducingState<T>(declared<detail::ReducingStateImpl<T>>(kv_state_spec<Key>(d)));
  }
  template <class In, class Acc, class Out>
  AggregatingState<In, Acc, Out> get_aggregating_state(const AggregatingStateDescriptor<In, Acc, Out>& d) {
    if (auto* heap = as_heap()) return heap->get_aggregating_state(d);
    return AggregatingState<In, Acc, Out>(declared<detail::AggregatingStateImpl<In, Out>>(kv_state_spec<Key>(d)));
  }

  // -- inspection ------------------------------------------------------------

  /// The keys that have an entry in a declared state (expired entries not
  /// cleaned up yet count); a StateError if no such state is declared.
  virtual std::vector<Key> keys(std::string_view state) = 0;
  /// Number of keys that have an entry in a declared state.
  virtual std::size_t size(std::string_view state) = 0;

 protected:
  /// Declares (or finds again) a state kept as bytes and returns it as
  /// *spec.interface. Only a byte-level backend is asked.
  virtual void* declare_kv(const KvStateSpec& spec) {
    throw StateError(errc::invalid_argument, "state '" + spec.meta.name + "' cannot be declared through this " +
                                                 "backend's KeyedStateStore; declare it on the backend itself");
  }

 private:
  using Heap = KeyedStateBackend<Key, detail::KeyHash<Key>, std::equal_to<Key>>;
  // The heap backend declares typed state itself; a dynamic_cast at
  // declaration (not per access) finds it.
  Heap* as_heap() { return dynamic_cast<Heap*>(this); }
  template <class Interface>
  Interface* declared(const KvStateSpec& spec) {
    return static_cast<Interface*>(declare_kv(spec));
  }
};

}  // namespace ckpt

// The heap backend answers get_state() for itself: it must be complete
// wherever a store's get_state() is instantiated, so this header brings it.
#include <ckpt/state/keyed_state_backend.hpp>
