#pragma once
// Keyed state kept as bytes: how a backend that stores serialized entries in
// an ordered key-value store (the RocksDB backend) serves ckpt's typed
// states without knowing their types, as Flink's RocksDB backend does with
// its TypeSerializers.
//
// The split: a KvStateSpec is built where the state's types are known (the
// user's get_state() call, through KeyedStateStore), and carries everything
// type-dependent as functions: the state's description (StateMeta), its
// canonical snapshot form (the heap backend's key-group sections, so a
// snapshot restores into either backend), and a typed state (ValueStateImpl
// and friends) over the byte-level core the backend builds for it (KvCell,
// KvList, KvMap). The backend keeps the bytes, the current key, the TTL
// timestamps (kv_encoding.hpp) and the snapshots; it is not a template of
// the state's types.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/boost_unordered.hpp>
#include <ckpt/serial/columns.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/serial/type_name.hpp>
#include <ckpt/state/aggregating_state.hpp>
#include <ckpt/state/detail/key_hash.hpp>
#include <ckpt/state/detail/keyed_table.hpp>
#include <ckpt/state/detail/kv_encoding.hpp>
#include <ckpt/state/detail/ttl_value.hpp>
#include <ckpt/state/list_state.hpp>
#include <ckpt/state/map_state.hpp>
#include <ckpt/state/reducing_state.hpp>
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/state/state_ttl_config.hpp>
#include <ckpt/state/value_state.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

