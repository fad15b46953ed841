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
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/state/detail/keyed_table.hpp>
#include <ckpt/state/kv_state.hpp>

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

/// One declared state's way to and from the canonical section payload: its
/// KvStateSpec (state/kv_state.hpp), made from the declaration, over the
/// state's column family.
class StateCodec {
 public:
  StateCodec(KvStateSpec spec, ::rocksdb::ColumnFamilyHandle* cf) : spec_(std::move(spec)), cf_(cf) {}
  StateCodec(const StateCodec&) = delete;
  StateCodec& operator=(const StateCodec&) = delete;

  const StateMeta& meta() const noexcept { return spec_.meta; }
  const KvStateSpec& spec() const noexcept { return spec_; }
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
  void write_key_group(RocksDBInstance& db, const ::rocksdb::Snapshot* snapshot, std::uint32_t kg, Bytes& out,
                       std::int64_t now) const {
    std::string block;
    const auto ctx = context(db, kg, block);
    const ckpt::detail::KvScan scan = [&](const ckpt::detail::KvVisit& visit) {
      for_each_in_key_group(db, cf_, snapshot, kg, [&](const ::rocksdb::Slice& k, const ::rocksdb::Slice& v) {
        visit(view_of(k).substr(key_group_prefix_bytes), view_of(v));
        return true;
      });
    };
    spec_.write_key_group(scan, ctx, out, now);
  }
  /// Adds to `batch` the entries of a section payload of key group `kg`
  /// written as `written` (this state, with or without TTL), as the heap
  /// backend reads it.
  void read_key_group(std::uint32_t kg, ByteSpan payload, const StateMeta& written, const serial::ReadContext& context,
                      std::int64_t now, ::rocksdb::WriteBatch& batch) const {
    const std::string prefix = key_group_begin(kg);
    spec_.read_key_group(payload, written, context, now, [&](const std::string& key, const std::string& value) {
      check(batch.Put(cf_, prefix + key, value), "", "restore state '" + spec_.meta.name + "' (write batch)");
    });
  }

 private:
  serial::ReadContext context(const RocksDBInstance& db, std::uint32_t kg, std::string& block) const {
    block = "key group " + std::to_string(kg) + " of state '" + spec_.meta.name + "'";
    return serial::ReadContext{db.path(), block};
  }

  KvStateSpec spec_;
  ::rocksdb::ColumnFamilyHandle* cf_;
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
