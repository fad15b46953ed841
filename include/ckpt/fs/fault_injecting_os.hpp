#pragma once
// FaultInjectingOs: an in-memory Os that models power loss and I/O faults, so
// LocalFileSystem's crash safety is tested on the very code that runs in
// production (LevelDB's fault-injection Env and SQLite's crash VFS are the
// references).
//
// The model keeps, for every file and directory, what is durable apart from
// what is only in the page cache:
// - file data written but not fsynced is visible to reads but not durable;
// - directory entries (creates, links, renames, unlinks, mkdirs) are durable
//   only once their directory is fsynced -- fsyncing a file does not make its
//   name durable, and fsyncing a directory does not make files' data durable.
// crash() keeps only what is durable, as a power loss would (the default is
// the strict drop; CrashMode::random keeps a random part of what was not).
//
// Linux's fsync-after-EIO behaviour is modelled: a failed fsync marks the dirty
// data (or directory changes) clean without writing it, so a later fsync
// reports success although that data will not survive a crash. Code that
// retries fsync is caught by a crash test.
//
// Faults are armed by call count: every call is counted per kind (Op), so a
// test runs an operation sequence once to count, then once per point with a
// fault or a power cut armed there. Thread-safe (one mutex).

#include <ckpt/bytes.hpp>
#include <ckpt/fs/os.hpp>
#include <ckpt/fs/path.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt::fs {

class FaultInjectingOs final : public Os {
 public:
  /// The kinds of call, counted separately.
  enum class Op : std::uint8_t {
    open,
    write,
    read,
    fsync,
    close,
    link,
    rename,
    unlink,
    mkdir,
    stat,
    readdir,
    lock
  };
  static constexpr std::size_t op_kinds = 12;
  static constexpr std::array<Op, op_kinds> all_ops = {Op::open,  Op::write, Op::read,    Op::fsync,
                                                       Op::close, Op::link,  Op::rename,  Op::unlink,
                                                       Op::mkdir, Op::stat,  Op::readdir, Op::lock};

  static std::string_view op_name(Op op) noexcept {
    static constexpr std::array<std::string_view, op_kinds> names = {"open",  "write", "read",    "fsync",
                                                                     "close", "link",  "rename",  "unlink",
                                                                     "mkdir", "stat",  "readdir", "lock"};
    return names[static_cast<std::size_t>(op)];
  }

  enum class CrashMode {
    strict,  // drop everything not durable (a power loss at its worst)
    random,  // keep a random prefix of each unsynced write and a random subset of unsynced directory changes
  };

  struct Options {
    /// When false, rename_at(..., rename_noreplace) fails with EINVAL, as on
    /// file systems without RENAME_NOREPLACE, so the linkat fallback is tested.
    bool rename_noreplace_supported = true;

    static Options defaults() { return {}; }
    static Options without_rename_noreplace() {
      Options o;
      o.rename_noreplace_supported = false;
      return o;
    }
  };

  /// A fault that fired: which call, on what (an absolute path in the model),
  /// whether that was a directory, and the errno returned (0 for a short write
  /// that succeeded partly).
  struct Fault {
    Op op{};
    std::string path;
    bool directory = false;
    int error = 0;
    bool short_write = false;
  };

  explicit FaultInjectingOs(Options options = Options::defaults()) : options_(options) {
    inodes_[root_id].directory = true;
    inodes_[root_id].mode = 0755;
  }

  // ---- Counting -----------------------------------------------------------

  std::uint64_t calls(Op op) const {
    std::lock_guard lock(mutex_);
    return counts_[static_cast<std::size_t>(op)];
  }
  std::uint64_t calls() const {
    std::lock_guard lock(mutex_);
    return total_;
  }
  /// Zeroes the counters. Armed faults count from when they were armed and
  /// are re-based, so they still fire at the same call.
  void reset_counts() {
    std::lock_guard lock(mutex_);
    for (auto& f : armed_) f.at -= counts_[static_cast<std::size_t>(f.op)];
    if (power_cut_at_) *power_cut_at_ = *power_cut_at_ > total_ ? *power_cut_at_ - total_ : 0;
    counts_.fill(0);
    total_ = 0;
  }

