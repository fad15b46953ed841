#pragma once
// Reading a complete checkpoint or savepoint back: its manifest, and the state
// of each operator for whatever parallelism the program now runs at. A keyed
// backend gets exactly the key groups of its range, read block by block from
// whichever files hold them (several, for an incremental checkpoint); an
// operator state store gets every old subtask's operator state, to take its
// share as the redistribution functions decide.
//
// Every file is checked against the manifest (size and index checksum) when
// first opened and every block against its checksum before it is used.

#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/path.hpp>
#include <ckpt/names.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/snapshot/codec.hpp>
#include <ckpt/snapshot/manifest.hpp>
#include <ckpt/snapshot/state_file_reader.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/keyed_state_backend_base.hpp>
#include <ckpt/state/operator_state_store.hpp>
#include <ckpt/storage/layout.hpp>
#include <ckpt/storage/native_files.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ckpt {

/// Checks a decoded manifest's structure: names, paths, subtasks, ranges and
/// file references, so nothing later trusts a malformed one.
inline void validate_manifest(const Manifest& m, const std::string& path) {
  const auto fail = [&](const std::string& what) {
    return CorruptionError(errc::corrupt_data, path, "manifest", path + ": " + what);
  };
  std::set<std::string, std::less<>> uids;
  // Every name is checked as it was on write: a forged one (control
  // characters for a terminal, a path) goes no further.
  if (!m.name.empty())
    if (auto p = name_problem("savepoint name", m.name); !p.empty()) throw fail(p);
  for (const auto& op : m.operators) {
    if (auto p = name_problem("operator uid", op.uid); !p.empty()) throw fail(p);
    for (const auto& st : op.keyed_states)
      if (auto p = name_problem("state name", st.name); !p.empty()) throw fail("operator '" + op.uid + "': " + p);
    if (!uids.insert(op.uid).second) throw fail("operator '" + op.uid + "' is listed twice");
    if (op.parallelism == 0 || op.subtasks.size() != op.parallelism)
      throw fail("operator '" + op.uid + "' has parallelism " + std::to_string(op.parallelism) + " but " +
                 std::to_string(op.subtasks.size()) + " subtasks");
    if (op.max_parallelism > max_max_parallelism)
      throw fail("operator '" + op.uid + "' has an invalid max parallelism");
    for (std::uint32_t i = 0; i < op.subtasks.size(); ++i) {
      const auto& s = op.subtasks[i];
      const auto where = "operator '" + op.uid + "' subtask " + std::to_string(i);
      if (s.index != i) throw fail(where + " is out of order");
      for (const auto& f : s.files)
        if (auto p = fs::path_problem(f.path); !p.empty()) throw fail(where + ": " + p);
      for (const auto& o : s.operator_states)
        if (auto p = name_problem("operator state name", o.name); !p.empty()) throw fail(where + ": " + p);
      if (s.operator_state_file && *s.operator_state_file >= s.files.size())
        throw fail(where + ": bad file reference");
      if (!s.key_groups.empty() && (op.max_parallelism == 0 || s.key_group_begin >= s.key_group_end ||
                                    s.key_group_end > op.max_parallelism))
        throw fail(where + ": invalid key-group range");
      for (const auto& src : s.key_groups)
        if (src.file >= s.files.size() || src.begin >= src.end || src.begin < s.key_group_begin ||
            src.end > s.key_group_end)
          throw fail(where + ": a key-group source is outside the subtask's range or names no file");
    }
  }
  detail::validate_native(m, path);
}

/// Reads a manifest file with bounds and verification.
inline Manifest read_manifest(fs::FileSystem& fs, const std::string& path, const ReadLimits& limits = {}) {
  auto file = fs.open(path);
  if (file->size() > limits.max_manifest_size)
    throw CorruptionError(errc::limit_exceeded, path, "manifest",
                          path + ": is " + std::to_string(file->size()) + " bytes; the limit is " +
                              std::to_string(limits.max_manifest_size));
  Bytes bytes(static_cast<std::size_t>(file->size()));
  file->read(0, bytes);
  auto m = decode_manifest(bytes, path, limits);
  validate_manifest(m, path);
  return m;
}

class SnapshotReader {
 public:
  /// The snapshot in directory `dir` of `fs`, whose root is the storage root
  /// (so files shared by incremental checkpoints resolve under shared/).
  SnapshotReader(std::shared_ptr<fs::FileSystem> fs, std::string dir, ReadLimits limits = {})
      : fs_(std::move(fs)),
        dir_(std::move(dir)),
        limits_(limits),
        manifest_(read_manifest(*fs_, fs::join(dir_, manifest_file_name), limits_)) {
    check_directory_agrees();
  }

  const Manifest& manifest() const noexcept { return manifest_; }
  std::uint64_t checkpoint_id() const noexcept { return manifest_.checkpoint_id; }

