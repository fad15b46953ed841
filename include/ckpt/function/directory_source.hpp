#pragma once
// DirectorySource: the lines of the files in a directory, each file a split
// whose position is the byte offset of its next line. The enumerator lists
// the directory at start and, in continuous mode, again every interval while
// the job runs; each new file is handed to a reader that asks for one (a
// reader reads one file at a time and asks again when it ends). Names
// starting with '.' or '_' are skipped (files being written, as Flink's
// default filter): a file must appear complete, e.g. written elsewhere and
// renamed in. A bounded source reads what the first listing found, then
// finishes.
//
// The enumerator's state: the files not yet assigned and every name already
// discovered (so a file read before a restore is not read again).

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/function/record_split_reader.hpp>
#include <ckpt/function/split_source.hpp>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace ckpt {

struct FileSplit {
  std::string path;
  std::uint64_t offset = 0;  // the byte offset of the next line

  std::string split_id() const { return path; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(path, offset);
  }
  friend bool operator==(const FileSplit&, const FileSplit&) = default;
};

struct DirectoryEnumeratorState {
  std::vector<FileSplit> unassigned;
  std::vector<std::string> discovered;  // paths, sorted

  template <class Archive>
  void serialize(Archive& ar) {
    ar(unassigned, discovered);
  }
};

struct DirectorySourceOptions {
  std::optional<std::chrono::milliseconds> discovery_interval;  // none: bounded
  std::size_t lines_per_poll = 64;
  std::size_t max_line_bytes = 1 << 20;  // a longer line is an error, not an allocation

  /// Reads the files there at start, then finishes.
  static DirectorySourceOptions bounded() { return {}; }
  /// Lists the directory again every `interval`; never finishes.
  static DirectorySourceOptions continuous(std::chrono::milliseconds interval) {
    if (interval.count() <= 0)
      throw ConfigError(errc::invalid_argument, "DirectorySource: the discovery interval must be positive, not " +
                                                    std::to_string(interval.count()) + " ms");
    DirectorySourceOptions o;
    o.discovery_interval = interval;
    return o;
  }
};

class DirectoryEnumerator final : public SplitEnumerator<FileSplit, DirectoryEnumeratorState> {
 public:
  DirectoryEnumerator(SplitEnumeratorContext<FileSplit>& context, std::shared_ptr<fs::FileSystem> fs, std::string dir,
                      std::optional<std::chrono::milliseconds> interval, std::optional<DirectoryEnumeratorState> restored)
      : context_(context), fs_(std::move(fs)), dir_(std::move(dir)), interval_(interval) {
    if (restored) {
      unassigned_.assign(restored->unassigned.begin(), restored->unassigned.end());
      discovered_.insert(restored->discovered.begin(), restored->discovered.end());
    }
  }

  void start() override {
    discover();
    if (interval_) context_.call_periodically([this] { discover(); }, *interval_);
  }
  void handle_split_request(std::uint32_t subtask) override {
    waiting_.push_back(subtask);
    serve();
  }
  void add_reader(std::uint32_t) override {}  // a reader asks when it has nothing to read
  void add_splits_back(std::vector<FileSplit> splits, std::uint32_t) override {
    unassigned_.insert(unassigned_.begin(), splits.begin(), splits.end());
    serve();
  }
  DirectoryEnumeratorState snapshot_state(std::uint64_t) override {
    return {{unassigned_.begin(), unassigned_.end()}, {discovered_.begin(), discovered_.end()}};
  }

  /// Lists the directory; new files wait for a reader (run at start and every interval).
  void discover() {
    std::vector<std::string> names;
    for (const auto& e : fs_->list(dir_))
      if (e.type == fs::EntryType::file && !e.name.empty() && e.name[0] != '.' && e.name[0] != '_') names.push_back(e.name);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      auto path = dir_ + "/" + name;
      if (discovered_.insert(path).second) unassigned_.push_back({std::move(path), 0});
    }
    serve();
  }

 private:
  void serve() {
    while (!waiting_.empty() && !unassigned_.empty()) {
      context_.assign_split(std::move(unassigned_.front()), waiting_.front());
      unassigned_.pop_front();
      waiting_.pop_front();
    }
    if (!interval_ && unassigned_.empty()) {
      for (const auto r : waiting_) context_.signal_no_more_splits(r);
      waiting_.clear();
    }
  }

  SplitEnumeratorContext<FileSplit>& context_;
  std::shared_ptr<fs::FileSystem> fs_;
  std::string dir_;
  std::optional<std::chrono::milliseconds> interval_;
  std::deque<FileSplit> unassigned_;
  std::set<std::string> discovered_;
  std::deque<std::uint32_t> waiting_;  // readers that asked and got nothing yet
};