namespace ckpt {
namespace detail {

/// Visits one key group's entries of a state in key order: fn(key, value),
/// the key without its key-group prefix (the serialized key, for map state
/// followed by the serialized user key).
using KvVisit = std::function<void(std::string_view key, std::string_view value)>;
using KvScan = std::function<void(const KvVisit&)>;
/// Stores one entry (the key without its key-group prefix).
using KvPut = std::function<void(const std::string& key, const std::string& value)>;

// -- the byte-level cores a backend builds, one per state -------------------
// Each applies to the backend's current key and the state's TTL (an expired
// value is invisible, or handed out once with return_expired_if_not_cleaned_up,
// and removed; on_read_and_write renews what is read), by the heap backend's
// rules; the bytes they take and give are values without timestamps.

class KvCore {
 public:
  virtual ~KvCore() = default;
  /// Names the state and its store, for errors in what the cores hold.
  virtual serial::ReadContext context() const = 0;
};

/// The current key's single value (value, reducing and aggregating state).
class KvCell : public virtual KvCore {
 public:
  /// The value's bytes, or null; valid until the next call.
  virtual const std::string* get() = 0;
  virtual void put(const std::string& value) = 0;
  virtual void erase() = 0;
};

/// The current key's list: one value of elements, appended to without a read.
class KvList : public virtual KvCore {
 public:
  virtual std::vector<std::string> get() = 0;
  virtual void add(const std::string& element) = 0;
  virtual void add_all(const std::vector<std::string>& elements) = 0;  // none: nothing changes
  virtual void update(const std::vector<std::string>& elements) = 0;   // none: cleared
  virtual void clear() = 0;
};

/// The current key's map: one entry per user key.
class KvMap : public virtual KvCore {
 public:
  /// The value of a (serialized) user key, or null; valid until the next call.
  virtual const std::string* find(const std::string& user_key) = 0;
  virtual void put(const std::string& user_key, const std::string& value) = 0;
  virtual bool remove(const std::string& user_key) = 0;
  virtual void for_each(const std::function<void(std::string_view user_key, std::string_view value)>& fn) = 0;
  virtual std::size_t size() = 0;
  virtual void clear() = 0;
};

/// What the backend built for a state: the core of its kind.
struct KvCores {
  std::shared_ptr<KvCell> cell;  // value, reducing, aggregating
  std::shared_ptr<KvList> list;
  std::shared_ptr<KvMap> map;
};

/// A typed state over its core: `owner` keeps it alive, `interface` is it
/// as the interface it was declared through (ValueStateImpl<T>, ...).
struct KvTypedState {
  std::shared_ptr<void> owner;
  void* interface = nullptr;
};

}  // namespace detail

/// Everything type-dependent a byte-level backend needs of one state.
struct KvStateSpec {
  StateMeta meta;                     // as the heap backend describes it
  std::optional<StateTtlConfig> ttl;  // set exactly when meta.ttl
  const std::type_info* interface = nullptr;  // what a second declaration must ask for again
  /// Appends the canonical section payload of one key group (the heap
  /// backend's), leaving out what expired at `now` with cleanup_in_snapshot.
  std::function<void(const detail::KvScan& scan, const serial::ReadContext& context, Bytes& out, std::int64_t now)>
      write_key_group;
  /// Stores the entries of a canonical section payload written as `written`
  /// (this state with or without TTL): timestamps kept when both have TTL,
  /// dropped when only the snapshot has, `now` when only this state has.
  std::function<void(ByteSpan payload, const StateMeta& written, const serial::ReadContext& context,
                     std::int64_t now, const detail::KvPut& put)>
      read_key_group;
  /// The typed state over the core the backend built for meta.kind.
  std::function<detail::KvTypedState(const detail::KvCores& cores)> make;
};

namespace detail {

/// A state's description, as every backend writes it into snapshots.
template <class Key, class Plain, class Descriptor>
StateMeta describe_state_of(const Descriptor& d, StateKind kind, std::uint32_t version) {
  const bool ttl = d.ttl().has_value();
  StateMeta meta;
  meta.name = d.name();
  meta.kind = kind;
  meta.key_type = type_name<Key>();
  meta.value_type = type_name<Plain>();
  meta.value_version = version;
  meta.key_encoding = encoding_of<Key>();
  meta.value_encoding = ttl ? encoding_of<typename TtlForm<Plain>::type>() : encoding_of<Plain>();
  meta.ttl = ttl;
  return meta;
}

// -- the canonical form of one key group, from and to kv entries -------------
// A Form says how one key's entries become the Stored value of a section
// (Plain, or with TTL TtlForm<Plain>::type) and back.

/// Value, reducing and aggregating state: one entry per key.
template <class Key, class V, bool Ttl>
struct KvCellForm {
  using Stored = std::conditional_t<Ttl, TtlValue<V>, V>;
  static void collect(const KvScan& scan, const serial::ReadContext& ctx, std::vector<std::pair<Key, Stored>>& out) {
    scan([&](std::string_view k, std::string_view v) {
      out.emplace_back(serial::decode<Key>(span_of(k), ctx), StoredBytes<Stored>::decode(v, ctx));
    });
  }
  static void store(const KvPut& put, const Key& key, const Stored& value) {
    std::string bytes;
    StoredBytes<Stored>::append(bytes, value);
    put(encode(key), bytes);
  }
};

/// List state: one entry per key, its elements (each stamped, with TTL).
template <class Key, class T, bool Ttl>
struct KvListForm {
  using Element = std::conditional_t<Ttl, TtlValue<T>, T>;
  using Stored = std::vector<Element>;
  static void collect(const KvScan& scan, const serial::ReadContext& ctx, std::vector<std::pair<Key, Stored>>& out) {
    scan([&](std::string_view k, std::string_view v) {
      auto list = decode_elements<Element>(v, ctx);
      if (!list.empty()) out.emplace_back(serial::decode<Key>(span_of(k), ctx), std::move(list));
    });
  }
  static void store(const KvPut& put, const Key& key, const Stored& list) {
    if (!list.empty()) put(encode(key), encode_elements(list));  // an empty list is no entry
  }
};

/// Map state: one entry per (key, user key); a section holds one map per key.
template <class Key, class UK, class UV, bool Ttl>
struct KvMapForm {
  using Value = std::conditional_t<Ttl, TtlValue<UV>, UV>;
  using Stored = boost::unordered_flat_map<UK, Value, KeyHash<UK>>;
  static void collect(const KvScan& scan, const serial::ReadContext& ctx, std::vector<std::pair<Key, Stored>>& out) {
    std::string last;  // the serialized key of out.back()
    scan([&](std::string_view k, std::string_view v) {
      const ByteSpan rest = span_of(k);
      serial::InputArchive ar(rest, ctx);
      Key key{};
      ar(key);
      const std::string_view key_bytes = k.substr(0, ar.position());
      UK user_key{};
      ar(user_key);
      if (ar.remaining() != 0)
        ar.fail(errc::corrupt_data, std::to_string(ar.remaining()) + " unexpected bytes after a map entry's user key");
      if (out.empty() || key_bytes != last) {
        out.emplace_back(std::move(key), Stored{});
        last.assign(key_bytes);
      }
      out.back().second.insert_or_assign(std::move(user_key), StoredBytes<Value>::decode(v, ctx));
    });
  }
  static void store(const KvPut& put, const Key& key, const Stored& map) {
    const std::string prefix = encode(key);
    for (const auto& [uk, uv] : map) {
      std::string entry = prefix;
      append_serialized(entry, uk);
      std::string bytes;
      StoredBytes<Value>::append(bytes, uv);
      put(entry, bytes);
    }
  }
};

/// The canonical codec of a state stored per key as `Plain` in a section;
/// `Forms::form<Ttl>` is its Form with or without TTL.
template <class Key, class Plain, class Forms>
void set_kv_codec(KvStateSpec& spec) {
  using Ttl = TtlForm<Plain>;
  if (spec.meta.ttl) {
    using Form = typename Forms::template form<true>;
    spec.write_key_group = [ttl = *spec.ttl](const KvScan& scan, const serial::ReadContext& ctx, Bytes& out,
                                             std::int64_t now) {
      std::vector<std::pair<Key, typename Form::Stored>> entries;
      serial::guarded_read(ctx, [&] { Form::collect(scan, ctx, entries); });
      if (ttl.cleanup_in_snapshot) {
        std::vector<std::pair<Key, typename Form::Stored>> live;
        live.reserve(entries.size());
        for (auto& [k, v] : entries)
          if (auto a = Ttl::alive(v, ttl, now)) live.emplace_back(std::move(k), std::move(*a));
        entries = std::move(live);
      }
      serial::write_entries<Key, typename Form::Stored>(out, entries);
    };
    spec.read_key_group = [](ByteSpan payload, const StateMeta& written, const serial::ReadContext& ctx,
                             std::int64_t now, const KvPut& put) {
      if (written.ttl) {
        serial::read_entries<Key, typename Form::Stored>(
            payload, ctx, [&](Key&& k, typename Form::Stored&& v) { Form::store(put, k, v); });
      } else {  // written without TTL: every entry starts its time-to-live now
        serial::read_entries<Key, Plain>(payload, ctx,
                                         [&](Key&& k, Plain&& v) { Form::store(put, k, Ttl::wrap(std::move(v), now)); });
      }
    };
  } else {
    using Form = typename Forms::template form<false>;
    spec.write_key_group = [](const KvScan& scan, const serial::ReadContext& ctx, Bytes& out, std::int64_t) {
      std::vector<std::pair<Key, typename Form::Stored>> entries;
      serial::guarded_read(ctx, [&] { Form::collect(scan, ctx, entries); });
      serial::write_entries<Key, typename Form::Stored>(out, entries);
    };
    spec.read_key_group = [](ByteSpan payload, const StateMeta& written, const serial::ReadContext& ctx,
                             std::int64_t, const KvPut& put) {
      if (!written.ttl) {
        serial::read_entries<Key, Plain>(payload, ctx, [&](Key&& k, Plain&& v) { Form::store(put, k, v); });
      } else {  // written with TTL, read without: the timestamps are dropped
        serial::read_entries<Key, typename Ttl::type>(
            payload, ctx, [&](Key&& k, typename Ttl::type&& v) { Form::store(put, k, Ttl::unwrap(std::move(v))); });
      }
    };
  }
}

// -- the typed states over the cores ------------------------------------------

template <class T>
class KvValueState final : public ValueStateImpl<T> {
 public:
  KvValueState(std::shared_ptr<KvCell> cell, std::optional<T> default_value)
      : cell_(std::move(cell)), default_(std::move(default_value).value_or(T{})) {}
  const T* find() override {
    const std::string* bytes = cell_->get();
    if (!bytes) return nullptr;
    cached_ = serial::decode<T>(span_of(*bytes), cell_->context());
    return &*cached_;
  }
  const T& default_value() const override { return default_; }
  void update(T value) override { cell_->put(encode(value)); }
  void clear() override { cell_->erase(); }

