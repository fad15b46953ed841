#pragma once
// The RocksDB implementations of the keyed state interfaces (ValueStateImpl,
// ListStateImpl, MapStateImpl of state/), so user code keeps ckpt's handle
// types. Each state is one column family; the current key's RocksDB key
// (key group, serialized key) is kept by the backend in a KeyContext.
// Point access is one Get; map iteration is a bounded seek over the key's
// prefix; list append is one Merge; reducing and aggregating state read,
// combine and write back (Flink's RocksDB backend does the same).

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/rocksdb/key_layout.hpp>
#include <ckpt/rocksdb/rocksdb_instance.hpp>
#include <ckpt/rocksdb/status.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/state/aggregating_state.hpp>
#include <ckpt/state/list_state.hpp>
#include <ckpt/state/map_state.hpp>
#include <ckpt/state/reducing_state.hpp>
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/state/value_state.hpp>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/slice.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
inline ByteSpan span_of(const std::string& s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }
inline ByteSpan span_of(const ::rocksdb::Slice& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
template <class T>
std::string encode(const T& value) {
  std::string out;
  append_serialized(out, value);
  return out;
}
/// One list element: u32 little-endian length, then the element's bytes.
template <class T>
void append_element(std::string& out, const T& value) {
  const std::string e = encode(value);
  const auto n = static_cast<std::uint32_t>(e.size());
  char len[4];
  std::memcpy(len, &n, 4);
  out.append(len, 4);
  out += e;
}

/// The elements of a list state value (see append_element).
template <class T>
std::vector<T> decode_list(std::string_view raw, const std::string& path) {
  std::vector<T> out;
  std::size_t at = 0;
  while (at < raw.size()) {
    std::uint32_t n = 0;
    if (raw.size() - at < 4 || (std::memcpy(&n, raw.data() + at, 4), raw.size() - at - 4 < n))
      throw CorruptionError(errc::corrupt_data, path, "list state",
                            "a list state value in '" + path + "' ends inside an element");
    out.push_back(serial::decode<T>(ByteSpan{reinterpret_cast<const std::byte*>(raw.data() + at + 4), n}));
    at += 4 + n;
  }
  return out;
}
/// A list state value of `values`.
template <class T>
std::string encode_list(const std::vector<T>& values) {
  std::string out;
  for (const auto& v : values) append_element(out, v);
  return out;
}

/// What the states share: the database, the column family, the key context.
class StateBase {
 public:
  StateBase(RocksDBInstance& db, ::rocksdb::ColumnFamilyHandle* cf, const KeyContext& ctx)
      : db_(db), cf_(cf), ctx_(ctx) {}

 protected:
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
  template <class V>
  std::optional<V> get_decoded(const std::string& key) const {
    const auto raw = get_raw(key);
    if (!raw) return std::nullopt;
    return serial::decode<V>(span_of(*raw));
  }
  void delete_raw(const std::string& key) { check(db_.db().Delete(write_options(), cf_, key), db_.path(), "delete"); }
  static ::rocksdb::WriteOptions write_options() {
    ::rocksdb::WriteOptions w;
    w.disableWAL = true;  // durability comes from checkpoints, as in Flink
    return w;
  }

  RocksDBInstance& db_;
  ::rocksdb::ColumnFamilyHandle* cf_;
  const KeyContext& ctx_;
};
}  // namespace detail

template <class T>
class RocksDBValueState final : public ckpt::detail::ValueStateImpl<T>, detail::StateBase {
 public:
  RocksDBValueState(RocksDBInstance& db, ::rocksdb::ColumnFamilyHandle* cf, const KeyContext& ctx,
                    std::optional<T> default_value)
      : StateBase(db, cf, ctx), default_(std::move(default_value).value_or(T{})) {}
  const T* find() override {
    cached_ = get_decoded<T>(ctx_.require());
    return cached_ ? &*cached_ : nullptr;
  }
  const T& default_value() const override { return default_; }
  void update(T value) override { put_raw(ctx_.require(), detail::encode(value)); }
  void clear() override { delete_raw(ctx_.require()); }

 private:
  T default_;
  std::optional<T> cached_;
};