  /// A manifest copied into another directory by hand (cp -a chk-2 chk-9), or
  /// one claiming another id or kind than its directory's name, is refused:
  /// restored as "latest" it would be the wrong state. A snapshot moved under
  /// a name of its own (not chk-<id> or savepoint-<id>...) has nothing to disagree with.
  void check_directory_agrees() const {
    const auto name = fs::filename(dir_);
    std::optional<std::uint64_t> id = layout::parse_checkpoint_dir(name);
    auto kind = SnapshotKind::checkpoint;
    if (!id && (id = layout::parse_savepoint_dir(name))) kind = SnapshotKind::savepoint;
    if (!id || (*id == manifest_.checkpoint_id && kind == manifest_.kind)) return;
    const auto path = fs::join(dir_, manifest_file_name);
    throw CorruptionError(errc::corrupt_data, path, "manifest",
                          location() + "/" + std::string(manifest_file_name) + " describes " + to_string(manifest_.kind) +
                              " " + std::to_string(manifest_.checkpoint_id) + ", but its directory is '" +
                              printable_name(name) + "' (copied or renamed by hand?)");
  }
  /// Where the snapshot is, for messages: the storage URI and directory.
  std::string location() const { return fs_->uri() + "/" + dir_; }
  const std::string& directory() const noexcept { return dir_; }
  std::shared_ptr<fs::FileSystem> file_system() const { return fs_; }

  /// Opens every file the manifest lists and checks size, footer and index.
  void verify_files() {
    for (const auto& op : manifest_.operators)
      for (const auto& s : op.subtasks)
        for (const auto& f : s.files) (void)reader(f);
    for (const auto& n : manifest_.native)
      for (const auto& f : n.files) (void)detail::open_native(*fs_, f, dir_);  // there, with its size
  }
  /// Reads and checks every block of every file; progress(done, total) in blocks.
  void verify_all(const std::function<void(std::size_t, std::size_t)>& progress = {}) {
    std::lock_guard lock(mutex_);
    std::vector<StateFileReader*> readers;
    std::set<std::string> seen;
    std::size_t total = 0;
    for (const auto& op : manifest_.operators)
      for (const auto& s : op.subtasks)
        for (const auto& f : s.files)
          if (seen.insert(resolve(f)).second) {
            readers.push_back(&reader_locked(f));
            total += readers.back()->index().blocks.size();
          }
    for (const auto& n : manifest_.native) total += n.files.size();
    std::size_t done = 0;
    for (auto* r : readers)
      r->verify_all([&](std::size_t, std::size_t) {
        if (progress) progress(++done, total);
      });
    for (const auto& n : manifest_.native)
      for (const auto& f : n.files) {
        detail::read_native(*fs_, f, dir_, [](ByteSpan) {});
        if (progress) progress(++done, total);
      }
  }

  bool has_operator(std::string_view uid) const { return manifest_.find(uid) != nullptr; }

  /// Why newer checkpoints were skipped to reach this one (restore_latest()
  /// with fallback), for the program to log.
  const std::vector<std::string>& notes() const noexcept { return notes_; }
  void add_note(std::string note) { notes_.push_back(std::move(note)); }

  /// The keyed state of `uid` in `key_groups`: one KeyedStateSnapshot per
  /// file read, holding only blocks of those key groups. A StateError where
  /// the state is native files (only restore() hands those to a backend).
  std::vector<KeyedStateSnapshot> keyed_state(std::string_view uid, KeyGroupRange key_groups) {
    std::lock_guard lock(mutex_);
    if (const auto* op = manifest_.find(uid))
      for (const auto& n : manifest_.native)
        if (n.uid == uid &&
            !key_groups.intersect({op->subtasks[n.subtask].key_group_begin, op->subtasks[n.subtask].key_group_end}).empty())
          throw StateError(errc::invalid_argument,
                           location() + ": operator '" + std::string(uid) + "' subtask " + std::to_string(n.subtask) +
                               " is an incremental RocksDB checkpoint (native files), not key-group blocks; restore "
                               "it into the RocksDB backend, or take a savepoint of it there");
    std::vector<KeyedStateSnapshot> out;
    for_each_keyed_block(
        uid, key_groups, out,
        [&](std::size_t snapshot, StateFileReader& r, const BlockEntry& block, std::uint32_t kg) {
          charge(r, block);
          KeyGroupBlock b{kg, {}};
          r.read_block(block, b.data, decompressor_);
          out[snapshot].key_groups.push_back(std::move(b));
        });
    return out;
  }

