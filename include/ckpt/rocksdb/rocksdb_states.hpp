#pragma once
// The RocksDB cores of keyed state (KvCell, KvList, KvMap of state/kv_state.hpp):
// the bytes of every state, which the typed states of kv_state.hpp decode,
// so user code keeps ckpt's handle types. Each state is one column family;
// the current key's RocksDB key (key group, serialized key) is kept by the
// backend in a KeyContext. Point access is one Get; map iteration is a
// bounded seek over the key's prefix; list append is one Merge; reducing and
// aggregating state read, combine and write back (Flink's RocksDB backend
// does the same).
//
// A state with a time-to-live stores with each value the processing time it
// was last written (or read, with on_read_and_write): the RocksDB value is an
// 8-byte little-endian timestamp (epoch milliseconds) followed by the
// serialized value, per element for list state and per entry for map state,
// as Flink stores TtlValue (state/detail/kv_encoding.hpp). Expired values are
// invisible (or handed out once, with return_expired_if_not_cleaned_up) and
// removed when they are accessed, by the heap backend's rules
// (state/detail/keyed_states.hpp).

#include <ckpt/bytes.hpp>
#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/rocksdb/key_layout.hpp>
#include <ckpt/rocksdb/rocksdb_instance.hpp>
#include <ckpt/rocksdb/status.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/state/detail/kv_encoding.hpp>
#include <ckpt/state/detail/ttl_value.hpp>
#include <ckpt/state/kv_state.hpp>
#include <ckpt/state/state_ttl_config.hpp>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/slice.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <cstring>
#include <functional>
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
using ckpt::detail::append_element;
using ckpt::detail::append_element_bytes;
using ckpt::detail::append_timestamp;
using ckpt::detail::decode_elements;
using ckpt::detail::encode_elements;
using ckpt::detail::for_each_element;
using ckpt::detail::set_timestamp;
using ckpt::detail::span_of;
using ckpt::detail::StoredBytes;
using ckpt::detail::timestamp_bytes;
using ckpt::detail::timestamp_of;
using ckpt::detail::TtlValue;

inline ByteSpan span_of(const ::rocksdb::Slice& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::string_view view_of(const ::rocksdb::Slice& s) { return {s.data(), s.size()}; }

/// Everything a state is built with.
struct StateSettings {
  RocksDBInstance& db;
  ::rocksdb::ColumnFamilyHandle* cf;
  const KeyContext& ctx;
  std::string name;
  const Clock* clock;                  // processing time, for TTL
  std::optional<StateTtlConfig> ttl;   // set exactly for states with TTL
};

/// What the cores share: the database, the column family, the key context,
/// the TTL config and the clock.
class StateBase : public virtual ckpt::detail::KvCore {
 public:
  explicit StateBase(const StateSettings& s)
      : db_(s.db), cf_(s.cf), ctx_(s.ctx), block_("state '" + s.name + "'"), clock_(s.clock), ttl_(s.ttl) {}
  serial::ReadContext context() const override { return serial::ReadContext{db_.path(), block_}; }

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
  bool has_ttl() const noexcept { return ttl_.has_value(); }
  const StateTtlConfig& ttl() const { return *ttl_; }
  bool give_expired() const {
    return ttl_->visibility == StateTtlConfig::Visibility::return_expired_if_not_cleaned_up;
  }
  bool touch_on_read() const { return ttl_->update_type == StateTtlConfig::UpdateType::on_read_and_write; }

  /// The bytes of `value` as the state stores it now (with TTL: stamped now).
  std::string stored(std::string_view value) const {
    std::string out;
    if (has_ttl()) append_timestamp(out, now());
    out += value;
    return out;
  }

  /// Reads the value bytes of RocksDB key `key` into `out`; false if there is
  /// none to see. With TTL, by the heap backend's rules: an expired value is
  /// deleted (and seen once more with return_expired_if_not_cleaned_up), a
  /// live one read with on_read_and_write gets a new timestamp.
  bool read_entry(const std::string& key, std::string& out) {
    auto raw = get_raw(key);
    if (!raw) return false;
    if (!has_ttl()) {
      out = std::move(*raw);
      return true;
    }
    const auto t = now();
    if (ckpt::detail::expired(timestamp_of(*raw, context()), ttl(), t)) {
      delete_raw(key);
      if (!give_expired()) return false;
    } else if (touch_on_read()) {
      set_timestamp(*raw, t);
      put_raw(key, *raw);
    }
    out.assign(*raw, timestamp_bytes);
    return true;
  }

  RocksDBInstance& db_;
  ::rocksdb::ColumnFamilyHandle* cf_;
  const KeyContext& ctx_;
  std::string block_;  // names the state in errors
  const Clock* clock_;
  std::optional<StateTtlConfig> ttl_;
};
}  // namespace detail

/// The current key's single value (value, reducing and aggregating state).
class RocksDBCell final : public ckpt::detail::KvCell, detail::StateBase {
 public:
  explicit RocksDBCell(const detail::StateSettings& s) : detail::StateBase(s) {}
  serial::ReadContext context() const override { return StateBase::context(); }
  const std::string* get() override { return read_entry(ctx_.require(), cached_) ? &cached_ : nullptr; }
  void put(const std::string& value) override { put_raw(ctx_.require(), stored(value)); }
  void erase() override { delete_raw(ctx_.require()); }