  // ---- Faults -------------------------------------------------------------

  /// The nth call of kind `op` from now on (1 = the next one) fails with
  /// `error` (EIO, ENOSPC, ...) and changes nothing -- except fsync, which
  /// drops the dirty data as Linux does, and close, which frees the descriptor.
  void fail_call(Op op, std::uint64_t nth, int error) {
    std::lock_guard lock(mutex_);
    armed_.push_back({op, counts_[static_cast<std::size_t>(op)] + nth, error, false, 0});
  }

  /// The nth write from now on writes only half its bytes (at least one); if
  /// `next_error` is not 0 the write after it fails with it (a disk filling up).
  void short_write(std::uint64_t nth, int next_error = 0) {
    std::lock_guard lock(mutex_);
    armed_.push_back({Op::write, counts_[static_cast<std::size_t>(Op::write)] + nth, 0, true, next_error});
  }

  /// Power is cut after `n` more calls: from the (n+1)th on, every call fails
  /// with EIO and changes nothing until crash().
  void power_cut_after(std::uint64_t n) {
    std::lock_guard lock(mutex_);
    power_cut_at_ = total_ + n;
  }

  bool power_is_cut() const {
    std::lock_guard lock(mutex_);
    return power_cut_;
  }

  void clear_faults() {
    std::lock_guard lock(mutex_);
    armed_.clear();
    fired_.clear();
    power_cut_at_.reset();
  }

  /// The faults that fired since the last clear_faults() or crash(), including
  /// every call refused because the power was cut.
  std::vector<Fault> fired() const {
    std::lock_guard lock(mutex_);
    return fired_;
  }

  // ---- Crash --------------------------------------------------------------

  /// Power loss and reboot: everything not durable is gone, every descriptor
  /// is closed (its number is never reused, so stale users get EBADF), every
  /// lock released, armed faults and the power cut cleared.
  void crash() { crash(CrashMode::strict, 0); }

  void crash(CrashMode mode, std::uint64_t seed) {
    std::lock_guard lock(mutex_);
    std::mt19937_64 random(seed);
    for (auto& [id, inode] : inodes_) {
      if (inode.directory) {
        if (mode == CrashMode::random) {
          std::set<std::string> names;
          for (const auto& [name, child] : inode.entries) names.insert(name);
          for (const auto& [name, child] : inode.durable_entries) names.insert(name);
          for (const auto& name : names) {
            if (random() % 2 == 0) continue;  // keep the durable version of this entry
            if (auto it = inode.entries.find(name); it != inode.entries.end()) {
              inode.durable_entries[name] = it->second;
            } else {
              inode.durable_entries.erase(name);
            }
          }
        }
        inode.entries = inode.durable_entries;
        inode.doomed.clear();
      } else {
        if (mode == CrashMode::random) {
          for (const auto& [begin, end] : inode.dirty) {
            const auto kept = std::min<std::uint64_t>(end - begin, random() % (end - begin + 1));
            if (kept == 0) continue;
            if (inode.durable.size() < begin + kept) inode.durable.resize(begin + kept, std::byte{0});
            std::copy_n(inode.data.begin() + static_cast<std::ptrdiff_t>(begin), kept,
                        inode.durable.begin() + static_cast<std::ptrdiff_t>(begin));
          }
        }
        inode.data = inode.durable;
        inode.dirty.clear();
      }
    }
    collect_garbage();
    fds_.clear();
    lock_holders_.clear();
    armed_.clear();
    fired_.clear();
    power_cut_at_.reset();
    power_cut_ = false;
  }

  // ---- Inspection (not counted) ------------------------------------------

  std::size_t open_descriptors() const {
    std::lock_guard lock(mutex_);
    return fds_.size();
  }

