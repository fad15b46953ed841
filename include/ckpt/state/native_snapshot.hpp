#pragma once
// A keyed backend's snapshot in its own files (a RocksDB native checkpoint:
// hard links of its SST files plus its MANIFEST, OPTIONS and CURRENT), in
// terms the core understands: a local directory, its files and what state
// they hold. The storage uploads the files (sharing those an earlier
// checkpoint of the same database already holds); restoring hands the files
// back through a fetch function that verifies each one before it is used.
//
// The core never reads these files: only the backend that wrote them can.

#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/state/key_group.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace ckpt {

/// One file of a native snapshot.
struct NativeFile {
  std::string name;  // relative to NativeSnapshot::directory, no '/' ("000012.sst", "CURRENT")
  std::uint64_t size = 0;
  /// Immutable content named by (db identity, name): may be shared between
  /// checkpoints of the same database (RocksDB's SST files). The others
  /// (MANIFEST, OPTIONS, CURRENT) belong to one checkpoint.
  bool shareable = false;
};

/// What the synchronous part of a native snapshot produced, reachable from
/// KeyedSnapshotJob::native(). The directory lives until the job is released.
struct NativeSnapshot {
  std::filesystem::path directory;
  /// Identifies the database the files come from: files of the same name and
  /// size from the same identity have the same content.
  std::string db_identity;
  std::vector<NativeFile> files;
};

/// One old subtask's native snapshot to restore from.
struct NativeRestorePart {
  std::uint32_t max_parallelism = 0;
  KeyGroupRange key_groups;  // what the old subtask owned
  std::string key_type;
  std::vector<StateMeta> states;
  std::vector<std::string> files;  // NativeFile::name of every file
  std::string origin;              // where it is, for messages
};

/// Copies file `name` of part `part` to `local`, verified (size and checksum)
/// before it returns; a missing or damaged file is a CorruptionError naming it.
using NativeFileFetch =
    std::function<void(std::size_t part, const std::string& name, const std::filesystem::path& local)>;

}  // namespace ckpt
