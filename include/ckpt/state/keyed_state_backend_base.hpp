#pragma once
// The key-type-independent face of a KeyedStateBackend<Key>: what the
// snapshot machinery, the scheduler and function contexts need, so they can
// drive backends of any key type.

#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/keyed_snapshot_job.hpp>
#include <ckpt/state/native_snapshot.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ckpt {

/// One key-group block of a restore whose bytes are fetched on demand
/// (decompressed from a file, say) instead of being held in memory at once.
struct KeyedRestoreBlock {
  std::size_t snapshot = 0;  // index into the snapshot headers
  std::uint32_t key_group = 0;
};

/// Returns the raw bytes of block `index`: a view into `scratch` (which it
/// may fill) or into memory that outlives the call. Called from several
/// threads at once, each time with another block and another scratch buffer.
using KeyedBlockFetch = std::function<ByteSpan(std::size_t index, Bytes& scratch)>;

/// What a keyed snapshot holds: every entry (full: savepoints, and checkpoints
/// unless incremental ones are asked for), or what changed since the last
/// completed snapshot (incremental), as Flink's full and incremental checkpoints.
enum class SnapshotMode { full, incremental };

class KeyedStateBackendBase {
 public:
  virtual ~KeyedStateBackendBase() = default;
  virtual std::uint32_t max_parallelism() const noexcept = 0;
  virtual KeyGroupRange key_groups() const noexcept = 0;
  /// type_name<Key>() of the backend's key type.
  virtual std::string key_type_name() const = 0;
  virtual std::vector<std::string> state_names() const = 0;
  /// Cuts the state for snapshot `id` (named again by notify_snapshot_*()),
  /// a full one or, where the backend keeps what changed, an incremental one
  /// that builds on the last completed snapshot.
  std::unique_ptr<KeyedSnapshotJob> begin_snapshot(std::uint64_t id = 0, SnapshotMode mode = SnapshotMode::full) {
    return start_snapshot(id, mode);
  }
  virtual void notify_snapshot_complete(std::uint64_t id) = 0;
  virtual void notify_snapshot_aborted(std::uint64_t id) = 0;
  virtual void restore(std::span<const KeyedStateSnapshot> snapshots) = 0;
  /// The same, with the blocks fetched on demand: `headers` are the snapshots
  /// without their blocks, `blocks` says which blocks each holds, and
  /// `fetch` produces them, on up to `threads` threads at once (key groups are
  /// independent). This default fetches every block and calls restore().
  virtual void restore(std::span<const KeyedStateSnapshot> headers, std::span<const KeyedRestoreBlock> blocks,
                       const KeyedBlockFetch& fetch, unsigned threads) {
    (void)threads;
    std::vector<KeyedStateSnapshot> full(headers.begin(), headers.end());
    Bytes scratch;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const auto bytes = fetch(i, scratch);
      full.at(blocks[i].snapshot).key_groups.push_back({blocks[i].key_group, Bytes(bytes.begin(), bytes.end())});
    }
    restore(full);
  }
  /// Restores from native snapshots (native_snapshot.hpp) of old subtasks
  /// whose key groups overlap this backend's: only a backend that writes
  /// such snapshots can read them. Called after restore() when a snapshot
  /// mixes native and canonical subtasks.
  virtual void restore_native(std::span<const NativeRestorePart> parts, const NativeFileFetch& fetch) {
    (void)fetch;
    throw StateError(errc::invalid_argument,
                     "the snapshot" + (parts.empty() ? std::string() : " at " + parts.front().origin) +
                         " is an incremental RocksDB checkpoint (native RocksDB files), which restores only into "
                         "the RocksDB backend (ckpt::rocksdb); to switch backends, restore it into RocksDB and take a "
                         "savepoint (canonical format), then restore the savepoint");
  }
  virtual bool is_restored() const noexcept = 0;

 protected:
  /// begin_snapshot()'s work, per backend (no default arguments on a virtual:
  /// the public call has them).
  virtual std::unique_ptr<KeyedSnapshotJob> start_snapshot(std::uint64_t id, SnapshotMode mode) = 0;
};

}  // namespace ckpt
