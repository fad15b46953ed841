#pragma once
// How long the reliability tests run. tests/run.sh exports CKPT_TEST_MODE:
// "ci" (the default) runs the short loops, "long" (tests/run.sh --long) the
// long ones. Under ThreadSanitizer (CKPT_SANITIZED_THREAD) the loops are cut
// down: the point there is its checks, not the count. ASan + UBSan run the
// full counts (CI's reliability figures come from that build).

#include <ckpt/fs/temporary_name.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::rel {

inline bool long_mode() {
  const char* mode = std::getenv("CKPT_TEST_MODE");
  return mode != nullptr && std::string_view(mode) == "long";
}

inline constexpr bool sanitized =
#ifdef CKPT_SANITIZED_THREAD
    true;
#else
    false;
#endif

/// `ci` iterations normally, `long_count` in long mode, a fifth of either under
/// ThreadSanitizer (at least `minimum`). CKPT_REL_ITERATIONS overrides all of it.
inline std::uint64_t iterations(std::uint64_t ci, std::uint64_t long_count, std::uint64_t minimum = 10) {
  if (const char* v = std::getenv("CKPT_REL_ITERATIONS"); v && *v) return std::strtoull(v, nullptr, 10);
  auto n = long_mode() ? long_count : ci;
  if (sanitized) n = std::max(minimum, n / 5);
  return n;
}

/// Every name in a directory (relative to the storage root), temporaries
/// included; empty when there is no such directory.
using RawNames = std::function<std::vector<std::string>(const std::string& dir)>;

/// RawNames of a local directory tree.
inline RawNames local_names(std::filesystem::path root) {
  return [root = std::move(root)](const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    const auto path = dir.empty() ? root : root / dir;
    if (!std::filesystem::is_directory(std::filesystem::symlink_status(path, ec))) return out;
    for (const auto& e : std::filesystem::directory_iterator(path, ec)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  };
}

/// Problems with what a crashed writer may leave, once a CheckpointStorage
/// has been opened on the directory again: temporaries in any directory ckpt
/// writes, checkpoint directories without a manifest, more complete
/// checkpoints than retained, shared files no retained checkpoint references.
inline std::vector<std::string> leftovers(CheckpointStorage& storage, const RawNames& names) {
  std::vector<std::string> out;
  std::set<std::string> referenced;
  for (const auto& info : storage.checkpoints()) {
    auto reader = storage.open_checkpoint(info.id);
    for (const auto& op : reader->manifest().operators)
      for (const auto& s : op.subtasks)
        for (const auto& f : s.files)
          if (f.shared) referenced.insert(f.path);
  }
  const auto temporaries = [&](const std::string& dir) {
    for (const auto& name : names(dir))
      if (fs::is_temporary_name(name)) out.push_back("temporary file left: " + fs::join(dir, name));
  };
  temporaries("");
  std::uint32_t checkpoints = 0;
  for (const auto& name : names("")) {
    if (!layout::parse_checkpoint_dir(name)) continue;
    ++checkpoints;
    const auto inside = names(name);
    if (std::find(inside.begin(), inside.end(), manifest_file_name) == inside.end())
      out.push_back("checkpoint without a manifest left: " + name);
    temporaries(name);
  }
  for (const auto& name : names(std::string(layout::shared_dir))) {
    if (fs::is_temporary_name(name)) {
      out.push_back("temporary file left: shared/" + name);
    } else if (!referenced.count(name)) {
      out.push_back("unreferenced shared file left: shared/" + name);
    }
  }
  const auto& savepoints = storage.options().savepoint_directory;
  temporaries(savepoints);
  for (const auto& name : names(savepoints))
    if (layout::parse_savepoint_dir(name)) temporaries(fs::join(savepoints, name));
  if (checkpoints > storage.options().retained_checkpoints)
    out.push_back(std::to_string(checkpoints) + " checkpoint directories, more than the " +
                  std::to_string(storage.options().retained_checkpoints) + " retained");
  return out;
}

}  // namespace ckpt::rel
