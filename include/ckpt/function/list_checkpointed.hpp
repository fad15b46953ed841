#pragma once
// ListCheckpointed<T>: the simplest way to make a function's own state part of
// the checkpoint (Flink's ListCheckpointed). At every checkpoint the function
// returns its state as a list; on restore it receives a list, which after a
// change of parallelism is its even-split share of all old subtasks' lists.
// A source keeps one element per partition it reads (its offset), so
// partitions move between subtasks on rescale.

#include <ckpt/state/list_state.hpp>
#include <ckpt/state/operator_state_store.hpp>
#include <ckpt/state/state_descriptor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ckpt {

template <class T>
class ListCheckpointed {
 public:
  using element_type = T;
  virtual ~ListCheckpointed() = default;
  virtual std::vector<T> snapshot_state(std::uint64_t checkpoint_id, std::int64_t timestamp) = 0;
  virtual void restore_state(std::vector<T> state) = 0;
};

/// Connects a ListCheckpointed function to an operator state store: its list
/// lives in even-split list state `state_name` of the store.
template <class T>
class ListCheckpointedBinding {
 public:
  ListCheckpointedBinding(ListCheckpointed<T>& function, OperatorStateStore& store,
                          const std::string& state_name = "list-checkpointed")
      : function_(function), state_(store.get_list_state(ListStateDescriptor<T>{state_name})) {
    if (store.is_restored()) function_.restore_state(state_.get());
  }
  /// Called at every checkpoint, before the store is snapshotted.
  void snapshot(std::uint64_t checkpoint_id, std::int64_t timestamp) {
    state_.update(function_.snapshot_state(checkpoint_id, timestamp));
  }

 private:
  ListCheckpointed<T>& function_;
  ListState<T> state_;
};

}  // namespace ckpt
