// libFuzzer target: what CheckpointStorage does with a whole storage directory
// whose manifests may disagree with their directories. Real checkpoints and
// savepoints of the reliability job are written once (full, and incremental
// with files in shared/); each input then rearranges their files -- copies
// and moves whole directories under other chk-<id> / savepoints/savepoint-<id>
// names (cp -a chk-2 chk-9, a savepoint copied in as a checkpoint), swaps
// them, deletes and truncates files, flips bytes of a manifest (re-signed or
// not) or rewrites its id, kind and end-of-job flag -- and opens a storage on
// the result with tight ReadLimits: open (cleanup), checkpoints(),
// savepoints(), open_savepoint() of each listed savepoint, restore_latest().
//
// Invariants (a violation aborts, so libFuzzer keeps the input):
//  - only ckpt::Errors escape, and each names its file (fuzz_common.hpp);
//  - what is listed or restored agrees with its directory: a checkpoint from
//    chk-N has id N, a savepoint from savepoints/savepoint-N... is savepoint N
//    (and restore_latest() restores only a savepoint that ended the job);
//  - a restored genuine snapshot holds exactly the state it was written with;
//  - cleanup never takes a file from a checkpoint whose manifest it keeps,
//    and never deletes a manifest it cannot read or that disagrees with its
//    directory (it is evidence);
//  - when no manifest was forged (every readable one is a real one):
//    checkpoints() lists exactly the real checkpoints in their own
//    directories, and restore_latest() (with fallback) restores the newest
//    restore point whose manifest and files are all intact.

#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "fuzz_common.hpp"
#include "job.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

using Files = std::map<std::string, ckpt::Bytes>;  // path from the storage root -> contents

constexpr std::uint64_t kKeys = 12;
constexpr std::size_t kMaxOps = 24;
const std::string kSavepoints = "savepoints";

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "directory fuzzer: %s\n", what.c_str());
  std::abort();
}

ckpt::ReadLimits limits() { return ckpt::ReadLimits::tight(std::uint64_t{16} << 20); }

/// A snapshot as it was written: where, what, and the files it needs.
struct Genuine {
  std::string dir;
  ckpt::Manifest manifest;
  ckpt::Bytes canonical;  // encode_manifest(manifest)
};

/// Where a file of `m` lives when the snapshot is in `dir`.
std::vector<std::string> needed_files(const ckpt::Manifest& m, const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& op : m.operators)
    for (const auto& s : op.subtasks)
      for (const auto& f : s.files)
        out.push_back(f.shared ? ckpt::fs::join(ckpt::layout::shared_dir, f.path) : ckpt::fs::join(dir, f.path));
  return out;
}

void walk(ckpt::fs::FileSystem& fs, const std::string& dir, Files& out) {
  for (const auto& e : fs.list(dir)) {
    const auto path = dir.empty() ? e.name : ckpt::fs::join(dir, e.name);
    if (e.type == ckpt::fs::EntryType::directory) {
      walk(fs, path, out);
    } else if (path != ckpt::layout::lock_file) {
      out[path] = ckpt::fs::read_file(fs, path, std::uint64_t{1} << 30);
    }
  }
}

struct World {
  Files files;
  std::vector<Genuine> genuine;
  bool incremental = false;
};

/// Checkpoints 1..3 (all retained), savepoint 2 promoted from checkpoint 2,
/// and savepoint 4 that ended the job.
World make_world(bool incremental) {
  World w;
  w.incremental = incremental;
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  {
    auto options = incremental ? ckpt::StorageOptions::incremental_checkpoints(3) : ckpt::StorageOptions::defaults().retain(3);
    ckpt::CheckpointStorage storage(fs, options.with_compression_threads(1));
    ckpt::rel::Job job(kKeys);
    for (std::uint64_t id = 1; id <= 3; ++id) {
      job.advance_to(id);
      job.checkpoint(storage, incremental);
    }
    (void)storage.promote_to_savepoint(2, "sp");
    job.advance_to(4);
    auto pending = storage.begin_savepoint(4, 1004, "final", true);
    job.write(*pending, false);
    (void)pending->complete({{"round", "4"}});
  }
  walk(*fs, "", w.files);
  for (const std::string dir : {"chk-1", "chk-2", "chk-3", "savepoints/savepoint-2-sp", "savepoints/savepoint-4-final"}) {
    auto m = ckpt::read_manifest(*fs, ckpt::fs::join(dir, ckpt::manifest_file_name));
    auto canonical = ckpt::encode_manifest(m);
    w.genuine.push_back({dir, std::move(m), std::move(canonical)});
  }
  return w;
}

