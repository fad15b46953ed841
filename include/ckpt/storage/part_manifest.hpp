#pragma once
// The parts of a global checkpoint: the members of one job share a storage
// (StorageOptions::job_member); member m's part of checkpoint N is its files
// chk-N/m~*.state and the part manifest chk-N/_part-m (a Manifest listing only
// m's subtasks). The job's committer reads and verifies every part and merges
// them into the normal chk-N/_metadata, so SnapshotReader, restore_latest()
// and rescaling read a global checkpoint unchanged.
//
//   const PartRef part = describe_part(storage.file_system(), 7, "m1");      // member, after its part completes
//   const Manifest global = publish_global_manifest(fs, 7, {part0, part1});  // committer, before committing 7
//   remove_member_files(fs, 7, "m1");                                        // member, when 7 was aborted

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/path.hpp>
#include <ckpt/hash.hpp>
#include <ckpt/snapshot/manifest.hpp>
#include <ckpt/snapshot/state_file_reader.hpp>
#include <ckpt/storage/layout.hpp>
#include <ckpt/storage/snapshot_reader.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ckpt {

/// Where a member's part manifest is and what it must be (size and XXH3-64 of
/// its bytes): what a member reports, so the committer trusts no other file.
struct PartRef {
  std::string member;
  std::string path;  // relative to the storage root: chk-<id>/_part-<member>
  std::uint64_t size = 0;
  std::uint64_t checksum = 0;
  friend bool operator==(const PartRef&, const PartRef&) = default;
};

/// The part manifest `member` published for checkpoint `id`, described.
inline PartRef describe_part(fs::FileSystem& fs, std::uint64_t id, const std::string& member,
                             const ReadLimits& limits = {}) {
  PartRef ref{member, fs::join(layout::checkpoint_dir(id), layout::part_manifest_file(member)), 0, 0};
  auto file = fs.open(ref.path);
  if (file->size() > limits.max_manifest_size)
    throw CorruptionError(errc::limit_exceeded, ref.path, "part manifest",
                          ref.path + ": is " + std::to_string(file->size()) + " bytes; the limit is " +
                              std::to_string(limits.max_manifest_size));
  Bytes bytes(static_cast<std::size_t>(file->size()));
  file->read(0, bytes);
  ref.size = bytes.size();
  ref.checksum = hash64(bytes);
  return ref;
}

namespace detail {
/// Reads a part manifest, checking it is the one its member reported and belongs to checkpoint `id`.
inline Manifest read_part(fs::FileSystem& fs, std::uint64_t id, const PartRef& ref, const ReadLimits& limits) {
  const auto expected = fs::join(layout::checkpoint_dir(id), layout::part_manifest_file(ref.member));
  const auto fail = [&](const std::string& what) {
    return CorruptionError(errc::corrupt_data, ref.path, "part manifest", fs.uri() + "/" + ref.path + ": " + what);
  };
  if (ref.path != expected) throw fail("member '" + ref.member + "' reported a part that is not " + expected);
  auto file = fs.open(ref.path);
  if (file->size() != ref.size)
    throw fail("is " + std::to_string(file->size()) + " bytes; member '" + ref.member + "' reported " +
               std::to_string(ref.size));
  if (ref.size > limits.max_manifest_size) throw fail("is larger than the manifest limit");
  Bytes bytes(static_cast<std::size_t>(ref.size));
  file->read(0, bytes);
  if (hash64(bytes) != ref.checksum) throw fail("its checksum differs from the one member '" + ref.member + "' reported");
  Manifest m = decode_manifest(bytes, ref.path, limits);
  if (m.checkpoint_id != id || m.kind != SnapshotKind::checkpoint)
    throw fail("describes " + std::string(to_string(m.kind)) + " " + std::to_string(m.checkpoint_id) +
               ", not checkpoint " + std::to_string(id));
  const auto prefix = layout::member_file_prefix(ref.member);
  for (const auto& op : m.operators)
    for (const auto& s : op.subtasks)
      for (const auto& f : s.files)
        if (f.shared || !f.path.starts_with(prefix))
          throw fail("lists '" + printable_name(f.path) + "', which is not a file of member '" + ref.member + "'");
  return m;
}
}  // namespace detail

