#pragma once
// CheckpointListener: told when a checkpoint completes or is aborted.
//
// notify_checkpoint_complete(N) means checkpoint N is durable (its manifest is
// published). It subsumes every earlier checkpoint: a listener may never hear
// about some id below N, and must treat N as completing them too (a sink
// commits every pending transaction up to N). Notifications come from the
// scheduler's thread for this function, never concurrently with its
// processing.

#include <cstdint>

namespace ckpt {

class CheckpointListener {
 public:
  virtual ~CheckpointListener() = default;
  virtual void notify_checkpoint_complete(std::uint64_t checkpoint_id) = 0;
  virtual void notify_checkpoint_aborted(std::uint64_t checkpoint_id) { (void)checkpoint_id; }
};

}  // namespace ckpt