 private:
  std::shared_ptr<KvCell> cell_;
  T default_;
  std::optional<T> cached_;
};

template <class T>
class KvReducingState final : public ReducingStateImpl<T> {
 public:
  using Reduce = typename ReducingStateDescriptor<T>::ReduceFunction;
  KvReducingState(std::shared_ptr<KvCell> cell, Reduce reduce) : cell_(std::move(cell)), reduce_(std::move(reduce)) {}
  const T* find() override {
    const std::string* bytes = cell_->get();
    if (!bytes) return nullptr;
    cached_ = serial::decode<T>(span_of(*bytes), cell_->context());
    return &*cached_;
  }
  void add(T value) override {
    if (const T* current = find()) value = reduce_(*current, value);
    cell_->put(encode(value));
  }
  void clear() override { cell_->erase(); }

 private:
  std::shared_ptr<KvCell> cell_;
  Reduce reduce_;
  std::optional<T> cached_;
};

template <class In, class Acc, class Out>
class KvAggregatingState final : public AggregatingStateImpl<In, Out> {
 public:
  using Function = AggregateFunction<In, Acc, Out>;
  KvAggregatingState(std::shared_ptr<KvCell> cell, std::shared_ptr<const Function> function)
      : cell_(std::move(cell)), function_(std::move(function)) {}
  std::optional<Out> get() override {
    if (auto acc = read()) return function_->get_result(*acc);
    return std::nullopt;
  }
  void add(const In& value) override {
    auto acc = read();
    cell_->put(encode(function_->add(value, acc ? std::move(*acc) : function_->create_accumulator())));
  }
  void clear() override { cell_->erase(); }