  /// The operator state of every old subtask of `uid`, in subtask order.
  std::vector<OperatorStateSnapshot> operator_state(std::string_view uid) {
    std::lock_guard lock(mutex_);
    std::vector<OperatorStateSnapshot> out;
    const auto* op = manifest_.find(uid);
    if (!op) return out;
    for (const auto& s : op->subtasks) {
      if (!s.operator_state_file) {
        out.emplace_back();
        continue;
      }
      auto& r = reader_locked(s.files[*s.operator_state_file]);
      if (const auto* block = r.operator_block()) charge(r, *block);
      out.push_back(r.read_operator_state(decompressor_));
    }
    return out;
  }

  /// Threads that decompress and rebuild key groups in restore(); 0 (the
  /// default) means one per hardware thread. Small restores use one.
  void set_threads(unsigned threads) noexcept { threads_ = threads; }

  /// Restores operator `uid` into a keyed backend and/or an operator state
  /// store (either may be null) and marks the uid as restored. Key groups are
  /// read, verified, decompressed and rebuilt block by block on several
  /// threads, without holding the whole decompressed state in memory.
  void restore(std::string_view uid, KeyedStateBackendBase* keyed, OperatorStateStore* operator_state_store) {
    validate_name("operator uid", uid);
    if (keyed) restore_keyed(uid, *keyed);
    if (operator_state_store) {
      const auto snaps = operator_state(uid);
      operator_state_store->restore(snaps);
    }
    std::lock_guard lock(mutex_);
    claimed_.insert(std::string(uid));
  }