  /// What a reader sees now in the file at `absolute_path`, if there is one.
  std::optional<Bytes> file_contents(std::string_view absolute_path) const {
    std::lock_guard lock(mutex_);
    const auto id = lookup(absolute_path);
    if (!id || inodes_.at(*id).directory) return std::nullopt;
    return inodes_.at(*id).data;
  }

  /// The names in the directory at `absolute_path` now, sorted (temporaries included).
  std::optional<std::vector<std::string>> directory_names(std::string_view absolute_path) const {
    std::lock_guard lock(mutex_);
    const auto id = lookup(absolute_path);
    if (!id || !inodes_.at(*id).directory) return std::nullopt;
    std::vector<std::string> out;
    for (const auto& [name, child] : inodes_.at(*id).entries) out.push_back(name);
    return out;
  }

  // ---- Os -----------------------------------------------------------------

  SysResult<int> open_at(int dir, const char* name, int flags, unsigned mode) override {
    std::lock_guard lock(mutex_);
    const auto gate = enter(Op::open, describe(dir, name), (flags & O_DIRECTORY) != 0);
    if (gate.error != 0) return {-1, gate.error};
    const auto where = resolve(dir, name);
    if (where.error != 0) return {-1, where.error};
    InodeId id = where.parent;
    if (!where.leaf.empty()) {
      auto& parent = inodes_.at(where.parent);
      auto it = parent.entries.find(where.leaf);
      if (it == parent.entries.end()) {
        if ((flags & O_CREAT) == 0) return {-1, ENOENT};
        if ((flags & O_DIRECTORY) != 0) return {-1, EINVAL};
        id = next_inode_++;
        inodes_[id].mode = mode & 07777u;
        parent.entries[where.leaf] = id;
        parent.doomed.erase(where.leaf);
      } else {
        if ((flags & O_CREAT) != 0 && (flags & O_EXCL) != 0) return {-1, EEXIST};
        id = it->second;
      }
    }
    auto& inode = inodes_.at(id);
    const int access = flags & O_ACCMODE;
    if ((flags & O_DIRECTORY) != 0 && !inode.directory) return {-1, ENOTDIR};
    if (inode.directory && access != O_RDONLY) return {-1, EISDIR};
    if ((flags & O_TRUNC) != 0 && access != O_RDONLY) {
      inode.data.clear();
      inode.dirty.clear();  // the next fsync makes the new size (0) durable
    }
    const int fd = next_fd_++;
    fds_[fd] = Descriptor{id, where.path, access, inode.directory};
    return {fd, 0};
  }

  SysResult<std::size_t> pwrite(int fd, const std::byte* data, std::size_t size,
                                std::uint64_t offset) override {
    std::lock_guard lock(mutex_);
    const auto* d = descriptor(fd);
    auto gate = enter(Op::write, d ? d->path : std::string(), d && d->directory);
    if (gate.error != 0) return {0, gate.error};
    if (d == nullptr || d->access == O_RDONLY) return {0, EBADF};
    if (gate.short_write && size > 1) size /= 2;
    auto& inode = inodes_.at(d->inode);
    if (inode.data.size() < offset + size) inode.data.resize(offset + size, std::byte{0});
    std::copy_n(data, size, inode.data.begin() + static_cast<std::ptrdiff_t>(offset));
    if (!inode.dirty.empty() && inode.dirty.back().second == offset) {
      inode.dirty.back().second = offset + size;  // an append: extend the last range
    } else if (size > 0) {
      inode.dirty.emplace_back(offset, offset + size);
    }
    return {size, 0};
  }

