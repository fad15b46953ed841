#pragma once
// The RocksDB implementations of the keyed state interfaces (ValueStateImpl,
// ListStateImpl, MapStateImpl of state/), so user code keeps ckpt's handle
// types. Each state is one column family; the current key's RocksDB key
// (key group, serialized key) is kept by the backend in a KeyContext.
// Point access is one Get; map iteration is a bounded seek over the key's
// prefix; list append is one Merge; reducing and aggregating state read,
// combine and write back (Flink's RocksDB backend does the same).
//
// A state with a time-to-live (Ttl) stores with each value the processing
// time it was last written (or read, with on_read_and_write): the RocksDB
// value is an 8-byte little-endian timestamp (epoch milliseconds) followed by
// the serialized value, per element for list state and per entry for map
// state, as Flink stores TtlValue. Expired values are invisible (or handed
// out once, with return_expired_if_not_cleaned_up) and removed when they are
// accessed, by the heap backend's rules (state/detail/keyed_states.hpp).

#include <ckpt/bytes.hpp>
#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/rocksdb/key_layout.hpp>
#include <ckpt/rocksdb/rocksdb_instance.hpp>
#include <ckpt/rocksdb/status.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/state/aggregating_state.hpp>
#include <ckpt/state/detail/ttl_value.hpp>
#include <ckpt/state/list_state.hpp>
#include <ckpt/state/map_state.hpp>
#include <ckpt/state/reducing_state.hpp>
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/state/state_ttl_config.hpp>
#include <ckpt/state/value_state.hpp>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/slice.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ckpt::rocksdb {

/// The current key as the states see it: its RocksDB key prefix.
struct KeyContext {
  std::string prefix;  // key group + serialized key; empty: no current key
  const std::string& require() const {
    if (prefix.empty()) throw StateError(errc::no_current_key, "no current key; call set_current_key() first");
    return prefix;
  }
};

