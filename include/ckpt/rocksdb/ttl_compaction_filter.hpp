#pragma once
// TTL's background cleanup in RocksDB (Flink's cleanupInRocksdbCompactFilter):
// a compaction filter drops expired entries while RocksDB compacts, so state
// that is never read again does not stay on disk forever.
//
// Every column family of a backend gets a TtlCompactionFilterFactory; it
// filters nothing until the state is declared with a StateTtlConfig whose
// rocksdb_compaction_query_time_after is not 0 (the default, 1000, as
// Flink's). The filter reads the stored layout of rocksdb_states.hpp: a value
// (value, reducing, aggregating state; each map entry) begins with its 8-byte
// last-access timestamp and is dropped when expired; a list value (or a merge
// operand appending to one) is a sequence of length-prefixed elements, each
// beginning with its timestamp: expired elements are cut out, and the entry
// dropped when none is left (Flink's ListElementFilter). Processing time
// comes from the backend's Clock, read when a compaction starts and again
// every `query_time_after` entries. A value too short to hold a timestamp is
// kept (the read path reports it).

#include <ckpt/clock.hpp>
#include <ckpt/state/detail/ttl_value.hpp>
#include <ckpt/state/state_ttl_config.hpp>

#include <rocksdb/compaction_filter.h>
#include <rocksdb/slice.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace ckpt::rocksdb {

/// How a state's RocksDB values hold their timestamps.
enum class TtlLayout : std::uint8_t {
  timestamped_value,  // 8-byte timestamp, then the value (also each map entry)
  element_list,       // u32 length + (8-byte timestamp, element), repeated
};

/// What the filter of one column family drops: set once its state is declared.
struct TtlFilterSpec {
  TtlLayout layout = TtlLayout::timestamped_value;
  StateTtlConfig ttl;
  const Clock* clock = nullptr;
};

namespace detail {
/// Cuts the expired elements out of a list value; nullopt if it is malformed.
inline std::optional<std::string> live_elements(std::string_view raw, const StateTtlConfig& ttl, std::int64_t now,
                                                bool& changed) {
  std::string out;
  changed = false;
  std::size_t at = 0;
  while (at < raw.size()) {
    std::uint32_t n = 0;
    if (raw.size() - at < 4) return std::nullopt;
    std::memcpy(&n, raw.data() + at, 4);
    if (raw.size() - at - 4 < n || n < 8) return std::nullopt;
    std::int64_t t = 0;
    std::memcpy(&t, raw.data() + at + 4, 8);
    if (ckpt::detail::expired(t, ttl, now)) changed = true;
    else out.append(raw.data() + at, 4 + std::size_t{n});
    at += 4 + std::size_t{n};
  }
  return out;
}
}  // namespace detail

/// The filter of one compaction (RocksDB gives each compaction its own, on one thread).
class TtlCompactionFilter final : public ::rocksdb::CompactionFilter {
 public:
  explicit TtlCompactionFilter(TtlFilterSpec spec)
      : spec_(std::move(spec)), now_(spec_.clock->epoch_millis()) {}

  Decision FilterV2(int, const ::rocksdb::Slice&, ValueType type, const ::rocksdb::Slice& value,
                    std::string* new_value, std::string*) const override {
    if (type != ValueType::kValue && type != ValueType::kMergeOperand) return Decision::kKeep;
    if (++seen_ >= spec_.ttl.rocksdb_compaction_query_time_after) {
      seen_ = 0;
      now_ = spec_.clock->epoch_millis();
    }
    const std::string_view raw(value.data(), value.size());
    if (spec_.layout == TtlLayout::timestamped_value) {
      if (raw.size() < 8) return Decision::kKeep;
      std::int64_t t = 0;
      std::memcpy(&t, raw.data(), 8);
      return ckpt::detail::expired(t, spec_.ttl, now_) ? Decision::kRemove : Decision::kKeep;
    }
    bool changed = false;
    auto live = detail::live_elements(raw, spec_.ttl, now_, changed);
    if (!live || !changed) return Decision::kKeep;
    if (live->empty()) return Decision::kRemove;
    *new_value = std::move(*live);
    return Decision::kChangeValue;
  }
  const char* Name() const override { return "ckpt.TtlCompactionFilter"; }

 private:
  TtlFilterSpec spec_;
  mutable std::int64_t now_;
  mutable std::size_t seen_ = 0;
};

/// The factory of one column family: no filter until spec() is set.
class TtlCompactionFilterFactory final : public ::rocksdb::CompactionFilterFactory {
 public:
  void set(TtlFilterSpec spec) {
    std::lock_guard lock(mutex_);
    spec_ = std::move(spec);
  }
  bool active() const {
    std::lock_guard lock(mutex_);
    return spec_.has_value();
  }
  std::unique_ptr<::rocksdb::CompactionFilter> CreateCompactionFilter(
      const ::rocksdb::CompactionFilter::Context&) override {
    std::lock_guard lock(mutex_);
    if (!spec_) return nullptr;
    return std::make_unique<TtlCompactionFilter>(*spec_);
  }
  const char* Name() const override { return "ckpt.TtlCompactionFilterFactory"; }

 private:
  mutable std::mutex mutex_;
  std::optional<TtlFilterSpec> spec_;
};

}  // namespace ckpt::rocksdb