 private:
  std::optional<Acc> read() {
    const std::string* bytes = cell_->get();
    if (!bytes) return std::nullopt;
    return serial::decode<Acc>(span_of(*bytes), cell_->context());
  }
  std::shared_ptr<KvCell> cell_;
  std::shared_ptr<const Function> function_;
};

template <class T>
class KvListState final : public ListStateImpl<T> {
 public:
  explicit KvListState(std::shared_ptr<KvList> list) : list_(std::move(list)) {}
  std::vector<T> get() override {
    const auto elements = list_->get();
    const auto ctx = list_->context();
    std::vector<T> out;
    out.reserve(elements.size());
    for (const auto& e : elements) out.push_back(serial::decode<T>(span_of(e), ctx));
    return out;
  }
  void add(T value) override { list_->add(encode(value)); }
  void add_all(std::vector<T> values) override { list_->add_all(encode_all(values)); }
  void update(std::vector<T> values) override { list_->update(encode_all(values)); }
  void clear() override { list_->clear(); }

 private:
  static std::vector<std::string> encode_all(const std::vector<T>& values) {
    std::vector<std::string> out;
    out.reserve(values.size());
    for (const auto& v : values) out.push_back(encode(v));
    return out;
  }
  std::shared_ptr<KvList> list_;
};

template <class UK, class UV>
class KvMapState final : public MapStateImpl<UK, UV> {
 public:
  explicit KvMapState(std::shared_ptr<KvMap> map) : map_(std::move(map)) {}
  const UV* find(const UK& key) override {
    const std::string* bytes = map_->find(encode(key));
    if (!bytes) return nullptr;
    cached_ = serial::decode<UV>(span_of(*bytes), map_->context());
    return &*cached_;
  }
  void put(UK key, UV value) override { map_->put(encode(key), encode(value)); }
  bool remove(const UK& key) override { return map_->remove(encode(key)); }
  void for_each(const std::function<void(const UK&, const UV&)>& fn) override {
    const auto ctx = map_->context();
    map_->for_each([&](std::string_view uk, std::string_view uv) {
      fn(serial::decode<UK>(span_of(uk), ctx), serial::decode<UV>(span_of(uv), ctx));
    });
  }
  std::size_t size() override { return map_->size(); }
  void clear() override { map_->clear(); }

