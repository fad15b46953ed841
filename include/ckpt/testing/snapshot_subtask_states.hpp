#pragma once
// The state an operator has in a real checkpoint or savepoint, as one
// OperatorSubtaskState per subtask it ran with — to restore test harnesses
// from what a JobRunner wrote (a production savepoint in a unit test, or a
// check that a harness and the runtime agree).
//
//   auto reader = storage.open_savepoint("before-upgrade");
//   auto states = ckpt::operator_subtask_states(*reader, "dedup");
//   ckpt::KeyedProcessFunctionTestHarness harness(make_dedup, by_id);
//   harness.restore(states);   // or harness.rescale(states, 3)

#include <ckpt/error.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/storage/snapshot_reader.hpp>
#include <ckpt/testing/operator_subtask_state.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt {

/// Every subtask's state of operator `uid` in `snapshot`, in subtask order;
/// a RestoreError (not_found) if the snapshot has no such operator.
inline std::vector<OperatorSubtaskState> operator_subtask_states(SnapshotReader& snapshot, std::string_view uid) {
  const auto* op = snapshot.manifest().find(uid);
  if (!op)
    throw RestoreError(errc::not_found, snapshot.location() + " holds no state for operator '" + std::string(uid) + "'");
  auto operator_states = snapshot.operator_state(uid);
  std::vector<OperatorSubtaskState> out;
  out.reserve(op->subtasks.size());
  for (std::uint32_t i = 0; i < op->subtasks.size(); ++i) {
    const auto& sub = op->subtasks[i];
    OperatorSubtaskState s;
    s.checkpoint_id = snapshot.checkpoint_id();
    s.checkpoint_timestamp = snapshot.manifest().timestamp_millis;
    s.subtask_index = i;
    s.parallelism = op->parallelism;
    if (op->max_parallelism != 0 && sub.key_group_begin < sub.key_group_end)
      s.keyed_state = snapshot.keyed_state(uid, KeyGroupRange{sub.key_group_begin, sub.key_group_end});
    if (i < operator_states.size()) s.operator_state = std::move(operator_states[i]);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ckpt
