#pragma once
// What a keyed backend checks before it restores a snapshot (the snapshot's
// max parallelism and key type, and for each state the types it was written
// with against the types it is declared with) and how it plans the restore
// (where each state's sections go, which blocks it reads). Shared by every
// keyed backend (heap and RocksDB), so a restore fails the same way on either.

#include <ckpt/error.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/state/detail/snapshot_control.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/keyed_state_backend_base.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ckpt::detail {

inline std::string describe_state(const StateMeta& m) {
  return std::string(to_string(m.kind)) + " state of " + m.value_type + " keyed by " + m.key_type;
}

/// A snapshot restored into a backend of `max_parallelism` and keys of type
/// `key_type` was taken by one with the same.
inline void check_snapshot_header(const KeyedStateSnapshot& snap, std::uint32_t max_parallelism,
                                  const std::string& key_type) {
  if (snap.max_parallelism != max_parallelism)
    throw RestoreError(errc::state_type_mismatch,
                       snap.origin + ": a snapshot taken with max parallelism " + std::to_string(snap.max_parallelism) +
                           " cannot be restored with max parallelism " + std::to_string(max_parallelism) +
                           "; the max parallelism of a job is fixed once it has state");
  if (snap.key_type != key_type)
    throw StateError(errc::state_type_mismatch, snap.origin + ": the snapshot's keys are of type " + snap.key_type +
                                                    "; this backend's are " + key_type);
}

/// A state restored as `written` may be read as `declared`: same kind, key
/// and value types, and not written by a newer version of the value type.
/// `origin` names the snapshot for the message.
inline void check_compatible(const StateMeta& declared, const StateMeta& written, const std::string& origin) {
  if (declared.kind != written.kind || declared.key_type != written.key_type ||
      declared.value_type != written.value_type)
    throw StateError(errc::state_type_mismatch,
                     origin + ": state '" + declared.name + "' is declared as " + describe_state(declared) +
                         " but the snapshot holds " + describe_state(written));
  if (written.value_version > declared.value_version)
    throw StateError(errc::unsupported_version,
                     origin + ": state '" + declared.name + "' was written by version " +
                         std::to_string(written.value_version) + " of " + written.value_type +
                         "; this program has version " + std::to_string(declared.value_version));
  // Same types, but a column written another way (is_bulk_serializable changed).
  if (declared.ttl == written.ttl &&
      (declared.key_encoding != written.key_encoding || declared.value_encoding != written.value_encoding))
    throw StateError(errc::state_type_mismatch,
                     origin + ": state '" + declared.name + "' was written with another encoding of its types");
}

/// Restored states a backend keeps, by name, until they are declared.
using PendingStates = std::map<std::string, std::shared_ptr<PendingState>, std::less<>>;

/// Where the sections of one state of one snapshot go.
template <class Declared>
struct RestoreTarget {
  Declared* declared = nullptr;           // a declared state ...
  std::shared_ptr<PendingState> pending;  // ... or one kept until declared
  std::exception_ptr incompatible;        // thrown when a section of it is met
};

/// Checks every header (max parallelism, key type, each state's types) and
/// says where each state of each snapshot goes: `find(name)` returns the
/// declared state of that name or null, `meta_of(declared)` its description;
/// states not declared get an entry in `pending` (a state without entries in
/// this backend's key groups is still known, and checked when declared).
template <class Declared, class Find, class MetaOf>
std::vector<std::vector<RestoreTarget<Declared>>> plan_restore(std::span<const KeyedStateSnapshot> headers,
                                                               std::uint32_t max_parallelism,
                                                               const std::string& key_type, Find&& find,
                                                               MetaOf&& meta_of, PendingStates& pending) {
  std::vector<std::vector<RestoreTarget<Declared>>> targets(headers.size());
  for (std::size_t h = 0; h < headers.size(); ++h) {
    const auto& snap = headers[h];
    check_snapshot_header(snap, max_parallelism, key_type);
    for (const auto& written : snap.states) {
      RestoreTarget<Declared> t;
      if (Declared* d = find(written.name)) {
        t.declared = d;
        try {
          check_compatible(meta_of(*d), written, snap.origin);
        } catch (...) {
          t.incompatible = std::current_exception();
        }
      } else {
        auto& p = pending[written.name];
        if (!p) p = std::make_shared<PendingState>(PendingState{written, {}});
        else if (!(p->meta == written))
          t.incompatible = std::make_exception_ptr(RestoreError(
              errc::state_type_mismatch,
              snap.origin + ": state '" + written.name + "' has different types in the snapshots being restored"));
        t.pending = p;
      }
      targets[h].push_back(std::move(t));
    }
  }
  return targets;
}

/// The indices of the blocks of key groups in `range`; each key group may
/// come from one snapshot only.
inline std::vector<std::size_t> blocks_in_range(std::size_t header_count, std::span<const KeyedRestoreBlock> blocks,
                                                KeyGroupRange range) {
  std::vector<std::size_t> wanted;
  std::vector<bool> seen(range.size(), false);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto kg = blocks[i].key_group;
    if (!range.contains(kg)) continue;
    if (blocks[i].snapshot >= header_count)
      throw StateError(errc::invalid_argument, "a restore block names snapshot #" + std::to_string(blocks[i].snapshot) +
                                                   " of " + std::to_string(header_count));
    if (seen[kg - range.begin])
      throw RestoreError(errc::corrupt_data, "key group " + std::to_string(kg) + " appears in more than one snapshot");
    seen[kg - range.begin] = true;
    wanted.push_back(i);
  }
  return wanted;
}

/// Restores in-memory snapshots through backend.restore(headers, blocks,
/// fetch, 1), which every backend implements.
inline void restore_in_memory(KeyedStateBackendBase& backend, std::span<const KeyedStateSnapshot> snapshots) {
  std::vector<KeyedRestoreBlock> blocks;
  for (std::size_t i = 0; i < snapshots.size(); ++i)
    for (const auto& b : snapshots[i].key_groups) blocks.push_back({i, b.key_group});
  std::vector<std::size_t> first(snapshots.size() + 1, 0);  // index of each snapshot's first block
  for (std::size_t i = 0; i < snapshots.size(); ++i) first[i + 1] = first[i] + snapshots[i].key_groups.size();
  backend.restore(snapshots, blocks, [&](std::size_t index, Bytes&) -> ByteSpan {
    const auto s = blocks[index].snapshot;
    return snapshots[s].key_groups[index - first[s]].data;
  }, 1);
}

}  // namespace ckpt::detail