/// Merges the parts of checkpoint `id` (every member's; each verified against
/// what its member reported, and every state file they list against its size
/// and index checksum) into one manifest; throws CorruptionError naming the
/// file when a part does not verify, CheckpointError(errc::checkpoint_aborted)
/// naming the subtask when an operator subtask is missing or written twice.
inline Manifest merge_parts(fs::FileSystem& fs, std::uint64_t id, const std::vector<PartRef>& parts,
                            std::map<std::string, std::string> properties = {}, const ReadLimits& limits = {}) {
  const auto where = "checkpoint " + std::to_string(id) + " in " + fs.uri();
  if (parts.empty()) throw CheckpointError(errc::checkpoint_aborted, where + ": no parts to merge");
  Manifest global;
  global.checkpoint_id = id;
  global.kind = SnapshotKind::checkpoint;
  global.properties = std::move(properties);
  std::map<std::string, std::pair<OperatorManifest, std::vector<std::string>>> ops;  // uid -> (merged, writer of each subtask)
  for (const auto& ref : parts) {
    Manifest part = detail::read_part(fs, id, ref, limits);
    global.timestamp_millis = std::max(global.timestamp_millis, part.timestamp_millis);
    for (const auto& [k, v] : part.properties) global.properties.emplace(k, v);
    for (auto& op : part.operators) {
      auto& [merged, writers] = ops[op.uid];
      if (writers.empty()) {
        merged = op;
        merged.subtasks.assign(op.parallelism, SubtaskManifest{});
        writers.assign(op.parallelism, {});
      }
      if (op.parallelism != merged.parallelism || op.max_parallelism != merged.max_parallelism ||
          op.key_type != merged.key_type)
        throw CheckpointError(errc::checkpoint_aborted,
                              where + ": operator '" + op.uid + "' differs between members (parallelism " +
                                  std::to_string(merged.parallelism) + " and " + std::to_string(op.parallelism) +
                                  ", or its key type or max parallelism)");
      for (auto& s : op.subtasks) {
        const auto at = "operator '" + op.uid + "' subtask " + std::to_string(s.index);
        if (s.index >= merged.parallelism)
          throw CorruptionError(errc::corrupt_data, ref.path, "part manifest", ref.path + ": " + at + " does not exist");
        if (!writers[s.index].empty())
          throw CheckpointError(errc::checkpoint_aborted, where + ": " + at + " was written by members '" +
                                                              writers[s.index] + "' and '" + ref.member + "'");
        for (const auto& f : s.files)  // the file as its part describes it, before anything trusts it
          (void)StateFileReader(fs.open(fs::join(layout::checkpoint_dir(id), f.path)), limits, f.size, f.index_checksum);
        writers[s.index] = ref.member;
        merged.subtasks[s.index] = std::move(s);
      }
    }
  }
  for (auto& [uid, entry] : ops) {
    for (std::size_t i = 0; i < entry.second.size(); ++i)
      if (entry.second[i].empty())
        throw CheckpointError(errc::checkpoint_aborted, where + ": no member wrote operator '" + uid + "' subtask " +
                                                            std::to_string(i) + " of " +
                                                            std::to_string(entry.first.parallelism));
    global.operators.push_back(std::move(entry.first));
  }
  validate_manifest(global, fs::join(layout::checkpoint_dir(id), manifest_file_name));
  return global;
}

/// merge_parts(), then publishes the result as chk-<id>/_metadata: from here
/// on the checkpoint is complete in storage (commit it before telling anyone).
inline Manifest publish_global_manifest(fs::FileSystem& fs, std::uint64_t id, const std::vector<PartRef>& parts,
                                        std::map<std::string, std::string> properties = {},
                                        const ReadLimits& limits = {}) {
  Manifest m = merge_parts(fs, id, parts, std::move(properties), limits);
  fs.publish(fs::join(layout::checkpoint_dir(id), manifest_file_name), encode_manifest(m));
  return m;
}

/// Removes `member`'s files of checkpoint `id` (its state files and its part
/// manifest), leaving the other members' alone. Returns how many it removed.
inline std::size_t remove_member_files(fs::FileSystem& fs, std::uint64_t id, const std::string& member) {
  const auto dir = layout::checkpoint_dir(id);  // a missing directory lists as empty (and object stores have none)
  const auto prefix = layout::member_file_prefix(member);
  const auto part = layout::part_manifest_file(member);
  std::size_t removed = 0;
  for (const auto& e : fs.list(dir)) {
    if (e.type != fs::EntryType::file || !(e.name.starts_with(prefix) || e.name == part)) continue;
    fs.remove(fs::join(dir, e.name));
    ++removed;
  }
  return removed;
}

}  // namespace ckpt
