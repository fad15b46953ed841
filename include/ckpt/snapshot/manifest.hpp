#pragma once
// The manifest (_metadata) of a checkpoint or savepoint: written last and
// atomically, it is what makes a snapshot complete. It lists every operator
// (by uid) with its subtasks, each subtask's files (paths relative to the
// snapshot's directory, or to the storage's shared/ directory for files an
// incremental checkpoint shares), sizes and index checksums, which file holds
// which key groups, the operator states with their element counts and
// distribution, every keyed state's types and version, and the user's
// properties (the program's version, say).
//
//   _metadata := "CKPTMETA", u32 format version (3), u32 reserved,
//                u64 body size, u64 XXH3-64 of the body, body
//
// where body is Manifest through ckpt's binary archive. Older versions are
// read, no longer written: version 2 lacks the last field, native (the
// subtasks whose keyed state is a backend's own files, a RocksDB native
// checkpoint), version 1 also ends_job.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/hash.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/portable_type_name.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/snapshot/framed_file.hpp>
#include <ckpt/snapshot/state_file_format.hpp>

#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ckpt {

inline constexpr std::uint32_t manifest_format_version = 3;
/// The oldest manifest format this build still reads.
inline constexpr std::uint32_t manifest_oldest_format_version = 1;
inline constexpr std::array<char, 8> manifest_magic{'C', 'K', 'P', 'T', 'M', 'E', 'T', 'A'};
inline constexpr std::size_t manifest_header_size = frame_header_size;
inline constexpr const char* manifest_file_name = "_metadata";

enum class SnapshotKind : std::uint8_t { checkpoint = 1, savepoint = 2 };

inline const char* to_string(SnapshotKind k) noexcept { return k == SnapshotKind::savepoint ? "savepoint" : "checkpoint"; }

struct FileRef {
  std::string path;     // relative to the snapshot's directory, or to shared/ when `shared`
  bool shared = false;  // owned by no single checkpoint (incremental checkpoints)
  std::uint64_t size = 0;
  std::uint64_t index_checksum = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(path, shared, size, index_checksum);
  }
  friend bool operator==(const FileRef&, const FileRef&) = default;
};

/// Key groups [begin, end) of a subtask are in files[file] (those that have state).
struct KeyGroupSource {
  std::uint32_t file = 0;
  std::uint32_t begin = 0;
  std::uint32_t end = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(file, begin, end);
  }
  friend bool operator==(const KeyGroupSource&, const KeyGroupSource&) = default;
};

struct SubtaskManifest {
  std::uint32_t index = 0;
  std::uint32_t key_group_begin = 0;  // the subtask's key groups when keyed
  std::uint32_t key_group_end = 0;
  std::vector<FileRef> files;
  std::vector<KeyGroupSource> key_groups;
  std::optional<std::uint32_t> operator_state_file;
  std::vector<OperatorStateInfo> operator_states;
  std::uint64_t raw_bytes = 0;     // state bytes before compression (in this checkpoint's own files)
  std::uint64_t stored_bytes = 0;  // ... and after

  template <class Archive>
  void serialize(Archive& ar) {
    ar(index, key_group_begin, key_group_end, files, key_groups, operator_state_file, operator_states, raw_bytes,
       stored_bytes);
  }
};

/// One file of a native subtask: `name` as the backend knows it, stored at
/// `path` (relative to the snapshot's directory, or to shared/ when `shared`)
/// with its size and the XXH3-64 of the whole file. A checkpoint's own small
/// files (MANIFEST, OPTIONS, CURRENT) are stored as one zstd frame when that is
/// smaller: `stored_size` is then the frame's size (0: stored as they are).
struct NativeFileRef {
  std::string name;
  std::string path;
  bool shared = false;
  std::uint64_t size = 0;
  std::uint64_t checksum = 0;
  std::uint64_t stored_size = 0;

  bool compressed() const noexcept { return stored_size != 0; }
  /// The bytes the file takes in storage.
  std::uint64_t stored_bytes() const noexcept { return compressed() ? stored_size : size; }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, path, shared, size, checksum, stored_size);
  }
  friend bool operator==(const NativeFileRef&, const NativeFileRef&) = default;
};

/// A subtask whose keyed state is a native snapshot (state/native_snapshot.hpp)
/// instead of key-group blocks: its files and the database they come from.
/// Its key-group range is the SubtaskManifest's.
struct NativeSubtaskManifest {
  std::string uid;
  std::uint32_t subtask = 0;
  std::string db_identity;
  std::vector<StateMeta> states;
  std::vector<NativeFileRef> files;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(uid, subtask, db_identity, states, files);
  }
};