const World& world(bool incremental) {
  static const std::array<World, 2> worlds{make_world(false), make_world(true)};
  return worlds[incremental ? 1 : 0];
}

/// The manifest as ckpt reads it (decoded and validated), re-encoded; nothing
/// if it does not read.
std::optional<ckpt::Bytes> canonical(const Files& files, const std::string& path) {
  const auto it = files.find(path);
  if (it == files.end()) return std::nullopt;
  try {
    auto m = ckpt::decode_manifest(it->second, path, limits());
    ckpt::validate_manifest(m, path);
    return ckpt::encode_manifest(m);
  } catch (const ckpt::Error&) {
    return std::nullopt;
  }
}

/// The real snapshot whose manifest `files` holds at `dir`, if it is one
/// (whatever the directory is called).
const Genuine* genuine_at(const World& w, const Files& files, const std::string& dir) {
  const auto c = canonical(files, ckpt::fs::join(dir, ckpt::manifest_file_name));
  if (!c) return nullptr;
  for (const auto& g : w.genuine)
    if (g.canonical == *c) return &g;
  return nullptr;
}

/// A real snapshot at `dir`, every file it needs there with the bytes it was written with.
bool intact(const World& w, const Files& files, const std::string& dir, const Genuine& g) {
  const auto have = needed_files(g.manifest, dir);
  const auto want = needed_files(g.manifest, g.dir);
  for (std::size_t i = 0; i < have.size(); ++i) {
    const auto it = files.find(have[i]);
    if (it == files.end() || it->second != w.files.at(want[i])) return false;
  }
  return true;
}

