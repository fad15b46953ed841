#pragma once
// Canonical snapshots of the RocksDB backend. Each declared state has a
// codec that reads one key group of its column family, as a RocksDB
// snapshot saw it, into the section payload the heap backend writes for the
// same state (serial/columns.hpp: u64 count, the keys, the values, each
// column raw or through cereal, the value being T, vector<T>,
// unordered_map<UK, UV> or the accumulator; for a state with TTL the heap
// backend's TtlForm of it, each value, element or entry a TtlValue with its
// last-access time), and writes such a payload back into RocksDB on restore. With the same StateMeta as the heap backend's, a
// snapshot of either backend restores into the other, at any parallelism
// (Flink's canonical savepoint format).
//
// A key group is one contiguous key range (key_layout.hpp), so writing one is
// a bounded seek; entries of one key are adjacent (a serialized key is never
// a prefix of another key of the same type), so a map state's entries are
// grouped into one map per key as they come.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/rocksdb/key_layout.hpp>
#include <ckpt/rocksdb/rocksdb_instance.hpp>
#include <ckpt/rocksdb/rocksdb_states.hpp>
#include <ckpt/rocksdb/status.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/boost_unordered.hpp>
#include <ckpt/serial/columns.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/state/detail/key_hash.hpp>
#include <ckpt/state/detail/keyed_table.hpp>
#include <ckpt/state/state_ttl_config.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/slice.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace ckpt::rocksdb {
namespace detail {

/// Calls fn(key, value) for the entries of key group `kg` of `cf` as
/// `snapshot` saw them, in key order, until fn returns false.
template <class Fn>
void for_each_in_key_group(RocksDBInstance& db, ::rocksdb::ColumnFamilyHandle* cf,
                           const ::rocksdb::Snapshot* snapshot, std::uint32_t kg, Fn&& fn) {
  const std::string lower = key_group_begin(kg);
  const std::string upper = key_group_begin(kg + 1);  // kg < max_parallelism <= 2^15: fits two bytes
  const ::rocksdb::Slice upper_slice(upper);
  ::rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.iterate_upper_bound = &upper_slice;
  ro.fill_cache = false;  // a snapshot reads everything once: leave the cache to the working set
  std::unique_ptr<::rocksdb::Iterator> it(db.db().NewIterator(ro, cf));
  for (it->Seek(lower); it->Valid(); it->Next())
    if (!fn(it->key(), it->value())) break;
  check(it->status(), db.path(), "iterate key group " + std::to_string(kg));
}

inline ByteSpan after_prefix(const ::rocksdb::Slice& key) {
  return {reinterpret_cast<const std::byte*>(key.data()) + key_group_prefix_bytes, key.size() - key_group_prefix_bytes};
}

/// One declared state's way to and from the canonical section payload.
class StateCodec {
 public:
  StateCodec(StateMeta meta, ::rocksdb::ColumnFamilyHandle* cf, std::optional<StateTtlConfig> ttl = std::nullopt)
      : meta_(std::move(meta)), cf_(cf), ttl_(ttl) {}
  virtual ~StateCodec() = default;
  StateCodec(const StateCodec&) = delete;
  StateCodec& operator=(const StateCodec&) = delete;

  const StateMeta& meta() const noexcept { return meta_; }
  ::rocksdb::ColumnFamilyHandle* column_family() const noexcept { return cf_; }

  /// Whether key group `kg` has no entry as `snapshot` saw it (null: now).
  bool empty_in(RocksDBInstance& db, const ::rocksdb::Snapshot* snapshot, std::uint32_t kg) const {
    bool any = false;
    for_each_in_key_group(db, cf_, snapshot, kg, [&](const ::rocksdb::Slice&, const ::rocksdb::Slice&) {
      any = true;
      return false;
    });
    return !any;
  }
  /// Appends the section payload of key group `kg` as `snapshot` saw it;
  /// with TTL and cleanup_in_snapshot, without what expired at `now` (as
  /// the heap backend).
  virtual void write_key_group(RocksDBInstance& db, const ::rocksdb::Snapshot* snapshot, std::uint32_t kg,
                               Bytes& out, std::int64_t now) const = 0;
  /// Adds to `batch` the entries of a section payload of key group `kg`
  /// written as `written` (this state, with or without TTL), as the heap
  /// backend reads it: timestamps kept when both have TTL, dropped when only
  /// the snapshot has, and `now` for every entry when only this state has.
  virtual void read_key_group(std::uint32_t kg, ByteSpan payload, const StateMeta& written,
                              const serial::ReadContext& context, std::int64_t now,
                              ::rocksdb::WriteBatch& batch) const = 0;

