#pragma once
// What the coordinator reports for every checkpoint, completed or not.

#include <ckpt/snapshot/manifest.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

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
  std::uint32_t participants = 0;
  CheckpointOutcome outcome = CheckpointOutcome::completed;
  std::string failure;  // why, when not completed
};

using CheckpointListenerHook = std::function<void(const CheckpointStats&)>;

}  // namespace ckpt
