#pragma once
// Options of a checkpoint storage, in cereal's style: a small struct with
// named factories and chainable setters.
//
//   auto options = ckpt::StorageOptions::defaults().retain(3).with_incremental(true);

#include <ckpt/snapshot/codec.hpp>
#include <ckpt/snapshot/state_file_format.hpp>

#include <cstdint>
#include <string>

namespace ckpt {

/// What happens to retained checkpoints when a job is cancelled (Flink's
/// ExternalizedCheckpointCleanup).
enum class CancellationPolicy : std::uint8_t { retain_on_cancellation, delete_on_cancellation };

struct StorageOptions {
  /// Complete checkpoints kept; older ones are deleted when a newer completes.
  std::uint32_t retained_checkpoints = 1;
  /// Write key groups unchanged since the last completed checkpoint by
  /// reference instead of again (savepoints are always full).
  bool incremental = false;
  Codec codec = Codec::zstd;
  int compression_level = 1;
  /// Threads compressing key groups in parallel (and decompressing and
  /// rebuilding them on restore); 0 means one per hardware thread.
  unsigned compression_threads = 0;
  CancellationPolicy on_cancellation = CancellationPolicy::retain_on_cancellation;
  /// Where savepoints go, relative to the storage root.
  std::string savepoint_directory = "savepoints";
  ReadLimits limits{};

  static StorageOptions defaults() { return {}; }
  /// Incremental checkpoints, keeping `n` of them.
  static StorageOptions incremental_checkpoints(std::uint32_t n = 3) { return StorageOptions{}.retain(n).with_incremental(true); }

  StorageOptions& retain(std::uint32_t n) {
    retained_checkpoints = n;
    return *this;
  }
  StorageOptions& with_incremental(bool on) {
    incremental = on;
    return *this;
  }
  StorageOptions& with_compression(Codec c, int level = 1) {
    codec = c;
    compression_level = level;
    return *this;
  }
  StorageOptions& with_compression_threads(unsigned n) {
    compression_threads = n;
    return *this;
  }
  StorageOptions& with_cancellation_policy(CancellationPolicy p) {
    on_cancellation = p;
    return *this;
  }
  StorageOptions& with_savepoint_directory(std::string dir) {
    savepoint_directory = std::move(dir);
    return *this;
  }
  StorageOptions& with_limits(ReadLimits l) {
    limits = l;
    return *this;
  }
};

/// How to pick the checkpoint to restore.
struct RestoreOptions {
  /// When the newest checkpoint fails verification, fall back to the previous
  /// retained one (never applies to a savepoint named explicitly).
  bool fallback_to_previous = true;
  /// Check every block's checksum before choosing, not only the manifest and
  /// each file's index (reads everything twice).
  bool verify_blocks = false;

  static RestoreOptions defaults() { return {}; }
  static RestoreOptions strict() { return {false, true}; }
};

}  // namespace ckpt