/// Reads the input a byte at a time; zeros once it is used up.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const noexcept { return pos_ >= size_; }
  std::uint8_t next() noexcept { return pos_ < size_ ? data_[pos_++] : 0; }
  std::uint16_t next16() noexcept {
    const unsigned low = next();
    return static_cast<std::uint16_t>(low | (unsigned{next()} << 8));
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

/// The directories of `files` (every proper prefix of a path).
std::vector<std::string> directories(const Files& files) {
  std::set<std::string> out;
  for (const auto& [path, bytes] : files)
    for (auto p = ckpt::fs::parent(path); !p.empty(); p = ckpt::fs::parent(p))
      if (!out.insert(p).second) break;
  return {out.begin(), out.end()};
}

bool under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

/// The files under `dir`, by their path relative to it; removed from `files` if `take`.
Files subtree(Files& files, const std::string& dir, bool take) {
  Files out;
  for (auto it = files.begin(); it != files.end();) {
    if (!under(it->first, dir)) {
      ++it;
      continue;
    }
    out[it->first.substr(dir.size() + 1)] = it->second;
    it = take ? files.erase(it) : std::next(it);
  }
  return out;
}

void put(Files& files, const std::string& dir, const Files& tree) {
  for (const auto& [rel, bytes] : tree) files[ckpt::fs::join(dir, rel)] = bytes;
}

class Scenario {
 public:
  Scenario(const World& w, Input& in) : w_(w), in_(in), files_(w.files) {}

  bool forged() const noexcept { return forged_; }
  const Files& files() const noexcept { return files_; }

  void run() {
    for (std::size_t n = 0; n < kMaxOps && !in_.empty(); ++n) step();
  }

  void drop(const std::string& dir) { (void)subtree(files_, dir, true); }

 private:
  std::optional<std::string> existing(std::uint8_t b) const {
    const auto dirs = directories(files_);
    if (dirs.empty()) return std::nullopt;
    return dirs[b % dirs.size()];
  }

  /// A directory name, mostly one the storage looks at.
  std::optional<std::string> name() {
    const auto kind = in_.next(), i = in_.next();
    static const char* const suffixes[] = {"", "-sp", "-final", "-x"};
    static const char* const odd[] = {"chk-01", "chk-x", "chk-", "savepoints/savepoint-", "savepoints/savepoint-01",
                                      "chk-18446744073709551615", "chk-18446744073709551616", "savepoints/chk-3",
                                      "shared", "savepoints", "chk-3/chk-3", "other"};
    switch (kind % 5) {
      case 0: return "chk-" + std::to_string(i % 12);
      case 1: return kSavepoints + "/savepoint-" + std::to_string(i % 12) + suffixes[(i / 12) % 4];
      case 2: return std::string(odd[i % 12]);
      default: return existing(i);
    }
  }

  std::optional<std::string> file(std::uint8_t b) const {
    if (files_.empty()) return std::nullopt;
    return std::next(files_.begin(), static_cast<std::ptrdiff_t>(b % files_.size()))->first;
  }

  std::optional<std::string> manifest_of(std::uint8_t b) const {
    std::vector<std::string> manifests;
    for (const auto& [path, bytes] : files_)
      if (ckpt::fs::filename(path) == ckpt::manifest_file_name) manifests.push_back(path);
    if (manifests.empty()) return std::nullopt;
    return manifests[b % manifests.size()];
  }

  void step() {
    const auto op = in_.next() % 8;
    switch (op) {
      case 0:    // copy a directory over another name (cp -a)
      case 1: {  // move it
        const auto from = existing(in_.next());
        const auto to = name();
        if (!from || !to || *from == *to || under(*to, *from)) return;
        auto tree = subtree(files_, *from, op == 1);
        drop(*to);
        put(files_, *to, tree);
        return;
      }
      case 2: {  // swap two directories
        const auto a = existing(in_.next());
        const auto b = existing(in_.next());
        if (!a || !b || *a == *b || under(*a, *b) || under(*b, *a)) return;
        auto ta = subtree(files_, *a, true);
        auto tb = subtree(files_, *b, true);
        put(files_, *a, tb);
        put(files_, *b, ta);
        return;
      }
      case 3: {  // remove a directory
        if (const auto d = existing(in_.next())) drop(*d);
        return;
      }
      case 4: {  // delete a file, or truncate it
        const auto f = file(in_.next());
        const auto at = in_.next16();
        if (!f) return;
        auto& bytes = files_[*f];
        if (at % 2 == 0 || bytes.empty()) {
          files_.erase(*f);
        } else {
          bytes.resize(at % bytes.size());
        }
        return;
      }
      case 5: {  // flip bytes of a manifest, re-signed or not
        const auto path = manifest_of(in_.next());
        const auto flips = 1 + in_.next() % 4;
        if (!path) return;
        auto& bytes = files_[*path];
        for (int i = 0; i < flips && !bytes.empty(); ++i) {
          const auto at = in_.next16() % bytes.size();
          bytes[at] ^= std::byte{static_cast<unsigned char>(in_.next() | 1)};
        }
        if (in_.next() % 2 == 0) {
          bytes = ckpt::fuzz::resign_manifest(bytes);
          forged_ = true;
        }
        return;
      }
      case 6: {  // rewrite a manifest's id, kind or end-of-job flag, consistently signed
        const auto path = manifest_of(in_.next());
        const auto what = in_.next(), id = in_.next();
        if (!path) return;
        ckpt::Manifest m;
        try {
          m = ckpt::decode_manifest(files_[*path], *path, limits());
        } catch (const ckpt::Error&) {
          return;
        }
        if (what & 1) m.checkpoint_id = id % 12;
        if (what & 2) m.kind = m.kind == ckpt::SnapshotKind::checkpoint ? ckpt::SnapshotKind::savepoint : ckpt::SnapshotKind::checkpoint;
        if (what & 4) m.ends_job = !m.ends_job;
        if (what & 8) m.base_checkpoint_id = id % 5;
        files_[*path] = ckpt::encode_manifest(m);
        forged_ = true;
        return;
      }
      default: {  // copy one file into another directory
        const auto f = file(in_.next());
        const auto to = name();
        if (!f || !to) return;
        const auto bytes = files_[*f];
        files_[ckpt::fs::join(*to, ckpt::fs::filename(*f))] = bytes;
        return;
      }
    }
  }

  const World& w_;
  Input& in_;
  Files files_;
  bool forged_ = false;
};

std::shared_ptr<ckpt::fs::MemoryFileSystem> materialize(const Files& files) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  for (const auto& [path, bytes] : files) {
    const auto dir = ckpt::fs::parent(path);
    if (!dir.empty()) fs->make_directories(dir);
    ckpt::fs::write_file(*fs, path, bytes);
  }
  return fs;
}