 private:
  std::string cached_;  // what get() last returned
};

/// The current key's list: one RocksDB value of length-prefixed elements,
/// appended to by a Merge (list_merge_operator.hpp).
class RocksDBList final : public ckpt::detail::KvList, detail::StateBase {
 public:
  explicit RocksDBList(const detail::StateSettings& s) : detail::StateBase(s) {}
  serial::ReadContext context() const override { return StateBase::context(); }
  std::vector<std::string> get() override {
    const std::string& k = ctx_.require();
    const auto raw = get_raw(k);
    if (!raw) return {};
    std::vector<std::string> out;
    const auto ctx = context();
    if (!has_ttl()) {
      detail::for_each_element(*raw, ctx, [&](std::string_view e) { out.emplace_back(e); });
      return out;
    }
    // Expired elements are cut out (and handed out once more with
    // return_expired_if_not_cleaned_up); with on_read_and_write the live
    // ones get a new timestamp.
    const auto now = this->now();
    std::string kept;
    bool any_expired = false;
    detail::for_each_element(*raw, ctx, [&](std::string_view e) {
      const bool gone = ckpt::detail::expired(detail::timestamp_of(e, ctx), ttl(), now);
      any_expired |= gone;
      if (!gone || give_expired()) out.emplace_back(e.substr(detail::timestamp_bytes));
      if (gone) return;
      std::string element(e);
      if (touch_on_read()) detail::set_timestamp(element, now);
      detail::append_element_bytes(kept, element);
    });
    if (any_expired || touch_on_read()) {
      if (kept.empty()) delete_raw(k);
      else put_raw(k, kept);
    }
    return out;
  }
  void add(const std::string& element) override {
    std::string e;
    detail::append_element_bytes(e, stored(element));
    check(db_.db().Merge(write_options(), cf_, ctx_.require(), e), db_.path(), "merge");
  }
  void add_all(const std::vector<std::string>& elements) override {
    if (elements.empty()) return;
    check(db_.db().Merge(write_options(), cf_, ctx_.require(), encode(elements)), db_.path(), "merge");
  }
  void update(const std::vector<std::string>& elements) override {
    if (elements.empty()) return clear();
    put_raw(ctx_.require(), encode(elements));
  }
  void clear() override { delete_raw(ctx_.require()); }

 private:
  std::string encode(const std::vector<std::string>& elements) const {
    std::string out;
    for (const auto& e : elements) detail::append_element_bytes(out, stored(e));
    return out;
  }
};

/// The current key's map: one RocksDB entry per user key, under the key's
/// prefix.
class RocksDBMap final : public ckpt::detail::KvMap, detail::StateBase {
 public:
  explicit RocksDBMap(const detail::StateSettings& s) : detail::StateBase(s) {}
  serial::ReadContext context() const override { return StateBase::context(); }
  const std::string* find(const std::string& user_key) override {
    return read_entry(entry(user_key), cached_) ? &cached_ : nullptr;
  }
  void put(const std::string& user_key, const std::string& value) override {
    put_raw(entry(user_key), stored(value));
  }
  bool remove(const std::string& user_key) override {
    const std::string k = entry(user_key);
    if (!get_raw(k)) return false;
    delete_raw(k);
    return true;
  }
  void for_each(const std::function<void(std::string_view, std::string_view)>& fn) override {
    if (!has_ttl()) {
      scan([&](const ::rocksdb::Slice& k, const ::rocksdb::Slice& v, std::size_t prefix) {
        fn(detail::view_of(k).substr(prefix), detail::view_of(v));
      });
      return;
    }
    // Expired entries are deleted and live ones touched (on_read_and_write)
    // after the scan, in one batch.
    const auto now = this->now();
    const auto ctx = context();
    ::rocksdb::WriteBatch batch;
    scan([&](const ::rocksdb::Slice& k, const ::rocksdb::Slice& v, std::size_t prefix) {
      const auto raw = detail::view_of(v);
      const bool gone = ckpt::detail::expired(detail::timestamp_of(raw, ctx), ttl(), now);
      if (!gone || give_expired()) fn(detail::view_of(k).substr(prefix), raw.substr(detail::timestamp_bytes));
      if (gone) {
        check(batch.Delete(cf_, k), db_.path(), "delete an expired map entry (write batch)");
      } else if (touch_on_read()) {
        std::string touched(raw);
        detail::set_timestamp(touched, now);
        check(batch.Put(cf_, k, touched), db_.path(), "touch a map entry (write batch)");
      }
    });
    write(batch, "clean up map state");
  }
  std::size_t size() override {
    std::size_t n = 0;
    if (!has_ttl()) {
      scan([&](const ::rocksdb::Slice&, const ::rocksdb::Slice&, std::size_t) { ++n; });
    } else {
      const auto now = this->now();
      const auto ctx = context();
      scan([&](const ::rocksdb::Slice&, const ::rocksdb::Slice& v, std::size_t) {
        n += ckpt::detail::expired(detail::timestamp_of(detail::view_of(v), ctx), ttl(), now) ? 0 : 1;
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
  std::string entry(const std::string& user_key) const { return ctx_.require() + user_key; }
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
  std::string cached_;
};

}  // namespace ckpt::rocksdb
