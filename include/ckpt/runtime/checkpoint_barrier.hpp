#pragma once
// A checkpoint barrier: the marker the coordinator injects, that flows with
// the data through a pipeline, and at which every participant cuts its state.

#include <ckpt/snapshot/manifest.hpp>

#include <cstdint>
#include <string>

namespace ckpt {

struct CheckpointBarrier {
  std::uint64_t id = 0;
  std::int64_t timestamp_millis = 0;
  SnapshotKind kind = SnapshotKind::checkpoint;
  /// The last barrier: sources stop after emitting it and the job finishes
  /// once it completes (stop with savepoint, or the final checkpoint of a
  /// finite job, which commits the sinks' last transactions).
  bool final = false;

  bool is_savepoint() const noexcept { return kind == SnapshotKind::savepoint; }
};

}  // namespace ckpt