 protected:
  serial::ReadContext context(const RocksDBInstance& db, std::uint32_t kg, std::string& block) const {
    block = "key group " + std::to_string(kg) + " of state '" + meta_.name + "'";
    return serial::ReadContext{db.path(), block};
  }
  void put(::rocksdb::WriteBatch& batch, const std::string& key, const std::string& value) const {
    check(batch.Put(cf_, key, value), "", "restore state '" + meta_.name + "' (write batch)");
  }

  StateMeta meta_;
  ::rocksdb::ColumnFamilyHandle* cf_;
  std::optional<StateTtlConfig> ttl_;
};

/// The codec of a state stored per key as `Plain` in the payload (with TTL:
/// as the heap backend's TtlForm<Plain>::type); `Form` says how one key's
/// RocksDB entries become a Form::Stored and back:
///   static constexpr bool ttl;  using Stored = ...;
///   static void collect(const StateCodec&, RocksDBInstance&, snapshot, kg,
///                       const serial::ReadContext&, std::vector<std::pair<Key, Stored>>&)
///   static void store(Put put, std::uint32_t kg, const Key&, const Stored&)
template <class Key, class Plain, class Form>
class Codec final : public StateCodec {
 public:
  using Ttl = ckpt::detail::TtlForm<Plain>;
  using Stored = typename Form::Stored;
  static_assert(std::is_same_v<Stored, std::conditional_t<Form::ttl, typename Ttl::type, Plain>>,
                "a RocksDB state's snapshot form must be the heap backend's");
  using StateCodec::StateCodec;

  void write_key_group(RocksDBInstance& db, const ::rocksdb::Snapshot* snapshot, std::uint32_t kg, Bytes& out,
                       std::int64_t now) const override {
    std::string block;
    const auto ctx = context(db, kg, block);
    std::vector<std::pair<Key, Stored>> entries;
    serial::guarded_read(ctx, [&] { Form::collect(*this, db, snapshot, kg, ctx, entries); });
    if constexpr (Form::ttl) {
      if (ttl_->cleanup_in_snapshot) {
        std::vector<std::pair<Key, Stored>> live;
        live.reserve(entries.size());
        for (auto& [k, v] : entries)
          if (auto a = Ttl::alive(v, *ttl_, now)) live.emplace_back(std::move(k), std::move(*a));
        entries = std::move(live);
      }
    }
    (void)now;
    serial::write_entries<Key, Stored>(out, entries);
  }