/// The id and kind a directory's name implies, if it is one the storage reads.
std::optional<std::pair<std::uint64_t, ckpt::SnapshotKind>> implied(const std::string& dir) {
  const auto name = ckpt::fs::filename(dir);
  if (ckpt::fs::parent(dir) == kSavepoints)
    if (const auto id = ckpt::layout::parse_savepoint_dir(name)) return std::pair{*id, ckpt::SnapshotKind::savepoint};
  if (ckpt::fs::parent(dir).empty())
    if (const auto id = ckpt::layout::parse_checkpoint_dir(name)) return std::pair{*id, ckpt::SnapshotKind::checkpoint};
  return std::nullopt;
}

void check_agrees(const std::string& what, const std::string& dir, std::uint64_t id, ckpt::SnapshotKind kind) {
  const auto want = implied(dir);
  if (!want || want->first != id || want->second != kind)
    fail(what + " gave " + ckpt::to_string(kind) + " " + std::to_string(id) + " from directory '" + dir + "'");
}

/// Restores `snapshot` into a fresh job; a genuine, verified snapshot must
/// restore exactly the state it was written with.
void check_restore(const World& w, const Files& after, ckpt::SnapshotReader& snapshot, const std::string& what) {
  const Genuine* g = genuine_at(w, after, snapshot.directory());
  const bool exact = g && intact(w, after, snapshot.directory(), *g) &&
                     ckpt::encode_manifest(snapshot.manifest()) == g->canonical;
  try {
    const auto mismatch = ckpt::rel::restored_mismatch(snapshot, kKeys);
    if (exact && !mismatch.empty()) fail(what + " restored " + snapshot.directory() + " wrong: " + mismatch);
  } catch (const ckpt::Error& e) {
    if (exact) fail(what + ": the intact snapshot " + snapshot.directory() + " failed to restore: " + e.what());
    ckpt::fuzz::check_error(e, "");
  }
}