struct OperatorManifest {
  std::string uid;
  std::uint32_t parallelism = 1;
  std::uint32_t max_parallelism = 0;  // 0 when the operator has no keyed state
  std::string key_type;
  std::vector<StateMeta> keyed_states;
  std::vector<SubtaskManifest> subtasks;  // by subtask index, all present

  template <class Archive>
  void serialize(Archive& ar) {
    ar(uid, parallelism, max_parallelism, key_type, keyed_states, subtasks);
    serial::portable_on_load(ar, key_type);
  }
};

struct Manifest {
  std::uint64_t checkpoint_id = 0;
  std::int64_t timestamp_millis = 0;
  SnapshotKind kind = SnapshotKind::checkpoint;
  std::string name;  // a savepoint's name or tag
  std::optional<std::uint64_t> base_checkpoint_id;  // incremental: shares files with this one
  std::vector<OperatorManifest> operators;
  std::map<std::string, std::string> properties;
  /// A savepoint that ended the job (stop with savepoint): the sinks committed
  /// through it, so it is a restore point for "latest" like a checkpoint. An
  /// intermediate savepoint (the job went on) committed nothing and is not.
  bool ends_job = false;
  /// Subtasks whose keyed state is native (format version 3).
  std::vector<NativeSubtaskManifest> native;

  template <class Archive>
  void serialize(Archive& ar) {
    serialize_v2(ar);
    ar(native);
  }
  /// The fields of format version 2.
  template <class Archive>
  void serialize_v2(Archive& ar) {
    serialize_v1(ar);
    ar(ends_job);
  }
  /// The fields of format version 1.
  template <class Archive>
  void serialize_v1(Archive& ar) {
    ar(checkpoint_id, timestamp_millis, kind, name, base_checkpoint_id, operators, properties);
  }

  const NativeSubtaskManifest* find_native(std::string_view uid, std::uint32_t subtask) const {
    for (const auto& n : native)
      if (n.uid == uid && n.subtask == subtask) return &n;
    return nullptr;
  }
  const OperatorManifest* find(std::string_view uid) const {
    for (const auto& op : operators)
      if (op.uid == uid) return &op;
    return nullptr;
  }
  std::uint64_t raw_bytes() const {
    std::uint64_t n = 0;
    for (const auto& op : operators)
      for (const auto& s : op.subtasks) n += s.raw_bytes;
    return n;
  }
  std::uint64_t stored_bytes() const {
    std::uint64_t n = 0;
    for (const auto& op : operators)
      for (const auto& s : op.subtasks) n += s.stored_bytes;
    return n;
  }
  /// Bytes of every state file a restore reads, also the shared files an
  /// incremental checkpoint references from earlier ones (Flink's full size).
  std::uint64_t referenced_file_bytes() const {
    std::uint64_t n = 0;
    for (const auto& op : operators)
      for (const auto& s : op.subtasks)
        for (const auto& f : s.files) n += f.size;
    for (const auto& s : native)
      for (const auto& f : s.files) n += f.stored_bytes();
    return n;
  }
};

namespace detail {
/// A manifest read as format version 1 (no ends_job).
struct ManifestV1 {
  Manifest& m;
  template <class Archive>
  void serialize(Archive& ar) {
    m.serialize_v1(ar);
  }
};
/// A manifest read as format version 2 (no native subtasks).
struct ManifestV2 {
  Manifest& m;
  template <class Archive>
  void serialize(Archive& ar) {
    m.serialize_v2(ar);
  }
};
}  // namespace detail

inline constexpr FrameFormat manifest_frame{manifest_magic, manifest_format_version, manifest_oldest_format_version,
                                            "manifest"};

inline Bytes encode_manifest(const Manifest& m) { return encode_framed(manifest_frame, serial::encode(m)); }

/// Verifies and decodes a manifest; `path` names it in errors.
inline Manifest decode_manifest(ByteSpan bytes, const std::string& path, const ReadLimits& limits = {}) {
  const auto [version, body] = decode_framed(manifest_frame, bytes, path, limits.max_manifest_size);
  Manifest m;
  if (version == 1) {
    detail::ManifestV1 v1{m};
    serial::load_from(body, {path, "manifest"}, v1);
  } else if (version == 2) {
    detail::ManifestV2 v2{m};
    serial::load_from(body, {path, "manifest"}, v2);
  } else {
    serial::load_from(body, {path, "manifest"}, m);
  }
  return m;
}

}  // namespace ckpt
