#pragma once
// The key-type-independent face of a KeyedStateBackend<Key>: what the
// snapshot machinery, the scheduler and function contexts need, so they can
// drive backends of any key type.

#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/keyed_snapshot_job.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ckpt {

class KeyedStateBackendBase {
 public:
  virtual ~KeyedStateBackendBase() = default;
  virtual std::uint32_t max_parallelism() const noexcept = 0;
  virtual KeyGroupRange key_groups() const noexcept = 0;
  /// type_name<Key>() of the backend's key type.
  virtual std::string key_type_name() const = 0;
  virtual std::vector<std::string> state_names() const = 0;
  virtual std::unique_ptr<KeyedSnapshotJob> begin_snapshot(std::uint64_t id = 0, bool incremental = false) = 0;
  virtual void notify_snapshot_complete(std::uint64_t id) = 0;
  virtual void notify_snapshot_aborted(std::uint64_t id) = 0;
  virtual void restore(std::span<const KeyedStateSnapshot> snapshots) = 0;
  virtual bool is_restored() const noexcept = 0;
};

}  // namespace ckpt
