#pragma once
// Tags: named, long-lived restore points, as Apache Paimon keeps them beside
// its expiring snapshots. A tag names a savepoint; CheckpointStorage creates
// one when a savepoint completes (TagOptions::savepoint_auto_tag, or the tag
// schedule) or by hand, and rolls the job back to one
// (CheckpointStorage::rollback_to_tag). The TagStore keeps the files:
//
//   <root>/tags/<name>    one small verified file per tag (framed_file.hpp)
//
// A tag the schedule created owns its savepoint: when the tag is deleted or
// expires, the savepoint goes with it. Every other savepoint is the user's
// and is never deleted by ckpt.

#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/path.hpp>
#include <ckpt/names.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/snapshot/framed_file.hpp>
#include <ckpt/storage/storage_options.hpp>

#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt {

struct TagInfo {
  std::string name;
  std::uint64_t savepoint_id = 0;
  std::string savepoint_directory;  // relative to the storage root
  std::int64_t created_millis = 0;  // epoch milliseconds
  std::optional<std::int64_t> expires_millis;  // from TagOptions::default_time_retained
  bool automatic = false;  // created by the schedule; owns its savepoint

  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, savepoint_id, savepoint_directory, created_millis, expires_millis, automatic);
  }
};

namespace layout {
inline constexpr std::string_view tags_dir = "tags";
}  // namespace layout

inline constexpr FrameFormat tag_frame{{'C', 'K', 'P', 'T', 'T', 'A', 'G', 'S'}, 1, 1, "tag"};
/// No tag file is larger (a name of 200 bytes and a directory of twice that).
inline constexpr std::uint64_t max_tag_file_size = 4096;

/// The name the schedule gives the tag of the period starting at
/// `period_start_millis`: "2026-12-03" for whole days, "2026-12-03T12" for
/// whole hours, "2026-12-03T12-05" for minutes, "2026-12-03T12-05-09" otherwise (UTC).
inline std::string scheduled_tag_name(std::int64_t period_start_millis, TagOptions::duration period) {
  const auto seconds = static_cast<std::time_t>(period_start_millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  const auto ms = period.count();
  const char* format = ms % 86'400'000 == 0 ? "%Y-%m-%d"
                       : ms % 3'600'000 == 0 ? "%Y-%m-%dT%H"
                       : ms % 60'000 == 0    ? "%Y-%m-%dT%H-%M"
                                             : "%Y-%m-%dT%H-%M-%S";
  char out[32];
  const auto n = std::strftime(out, sizeof out, format, &utc);
  return std::string(out, n);
}

class TagStore {
 public:
  TagStore(fs::FileSystem& fs, TagOptions options) : fs_(fs), options_(options) {}

  const TagOptions& options() const noexcept { return options_; }

  /// Every tag that reads, oldest savepoint first. A tag file that does not
  /// verify is left out and described in `problems` (when given).
  std::vector<TagInfo> list(std::vector<std::string>* problems = nullptr) const {
    std::vector<TagInfo> out;
    for (const auto& e : fs_.list(layout::tags_dir)) {
      if (e.type != fs::EntryType::file || !name_problem("tag", e.name).empty()) continue;
      try {
        out.push_back(read(e.name));
      } catch (const Error& error) {
        if (problems) problems->push_back(error.what());
      }
    }
    std::sort(out.begin(), out.end(), [](const TagInfo& a, const TagInfo& b) {
      return a.savepoint_id != b.savepoint_id ? a.savepoint_id < b.savepoint_id : a.name < b.name;
    });
    return out;
  }

  /// The tag named `name`, or nothing.
  std::optional<TagInfo> find(std::string_view name) const {
    validate_name("tag", name);
    if (!fs_.exists(path(name))) return std::nullopt;
    return read(name);
  }

  /// Publishes a tag; errc::already_exists if the name is taken.
  void create(const TagInfo& tag) {
    validate_name("tag", tag.name);
    fs_.make_directories(std::string(layout::tags_dir));
    if (fs_.exists(path(tag.name)))
      throw CheckpointError(errc::already_exists, "tag '" + tag.name + "' already exists in " + fs_.uri());
    fs_.publish(path(tag.name), encode_framed(tag_frame, serial::encode(tag)));
  }

  /// Deletes a tag (idempotent); a scheduled tag's savepoint goes with it.
  void remove(const TagInfo& tag) {
    if (tag.automatic && !tag.savepoint_directory.empty()) fs_.remove_all(tag.savepoint_directory);
    fs_.remove(path(tag.name));
  }

  /// Applies retention at `now_millis`: tags past their expiry, then the
  /// oldest scheduled tags beyond num_retained_max. Returns the names removed.
  std::vector<std::string> expire(std::int64_t now_millis) {
    std::vector<std::string> removed;
    auto tags = list();
    std::uint32_t automatic = 0;
    for (const auto& t : tags) automatic += t.automatic ? 1 : 0;
    for (const auto& t : tags) {
      const bool expired = t.expires_millis && *t.expires_millis <= now_millis;
      const bool surplus = t.automatic && options_.num_retained_max && automatic > *options_.num_retained_max;
      if (!expired && !surplus) continue;
      if (t.automatic) --automatic;
      remove(t);
      removed.push_back(t.name);
    }
    return removed;
  }

 private:
  static std::string path(std::string_view name) { return fs::join(std::string(layout::tags_dir), std::string(name)); }

  TagInfo read(std::string_view name) const {
    const auto p = path(name);
    const auto bytes = fs::read_file(fs_, p, max_tag_file_size);
    const auto [version, body] = decode_framed(tag_frame, bytes, p, max_tag_file_size);
    (void)version;
    TagInfo tag;
    serial::load_from(body, {p, "tag"}, tag);
    if (tag.name != name)
      throw CorruptionError(errc::corrupt_data, p, "tag", p + ": names tag '" + printable_name(tag.name) + "'");
    if (auto problem = fs::path_problem(tag.savepoint_directory); !problem.empty())
      throw CorruptionError(errc::corrupt_data, p, "tag", p + ": " + problem);
    return tag;
  }

  fs::FileSystem& fs_;
  TagOptions options_;
};

}  // namespace ckpt
