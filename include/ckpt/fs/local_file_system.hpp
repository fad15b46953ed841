#pragma once
// LocalFileSystem: a directory on a local (POSIX) disk, written crash-safely.
//
// How a file becomes durable (the order is what makes it crash-safe):
//   1. create() opens a unique temporary name in the target directory with
//      O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC and the configured mode;
//   2. append() writes it with pwrite;
//   3. commit() fsyncs and closes it, publishes it under its final name with
//      renameat2(RENAME_NOREPLACE) (or, where the file system lacks that,
//      linkat + unlink of the temporary name), both of which fail with EEXIST
//      instead of replacing, and then fsyncs the directory.
// A failed fsync aborts the file: Linux drops the dirty pages after reporting
// the error, so a second fsync would succeed without the data being on disk.
//
// Paths never leave the root: each path is resolved one component at a time
// from a descriptor of the root with O_NOFOLLOW|O_DIRECTORY, so a symbolic link
// planted inside the root is an error (open/create/list through it), or not
// there (exists(), list() entries), and remove_all() unlinks it without
// descending. The root path itself may contain symlinks: it is configuration.
//
// Every system call goes through an Os, so FaultInjectingFileSystem runs this
// very code on an in-memory power-loss model.

#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/os.hpp>
#include <ckpt/fs/os_error.hpp>
#include <ckpt/fs/path.hpp>
#include <ckpt/fs/temporary_name.hpp>
#include <ckpt/fs/detail/local_files.hpp>  // the files and lock behind the interface

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ckpt::fs {

class LocalFileSystem : public FileSystem {
 public:
  /// Options in cereal's style: a small struct with named factories,
  /// e.g. LocalFileSystem::Options::defaults().with_file_mode(0640).
  struct Options {
    /// Mode of new files and lock files. The process umask still applies, as with open(2).
    unsigned file_mode = 0600;
    /// Mode of new directories (umask applies, as with mkdir(2)).
    unsigned dir_mode = 0700;
    /// TEST ONLY. Skips every directory fsync, so committed files can vanish
    /// on power loss. It exists so a power-loss test can show that it does.
    bool unsafe_skip_directory_sync = false;
    /// Whether a missing root is created (with its parents). Read paths —
    /// open_snapshot, ckpt-inspect — say no, so they never change the disk.
    bool create_root = true;

    static Options defaults() { return {}; }
    /// defaults(), but a missing root is errc::not_found instead of created.
    static Options existing_root() {
      Options o;
      o.create_root = false;
      return o;
    }
    /// TEST ONLY: defaults() with unsafe_skip_directory_sync.
    static Options unsafe_without_directory_sync() {
      Options o;
      o.unsafe_skip_directory_sync = true;
      return o;
    }
    Options with_file_mode(unsigned mode) const {
      auto o = *this;
      o.file_mode = mode;
      return o;
    }
    Options with_dir_mode(unsigned mode) const {
      auto o = *this;
      o.dir_mode = mode;
      return o;
    }
  };

  /// Opens (creating it and its parents with dir_mode if missing, unless
  /// Options::create_root is false) the directory `root_dir`. A relative
  /// `root_dir` is made absolute.
  explicit LocalFileSystem(std::string root_dir, Options options = Options::defaults(),
                           std::shared_ptr<Os> os = PosixOs::shared())
      : options_(options) {
    validate_options(options_);
    if (!os) throw ConfigError(errc::invalid_argument, "LocalFileSystem needs an Os");
    root_ = absolute_root(std::move(root_dir));
    auto context = std::make_shared<detail::LocalContext>();
    context->os = std::move(os);
    context->where = "file://" + root_;
    context->sync_directories = !options_.unsafe_skip_directory_sync;
    context_ = std::move(context);
    root_fd_ = open_root();
  }

  const std::string& root() const noexcept { return root_; }
  const Options& options() const noexcept { return options_; }
  const std::shared_ptr<Os>& os() const noexcept { return context_->os; }

  std::string uri() const override { return context_->where; }

  std::unique_ptr<WritableFile> create(std::string_view path_view) override {
    validate_user_path(path_view);
    const std::string path(path_view);
    auto dir = resolve_dir_creating(parent(path), path, "create");
    auto& os = *context_->os;
    for (int attempt = 0;; ++attempt) {
      auto temporary = make_temporary_name();
      const auto r = os.open_at(dir->get(), temporary.c_str(),
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, options_.file_mode);
      if (r.ok()) {
        return std::make_unique<detail::LocalWritableFile>(
            context_, std::move(dir), detail::Fd(context_->os, r.value), path, std::move(temporary));
      }
      if (r.error != EEXIST || attempt >= 64) throw error(r.error, path, "create a temporary file for");
    }
  }

  std::unique_ptr<ReadableFile> open(std::string_view path_view) override {
    validate_user_path(path_view);
    const std::string path(path_view);
    auto dir = resolve_dir(parent(path));
    if (dir.error == ENOENT || (dir.error == ENOTDIR && !dir.symlink)) throw not_found(path, dir.error);
    if (dir.error != 0) throw resolve_error(dir, path, "open");
    auto& os = *context_->os;
    const auto name = filename(path);
    // O_NONBLOCK: a FIFO planted in the root must not block open() forever.
    const auto r = os.open_at(dir.fd->get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);
    if (r.error == ENOENT || r.error == ENOTDIR) throw not_found(path, r.error);
    if (r.error == ELOOP) throw detail::symlink_error(path, "open", context_->where, path);
    if (!r.ok()) throw error(r.error, path, "open");
    detail::Fd fd(context_->os, r.value);
    const auto st = os.fstat(fd.get());
    if (!st.ok()) throw error(st.error, path, "open");
    if (st.value.type != FileType::regular) throw not_found(path, EISDIR, "it is not a regular file");
    return std::make_unique<detail::LocalReadableFile>(context_, std::move(fd), path, st.value.size);
  }

  void publish(std::string_view path, std::span<const std::byte> data) override {
    auto file = create(path);
    file->append(data);
    file->commit();
  }

  std::vector<Entry> list(std::string_view dir_view) override {
    validate_user_path(dir_view, true);
    const std::string dir(dir_view);
    auto resolved = resolve_dir(dir);
    if (resolved.error == ENOENT) return {};
    if (resolved.error != 0) throw resolve_error(resolved, dir, "list");
    auto& os = *context_->os;
    auto names = os.read_dir(resolved.fd->get());
    if (!names.ok()) throw error(names.error, dir, "list");
    std::vector<Entry> out;
    for (auto& name : names.value) {
      // Temporaries are hidden; names no path could address are not ckpt's.
      if (is_temporary_name(name) || !path_problem(name).empty()) continue;
      const auto st = os.stat_at(resolved.fd->get(), name.c_str());
      if (st.error == ENOENT) continue;  // removed while we listed
      if (!st.ok()) throw error(st.error, join(dir, name), "inspect");
      if (st.value.type == FileType::regular) {
        out.push_back({std::move(name), EntryType::file, st.value.size});
      } else if (st.value.type == FileType::directory) {
        out.push_back({std::move(name), EntryType::directory, 0});
      }  // symlinks and special files are not there as far as ckpt is concerned
    }
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
    return out;
  }

  bool exists(std::string_view path_view) override {
    validate_user_path(path_view);
    const std::string path(path_view);
    auto dir = resolve_dir(parent(path));
    if (dir.error == ENOENT || dir.error == ENOTDIR || dir.error == ELOOP) return false;
    if (dir.error != 0) throw resolve_error(dir, path, "inspect");
    const auto st = context_->os->stat_at(dir.fd->get(), filename(path).c_str());
    if (st.error == ENOENT || st.error == ENOTDIR) return false;
    if (!st.ok()) throw error(st.error, path, "inspect");
    return st.value.type == FileType::regular || st.value.type == FileType::directory;
  }

  void rename(std::string_view from_view, std::string_view to_view) override {
    validate_user_path(from_view);
    validate_user_path(to_view);
    const std::string from(from_view), to(to_view);
    auto from_dir = resolve_dir(parent(from));
    if (from_dir.error == ENOENT || from_dir.error == ENOTDIR)
      throw IoError(errc::not_found, from, detail::describe_what("rename", from, context_->where) + ": no such file",
                    std::error_code(ENOENT, std::system_category()));
    if (from_dir.error != 0) throw resolve_error(from_dir, from, "rename");
    auto& os = *context_->os;
    const auto from_name = filename(from);
    const auto st = os.stat_at(from_dir.fd->get(), from_name.c_str());
    if (st.error == ENOENT || (st.ok() && st.value.type != FileType::regular))
      throw IoError(errc::not_found, from, detail::describe_what("rename", from, context_->where) + ": no such file",
                    std::error_code(ENOENT, std::system_category()));
    if (!st.ok()) throw error(st.error, from, "rename");
    auto to_dir = resolve_dir_creating(parent(to), to, "rename into");
    const auto to_name = filename(to);
    int e = os.rename_at(from_dir.fd->get(), from_name.c_str(), to_dir->get(), to_name.c_str(), Os::rename_noreplace);
    if (e == EINVAL || e == ENOSYS || e == EOPNOTSUPP) {
      e = os.link_at(from_dir.fd->get(), from_name.c_str(), to_dir->get(), to_name.c_str());
      if (e == 0) static_cast<void>(os.unlink_at(from_dir.fd->get(), from_name.c_str(), false));
    }
    if (e == EEXIST)
      throw IoError(errc::already_exists, to, detail::describe_what("rename to", to, context_->where) + ": it exists",
                    std::error_code(EEXIST, std::system_category()));
    if (e != 0) throw error(e, to, "rename to");
    sync_directory(*to_dir, to);
    if (parent(from) != parent(to)) sync_directory(*from_dir.fd, from);
  }

  void remove(std::string_view path_view) override {
    validate_user_path(path_view);
    const std::string path(path_view);
    auto dir = resolve_dir(parent(path));
    if (dir.error == ENOENT) return;
    if (dir.error != 0) throw resolve_error(dir, path, "remove");
    auto& os = *context_->os;
    const int e = os.unlink_at(dir.fd->get(), filename(path).c_str(), false);
    if (e == ENOENT) return;
    if (e != 0) throw error(e, path, "remove");
    sync_directory(*dir.fd, path);  // a removal a crash undoes could resurrect a manifest
  }

  void remove_all(std::string_view dir_view) override {
    validate_user_path(dir_view);
    const std::string dir(dir_view);
    auto parent_dir = resolve_dir(parent(dir));
    if (parent_dir.error == ENOENT) return;
    if (parent_dir.error != 0) throw resolve_error(parent_dir, dir, "remove");
    auto& os = *context_->os;
    const int pfd = parent_dir.fd->get();
    const auto name = filename(dir);
    for (int attempt = 0;; ++attempt) {
      const auto st = os.stat_at(pfd, name.c_str());
      if (st.error == ENOENT) break;
      if (!st.ok()) throw error(st.error, dir, "remove");
      if (st.value.type != FileType::directory) {  // a file, or a symlink: unlinked, never followed
        const int e = os.unlink_at(pfd, name.c_str(), false);
        if (e != 0 && e != ENOENT) throw error(e, dir, "remove");
        break;
      }
      const auto r = os.open_at(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
      if (r.error == ENOENT) break;
      if (r.error == ENOTDIR && attempt < 8) continue;  // replaced by a non-directory meanwhile: look again
      if (!r.ok()) throw error(r.error, dir, "remove");
      {
        detail::Fd fd(context_->os, r.value);
        remove_tree(fd.get(), dir, dir, 0);
      }
      const int e = os.unlink_at(pfd, name.c_str(), true);
      if (e == 0 || e == ENOENT) break;
      // A writer added a file after we emptied it: go round again, a bounded number of times.
      if ((e != ENOTEMPTY && e != EEXIST) || attempt >= 8) throw error(e, dir, "remove");
    }
    forget_durable_dirs(dir);
    sync_directory(*parent_dir.fd, dir);
  }

  void make_directories(std::string_view dir) override {
    validate_user_path(dir, true);
    if (dir.empty()) return;
    static_cast<void>(resolve_dir_creating(std::string(dir), std::string(dir), "create directory"));
  }

  void remove_temporaries(std::string_view dir_view) override {
    validate_user_path(dir_view, true);
    const std::string dir(dir_view);
    auto resolved = resolve_dir(dir);
    if (resolved.error == ENOENT) return;
    if (resolved.error != 0) throw resolve_error(resolved, dir, "clean");
    auto& os = *context_->os;
    auto names = os.read_dir(resolved.fd->get());
    if (!names.ok()) throw error(names.error, dir, "list");
    for (const auto& name : names.value) {
      if (!is_temporary_name(name)) continue;
      const auto st = os.stat_at(resolved.fd->get(), name.c_str());
      if (st.error == ENOENT) continue;
      if (!st.ok()) throw error(st.error, dir, "inspect a temporary file in");
      if (st.value.type == FileType::directory) continue;  // ckpt never makes temporary directories
      const int e = os.unlink_at(resolved.fd->get(), name.c_str(), false);
      if (e != 0 && e != ENOENT) throw error(e, dir, "remove a temporary file in");
    }
  }

  std::unique_ptr<Lock> try_lock(std::string_view path_view) override {
    validate_user_path(path_view);
    const std::string path(path_view);
    auto dir = resolve_dir_creating(parent(path), path, "lock");
    auto& os = *context_->os;
    const auto r = os.open_at(dir->get(), filename(path).c_str(),
                              O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, options_.file_mode);
    if (r.error == ELOOP) throw detail::symlink_error(path, "lock", context_->where, path);
    if (!r.ok()) throw error(r.error, path, "lock");
    detail::Fd fd(context_->os, r.value);
    const auto st = os.fstat(fd.get());
    if (!st.ok()) throw error(st.error, path, "lock");
    if (st.value.type != FileType::regular)
      throw IoError(errc::io_error, path,
                    detail::describe_what("lock", path, context_->where) + ": it is not a regular file");
    // flock, not fcntl locks: it belongs to this descriptor (so two opens in one
    // process exclude each other) and the kernel drops it when the holder dies.
    const int e = os.flock(fd.get(), LOCK_EX | LOCK_NB);
    if (e == EWOULDBLOCK) return nullptr;
    if (e != 0) throw error(e, path, "lock");
    // The directory is locked as well, through a descriptor of its own: a
    // lock file deleted by hand lets a second writer lock a new one, but not
    // the directory, which nothing deletes while the storage is in use.
    // Where directories cannot be flocked (some network file systems), the
    // lock file alone is the lock, as before.
    if (!parent(path).empty()) return std::make_unique<detail::LocalLock>(std::move(fd), std::nullopt);
    const auto d = os.open_at(AT_FDCWD, root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (!d.ok()) throw error(d.error, path, "lock");
    detail::Fd directory(context_->os, d.value);
    const int de = os.flock(directory.get(), LOCK_EX | LOCK_NB);
    if (de == EWOULDBLOCK) return nullptr;
    if (de == EBADF || de == ENOLCK || de == EINVAL || de == EOPNOTSUPP)
      return std::make_unique<detail::LocalLock>(std::move(fd), std::nullopt);
    if (de != 0) throw error(de, path, "lock");
    return std::make_unique<detail::LocalLock>(std::move(fd), std::move(directory));
  }

 private:
  struct Resolved {
    detail::DirFd fd;
    int error = 0;
    bool symlink = false;  // the component at `failed_at` is a symbolic link
    std::string failed_at;
  };

  static void validate_options(const Options& o) {
    if ((o.file_mode & ~0777u) != 0 || (o.file_mode & 0600u) != 0600u)
      throw ConfigError(
          errc::invalid_argument,
          "LocalFileSystem file_mode " + octal(o.file_mode) +
              " is not allowed: it must be within 0777 and include owner read and write (0600)");
    if ((o.dir_mode & ~0777u) != 0 || (o.dir_mode & 0700u) != 0700u)
      throw ConfigError(errc::invalid_argument,
                        "LocalFileSystem dir_mode " + octal(o.dir_mode) +
                            " is not allowed: it must be within 0777 and include owner rwx (0700)");
  }

  static std::string octal(unsigned mode) {
    std::string out;
    do {
      out.insert(out.begin(), static_cast<char>('0' + (mode & 7u)));
      mode >>= 3;
    } while (mode != 0);
    return "0" + out;
  }

  static std::string absolute_root(std::string root) {
    if (root.empty()) throw ConfigError(errc::invalid_argument, "LocalFileSystem needs a root directory");
    for (const char c : root) {
      if (c == '\0')
        throw ConfigError(errc::invalid_argument, "LocalFileSystem root directory contains a NUL byte");
    }
    if (root.front() != '/') root = std::filesystem::absolute(root).string();
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    return root;
  }

  detail::DirFd open_root() {
    auto& os = *context_->os;
    constexpr int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    auto r = os.open_at(AT_FDCWD, root_.c_str(), flags, 0);
    if (r.error == ENOENT && !options_.create_root)
      throw IoError(errc::not_found, "", "the directory '" + root_ + "' does not exist");
    if (r.error == ENOENT) {
      create_root();
      r = os.open_at(AT_FDCWD, root_.c_str(), flags, 0);
    }
    if (!r.ok()) throw error(r.error, "", "open the root directory");
    return std::make_shared<const detail::Fd>(context_->os, r.value);
  }

  // Creates the root and its missing parents, each made durable in its parent.
  void create_root() {
    auto& os = *context_->os;
    std::string prefix;
    for (const auto& part : components(std::string_view(root_).substr(1))) {
      const std::string up = prefix.empty() ? "/" : prefix;
      prefix += "/" + part;
      const int e = os.mkdir_at(AT_FDCWD, prefix.c_str(), options_.dir_mode);
      if (e == EEXIST) continue;
      if (e != 0) throw error(e, "", "create the root directory");
      if (!context_->sync_directories) continue;
      const auto p = os.open_at(AT_FDCWD, up.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
      if (!p.ok()) throw error(p.error, "", "create the root directory");
      const detail::Fd parent_fd(context_->os, p.value);
      if (const int s = os.fsync(parent_fd.get()); s != 0) throw error(s, "", "create the root directory");
    }
  }

  // Opens `dir` below the root without following symlinks and without creating.
  Resolved resolve_dir(std::string_view dir) const {
    Resolved out;
    out.fd = root_fd_;
    auto& os = *context_->os;
    std::string walked;
    for (const auto& part : components(dir)) {
      walked = join(walked, part);
      const auto r =
          os.open_at(out.fd->get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
      if (!r.ok()) {
        out.error = r.error;
        out.failed_at = walked;
        if (r.error == ENOTDIR || r.error == ELOOP) {
          const auto st = os.stat_at(out.fd->get(), part.c_str());
          out.symlink = st.ok() && st.value.type == FileType::symlink;
          if (out.symlink) out.error = ELOOP;
        }
        out.fd.reset();
        return out;
      }
      out.fd = std::make_shared<const detail::Fd>(context_->os, r.value);
    }
    return out;
  }

  // Opens `dir`, creating what is missing. Every directory on the way is made
  // durable in its parent once per LocalFileSystem, including ones found
  // already there: another writer may have created one without having synced
  // its parent yet, and a file committed below it would vanish with it.
  detail::DirFd resolve_dir_creating(const std::string& dir, const std::string& path, std::string_view what) {
    auto& os = *context_->os;
    std::lock_guard lock(dirs_mutex_);
    detail::DirFd cur = root_fd_;
    std::string walked;
    constexpr int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    for (const auto& part : components(dir)) {
      walked = join(walked, part);
      auto r = os.open_at(cur->get(), part.c_str(), flags, 0);
      bool created = false;
      if (r.error == ENOENT) {
        const int e = os.mkdir_at(cur->get(), part.c_str(), options_.dir_mode);
        if (e != 0 && e != EEXIST)
          throw error(e, path, std::string(what) + " directory '" + walked + "' for");
        created = e == 0;
        r = os.open_at(cur->get(), part.c_str(), flags, 0);
      }
      if (!r.ok()) {
        Resolved failed;
        failed.error = r.error;
        failed.failed_at = walked;
        if (r.error == ENOTDIR || r.error == ELOOP) {
          const auto st = os.stat_at(cur->get(), part.c_str());
          failed.symlink = st.ok() && st.value.type == FileType::symlink;
          if (failed.symlink) failed.error = ELOOP;
        }
        throw resolve_error(failed, path, what);
      }
      auto next = std::make_shared<const detail::Fd>(context_->os, r.value);
      if (context_->sync_directories && !durable_dirs_.contains(walked)) {
        if (const int s = os.fsync(cur->get()); s != 0) {
          // The new entry may never become durable (Linux drops what a failed
          // fsync could not write, and a later fsync reports success): take
          // back a directory we made, so the next attempt makes it anew
          // instead of trusting a retried fsync.
          if (created) static_cast<void>(os.unlink_at(cur->get(), part.c_str(), true));
          throw error(s, path, "sync the directory holding '" + walked + "' for");
        }
        durable_dirs_.insert(walked);
      }
      cur = std::move(next);
    }
    return cur;
  }

  void forget_durable_dirs(const std::string& dir) {
    std::lock_guard lock(dirs_mutex_);
    std::erase_if(durable_dirs_, [&](const std::string& d) {
      return d == dir ||
             (d.size() > dir.size() && d.compare(0, dir.size(), dir) == 0 && d[dir.size()] == '/');
    });
  }

  // Empties the directory open as `fd` (at `rel`), never following a symlink.
  void remove_tree(int fd, const std::string& rel, const std::string& op_path, int depth) {
    // Each level holds a descriptor; a planted tree deeper than any ckpt makes
    // must not exhaust them.
    if (depth > 128)
      throw IoError(errc::io_error, op_path,
                    detail::describe_what("remove", op_path, context_->where) + ": '" + rel +
                        "' is nested more than 128 directories deep");
    auto& os = *context_->os;
    auto names = os.read_dir(fd);
    if (!names.ok()) throw error(names.error, op_path, "list '" + rel + "' to remove");
    for (const auto& name : names.value) {
      const auto child = rel + "/" + name;
      const auto st = os.stat_at(fd, name.c_str());
      if (st.error == ENOENT) continue;
      if (!st.ok()) throw error(st.error, op_path, "inspect '" + child + "' to remove");
      if (st.value.type == FileType::directory) {
        const auto r = os.open_at(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
        if (r.ok()) {
          detail::Fd child_fd(context_->os, r.value);
          remove_tree(child_fd.get(), child, op_path, depth + 1);
        } else if (r.error != ENOENT && r.error != ENOTDIR) {
          throw error(r.error, op_path, "open '" + child + "' to remove");
        }
        const int e = os.unlink_at(fd, name.c_str(), r.error != ENOTDIR);
        if (e != 0 && e != ENOENT) throw error(e, op_path, "remove '" + child + "' while removing");
      } else {
        const int e = os.unlink_at(fd, name.c_str(), false);
        if (e != 0 && e != ENOENT) throw error(e, op_path, "remove '" + child + "' while removing");
      }
    }
  }

  void sync_directory(const detail::Fd& dir, const std::string& path) {
    if (!context_->sync_directories) return;
    if (const int e = context_->os->fsync(dir.get()); e != 0) throw error(e, path, "sync the directory of");
  }

  IoError error(int e, const std::string& path, const std::string& what) const {
    return io_error_from_errno(e, path, what, context_->where);
  }

  IoError not_found(const std::string& path, int e, std::string_view reason = "no such file") const {
    return IoError(errc::not_found, path,
                   detail::describe_what("open", path, context_->where) + ": " + std::string(reason),
                   std::error_code(e, std::system_category()));
  }

  IoError resolve_error(const Resolved& r, const std::string& path, std::string_view what) const {
    if (r.symlink) return detail::symlink_error(path, what, context_->where, r.failed_at);
    const std::error_code system(r.error, std::system_category());
    return IoError(errc_from_errno(r.error), path,
                   detail::describe_what(what, path, context_->where) + ": '" + r.failed_at +
                       "': " + system.message() + " (errno " + std::to_string(r.error) + ")",
                   system);
  }

  Options options_;
  std::string root_;
  std::shared_ptr<const detail::LocalContext> context_;
  detail::DirFd root_fd_;
  std::mutex dirs_mutex_;
  std::unordered_set<std::string> durable_dirs_;  // made durable in their parent by this instance
};

}  // namespace ckpt::fs