  void read_key_group(std::uint32_t kg, ByteSpan payload, const StateMeta& written, const serial::ReadContext& ctx,
                      std::int64_t now, ::rocksdb::WriteBatch& batch) const override {
    const auto write = [&](const std::string& k, const std::string& v) { put(batch, k, v); };
    if (written.ttl == Form::ttl) {
      serial::read_entries<Key, Stored>(payload, ctx, [&](Key&& k, Stored&& v) { Form::store(write, kg, k, v); });
    } else if constexpr (Form::ttl) {
      // Written without TTL: every entry starts its time-to-live now.
      serial::read_entries<Key, Plain>(payload, ctx, [&](Key&& k, Plain&& v) {
        Form::store(write, kg, k, Ttl::wrap(std::move(v), now));
      });
    } else {
      // Written with TTL, read without: the timestamps are dropped.
      serial::read_entries<Key, typename Ttl::type>(payload, ctx, [&](Key&& k, typename Ttl::type&& v) {
        Form::store(write, kg, k, Ttl::unwrap(std::move(v)));
      });
    }
  }
};

/// Value, reducing and aggregating state: one entry per key, its value V
/// (with TTL: TtlValue<V>).
template <class Key, class V, bool Ttl = false>
struct CellForm {
  static constexpr bool ttl = Ttl;
  using Stored = std::conditional_t<Ttl, TtlValue<V>, V>;
  static void collect(const StateCodec& codec, RocksDBInstance& db, const ::rocksdb::Snapshot* snapshot,
                      std::uint32_t kg, const serial::ReadContext& ctx, std::vector<std::pair<Key, Stored>>& out) {
    for_each_in_key_group(db, codec.column_family(), snapshot, kg, [&](const ::rocksdb::Slice& k, const ::rocksdb::Slice& v) {
      out.emplace_back(serial::decode<Key>(after_prefix(k), ctx), StoredBytes<Stored>::decode(view_of(v), ctx));
      return true;
    });
  }
  template <class Put>
  static void store(const Put& put, std::uint32_t kg, const Key& key, const Stored& value) {
    std::string bytes;
    StoredBytes<Stored>::append(bytes, value);
    put(state_key(kg, key), bytes);
  }
};

/// List state: one entry per key, its elements appended (list_merge_operator.hpp),
/// each element with its own timestamp with TTL.
template <class Key, class T, bool Ttl = false>
struct ListForm {
  static constexpr bool ttl = Ttl;
  using Element = std::conditional_t<Ttl, TtlValue<T>, T>;
  using Stored = std::vector<Element>;
  static void collect(const StateCodec& codec, RocksDBInstance& db, const ::rocksdb::Snapshot* snapshot,
                      std::uint32_t kg, const serial::ReadContext& ctx, std::vector<std::pair<Key, Stored>>& out) {
    for_each_in_key_group(db, codec.column_family(), snapshot, kg, [&](const ::rocksdb::Slice& k, const ::rocksdb::Slice& v) {
      auto list = decode_elements<Element>(view_of(v), ctx);
      if (!list.empty()) out.emplace_back(serial::decode<Key>(after_prefix(k), ctx), std::move(list));
      return true;
    });
  }
  template <class Put>
  static void store(const Put& put, std::uint32_t kg, const Key& key, const Stored& list) {
    if (!list.empty()) put(state_key(kg, key), encode_elements(list));  // an empty list is no entry
  }
};

/// Map state: one entry per (key, user key), its value UV (with TTL:
/// TtlValue<UV>); the payload holds one unordered_map per key, as the heap
/// backend's.
template <class Key, class UK, class UV, bool Ttl = false>
struct MapForm {
  static constexpr bool ttl = Ttl;
  using Plain = boost::unordered_flat_map<UK, UV, ckpt::detail::KeyHash<UK>>;
  using Value = std::conditional_t<Ttl, TtlValue<UV>, UV>;
  using Stored = boost::unordered_flat_map<UK, Value, ckpt::detail::KeyHash<UK>>;
  static void collect(const StateCodec& codec, RocksDBInstance& db, const ::rocksdb::Snapshot* snapshot,
                      std::uint32_t kg, const serial::ReadContext& ctx, std::vector<std::pair<Key, Stored>>& out) {
    std::string last;  // the serialized key of out.back()
    for_each_in_key_group(db, codec.column_family(), snapshot, kg, [&](const ::rocksdb::Slice& k, const ::rocksdb::Slice& v) {
      const ByteSpan rest = after_prefix(k);
      serial::InputArchive ar(rest, ctx);
      Key key{};
      ar(key);
      const std::string_view key_bytes(reinterpret_cast<const char*>(rest.data()), ar.position());
      UK user_key{};
      ar(user_key);
      if (ar.remaining() != 0)
        ar.fail(errc::corrupt_data, std::to_string(ar.remaining()) + " unexpected bytes after a map entry's user key");
      if (out.empty() || key_bytes != last) {
        out.emplace_back(std::move(key), Stored{});
        last.assign(key_bytes);
      }
      out.back().second.insert_or_assign(std::move(user_key), StoredBytes<Value>::decode(view_of(v), ctx));
      return true;
    });
  }
  template <class Put>
  static void store(const Put& put, std::uint32_t kg, const Key& key, const Stored& map) {
    const std::string prefix = state_key(kg, key);
    for (const auto& [uk, uv] : map) {
      std::string entry = prefix;
      append_serialized(entry, uk);
      std::string bytes;
      StoredBytes<Value>::append(bytes, uv);
      put(entry, bytes);
    }
  }
};

/// A state's key groups as a RocksDB snapshot saw them, in the form the
/// snapshot machinery (SnapshotCut) writes: read-only.
class SnapshotTable final : public ckpt::detail::KeyedTableBase {
 public:
  SnapshotTable(const StateCodec& codec, RocksDBInstance& db, const ::rocksdb::Snapshot* snapshot,
                std::uint32_t first_key_group)
      : KeyedTableBase(codec.meta()), codec_(codec), db_(db), snapshot_(snapshot), first_(first_key_group) {}

  bool empty_in(std::size_t slot) const override { return codec_.empty_in(db_, snapshot_, key_group(slot)); }
  void write_key_group(std::size_t slot, Bytes& out, std::int64_t now) const override {
    codec_.write_key_group(db_, snapshot_, key_group(slot), out, now);
  }
  void read_key_group(std::size_t, ByteSpan, const StateMeta&, const serial::ReadContext&, std::int64_t) override {
    throw StateError(errc::invalid_argument, "the snapshot view of RocksDB state '" + meta_.name + "' is read-only");
  }
  /// Not counted (it would read the whole state); nothing asks a view.
  std::size_t size() const override { return 0; }

 private:
  std::uint32_t key_group(std::size_t slot) const { return first_ + static_cast<std::uint32_t>(slot); }

  const StateCodec& codec_;
  RocksDBInstance& db_;
  const ::rocksdb::Snapshot* snapshot_;
  std::uint32_t first_;
};

/// What a snapshot job keeps alive: the RocksDB snapshot and its views.
struct SnapshotViews {
  std::shared_ptr<const ::rocksdb::Snapshot> snapshot;
  std::vector<std::unique_ptr<SnapshotTable>> tables;
};

}  // namespace detail
}  // namespace ckpt::rocksdb