namespace detail {
using ckpt::detail::TtlValue;

inline ByteSpan span_of(std::string_view s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }
inline ByteSpan span_of(const std::string& s) { return span_of(std::string_view(s)); }
inline ByteSpan span_of(const ::rocksdb::Slice& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::string_view view_of(const ::rocksdb::Slice& s) { return {s.data(), s.size()}; }
template <class T>
std::string encode(const T& value) {
  std::string out;
  append_serialized(out, value);
  return out;
}

// -- the TTL layout: timestamp, then the serialized value ---------------------

inline constexpr std::size_t timestamp_bytes = 8;

inline void append_timestamp(std::string& out, std::int64_t t) {
  char b[timestamp_bytes];
  std::memcpy(b, &t, timestamp_bytes);
  out.append(b, timestamp_bytes);
}
/// The timestamp a stored value of a state with TTL begins with.
inline std::int64_t timestamp_of(std::string_view raw, const serial::ReadContext& ctx) {
  if (raw.size() < timestamp_bytes)
    throw CorruptionError(errc::corrupt_data, std::string(ctx.file), std::string(ctx.block),
                          std::string(ctx.file) + ", " + std::string(ctx.block) + ": a value of " +
                              std::to_string(raw.size()) + " bytes is shorter than its TTL timestamp");
  std::int64_t t = 0;
  std::memcpy(&t, raw.data(), timestamp_bytes);
  return t;
}
inline void set_timestamp(std::string& raw, std::int64_t t) { std::memcpy(raw.data(), &t, timestamp_bytes); }

/// How a stored value (a plain value, or with TTL a TtlValue) is laid out in
/// RocksDB bytes.
template <class S>
struct StoredBytes {
  static void append(std::string& out, const S& v) { append_serialized(out, v); }
  static S decode(std::string_view raw, const serial::ReadContext& ctx) { return serial::decode<S>(span_of(raw), ctx); }
};
template <class T>
struct StoredBytes<TtlValue<T>> {
  static void append(std::string& out, const TtlValue<T>& v) {
    append_timestamp(out, v.last_access);
    append_serialized(out, v.value);
  }
  static TtlValue<T> decode(std::string_view raw, const serial::ReadContext& ctx) {
    const auto t = timestamp_of(raw, ctx);
    return {serial::decode<T>(span_of(raw.substr(timestamp_bytes)), ctx), t};
  }
};

// -- list values: length-prefixed elements ------------------------------------

/// Appends one list element: u32 little-endian length, then its bytes.
inline void append_element_bytes(std::string& out, std::string_view e) {
  const auto n = static_cast<std::uint32_t>(e.size());
  char len[4];
  std::memcpy(len, &n, 4);
  out.append(len, 4);
  out += e;
}
/// Appends one list element (a T, or with TTL a TtlValue<T>).
template <class E>
void append_element(std::string& out, const E& value) {
  std::string e;
  StoredBytes<E>::append(e, value);
  append_element_bytes(out, e);
}
/// Calls fn(bytes) for each element of a list state value.
template <class Fn>
void for_each_element(std::string_view raw, const serial::ReadContext& ctx, Fn&& fn) {
  std::size_t at = 0;
  while (at < raw.size()) {
    std::uint32_t n = 0;
    if (raw.size() - at < 4 || (std::memcpy(&n, raw.data() + at, 4), raw.size() - at - 4 < n))
      throw CorruptionError(errc::corrupt_data, std::string(ctx.file), std::string(ctx.block),
                            std::string(ctx.file) + ", " + std::string(ctx.block) +
                                ": a list state value ends inside an element");
    fn(raw.substr(at + 4, n));
    at += 4 + n;
  }
}
/// The elements (E: T, or with TTL TtlValue<T>) of a list state value.
template <class E>
std::vector<E> decode_elements(std::string_view raw, const serial::ReadContext& ctx) {
  std::vector<E> out;
  for_each_element(raw, ctx, [&](std::string_view e) { out.push_back(StoredBytes<E>::decode(e, ctx)); });
  return out;
}
/// A list state value of `values`.
template <class E>
std::string encode_elements(const std::vector<E>& values) {
  std::string out;
  for (const auto& v : values) append_element(out, v);
  return out;
}

/// Everything a state is built with.
struct StateSettings {
  RocksDBInstance& db;
  ::rocksdb::ColumnFamilyHandle* cf;
  const KeyContext& ctx;
  std::string name;
  const Clock* clock;                  // processing time, for TTL
  std::optional<StateTtlConfig> ttl;   // set exactly for states with TTL
};

/// What the states share: the database, the column family, the key context,
/// the TTL config and the clock.
class StateBase {
 public:
  explicit StateBase(const StateSettings& s)
      : db_(s.db), cf_(s.cf), ctx_(s.ctx), block_("state '" + s.name + "'"), clock_(s.clock), ttl_(s.ttl) {}

 protected:
  serial::ReadContext context() const { return serial::ReadContext{db_.path(), block_}; }

  std::optional<std::string> get_raw(const std::string& key) const {
    std::string v;
    const auto s = db_.db().Get(::rocksdb::ReadOptions(), cf_, key, &v);
    if (s.IsNotFound()) return std::nullopt;
    check(s, db_.path(), "get");
    return v;
  }
  void put_raw(const std::string& key, const std::string& value) {
    check(db_.db().Put(write_options(), cf_, key, value), db_.path(), "put");
  }
  void delete_raw(const std::string& key) { check(db_.db().Delete(write_options(), cf_, key), db_.path(), "delete"); }
  void write(::rocksdb::WriteBatch& batch, const std::string& what) {
    if (batch.Count() != 0) check(db_.db().Write(write_options(), &batch), db_.path(), what);
  }
  static ::rocksdb::WriteOptions write_options() {
    ::rocksdb::WriteOptions w;
    w.disableWAL = true;  // durability comes from checkpoints, as in Flink
    return w;
  }

  std::int64_t now() const { return clock_->epoch_millis(); }
  const StateTtlConfig& ttl() const { return *ttl_; }
  bool give_expired() const {
    return ttl_->visibility == StateTtlConfig::Visibility::return_expired_if_not_cleaned_up;
  }
  bool touch_on_read() const { return ttl_->update_type == StateTtlConfig::UpdateType::on_read_and_write; }

  /// The bytes of `value` as the state stores it now (with TTL: stamped now).
  template <class V, bool Ttl>
  std::string stored(const V& value) const {
    std::string out;
    if constexpr (Ttl) append_timestamp(out, now());
    append_serialized(out, value);
    return out;
  }

  /// Reads the value of RocksDB key `key` into `out`; false if there is none
  /// to see. With TTL, by the heap backend's rules: an expired value is
  /// deleted (and seen once more with return_expired_if_not_cleaned_up), a
  /// live one read with on_read_and_write gets a new timestamp.
  template <class V, bool Ttl>
  bool read_entry(const std::string& key, std::optional<V>& out) {
    auto raw = get_raw(key);
    if (!raw) return false;
    if constexpr (!Ttl) {
      out = serial::decode<V>(span_of(*raw), context());
    } else {
      const auto t = now();
      if (ckpt::detail::expired(timestamp_of(*raw, context()), ttl(), t)) {
        delete_raw(key);
        if (!give_expired()) return false;
      } else if (touch_on_read()) {
        set_timestamp(*raw, t);
        put_raw(key, *raw);
      }
      out = serial::decode<V>(span_of(std::string_view(*raw).substr(timestamp_bytes)), context());
    }
    return true;
  }

  RocksDBInstance& db_;
  ::rocksdb::ColumnFamilyHandle* cf_;
  const KeyContext& ctx_;
  std::string block_;  // names the state in errors
  const Clock* clock_;
  std::optional<StateTtlConfig> ttl_;
};

/// The current key's single stored value (value, reducing and aggregating state).
template <class V, bool Ttl>
class Cell : protected StateBase {
 public:
  using StateBase::StateBase;

 protected:
  const V* find_cell() { return read_entry<V, Ttl>(ctx_.require(), cached_) ? &*cached_ : nullptr; }
  void put_cell(const V& value) { put_raw(ctx_.require(), stored<V, Ttl>(value)); }
  void erase_cell() { delete_raw(ctx_.require()); }

  std::optional<V> cached_;  // what find_cell() last returned
};
}  // namespace detail

template <class T, bool Ttl = false>
class RocksDBValueState final : public ckpt::detail::ValueStateImpl<T>, detail::Cell<T, Ttl> {
 public:
  RocksDBValueState(const detail::StateSettings& s, std::optional<T> default_value)
      : detail::Cell<T, Ttl>(s), default_(std::move(default_value).value_or(T{})) {}
  const T* find() override { return this->find_cell(); }
  const T& default_value() const override { return default_; }
  void update(T value) override { this->put_cell(value); }
  void clear() override { this->erase_cell(); }