 private:
  std::shared_ptr<KvMap> map_;
  std::optional<UV> cached_;
};

template <class Interface, class State, class... Args>
KvTypedState make_kv_typed(Args&&... args) {
  auto state = std::make_shared<State>(std::forward<Args>(args)...);
  Interface* interface = state.get();
  return {std::move(state), interface};
}

template <class Key, class V>
struct KvCellForms {
  template <bool Ttl>
  using form = KvCellForm<Key, V, Ttl>;
};
template <class Key, class T>
struct KvListForms {
  template <bool Ttl>
  using form = KvListForm<Key, T, Ttl>;
};
template <class Key, class UK, class UV>
struct KvMapForms {
  template <bool Ttl>
  using form = KvMapForm<Key, UK, UV, Ttl>;
};

template <class Key, class Plain, class Interface, class Forms, class Descriptor>
KvStateSpec kv_spec(const Descriptor& d, StateKind kind, std::uint32_t version) {
  KvStateSpec spec;
  spec.meta = describe_state_of<Key, Plain>(d, kind, version);
  spec.ttl = d.ttl();
  spec.interface = &typeid(Interface);
  set_kv_codec<Key, Plain, Forms>(spec);
  return spec;
}

}  // namespace detail

// -- the specs of the five kinds of state, for keys of type Key ---------------

template <class Key, class T>
KvStateSpec kv_state_spec(const ValueStateDescriptor<T>& d) {
  auto spec = detail::kv_spec<Key, T, detail::ValueStateImpl<T>, detail::KvCellForms<Key, T>>(d, StateKind::value,
                                                                                               type_version<T>());
  spec.make = [default_value = d.default_value()](const detail::KvCores& c) {
    return detail::make_kv_typed<detail::ValueStateImpl<T>, detail::KvValueState<T>>(c.cell, default_value);
  };
  return spec;
}

template <class Key, class T>
KvStateSpec kv_state_spec(const ListStateDescriptor<T>& d) {
  auto spec = detail::kv_spec<Key, std::vector<T>, detail::ListStateImpl<T>, detail::KvListForms<Key, T>>(
      d, StateKind::list, type_version<T>());
  spec.make = [](const detail::KvCores& c) {
    return detail::make_kv_typed<detail::ListStateImpl<T>, detail::KvListState<T>>(c.list);
  };
  return spec;
}

template <class Key, class UK, class UV>
KvStateSpec kv_state_spec(const MapStateDescriptor<UK, UV>& d) {
  using Plain = boost::unordered_flat_map<UK, UV, detail::KeyHash<UK>>;  // the heap backend's
  auto spec = detail::kv_spec<Key, Plain, detail::MapStateImpl<UK, UV>, detail::KvMapForms<Key, UK, UV>>(
      d, StateKind::map, type_version<UV>());
  spec.make = [](const detail::KvCores& c) {
    return detail::make_kv_typed<detail::MapStateImpl<UK, UV>, detail::KvMapState<UK, UV>>(c.map);
  };
  return spec;
}

template <class Key, class T>
KvStateSpec kv_state_spec(const ReducingStateDescriptor<T>& d) {
  auto spec = detail::kv_spec<Key, T, detail::ReducingStateImpl<T>, detail::KvCellForms<Key, T>>(
      d, StateKind::reducing, type_version<T>());
  spec.make = [reduce = d.reduce_function()](const detail::KvCores& c) {
    return detail::make_kv_typed<detail::ReducingStateImpl<T>, detail::KvReducingState<T>>(c.cell, reduce);
  };
  return spec;
}

template <class Key, class In, class Acc, class Out>
KvStateSpec kv_state_spec(const AggregatingStateDescriptor<In, Acc, Out>& d) {
  auto spec = detail::kv_spec<Key, Acc, detail::AggregatingStateImpl<In, Out>, detail::KvCellForms<Key, Acc>>(
      d, StateKind::aggregating, type_version<Acc>());
  spec.make = [function = d.aggregate_function()](const detail::KvCores& c) {
    return detail::make_kv_typed<detail::AggregatingStateImpl<In, Out>, detail::KvAggregatingState<In, Acc, Out>>(
        c.cell, function);
  };
  return spec;
}

}  // namespace ckpt
