#pragma once
// A keyed state backend whose state lives in RocksDB, for state larger than
// memory. It hands out ckpt's own handle types (ValueState<T>, ListState<T>,
// MapState<UK, UV>) with the heap backend's descriptors and StateErrors:
//
//   ckpt::rocksdb::RocksDBKeyedStateBackend<std::string> backend(
//       ckpt::rocksdb::RocksDBOptions::in("/var/lib/svc/rocksdb"), ckpt::KeyGroupRange::all(128), 128);
//   auto clicks = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"clicks", 0});
//   backend.set_current_key("alice");
//   clicks.update(clicks.value() + 1);
//
// Not yet: TTL, timers, snapshots (see the
// README's RocksDB section); it is not yet a KeyedStateBackendBase.

#include <ckpt/error.hpp>
#include <ckpt/rocksdb/key_layout.hpp>
#include <ckpt/rocksdb/rocksdb_instance.hpp>
#include <ckpt/rocksdb/rocksdb_options.hpp>
#include <ckpt/rocksdb/rocksdb_states.hpp>
#include <ckpt/serial/type_name.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/state_descriptor.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace ckpt::rocksdb {

template <class Key>
class RocksDBKeyedStateBackend {
 public:
  RocksDBKeyedStateBackend(RocksDBOptions options, KeyGroupRange range,
                           std::uint32_t max_parallelism = default_max_parallelism)
      : max_parallelism_((validate_parallelism(max_parallelism), max_parallelism)),
        range_(range),
        db_(std::move(options)) {
    if (range_.empty() || range_.end > max_parallelism_)
      throw ConfigError(errc::invalid_argument, "key groups " + range_.to_string() +
                                                    " are not a non-empty part of [0, " +
                                                    std::to_string(max_parallelism_) + ")");
  }

  std::uint32_t max_parallelism() const noexcept { return max_parallelism_; }
  KeyGroupRange key_groups() const noexcept { return range_; }

  void set_current_key(const Key& key) {
    const auto kg = key_group_for(key, max_parallelism_);
    if (!range_.contains(kg))
      throw StateError(errc::key_group_out_of_range,
                       "key of type " + type_name<Key>() + " is in key group " + std::to_string(kg) +
                           ", outside this backend's key groups " + range_.to_string() +
                           "; route records by key group to the subtask that owns it");
    ctx_.prefix = state_key(kg, key);
    key_ = key;
  }
  bool has_current_key() const noexcept { return key_.has_value(); }
  const Key& current_key() const {
    (void)ctx_.require();
    return *key_;
  }

  template <class T>
  ValueState<T> get_state(const ValueStateDescriptor<T>& d) {
    return ValueState<T>(declare<RocksDBValueState<T>>(d, "value<" + type_name<T>() + ">", d.default_value()));
  }
  template <class T>
  ListState<T> get_list_state(const ListStateDescriptor<T>& d) {
    return ListState<T>(declare<RocksDBListState<T>>(d, "list<" + type_name<T>() + ">"));
  }
  template <class UK, class UV>
  MapState<UK, UV> get_map_state(const MapStateDescriptor<UK, UV>& d) {
    return MapState<UK, UV>(
        declare<RocksDBMapState<UK, UV>>(d, "map<" + type_name<UK>() + ", " + type_name<UV>() + ">"));
  }

  template <class T>
  ReducingState<T> get_reducing_state(const ReducingStateDescriptor<T>& d) {
    return ReducingState<T>(
        declare<RocksDBReducingState<T>>(d, "reducing<" + type_name<T>() + ">", d.reduce_function()));
  }
  template <class In, class Acc, class Out>
  AggregatingState<In, Acc, Out> get_aggregating_state(const AggregatingStateDescriptor<In, Acc, Out>& d) {
    return AggregatingState<In, Acc, Out>(declare<RocksDBAggregatingState<In, Acc, Out>>(
        d, "aggregating<" + type_name<In>() + ", " + type_name<Acc>() + ", " + type_name<Out>() + ">",
        d.aggregate_function()));
  }

  /// The database (for tests and tools: the column family of each state).
  RocksDBInstance& instance() noexcept { return db_; }

 private:
  struct Entry {
    std::string type;
    std::shared_ptr<void> impl;  // the typed state; `type` says which
  };

  template <class Impl, class Descriptor, class... Extra>
  Impl* declare(const Descriptor& d, const std::string& type, Extra&&... extra) {
    if (d.ttl())
      throw ConfigError(errc::invalid_argument,
                        "state '" + d.name() + "': TTL is not yet supported by the RocksDB backend");
    if (const auto it = states_.find(d.name()); it != states_.end()) {
      if (it->second.type != type)
        throw StateError(errc::state_type_mismatch, "state '" + d.name() + "' is already declared as " +
                                                        it->second.type + "; it cannot also be " + type);
      return static_cast<Impl*>(it->second.impl.get());
    }
    auto impl = std::make_shared<Impl>(db_, db_.column_family(d.name()), ctx_, std::forward<Extra>(extra)...);
    Impl* raw = impl.get();
    states_.emplace(d.name(), Entry{type, std::move(impl)});
    return raw;
  }

  std::uint32_t max_parallelism_;
  KeyGroupRange range_;
  RocksDBInstance db_;
  KeyContext ctx_;
  std::optional<Key> key_;
  std::map<std::string, Entry> states_;
};

}  // namespace ckpt::rocksdb