 private:
  T default_;
};

template <class T, bool Ttl = false>
class RocksDBListState final : public ckpt::detail::ListStateImpl<T>, detail::StateBase {
 public:
  using Element = std::conditional_t<Ttl, detail::TtlValue<T>, T>;
  using StateBase::StateBase;
  std::vector<T> get() override {
    const std::string& k = ctx_.require();
    const auto raw = get_raw(k);
    if (!raw) return {};
    if constexpr (!Ttl) {
      return detail::decode_elements<T>(*raw, context());
    } else {
      auto elements = detail::decode_elements<Element>(*raw, context());
      const auto now = this->now();
      std::vector<T> out;
      bool any_expired = false;
      for (const auto& e : elements) {
        const bool gone = ckpt::detail::expired(e.last_access, ttl(), now);
        any_expired |= gone;
        if (!gone || give_expired()) out.push_back(e.value);
      }
      if (any_expired || touch_on_read()) {
        std::erase_if(elements, [&](const Element& e) { return ckpt::detail::expired(e.last_access, ttl(), now); });
        if (elements.empty()) {
          delete_raw(k);
        } else {
          if (touch_on_read())
            for (auto& e : elements) e.last_access = now;
          put_raw(k, detail::encode_elements(elements));
        }
      }
      return out;
    }
  }
  void add(T value) override {
    std::string e;
    detail::append_element(e, element(std::move(value)));
    check(db_.db().Merge(write_options(), cf_, ctx_.require(), e), db_.path(), "merge");
  }
  void add_all(std::vector<T> values) override {
    if (values.empty()) return;
    check(db_.db().Merge(write_options(), cf_, ctx_.require(), encode(std::move(values))), db_.path(), "merge");
  }
  void update(std::vector<T> values) override {
    if (values.empty()) return clear();
    put_raw(ctx_.require(), encode(std::move(values)));
  }
  void clear() override { delete_raw(ctx_.require()); }

