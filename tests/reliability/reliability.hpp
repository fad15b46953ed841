#pragma once
// How long the reliability tests run. tests/run.sh exports CKPT_TEST_MODE:
// "ci" (the default) runs the short loops, "long" (tests/run.sh --long) the
// long ones. Under a sanitizer (CKPT_SANITIZED) the loops are cut down: the
// point there is the sanitizer's checks, not the count.

#include <ckpt/fs/temporary_name.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <cstdint>
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
#ifdef CKPT_SANITIZED
    true;
#else
    false;
#endif

/// `ci` iterations normally, `long_count` in long mode, a fifth of either under
/// a sanitizer (at least `minimum`). CKPT_REL_ITERATIONS overrides all of it.
inline std::uint64_t iterations(std::uint64_t ci, std::uint64_t long_count, std::uint64_t minimum = 10) {
  if (const char* v = std::getenv("CKPT_REL_ITERATIONS"); v && *v) return std::strtoull(v, nullptr, 10);
  auto n = long_mode() ? long_count : ci;
  if (sanitized) n = std::max(minimum, n / 5);
  return n;
}

/// Problems with what a crashed writer may leave, once a CheckpointStorage
/// has been opened on `root` (a local directory) again: temporaries anywhere,
/// checkpoint directories without a manifest, more complete checkpoints than
/// retained, shared files no retained checkpoint references.
inline std::vector<std::string> leftovers(CheckpointStorage& storage, const std::filesystem::path& root) {
  namespace stdfs = std::filesystem;
  std::vector<std::string> out;
  std::set<std::string> referenced;
  for (const auto& info : storage.checkpoints()) {
    auto reader = storage.open_checkpoint(info.id);
    for (const auto& op : reader->manifest().operators)
      for (const auto& s : op.subtasks)
        for (const auto& f : s.files)
          if (f.shared) referenced.insert(f.path);
  }
  std::uint32_t checkpoints = 0;
  for (auto it = stdfs::recursive_directory_iterator(root); it != stdfs::recursive_directory_iterator(); ++it) {
    const auto name = it->path().filename().string();
    const auto rel = stdfs::relative(it->path(), root).string();
    if (fs::is_temporary_name(name)) out.push_back("temporary file left: " + rel);
    if (it.depth() == 0 && it->is_directory() && layout::parse_checkpoint_dir(name)) {
      ++checkpoints;
      if (!stdfs::exists(it->path() / manifest_file_name)) out.push_back("checkpoint without a manifest left: " + rel);
    }
    if (it.depth() == 1 && rel.starts_with("shared/") && !referenced.count(name))
      out.push_back("unreferenced shared file left: " + rel);
  }
  if (checkpoints > storage.options().retained_checkpoints)
    out.push_back(std::to_string(checkpoints) + " checkpoint directories, more than the " +
                  std::to_string(storage.options().retained_checkpoints) + " retained");
  return out;
}

}  // namespace ckpt::rel