  SysResult<std::size_t> pread(int fd, std::byte* data, std::size_t size, std::uint64_t offset) override {
    std::lock_guard lock(mutex_);
    const auto* d = descriptor(fd);
    const auto gate = enter(Op::read, d ? d->path : std::string(), d && d->directory);
    if (gate.error != 0) return {0, gate.error};
    if (d == nullptr || d->access == O_WRONLY) return {0, EBADF};
    if (d->directory) return {0, EISDIR};
    const auto& bytes = inodes_.at(d->inode).data;
    if (offset >= bytes.size()) return {0, 0};
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(size, bytes.size() - offset));
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(offset), n, data);
    return {n, 0};
  }

  int fsync(int fd) override {
    std::lock_guard lock(mutex_);
    const auto* d = descriptor(fd);
    const auto gate = enter(Op::fsync, d ? d->path : std::string(), d && d->directory);
    if (d == nullptr) return gate.error != 0 ? gate.error : EBADF;
    auto& inode = inodes_.at(d->inode);
    if (gate.error != 0) {
      if (power_cut_) return gate.error;  // the machine is off: nothing happens at all
      // Linux after a writeback error: the dirty state is cleared without
      // being written, so the next fsync has nothing to do and "succeeds".
      if (inode.directory) {
        for (const auto& name : changed_names(inode)) inode.doomed.insert(name);
      } else {
        inode.dirty.clear();
      }
      return gate.error;
    }
    if (inode.directory) {
      for (const auto& name : changed_names(inode)) {
        if (inode.doomed.contains(name)) continue;
        if (auto it = inode.entries.find(name); it != inode.entries.end()) {
          inode.durable_entries[name] = it->second;
        } else {
          inode.durable_entries.erase(name);
        }
      }
    } else {
      // The size is metadata the journal commits; bytes whose writeback failed
      // earlier come back as zeros, not as the data that was lost.
      inode.durable.resize(inode.data.size(), std::byte{0});
      for (const auto& [begin, end] : inode.dirty) {
        std::copy(inode.data.begin() + static_cast<std::ptrdiff_t>(begin),
                  inode.data.begin() + static_cast<std::ptrdiff_t>(end),
                  inode.durable.begin() + static_cast<std::ptrdiff_t>(begin));
      }
      inode.dirty.clear();
    }
    return 0;
  }

  int close(int fd) override {
    std::lock_guard lock(mutex_);
    const auto* d = descriptor(fd);
    const auto gate = enter(Op::close, d ? d->path : std::string(), d && d->directory);
    if (gate.error != 0 && power_cut_) return gate.error;
    if (d == nullptr) return EBADF;
    release_lock(fd, d->inode);
    fds_.erase(fd);  // gone even when close reports an error, as on Linux
    return gate.error;
  }

  int link_at(int old_dir, const char* old_name, int new_dir, const char* new_name) override {
    std::lock_guard lock(mutex_);
    const auto gate = enter(Op::link, describe(new_dir, new_name), false);
    if (gate.error != 0) return gate.error;
    const auto from = resolve(old_dir, old_name);
    if (from.error != 0) return from.error;
    const auto to = resolve(new_dir, new_name);
    if (to.error != 0) return to.error;
    if (from.leaf.empty() || to.leaf.empty()) return EPERM;
    const auto& source_dir = inodes_.at(from.parent);
    auto it = source_dir.entries.find(from.leaf);
    if (it == source_dir.entries.end()) return ENOENT;
    if (inodes_.at(it->second).directory) return EPERM;
    auto& target_dir = inodes_.at(to.parent);
    if (target_dir.entries.contains(to.leaf)) return EEXIST;
    target_dir.entries[to.leaf] = it->second;
    target_dir.doomed.erase(to.leaf);
    return 0;
  }

  int rename_at(int old_dir, const char* old_name, int new_dir, const char* new_name,
                unsigned flags) override {
    std::lock_guard lock(mutex_);
    const auto gate = enter(Op::rename, describe(new_dir, new_name), false);
    if (gate.error != 0) return gate.error;
    if ((flags & ~rename_noreplace) != 0) return EINVAL;
    if ((flags & rename_noreplace) != 0 && !options_.rename_noreplace_supported) return EINVAL;
    const auto from = resolve(old_dir, old_name);
    if (from.error != 0) return from.error;
    const auto to = resolve(new_dir, new_name);
    if (to.error != 0) return to.error;
    if (from.leaf.empty() || to.leaf.empty()) return EBUSY;
    auto& source_dir = inodes_.at(from.parent);
    auto it = source_dir.entries.find(from.leaf);
    if (it == source_dir.entries.end()) return ENOENT;
    const InodeId moving = it->second;
    auto& target_dir = inodes_.at(to.parent);
    if (auto existing = target_dir.entries.find(to.leaf); existing != target_dir.entries.end()) {
      if ((flags & rename_noreplace) != 0) return EEXIST;
      if (existing->second == moving) return 0;
      const auto& victim = inodes_.at(existing->second);
      if (victim.directory != inodes_.at(moving).directory) return victim.directory ? EISDIR : ENOTDIR;
      if (victim.directory && !victim.entries.empty()) return ENOTEMPTY;
    }
    source_dir.entries.erase(from.leaf);
    source_dir.doomed.erase(from.leaf);
    target_dir.entries[to.leaf] = moving;
    target_dir.doomed.erase(to.leaf);
    return 0;
  }

  int unlink_at(int dir, const char* name, bool directory) override {
    std::lock_guard lock(mutex_);
    const auto gate = enter(Op::unlink, describe(dir, name), directory);
    if (gate.error != 0) return gate.error;
    const auto where = resolve(dir, name);
    if (where.error != 0) return where.error;
    if (where.leaf.empty()) return EBUSY;
    auto& parent = inodes_.at(where.parent);
    auto it = parent.entries.find(where.leaf);
    if (it == parent.entries.end()) return ENOENT;
    const auto& victim = inodes_.at(it->second);
    if (directory && !victim.directory) return ENOTDIR;
    if (!directory && victim.directory) return EISDIR;
    if (directory && !victim.entries.empty()) return ENOTEMPTY;
    parent.entries.erase(it);
    parent.doomed.erase(where.leaf);
    return 0;
  }

  int mkdir_at(int dir, const char* name, unsigned mode) override {
    std::lock_guard lock(mutex_);
    const auto gate = enter(Op::mkdir, describe(dir, name), true);
    if (gate.error != 0) return gate.error;
    const auto where = resolve(dir, name);
    if (where.error != 0) return where.error;
    if (where.leaf.empty()) return EEXIST;
    auto& parent = inodes_.at(where.parent);
    if (parent.entries.contains(where.leaf)) return EEXIST;
    const auto id = next_inode_++;
    auto& created = inodes_[id];
    created.directory = true;
    created.mode = mode & 07777u;
    parent.entries[where.leaf] = id;  // std::map: emplacing `created` moved no other inode
    parent.doomed.erase(where.leaf);
    return 0;
  }

  SysResult<FileStatus> stat_at(int dir, const char* name) override {
    std::lock_guard lock(mutex_);
    const auto gate = enter(Op::stat, describe(dir, name), false);
    if (gate.error != 0) return {{}, gate.error};
    const auto where = resolve(dir, name);
    if (where.error != 0) return {{}, where.error};
    InodeId id = where.parent;
    if (!where.leaf.empty()) {
      const auto& parent = inodes_.at(where.parent);
      auto it = parent.entries.find(where.leaf);
      if (it == parent.entries.end()) return {{}, ENOENT};
      id = it->second;
    }
    return {status(id), 0};
  }

  SysResult<FileStatus> fstat(int fd) override {
    std::lock_guard lock(mutex_);
    const auto* d = descriptor(fd);
    const auto gate = enter(Op::stat, d ? d->path : std::string(), d && d->directory);
    if (gate.error != 0) return {{}, gate.error};
    if (d == nullptr) return {{}, EBADF};
    return {status(d->inode), 0};
  }

  SysResult<std::vector<std::string>> read_dir(int dir) override {
    std::lock_guard lock(mutex_);
    const auto* d = descriptor(dir);
    const auto gate = enter(Op::readdir, d ? d->path : std::string(), true);
    if (gate.error != 0) return {{}, gate.error};
    if (d == nullptr) return {{}, EBADF};
    if (!d->directory) return {{}, ENOTDIR};
    SysResult<std::vector<std::string>> out;
    for (const auto& [name, child] : inodes_.at(d->inode).entries) out.value.push_back(name);
    return out;
  }

  int flock(int fd, int operation) override {
    std::lock_guard lock(mutex_);
    const auto* d = descriptor(fd);
    const auto gate = enter(Op::lock, d ? d->path : std::string(), d && d->directory);
    if (gate.error != 0) return gate.error;
    if (d == nullptr) return EBADF;
    if ((operation & LOCK_UN) != 0) {
      release_lock(fd, d->inode);
      return 0;
    }
    if ((operation & (LOCK_EX | LOCK_SH)) == 0) return EINVAL;
    auto [it, inserted] = lock_holders_.try_emplace(d->inode, fd);
    if (inserted || it->second == fd) return 0;
    // Nothing here can release it while we wait: report what LOCK_NB would.
    return (operation & LOCK_NB) != 0 ? EWOULDBLOCK : EDEADLK;
  }

 private:
  using InodeId = std::uint64_t;
  static constexpr InodeId root_id = 1;

  struct Inode {
    bool directory = false;
    unsigned mode = 0;
    // A file.
    Bytes data;                                                  // what reads see (the page cache)
    Bytes durable;                                               // what survives a crash
    std::vector<std::pair<std::uint64_t, std::uint64_t>> dirty;  // [begin, end) written since the last fsync
    // A directory.
    std::map<std::string, InodeId> entries;          // what lookups see
    std::map<std::string, InodeId> durable_entries;  // what survives a crash
    std::set<std::string> doomed;                    // changes a failed fsync dropped
  };

  struct Descriptor {
    InodeId inode = 0;
    std::string path;
    int access = O_RDONLY;
    bool directory = false;
  };

  struct Armed {
    Op op;
    std::uint64_t at;  // fires when the count of `op` reaches this
    int error;
    bool short_write;
    int next_error;
  };

  struct Gate {
    int error = 0;
    bool short_write = false;
  };

  struct Where {
    InodeId parent = 0;
    std::string leaf;  // "" means `parent` itself
    std::string path;  // absolute, for messages
    int error = 0;
  };

  // Counts a call and decides whether it fails (caller holds mutex_).
  Gate enter(Op op, const std::string& path, bool directory) {
    ++total_;
    const auto n = ++counts_[static_cast<std::size_t>(op)];
    if (!power_cut_ && power_cut_at_ && total_ > *power_cut_at_) power_cut_ = true;
    if (power_cut_) {
      fired_.push_back({op, path, directory, EIO, false});
      return {EIO, false};
    }
    for (auto it = armed_.begin(); it != armed_.end(); ++it) {
      if (it->op != op || it->at != n) continue;
      const Armed fault = *it;
      armed_.erase(it);
      fired_.push_back({op, path, directory, fault.error, fault.short_write});
      if (fault.short_write && fault.next_error != 0)
        armed_.push_back({Op::write, n + 1, fault.next_error, false, 0});
      return {fault.error, fault.short_write};
    }
    return {};
  }

  const Descriptor* descriptor(int fd) const {
    auto it = fds_.find(fd);
    return it == fds_.end() ? nullptr : &it->second;
  }

  std::string describe(int dir, const char* name) const {
    if (dir == AT_FDCWD || name[0] == '/') return name;
    const auto* d = descriptor(dir);
    const std::string base = d ? d->path : "?";
    return base == "/" ? "/" + std::string(name) : base + "/" + name;
  }

  // Finds the directory holding the last component of `name`, relative to the
  // directory open as `dir` (or to "/" for AT_FDCWD and absolute names).
  Where resolve(int dir, const char* name) const {
    Where out;
    std::string_view rest(name);
    if (dir == AT_FDCWD || rest.starts_with('/')) {
      if (!rest.starts_with('/')) return {0, {}, {}, ENOENT};  // the model has no working directory
      out.parent = root_id;
      out.path = "/";
    } else {
      const auto* d = descriptor(dir);
      if (d == nullptr) return {0, {}, {}, EBADF};
      if (!d->directory) return {0, {}, {}, ENOTDIR};
      out.parent = d->inode;
      out.path = d->path;
    }
    while (rest.starts_with('/')) rest.remove_prefix(1);
    std::vector<std::string> parts;
    for (auto& part : components(rest)) {
      if (!part.empty() && part != ".") parts.push_back(std::move(part));
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const auto& current = inodes_.at(out.parent);
      if (!current.directory) return {0, {}, {}, ENOTDIR};
      if (i + 1 == parts.size()) {
        out.leaf = parts[i];
        out.path = out.path == "/" ? "/" + parts[i] : out.path + "/" + parts[i];
        return out;
      }
      auto it = current.entries.find(parts[i]);
      if (it == current.entries.end()) return {0, {}, {}, ENOENT};
      if (!inodes_.at(it->second).directory) return {0, {}, {}, ENOTDIR};
      out.parent = it->second;
      out.path = out.path == "/" ? "/" + parts[i] : out.path + "/" + parts[i];
    }
    return out;  // no components: the directory itself
  }

  std::optional<InodeId> lookup(std::string_view absolute_path) const {
    InodeId id = root_id;
    while (absolute_path.starts_with('/')) absolute_path.remove_prefix(1);
    for (const auto& part : components(absolute_path)) {
      if (part.empty()) continue;
      const auto& current = inodes_.at(id);
      if (!current.directory) return std::nullopt;
      auto it = current.entries.find(part);
      if (it == current.entries.end()) return std::nullopt;
      id = it->second;
    }
    return id;
  }

  FileStatus status(InodeId id) const {
    const auto& inode = inodes_.at(id);
    FileStatus out;
    out.type = inode.directory ? FileType::directory : FileType::regular;
    out.size = inode.directory ? 0 : inode.data.size();
    out.mode = inode.mode;
    return out;
  }

  static std::vector<std::string> changed_names(const Inode& dir) {
    std::vector<std::string> out;
    for (const auto& [name, id] : dir.entries) {
      auto it = dir.durable_entries.find(name);
      if (it == dir.durable_entries.end() || it->second != id) out.push_back(name);
    }
    for (const auto& [name, id] : dir.durable_entries) {
      if (!dir.entries.contains(name)) out.push_back(name);
    }
    return out;
  }

  void release_lock(int fd, InodeId inode) {
    if (auto it = lock_holders_.find(inode); it != lock_holders_.end() && it->second == fd)
      lock_holders_.erase(it);
  }

  // After a crash: whatever no directory entry reaches from the root is gone.
  void collect_garbage() {
    std::set<InodeId> reachable{root_id};
    std::vector<InodeId> pending{root_id};
    while (!pending.empty()) {
      const auto id = pending.back();
      pending.pop_back();
      for (const auto& [name, child] : inodes_.at(id).entries) {
        if (reachable.insert(child).second && inodes_.at(child).directory) pending.push_back(child);
      }
    }
    std::erase_if(inodes_, [&](const auto& kv) { return !reachable.contains(kv.first); });
  }

  mutable std::mutex mutex_;
  Options options_;
  std::map<InodeId, Inode> inodes_;
  InodeId next_inode_ = root_id + 1;
  std::map<int, Descriptor> fds_;
  int next_fd_ = 3;
  std::map<InodeId, int> lock_holders_;
  std::array<std::uint64_t, op_kinds> counts_{};
  std::uint64_t total_ = 0;
  std::vector<Armed> armed_;
  std::vector<Fault> fired_;
  std::optional<std::uint64_t> power_cut_at_;
  bool power_cut_ = false;
};

}  // namespace ckpt::fs