 private:
  Element element(T&& v) const {
    if constexpr (Ttl) {
      return {std::move(v), now()};
    } else {
      return std::move(v);
    }
  }
  std::string encode(std::vector<T>&& values) const {
    std::string out;
    for (auto& v : values) detail::append_element(out, element(std::move(v)));
    return out;
  }
};

template <class UK, class UV, bool Ttl = false>
class RocksDBMapState final : public ckpt::detail::MapStateImpl<UK, UV>, detail::StateBase {
 public:
  using StateBase::StateBase;
  const UV* find(const UK& key) override { return read_entry<UV, Ttl>(entry(key), cached_) ? &*cached_ : nullptr; }
  void put(UK key, UV value) override { put_raw(entry(key), stored<UV, Ttl>(value)); }
  bool remove(const UK& key) override {
    const std::string k = entry(key);
    if (!get_raw(k)) return false;
    delete_raw(k);
    return true;
  }
  void for_each(const std::function<void(const UK&, const UV&)>& fn) override {
    if constexpr (!Ttl) {
      scan([&](const ::rocksdb::Slice& k, const ::rocksdb::Slice& v, std::size_t prefix) {
        fn(user_key(k, prefix), serial::decode<UV>(detail::span_of(v), context()));
      });
    } else {
      // Expired entries are deleted and live ones touched (on_read_and_write)
      // after the scan, in one batch.
      const auto now = this->now();
      ::rocksdb::WriteBatch batch;
      scan([&](const ::rocksdb::Slice& k, const ::rocksdb::Slice& v, std::size_t prefix) {
        const auto e = detail::StoredBytes<detail::TtlValue<UV>>::decode(detail::view_of(v), context());
        const bool gone = ckpt::detail::expired(e.last_access, ttl(), now);
        if (!gone || give_expired()) fn(user_key(k, prefix), e.value);
        if (gone) {
          check(batch.Delete(cf_, k), db_.path(), "delete an expired map entry (write batch)");
        } else if (touch_on_read()) {
          std::string touched(v.data(), v.size());
          detail::set_timestamp(touched, now);
          check(batch.Put(cf_, k, touched), db_.path(), "touch a map entry (write batch)");
        }
      });
      write(batch, "clean up map state");
    }
  }
  std::size_t size() override {
    std::size_t n = 0;
    if constexpr (!Ttl) {
      scan([&](const ::rocksdb::Slice&, const ::rocksdb::Slice&, std::size_t) { ++n; });
    } else {
      const auto now = this->now();
      scan([&](const ::rocksdb::Slice&, const ::rocksdb::Slice& v, std::size_t) {
        n += ckpt::detail::expired(detail::timestamp_of(detail::view_of(v), context()), ttl(), now) ? 0 : 1;
      });
    }
    return n;
  }
  void clear() override {
    ::rocksdb::WriteBatch batch;
    scan([&](const ::rocksdb::Slice& k, const ::rocksdb::Slice&, std::size_t) {
      check(batch.Delete(cf_, k), db_.path(), "clear map state (write batch)");
    });
    write(batch, "clear map state");
  }

 private:
  std::string entry(const UK& key) const {
    std::string k = ctx_.require();
    append_serialized(k, key);
    return k;
  }
  UK user_key(const ::rocksdb::Slice& k, std::size_t prefix) const {
    return serial::decode<UK>(ByteSpan{reinterpret_cast<const std::byte*>(k.data() + prefix), k.size() - prefix},
                              context());
  }
  /// Calls fn(key, value, prefix length) for every entry of the current key,
  /// by a seek bounded above by the prefix's successor.
  template <class Fn>
  void scan(Fn fn) {
    const std::string& p = ctx_.require();
    std::string upper = p;
    while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xffu) upper.pop_back();
    if (!upper.empty()) upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
    ::rocksdb::Slice upper_slice(upper);
    ::rocksdb::ReadOptions ro;
    if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<::rocksdb::Iterator> it(db_.db().NewIterator(ro, cf_));
    for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) fn(it->key(), it->value(), p.size());
    check(it->status(), db_.path(), "iterate map state");
  }
  std::optional<UV> cached_;
};

template <class T, bool Ttl = false>
class RocksDBReducingState final : public ckpt::detail::ReducingStateImpl<T>, detail::Cell<T, Ttl> {
 public:
  using Reduce = typename ReducingStateDescriptor<T>::ReduceFunction;
  RocksDBReducingState(const detail::StateSettings& s, Reduce reduce)
      : detail::Cell<T, Ttl>(s), reduce_(std::move(reduce)) {}
  const T* find() override { return this->find_cell(); }
  void add(T value) override {
    if (const T* current = this->find_cell()) value = reduce_(*current, value);
    this->put_cell(value);
  }
  void clear() override { this->erase_cell(); }

 private:
  Reduce reduce_;
};

template <class In, class Acc, class Out, bool Ttl = false>
class RocksDBAggregatingState final : public ckpt::detail::AggregatingStateImpl<In, Out>, detail::Cell<Acc, Ttl> {
 public:
  using Function = AggregateFunction<In, Acc, Out>;
  RocksDBAggregatingState(const detail::StateSettings& s, std::shared_ptr<const Function> function)
      : detail::Cell<Acc, Ttl>(s), function_(std::move(function)) {}
  std::optional<Out> get() override {
    if (const Acc* acc = this->find_cell()) return function_->get_result(*acc);
    return std::nullopt;
  }
  void add(const In& value) override {
    Acc acc = this->find_cell() ? std::move(*this->cached_) : function_->create_accumulator();
    this->put_cell(function_->add(value, std::move(acc)));
  }
  void clear() override { this->erase_cell(); }

 private:
  std::shared_ptr<const Function> function_;
};

}  // namespace ckpt::rocksdb