void exercise(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const auto flags = in.next();
  const World& w = world(flags & 1);
  Scenario scenario(w, in);
  if ((flags & 2) == 0) scenario.drop("savepoints/savepoint-4-final");
  scenario.run();
  const Files before = scenario.files();
  const bool forged = scenario.forged();
  const std::uint32_t retain = 1 + (flags >> 2) % 3;
  ckpt::RestoreOptions restore_options;
  restore_options.fallback_to_previous = (flags & 16) == 0;
  restore_options.verify_blocks = (flags & 32) != 0;

  // What cleanup must keep: the manifest of a checkpoint it cannot read (or
  // that disagrees with its directory), and every file of a real checkpoint
  // whose manifest stays, if it was there before.
  std::vector<std::string> evidence;
  std::vector<std::pair<std::string, std::string>> keep;  // (manifest, file)
  for (const auto& g : w.genuine) {
    if (g.manifest.kind != ckpt::SnapshotKind::checkpoint) continue;
    const auto path = ckpt::fs::join(g.dir, ckpt::manifest_file_name);
    if (!before.count(path)) continue;
    const auto c = canonical(before, path);
    if (c && *c != g.canonical) continue;  // another readable manifest: its own files count
    const auto have = needed_files(g.manifest, g.dir);
    for (const auto& f : have)
      if (before.count(f) && before.at(f) == w.files.at(f)) keep.emplace_back(path, f);
  }
  for (const auto& dir : directories(before)) {
    const auto id = implied(dir);
    if (!id || id->second != ckpt::SnapshotKind::checkpoint) continue;
    const auto path = ckpt::fs::join(dir, ckpt::manifest_file_name);
    if (!before.count(path)) continue;
    bool agrees = false;
    try {
      const auto m = ckpt::decode_manifest(before.at(path), path, limits());
      ckpt::validate_manifest(m, path);
      agrees = m.checkpoint_id == id->first && m.kind == ckpt::SnapshotKind::checkpoint;
    } catch (const ckpt::Error&) {
    }
    if (!agrees) evidence.push_back(path);
  }

  auto fs = materialize(before);
  auto options = w.incremental ? ckpt::StorageOptions::incremental_checkpoints(retain) : ckpt::StorageOptions::defaults().retain(retain);
  options.with_compression_threads(1).with_limits(limits());
  std::unique_ptr<ckpt::CheckpointStorage> storage;
  try {
    storage = std::make_unique<ckpt::CheckpointStorage>(fs, options);
  } catch (const ckpt::Error& e) {
    ckpt::fuzz::check_error(e, "");
    return;
  }
  Files after;
  walk(*fs, "", after);
  for (const auto& path : evidence)
    if (!after.count(path)) fail("cleanup deleted " + path + ", a manifest it could not use as its checkpoint's");
  for (const auto& [manifest, f] : keep)
    if (after.count(manifest) && (!after.count(f) || after.at(f) != w.files.at(f)))
      fail("cleanup took " + f + " from the checkpoint of " + manifest + ", which it kept");

  // Listing.
  std::set<std::uint64_t> listed;
  for (const auto& c : storage->checkpoints()) {
    check_agrees("checkpoints()", c.directory, c.id, c.kind);
    listed.insert(c.id);
  }
  // Restore points (with fallback, when nothing is forged): the newest
  // intact checkpoint or intact savepoint that ended the job.
  std::set<std::uint64_t> real;
  std::optional<std::uint64_t> newest_intact;
  for (const auto& dir : directories(after)) {
    const auto id = implied(dir);
    const Genuine* g = id ? genuine_at(w, after, dir) : nullptr;
    if (!g || g->manifest.checkpoint_id != id->first || g->manifest.kind != id->second) continue;
    if (id->second == ckpt::SnapshotKind::checkpoint) real.insert(id->first);
    if ((id->second == ckpt::SnapshotKind::checkpoint || g->manifest.ends_job) && intact(w, after, dir, *g))
      newest_intact = std::max(newest_intact.value_or(0), id->first);
  }
  if (!forged && listed != real) fail("checkpoints() does not list exactly the real checkpoints in their own directories");

  for (const auto& s : storage->savepoints()) {
    try {
      auto snapshot = storage->open_savepoint(ckpt::fs::filename(s.directory));
      check_agrees("open_savepoint()", snapshot->directory(), snapshot->checkpoint_id(), snapshot->manifest().kind);
      check_restore(w, after, *snapshot, "open_savepoint()");
    } catch (const ckpt::Error& e) {
      ckpt::fuzz::check_error(e, "");
    }
  }

  const bool expect_newest = !forged && restore_options.fallback_to_previous;
  try {
    auto snapshot = storage->restore_latest(restore_options);
    if (!snapshot) {
      if (expect_newest && newest_intact) fail("restore_latest() found nothing although an intact restore point is there");
      return;
    }
    const auto& m = snapshot->manifest();
    check_agrees("restore_latest()", snapshot->directory(), m.checkpoint_id, m.kind);
    if (m.kind == ckpt::SnapshotKind::savepoint && !m.ends_job)
      fail("restore_latest() restored a savepoint that did not end the job: " + snapshot->directory());
    if (expect_newest && m.checkpoint_id != newest_intact)
      fail("restore_latest() restored " + snapshot->directory() + ", not the newest intact restore point (" +
           (newest_intact ? std::to_string(*newest_intact) : std::string("none")) + ")");
    check_restore(w, after, *snapshot, "restore_latest()");
  } catch (const ckpt::Error& e) {
    if (expect_newest && newest_intact)
      fail("restore_latest() failed although restore point " + std::to_string(*newest_intact) + " is intact: " + e.what());
    ckpt::fuzz::check_error(e, "");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  exercise(data, size);
  return 0;
}
