#pragma once
// State time-to-live, as Flink defines it: an entry expires `ttl` after it was
// last written (or read, with on_read_and_write), on processing time.
//
//   auto ttl = ckpt::StateTtlConfig::of(std::chrono::hours(1))
//                  .with_update_type(ckpt::StateTtlConfig::UpdateType::on_read_and_write)
//                  .with_visibility(ckpt::StateTtlConfig::Visibility::never_return_expired);
//   descriptor.enable_time_to_live(ttl);
//
// Expired entries are removed when they are accessed, left out of snapshots
// (cleanup_in_snapshot), and removed in the background of state accesses
// (incremental_cleanup_size entries per access, on average). List state
// expires per element and map state per entry. The RocksDB backend also drops
// expired entries when RocksDB compacts (Flink's cleanupInRocksdbCompactFilter;
// rocksdb_compaction_query_time_after: the filter reads the clock again after
// that many entries, 0 turns it off; the heap backend ignores it).

#include <ckpt/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ckpt {

struct StateTtlConfig {
  enum class UpdateType : std::uint8_t {
    on_create_and_write,  // the clock restarts when the entry is written
    on_read_and_write,    // ... and when it is read
  };
  enum class Visibility : std::uint8_t {
    never_return_expired,               // an expired entry reads as absent
    return_expired_if_not_cleaned_up,   // returned once more, then removed
  };

  std::chrono::milliseconds ttl{0};
  UpdateType update_type = UpdateType::on_create_and_write;
  Visibility visibility = Visibility::never_return_expired;
  bool cleanup_in_snapshot = true;
  std::size_t incremental_cleanup_size = 5;  // 0 turns background cleanup off
  std::size_t rocksdb_compaction_query_time_after = 1000;  // 0 turns the RocksDB compaction filter off

  /// A config with Flink's defaults and the given time-to-live.
  static StateTtlConfig of(std::chrono::milliseconds ttl) {
    StateTtlConfig c;
    c.ttl = ttl;
    return c;
  }
  StateTtlConfig& with_update_type(UpdateType t) noexcept { update_type = t; return *this; }
  StateTtlConfig& with_visibility(Visibility v) noexcept { visibility = v; return *this; }
  StateTtlConfig& with_cleanup_in_snapshot(bool on) noexcept { cleanup_in_snapshot = on; return *this; }
  StateTtlConfig& with_incremental_cleanup(std::size_t entries_per_access) noexcept {
    incremental_cleanup_size = entries_per_access;
    return *this;
  }

  /// RocksDB backend: drop expired entries during compaction, reading the
  /// time again after every `query_time_after_num_entries` entries (0: off).
  StateTtlConfig& cleanup_in_rocksdb_compact_filter(std::size_t query_time_after_num_entries) noexcept {
    rocksdb_compaction_query_time_after = query_time_after_num_entries;
    return *this;
  }

  void validate() const {
    if (ttl.count() <= 0)
      throw ConfigError(errc::invalid_argument, "state TTL must be positive, got " + std::to_string(ttl.count()) + " ms");
  }
  std::int64_t millis() const noexcept { return static_cast<std::int64_t>(ttl.count()); }
};

}  // namespace ckpt