/// Reads lines of its files (without the '\n'; a last line without one counts).
class DirectoryReader final : public RecordSplitReader<std::string, FileSplit> {
 public:
  DirectoryReader(std::shared_ptr<fs::FileSystem> fs, const DirectorySourceOptions& options)
      : RecordSplitReader(options.lines_per_poll), fs_(std::move(fs)), max_line_(options.max_line_bytes) {}

  // Its splits are files already complete: it is idle only while it waits
  // for a split, and the split's assignment wakes it.
  bool signals_availability() const override { return true; }

  Read read(FileSplit& split) override {
    auto& open = open_file(split.path);
    if (split.offset < open.buffer_offset || split.offset > open.buffer_offset + open.buffer.size()) {
      open.buffer.clear();  // a restored position: read on from there
      open.buffer_offset = split.offset;
    }
    while (true) {
      if (split.offset >= open.file->size()) {
        open_.erase(split.path);
        return Read::end_of_split();
      }
      const auto begin = static_cast<std::size_t>(split.offset - open.buffer_offset);
      const auto nl = open.buffer.find('\n', begin);
      const bool at_end = open.buffer_offset + open.buffer.size() >= open.file->size();
      if (nl != std::string::npos || at_end) {
        const auto end = nl == std::string::npos ? open.buffer.size() : nl;
        if (end - begin > max_line_) throw too_long(split);
        std::string line = open.buffer.substr(begin, end - begin);
        split.offset += end - begin + (nl == std::string::npos ? 0 : 1);
        return Read::of(std::move(line));
      }
      if (open.buffer.size() - begin > max_line_) throw too_long(split);
      refill(open, split.offset);
    }
  }

 private:
  struct Open {
    std::unique_ptr<fs::ReadableFile> file;
    std::string buffer;              // bytes of the file from buffer_offset
    std::uint64_t buffer_offset = 0;
  };
  static constexpr std::size_t chunk = 64 * 1024;

  Open& open_file(const std::string& path) {
    auto it = open_.find(path);
    if (it == open_.end()) it = open_.emplace(path, Open{fs_->open(path), {}, 0}).first;
    return it->second;
  }
  /// Drops what is before `from` and reads the next chunk.
  static void refill(Open& open, std::uint64_t from) {
    if (from > open.buffer_offset) {
      open.buffer.erase(0, std::min<std::size_t>(open.buffer.size(), static_cast<std::size_t>(from - open.buffer_offset)));
      open.buffer_offset = from;
    }
    const auto have = open.buffer_offset + open.buffer.size();
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, open.file->size() - have));
    const auto old = open.buffer.size();
    open.buffer.resize(old + n);
    open.file->read(have, std::as_writable_bytes(std::span<char>(open.buffer.data() + old, n)));
  }
  IoError too_long(const FileSplit& split) const {
    return IoError(errc::limit_exceeded, split.path,
                   "DirectorySource: the line at byte " + std::to_string(split.offset) + " of '" + split.path +
                       "' is longer than max_line_bytes (" + std::to_string(max_line_) + "); expected lines ending in '\\n'");
  }

  std::shared_ptr<fs::FileSystem> fs_;
  std::size_t max_line_;
  std::map<std::string, Open> open_;
};

class DirectorySource final : public SplitSource<std::string, FileSplit, DirectoryEnumeratorState> {
 public:
  DirectorySource(std::shared_ptr<fs::FileSystem> fs, std::string dir, DirectorySourceOptions options = {})
      : fs_(std::move(fs)), dir_(std::move(dir)), options_(options) {
    if (!fs_) throw ConfigError(errc::invalid_argument, "DirectorySource: no file system");
  }

  std::unique_ptr<SplitEnumerator<FileSplit, DirectoryEnumeratorState>> create_enumerator(
      SplitEnumeratorContext<FileSplit>& context, std::optional<DirectoryEnumeratorState> restored) override {
    return std::make_unique<DirectoryEnumerator>(context, fs_, dir_, options_.discovery_interval, std::move(restored));
  }
  std::unique_ptr<SourceReader<std::string, FileSplit>> create_reader(std::uint32_t) override {
    return std::make_unique<DirectoryReader>(fs_, options_);
  }

 private:
  std::shared_ptr<fs::FileSystem> fs_;
  std::string dir_;
  DirectorySourceOptions options_;
};

}  // namespace ckpt
