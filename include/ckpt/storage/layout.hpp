#pragma once
// Where things live under a checkpoint storage root (Flink's layout, kept):
//
//   <root>/_lock                       held by the one process writing here
//   <root>/chk-<id>/_metadata          a checkpoint is complete iff this exists
//   <root>/chk-<id>/<uid>-<subtask>.state
//   <root>/shared/<uid>-<subtask>-<id>-<nonce>.state   files incremental checkpoints share
//   <root>/shared/<uid>-<subtask>-<id>-<nonce>.sst     ... SST files of native (RocksDB) checkpoints
//   <root>/chk-<id>/<uid>-<subtask>-native-<name>       a native checkpoint's own files (MANIFEST, CURRENT, ...)
//   <root>/savepoints/savepoint-<id>[-<name>]/...       self-contained, never deleted by ckpt
//
// A storage shared by the members of one job (StorageOptions::job_member) adds
//   <root>/_members/<member>.lock               held by that member's process (in a
//                                               directory of its own: a lock at the root also locks the root)
//   <root>/chk-<id>/<member>~<uid>-<subtask>.state   a member's own files
//   <root>/chk-<id>/_part-<member>              a member's part is complete iff this exists
// and chk-<id>/_metadata is then written by the job's committer, merging the parts.
//
// Ids are decimal without leading zeros; anything else under the root is left alone.

#include <ckpt/names.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace ckpt::layout {

inline constexpr std::string_view checkpoint_prefix = "chk-";
inline constexpr std::string_view savepoint_prefix = "savepoint-";
inline constexpr std::string_view shared_dir = "shared";
inline constexpr std::string_view lock_file = "_lock";
inline constexpr std::string_view state_suffix = ".state";
inline constexpr std::string_view native_shared_suffix = ".sst";

inline std::optional<std::uint64_t> parse_id(std::string_view digits) {
  if (digits.empty() || digits.size() > 20 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  std::uint64_t id = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  return id;
}

inline std::string checkpoint_dir(std::uint64_t id) { return std::string(checkpoint_prefix) + std::to_string(id); }

/// The id of a "chk-<id>" directory name.
inline std::optional<std::uint64_t> parse_checkpoint_dir(std::string_view name) {
  if (!name.starts_with(checkpoint_prefix)) return std::nullopt;
  return parse_id(name.substr(checkpoint_prefix.size()));
}

inline std::string savepoint_dir(std::uint64_t id, std::string_view name) {
  auto dir = std::string(savepoint_prefix) + std::to_string(id);
  if (!name.empty()) dir.append("-").append(name);
  return dir;
}

/// The id of a "savepoint-<id>[-<name>]" directory name.
inline std::optional<std::uint64_t> parse_savepoint_dir(std::string_view name) {
  if (!name.starts_with(savepoint_prefix)) return std::nullopt;
  auto rest = name.substr(savepoint_prefix.size());
  return parse_id(rest.substr(0, rest.find('-')));
}

inline std::string state_file(std::string_view uid, std::uint32_t subtask) {
  return std::string(uid) + "-" + std::to_string(subtask) + std::string(state_suffix);
}

inline constexpr std::string_view member_lock_dir = "_members";
inline std::string member_lock_file(std::string_view member) {
  return std::string(member_lock_dir) + "/" + std::string(member) + ".lock";
}
inline std::string part_manifest_file(std::string_view member) { return "_part-" + std::string(member); }
/// Every file of `member` under chk-<id>/ starts with this ('~' is never in a member id).
inline std::string member_file_prefix(std::string_view member) { return std::string(member) + "~"; }
inline std::string member_state_file(std::string_view member, std::string_view uid, std::uint32_t subtask) {
  return member_file_prefix(member) + state_file(uid, subtask);
}
/// Why `member` cannot be a job member id ("" when it can).
inline std::string member_id_problem(std::string_view member) {
  if (member.empty() || member.size() > 100) return "a job member id must be 1 to 100 characters";
  if (member == "." || member.find("..") != std::string_view::npos) return "a job member id must not contain '..'";
  for (const char c : member)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return "job member id '" + printable_name(member) + "' may hold only letters, digits, '.', '_' and '-'";
  return {};
}

/// A name for a shared file no other writer can pick: the checkpoint id that
/// first wrote it and a random nonce; `suffix` is state_suffix or native_shared_suffix.
inline std::string shared_state_file(std::string_view uid, std::uint32_t subtask, std::uint64_t checkpoint_id,
                                     std::string_view suffix = state_suffix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string nonce;
  auto r = rng();
  for (int i = 0; i < 12; ++i, r >>= 4) nonce += hex[r & 0xf];
  return std::string(uid) + "-" + std::to_string(subtask) + "-" + std::to_string(checkpoint_id) + "-" + nonce +
         std::string(suffix);
}

/// Where a native checkpoint keeps a file of its own, in its directory.
inline std::string native_own_file(std::string_view uid, std::uint32_t subtask, std::string_view name) {
  return std::string(uid) + "-" + std::to_string(subtask) + "-native-" + std::string(name);
}

/// The checkpoint id in a shared file's name, or nothing if it is not one of ours.
inline std::optional<std::uint64_t> parse_shared_file_checkpoint(std::string_view name) {
  if (name.ends_with(state_suffix)) name.remove_suffix(state_suffix.size());
  else if (name.ends_with(native_shared_suffix)) name.remove_suffix(native_shared_suffix.size());
  else return std::nullopt;
  const auto nonce_dash = name.rfind('-');
  if (nonce_dash == std::string_view::npos) return std::nullopt;
  const auto id_dash = name.rfind('-', nonce_dash - 1);
  if (id_dash == std::string_view::npos || nonce_dash == 0) return std::nullopt;
  return parse_id(name.substr(id_dash + 1, nonce_dash - id_dash - 1));
}

}  // namespace ckpt::layout
