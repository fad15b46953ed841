#pragma once
// What a keyed backend checks before it restores a snapshot (the snapshot's
// max parallelism and key type, and for each state the types it was written
// with against the types it is declared with) and how it plans the restore
// (where each state's sections go, which blocks it reads). Shared by every
// keyed backend (heap and RocksDB), so a restore fails the same way on either.

#include <ckpt/error.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/state/detail/parallel.hpp>
#include <ckpt/state/detail/snapshot_control.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/keyed_state_backend_base.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
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
/// The file each kept section came from (by state, then slot), to name it if it fails when declared.
using PendingOrigins = std::map<std::string, std::map<std::size_t, std::string>, std::less<>>;

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
/// come from one snapshot only, and only from one that owned it (a block
/// outside its snapshot's key groups is damage, not state to take over).
inline std::vector<std::size_t> blocks_in_range(std::span<const KeyedStateSnapshot> headers,
                                                std::span<const KeyedRestoreBlock> blocks, KeyGroupRange range) {
  std::vector<std::size_t> wanted;
  std::vector<bool> seen(range.size(), false);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto kg = blocks[i].key_group;
    if (!range.contains(kg)) continue;
    if (blocks[i].snapshot >= headers.size())
      throw StateError(errc::invalid_argument, "a restore block names snapshot #" + std::to_string(blocks[i].snapshot) +
                                                   " of " + std::to_string(headers.size()));
    const auto& owner = headers[blocks[i].snapshot];
    if (kg < owner.key_group_begin || kg >= owner.key_group_end)
      throw RestoreError(errc::corrupt_data, owner.origin + ": holds key group " + std::to_string(kg) +
                                                 ", outside the key groups [" + std::to_string(owner.key_group_begin) +
                                                 ", " + std::to_string(owner.key_group_end) +
                                                 ") of the backend that wrote it");
    if (seen[kg - range.begin])
      throw RestoreError(errc::corrupt_data, "key group " + std::to_string(kg) + " appears in more than one snapshot");
    seen[kg - range.begin] = true;
    wanted.push_back(i);
  }
  return wanted;
}

/// The restore of a keyed backend, but for where a declared state's entries
/// go: checks the headers (plan_restore), then reads the blocks of `range`
/// on up to `threads` threads, each key group on its own, and calls
/// `on_section(declared, key group, slot, payload, written, context)` for a
/// section of a declared state (from several threads at once, never for the
/// same key group); sections of states not declared are kept in `pending`.
template <class Declared, class Find, class MetaOf, class OnSection>
void restore_key_groups(std::span<const KeyedStateSnapshot> headers, std::span<const KeyedRestoreBlock> blocks,
                        const KeyedBlockFetch& fetch, unsigned threads, std::uint32_t max_parallelism,
                        const std::string& key_type, KeyGroupRange range, Find&& find, MetaOf&& meta_of,
                        PendingStates& pending, PendingOrigins& origins, OnSection&& on_section) {
  // Everything but the blocks' contents is checked here, on this thread.
  const auto targets = plan_restore<Declared>(headers, max_parallelism, key_type, find, meta_of, pending);
  const auto wanted = blocks_in_range(headers, blocks, range);

  std::mutex pending_mutex;
  const auto restore_one = [&](std::size_t i, Bytes& scratch) {
    const auto& b = blocks[i];
    const auto& snap = headers[b.snapshot];
    const std::size_t slot = b.key_group - range.begin;
    const auto block_name = "key group " + std::to_string(b.key_group);
    const serial::ReadContext context{snap.origin, block_name};
    const ByteSpan data = fetch(i, scratch);
    for (const auto& section : serial::parse_sections(data, snap.states.size(), context)) {
      const StateMeta& written = snap.states[section.state_index];
      const auto& t = targets[b.snapshot][section.state_index];
      if (t.incompatible) std::rethrow_exception(t.incompatible);
      if (t.declared) {
        on_section(*t.declared, b.key_group, slot, section.payload, written, context);
      } else {
        auto bytes = std::make_shared<const Bytes>(section.payload.begin(), section.payload.end());
        std::lock_guard lock(pending_mutex);
        t.pending->sections[slot] = std::move(bytes);
        origins[written.name][slot] = snap.origin;
      }
    }
  };
  run_parallel(std::min<std::size_t>(std::max(1u, threads), wanted.size()), wanted.size(),
               [&](std::size_t j, Bytes& scratch) { restore_one(wanted[j], scratch); });
}

/// A state declared now that a restore kept: checks `declared` against the
/// types it was written with, hands each kept section to `load(slot,
/// payload, written, context)`, and forgets it. Nothing if none was kept.
template <class Load>
void load_pending(PendingStates& pending, PendingOrigins& origins, const StateMeta& declared,
                  std::uint32_t first_key_group, Load&& load) {
  const auto p = pending.find(declared.name);
  if (p == pending.end()) return;
  auto& from = origins[declared.name];
  const auto origin_of = [&](std::size_t slot) {
    const auto o = from.find(slot);
    return o != from.end() ? o->second : std::string("<restored snapshot>");
  };
  check_compatible(declared, p->second->meta, from.empty() ? std::string("<restored snapshot>") : from.begin()->second);
  for (const auto& [slot, bytes] : p->second->sections) {
    const auto block = "key group " + std::to_string(first_key_group + slot) + ", state '" + declared.name + "'";
    const std::string origin = origin_of(slot);
    load(slot, ByteSpan(*bytes), p->second->meta, serial::ReadContext{origin, block});
  }
  pending.erase(p);
  origins.erase(declared.name);
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