  /// Uids in the snapshot that nothing restored.
  std::vector<std::string> unclaimed() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& op : manifest_.operators)
      if (!claimed_.count(op.uid)) out.push_back(op.uid);
    return out;
  }
  /// Flink's allowNonRestoredState: state for an operator the program no
  /// longer has is an error unless allowed.
  void check_all_restored(bool allow_non_restored_state) const {
    const auto left = unclaimed();
    if (left.empty() || allow_non_restored_state) return;
    std::string list;
    for (const auto& uid : left) list += (list.empty() ? "'" : ", '") + uid + "'";
    throw RestoreError(
        errc::non_restored_state,
        location() + " holds state for operator(s) " + list +
            " that the program does not declare; restore with allow_non_restored_state to drop it");
  }

 private:
  /// Walks operator `uid`'s keyed blocks in `key_groups`: appends one header
  /// (a KeyedStateSnapshot without blocks) to `headers` per file read, and
  /// calls `on_block(header index, reader, block, key group)` for every key
  /// group with state. The caller holds mutex_.
  template <class OnBlock>
  void for_each_keyed_block(std::string_view uid, KeyGroupRange key_groups,
                            std::vector<KeyedStateSnapshot>& headers, OnBlock&& on_block) {
    const auto* op = manifest_.find(uid);
    if (!op || op->max_parallelism == 0) return;
    std::map<std::string, std::size_t> by_file;
    for (const auto& s : op->subtasks) {
      for (const auto& src : s.key_groups) {
        const auto wanted = key_groups.intersect({src.begin, src.end});
        if (wanted.empty()) continue;
        auto& r = reader_locked(s.files[src.file]);
        if (!r.index().keyed)
          throw CorruptionError(errc::corrupt_data, r.path(), "index",
                                r.path() + ": the manifest expects keyed state in this file but it has none");
        auto [it, fresh] = by_file.try_emplace(r.path(), headers.size());
        if (fresh) {
          const auto& info = *r.index().keyed;
          KeyedStateSnapshot snap;
          snap.max_parallelism = info.max_parallelism;
          snap.key_group_begin = info.key_group_begin;
          snap.key_group_end = info.key_group_end;
          snap.key_type = info.key_type;
          snap.states = info.states;
          snap.origin = r.path();
          headers.push_back(std::move(snap));
        }
        for (auto kg = wanted.begin; kg < wanted.end; ++kg)
          if (const auto* block = r.find_key_group(kg))
            on_block(it->second, r, *block, kg);  // none: no state there
      }
    }
  }

  void restore_keyed(std::string_view uid, KeyedStateBackendBase& keyed) {
    std::lock_guard lock(mutex_);
    const auto key_groups = keyed.key_groups();
    std::vector<KeyedStateSnapshot> headers;
    std::vector<KeyedRestoreBlock> blocks;
    struct Source {
      StateFileReader* reader;
      const BlockEntry* entry;
    };
    std::vector<Source> sources;
    std::uint64_t raw_bytes = 0;
    for_each_keyed_block(
        uid, key_groups, headers,
        [&](std::size_t snapshot, StateFileReader& r, const BlockEntry& block, std::uint32_t kg) {
          charge(r, block);  // all of them before the first is decompressed
          blocks.push_back({snapshot, kg});
          sources.push_back({&r, &block});
          raw_bytes += block.raw_size;
        });
    // Reading a file is one thread at a time (the FileSystem contract); the
    // checksum, decompression and rebuilding run on every thread.
    struct Worker {
      Bytes stored;
      Decompressor decompressor;
    };
    std::mutex io_mutex, idle_mutex;
    std::vector<std::unique_ptr<Worker>> idle;
    const KeyedBlockFetch fetch = [&](std::size_t i, Bytes& raw) -> ByteSpan {
      std::unique_ptr<Worker> w;
      {
        std::lock_guard l(idle_mutex);
        if (!idle.empty()) {
          w = std::move(idle.back());
          idle.pop_back();
        }
      }
      if (!w) w = std::make_unique<Worker>();
      const auto& src = sources[i];
      {
        std::lock_guard l(io_mutex);
        src.reader->read_stored(*src.entry, w->stored);
      }
      w->decompressor.decompress(src.reader->index().codec, w->stored, src.entry->raw_size, raw,
                                 src.reader->path(), StateFileReader::name(*src.entry));
      std::lock_guard l(idle_mutex);
      idle.push_back(std::move(w));
      return raw;
    };
    constexpr std::uint64_t parallel_from = std::uint64_t{1}
                                            << 20;  // below this, threads cost more than they save
    unsigned threads = threads_ != 0 ? threads_ : std::max(1u, std::thread::hardware_concurrency());
    if (raw_bytes < parallel_from) threads = 1;
    // Subtasks written as native snapshots (their key_groups are empty, so
    // nothing above read them) go to the backend as files, fetched verified.
    std::vector<NativeRestorePart> parts;
    std::vector<const NativeSubtaskManifest*> natives;
    if (const auto* op = manifest_.find(uid)) {
      for (const auto& n : manifest_.native) {
        if (n.uid != uid) continue;
        const auto& s = op->subtasks[n.subtask];
        const KeyGroupRange range{s.key_group_begin, s.key_group_end};
        if (key_groups.intersect(range).empty()) continue;
        NativeRestorePart part{op->max_parallelism, range, op->key_type, n.states, {},
                               location() + " (operator '" + std::string(uid) + "' subtask " +
                                   std::to_string(n.subtask) + ")"};
        for (const auto& f : n.files) {
          part.files.push_back(f.name);
          decoded_ += f.size;
        }
        if (decoded_ > limits_.max_restore_bytes)
          throw CorruptionError(errc::limit_exceeded, dir_, "native files",
                                "restoring " + location() + " would fetch more than " +
                                    std::to_string(limits_.max_restore_bytes) +
                                    " bytes (ReadLimits::max_restore_bytes)");
        parts.push_back(std::move(part));
        natives.push_back(&n);
      }
    }
    if (!blocks.empty() || parts.empty()) keyed.restore(headers, blocks, fetch, threads);
    if (parts.empty()) return;
    const NativeFileFetch fetch_native = [&](std::size_t part, const std::string& name,
                                             const std::filesystem::path& local) {
      for (const auto& f : natives.at(part)->files)
        if (f.name == name) return detail::fetch_native(*fs_, f, dir_, local);
      throw RestoreError(errc::not_found, location() + " lists no native file '" + printable_name(name) + "' for " +
                                              parts.at(part).origin);
    };
    keyed.restore_native(parts, fetch_native);
  }

  /// Counts what a block will decode to against ReadLimits::max_restore_bytes.
  void charge(const StateFileReader& r, const BlockEntry& block) {
    decoded_ += block.raw_size;
    if (decoded_ <= limits_.max_restore_bytes) return;
    throw CorruptionError(errc::limit_exceeded, r.path(), StateFileReader::name(block),
                          r.path() + ", " + StateFileReader::name(block) + ": restoring " + location() +
                              " would decode more than " + std::to_string(limits_.max_restore_bytes) +
                              " bytes (ReadLimits::max_restore_bytes; its indexes claim at least " +
                              std::to_string(decoded_) + ")");
  }

  std::string resolve(const FileRef& f) const {
    return f.shared ? fs::join(layout::shared_dir, f.path) : fs::join(dir_, f.path);
  }
  StateFileReader& reader(const FileRef& f) {
    std::lock_guard lock(mutex_);
    return reader_locked(f);
  }
  StateFileReader& reader_locked(const FileRef& f) {
    const auto path = resolve(f);
    auto it = readers_.find(path);
    if (it == readers_.end())
      it = readers_
               .emplace(path,
                        std::make_unique<StateFileReader>(fs_->open(path), limits_, f.size, f.index_checksum))
               .first;
    return *it->second;
  }

  std::shared_ptr<fs::FileSystem> fs_;
  std::string dir_;
  ReadLimits limits_;
  std::uint64_t decoded_ = 0;  // bytes charge() counted
  Manifest manifest_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<StateFileReader>> readers_;
  std::set<std::string, std::less<>> claimed_;
  std::vector<std::string> notes_;
  Decompressor decompressor_;
  unsigned threads_ = 0;
};

}  // namespace ckpt