template <class T>
class RocksDBListState final : public ckpt::detail::ListStateImpl<T>, detail::StateBase {
 public:
  using StateBase::StateBase;
  std::vector<T> get() override {
    const auto raw = get_raw(ctx_.require());
    if (!raw) return {};
    return detail::decode_list<T>(*raw, db_.path());
  }
  void add(T value) override {
    std::string e;
    detail::append_element(e, value);
    check(db_.db().Merge(write_options(), cf_, ctx_.require(), e), db_.path(), "merge");
  }
  void add_all(std::vector<T> values) override {
    if (values.empty()) return;
    check(db_.db().Merge(write_options(), cf_, ctx_.require(), detail::encode_list(values)), db_.path(), "merge");
  }
  void update(std::vector<T> values) override {
    if (values.empty()) return clear();
    put_raw(ctx_.require(), detail::encode_list(values));
  }
  void clear() override { delete_raw(ctx_.require()); }
};

template <class UK, class UV>
class RocksDBMapState final : public ckpt::detail::MapStateImpl<UK, UV>, detail::StateBase {
 public:
  using StateBase::StateBase;
  const UV* find(const UK& key) override {
    cached_ = get_decoded<UV>(entry(key));
    return cached_ ? &*cached_ : nullptr;
  }
  void put(UK key, UV value) override { put_raw(entry(key), detail::encode(value)); }
  bool remove(const UK& key) override {
    const std::string k = entry(key);
    if (!get_raw(k)) return false;
    delete_raw(k);
    return true;
  }
  void for_each(const std::function<void(const UK&, const UV&)>& fn) override {
    scan([&](const ::rocksdb::Slice& k, const ::rocksdb::Slice& v, std::size_t prefix) {
      const auto uk = serial::decode<UK>(ByteSpan{reinterpret_cast<const std::byte*>(k.data() + prefix), k.size() - prefix});
      fn(uk, serial::decode<UV>(detail::span_of(v)));
    });
  }
  std::size_t size() override {
    std::size_t n = 0;
    scan([&](const ::rocksdb::Slice&, const ::rocksdb::Slice&, std::size_t) { ++n; });
    return n;
  }
  void clear() override {
    const std::string& p = ctx_.require();
    ::rocksdb::WriteBatch batch;
    scan([&](const ::rocksdb::Slice& k, const ::rocksdb::Slice&, std::size_t) { batch.Delete(cf_, k); });
    check(db_.db().Write(write_options(), &batch), db_.path(), "clear map state of key prefix of " +
                                                                   std::to_string(p.size()) + " bytes");
  }

 private:
  std::string entry(const UK& key) const {
    std::string k = ctx_.require();
    append_serialized(k, key);
    return k;
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

template <class T>
class RocksDBReducingState final : public ckpt::detail::ReducingStateImpl<T>, detail::StateBase {
 public:
  using Reduce = typename ReducingStateDescriptor<T>::ReduceFunction;
  RocksDBReducingState(RocksDBInstance& db, ::rocksdb::ColumnFamilyHandle* cf, const KeyContext& ctx, Reduce reduce)
      : StateBase(db, cf, ctx), reduce_(std::move(reduce)) {}
  const T* find() override {
    cached_ = get_decoded<T>(ctx_.require());
    return cached_ ? &*cached_ : nullptr;
  }
  void add(T value) override {
    const std::string& k = ctx_.require();
    auto current = get_decoded<T>(k);
    put_raw(k, detail::encode(current ? reduce_(*current, value) : value));
  }
  void clear() override { delete_raw(ctx_.require()); }

 private:
  Reduce reduce_;
  std::optional<T> cached_;
};

template <class In, class Acc, class Out>
class RocksDBAggregatingState final : public ckpt::detail::AggregatingStateImpl<In, Out>, detail::StateBase {
 public:
  using Function = AggregateFunction<In, Acc, Out>;
  RocksDBAggregatingState(RocksDBInstance& db, ::rocksdb::ColumnFamilyHandle* cf, const KeyContext& ctx,
                          std::shared_ptr<const Function> function)
      : StateBase(db, cf, ctx), function_(std::move(function)) {}
  std::optional<Out> get() override {
    const auto acc = get_decoded<Acc>(ctx_.require());
    if (!acc) return std::nullopt;
    return function_->get_result(*acc);
  }
  void add(const In& value) override {
    const std::string& k = ctx_.require();
    auto acc = get_decoded<Acc>(k);
    put_raw(k, detail::encode(function_->add(value, acc ? std::move(*acc) : function_->create_accumulator())));
  }
  void clear() override { delete_raw(ctx_.require()); }

 private:
  std::shared_ptr<const Function> function_;
};

}  // namespace ckpt::rocksdb
