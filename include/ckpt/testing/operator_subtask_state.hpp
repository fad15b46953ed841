#pragma once
// OperatorSubtaskState: the state of one parallel instance (subtask) of an
// operator at one checkpoint, held in memory — what the runtime writes for
// that subtask: its keyed state (for keyed functions) and its operator state
// (Flink's OperatorSubtaskState). A test harness's snapshot() returns one;
// restore() and rescale() build new instances from those of every old subtask,
// at the same or another parallelism, by the restore code the runtime uses.

#include <ckpt/error.hpp>
#include <ckpt/serial/snapshot_data.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ckpt {

struct OperatorSubtaskState {
  std::uint64_t checkpoint_id = 0;
  /// When the checkpoint was taken: epoch milliseconds of processing time.
  std::int64_t checkpoint_timestamp = 0;
  std::uint32_t subtask_index = 0;
  std::uint32_t parallelism = 1;
  /// Keyed state, as KeyedStateBackend::restore() takes it: one snapshot from a
  /// harness, one per state file read from a checkpoint; empty when not keyed.
  std::vector<KeyedStateSnapshot> keyed_state;
  OperatorStateSnapshot operator_state;
};

namespace detail {

/// Checks that `states` are the snapshots of every subtask of one operator at
/// one checkpoint (subtasks 0..N-1 of N, each once, in any order) and returns
/// them in subtask order, as operator state redistribution needs them.
inline std::vector<const OperatorSubtaskState*> old_subtasks_in_order(std::span<const OperatorSubtaskState> states) {
  if (states.empty())
    throw ConfigError(errc::invalid_argument, "nothing to restore from: pass the snapshots of every old subtask");
  const auto n = states.front().parallelism;
  const auto id = states.front().checkpoint_id;
  if (states.size() != n)
    throw ConfigError(errc::invalid_argument,
                      "restoring needs the snapshots of all " + std::to_string(n) + " old subtasks; got " +
                          std::to_string(states.size()) +
                          " (a subtask's share of operator state depends on every old subtask's)");
  std::vector<const OperatorSubtaskState*> ordered(n, nullptr);
  for (const auto& s : states) {
    if (s.parallelism != n || s.checkpoint_id != id)
      throw ConfigError(errc::invalid_argument,
                        "the snapshots are of different checkpoints or parallelisms: subtask " +
                            std::to_string(s.subtask_index) + " of " + std::to_string(s.parallelism) +
                            " at checkpoint " + std::to_string(s.checkpoint_id) + " beside checkpoint " +
                            std::to_string(id) + " at parallelism " + std::to_string(n));
    if (s.subtask_index >= n || ordered[s.subtask_index])
      throw ConfigError(errc::invalid_argument, "subtask " + std::to_string(s.subtask_index) + " of " +
                                                    std::to_string(n) + " is out of range or given twice");
    ordered[s.subtask_index] = &s;
  }
  return ordered;
}

}  // namespace detail
}  // namespace ckpt
