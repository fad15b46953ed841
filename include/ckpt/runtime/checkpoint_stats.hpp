#pragma once
// What the coordinator reports for every checkpoint, completed or not.

#include <ckpt/snapshot/manifest.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ckpt {

enum class CheckpointOutcome : std::uint8_t { completed, aborted, timed_out, declined };

inline const char* to_string(CheckpointOutcome o) noexcept {
  switch (o) {
    case CheckpointOutcome::completed: return "completed";
    case CheckpointOutcome::aborted: return "aborted";
    case CheckpointOutcome::timed_out: return "timed out";
    case CheckpointOutcome::declined: return "declined";
  }
  return "unknown";
}

/// One participant's part of a checkpoint (Flink reports these per subtask).
struct ParticipantCheckpointStats {
  std::string name;           // the participant's describe()
  bool acknowledged = false;  // it cut its state
  bool written = false;       // ... and that state is durable
  std::chrono::nanoseconds sync_pause{0};
  std::chrono::nanoseconds alignment{0};
  std::chrono::nanoseconds async_duration{0};  // from the trigger until its state was written
  std::uint64_t raw_bytes = 0;
  std::uint64_t stored_bytes = 0;
};

struct CheckpointStats {
  std::uint64_t id = 0;
  SnapshotKind kind = SnapshotKind::checkpoint;
  bool final = false;  // the job's last barrier (stop with savepoint, or a finite job's end)
  std::int64_t trigger_timestamp_millis = 0;
  /// Longest time a participant's thread stopped to cut its state.
  std::chrono::nanoseconds sync_pause{0};
  /// Longest time a participant waited for barriers to align.
  std::chrono::nanoseconds alignment{0};
  /// From the trigger until every participant's state was written.
  std::chrono::nanoseconds async_duration{0};
  /// From the trigger until the outcome.
  std::chrono::nanoseconds end_to_end{0};
  std::uint64_t raw_bytes = 0;     // state bytes written, before compression
  std::uint64_t stored_bytes = 0;  // ... after
  /// A completed checkpoint's whole state as stored, also what an incremental
  /// one references from earlier checkpoints (Flink: full size).
  std::uint64_t full_stored_bytes = 0;
  std::uint32_t participants = 0;
  std::vector<ParticipantCheckpointStats> per_participant;  // in the order they were added
  CheckpointOutcome outcome = CheckpointOutcome::completed;
  std::string failure;  // why, when not completed
};

using CheckpointListenerHook = std::function<void(const CheckpointStats&)>;

}  // namespace ckpt
