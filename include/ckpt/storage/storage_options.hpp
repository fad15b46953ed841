#pragma once
// Options of a checkpoint storage, in cereal's style: a small struct with
// named factories and chainable setters.
//
//   auto options = ckpt::StorageOptions::defaults().retain(3).with_incremental(true);

#include <ckpt/snapshot/codec.hpp>
#include <ckpt/snapshot/state_file_format.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ckpt {

/// What happens to retained checkpoints when a job is cancelled (Flink's
/// ExternalizedCheckpointCleanup).
enum class CancellationPolicy : std::uint8_t { retain_on_cancellation, delete_on_cancellation };

/// Tags: named, long-lived restore points, each a savepoint (Apache Paimon's
/// tags; the option names follow Paimon's). Off unless set.
struct TagOptions {
  using duration = std::chrono::milliseconds;
  /// Every savepoint creates a tag named after it: its name, or
  /// "savepoint-<id>" (Paimon's sink.savepoint.auto-tag).
  bool savepoint_auto_tag = false;
  /// Create a tag, with a savepoint of its own, once per period of wall-clock
  /// time, named after the period it closes ("2026-12-03" daily,
  /// "2026-12-03T12" hourly, "2026-12-03T12-05" by the minute): Paimon's
  /// tag.automatic-creation = process-time with tag.creation-period.
  std::optional<duration> creation_period;
  /// Automatic (scheduled) tags kept; the oldest go first, with their
  /// savepoints (tag.num-retained-max).
  std::optional<std::uint32_t> num_retained_max;
  /// How long a new tag is kept (tag.default-time-retained); an expired tag is
  /// removed when the next tag is created or expire_tags() runs.
  std::optional<duration> default_time_retained;

  static TagOptions defaults() { return {}; }
  TagOptions& tag_savepoints(bool on = true) {
    savepoint_auto_tag = on;
    return *this;
  }
  TagOptions& create_every(duration period) {
    creation_period = period;
    return *this;
  }
  TagOptions& retain_max(std::uint32_t n) {
    num_retained_max = n;
    return *this;
  }
  TagOptions& retain_for(duration d) {
    default_time_retained = d;
    return *this;
  }
};

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
  TagOptions tags{};
  /// Whether CheckpointStorage::open(uri) creates a missing local directory:
  /// yes by default, for a service's first start; must_exist() makes a
  /// missing one an error naming it, for a restart that expects its state.
  bool create_if_missing = true;
  /// Whether the storage is only read (read_only_access()): no lock, no cleanup, no
  /// file or directory created; listing, open_checkpoint(), open_savepoint()
  /// and restore_latest() work, and every call that would write is refused
  /// with errc::invalid_argument naming the storage. For a second process
  /// that inspects or restores from a storage another process may own.
  bool read_only = false;
  /// Member mode (one job across processes, see storage/part_manifest.hpp):
  /// the id of this process among the job's members. It then writes only its
  /// own files under chk-<id>/ (named "<member>~..."), takes the lock
  /// "_members/<member>.lock" instead of the one writer's, ends its part of a
  /// checkpoint with chk-<id>/_part-<member> instead of _metadata, and never
  /// cleans up (the job's one committer does, with cleanup_committed()).
  /// Letters, digits, '.', '_' and '-' only. Empty: the one writer.
  std::string job_member;

  static StorageOptions defaults() { return {}; }
  StorageOptions& as_job_member(std::string member) {
    job_member = std::move(member);
    return *this;
  }
  /// Incremental checkpoints, keeping `n` of them.
  static StorageOptions incremental_checkpoints(std::uint32_t n = 3) { return StorageOptions{}.retain(n).with_incremental(true); }

  StorageOptions& must_exist() {
    create_if_missing = false;
    return *this;
  }
  /// Reads the storage without ever changing it (implies must_exist()). A
  /// writer working meanwhile may delete what a reader is reading: the read
  /// then fails with a clear error, never with wrong state.
  static StorageOptions read_only_access() {
    StorageOptions o;
    o.read_only = true;
    o.create_if_missing = false;
    return o;
  }
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
  StorageOptions& with_tags(TagOptions t) {
    tags = t;
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
