#pragma once
// The few system calls LocalFileSystem is written against (LevelDB's Env is the
// idea). LocalFileSystem never calls the operating system directly, so the same
// code runs on the real kernel (PosixOs) and on FaultInjectingOs, the in-memory
// power-loss and I/O-fault model its tests use.
//
// Results are errno-style: 0 / a value on success, the errno of the failure
// otherwise. Nothing here throws except std::bad_alloc; turning an errno into
// an exception that names the file is LocalFileSystem's job.

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE (glibc >= 2.28)
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

namespace ckpt::fs {

/// A value, or the errno of the failure that prevented it.
template <class T>
struct SysResult {
  T value{};
  int error = 0;
  bool ok() const noexcept { return error == 0; }
};

enum class FileType { regular, directory, symlink, other };

struct FileStatus {
  FileType type = FileType::other;
  std::uint64_t size = 0;
  unsigned mode = 0;  // permission bits only
};

class Os {
 public:
  /// rename_at() flag: fail with EEXIST instead of replacing the target.
  static constexpr unsigned rename_noreplace = 1;

  virtual ~Os() = default;

  /// openat(2). `dir` may be AT_FDCWD, then `name` may be a whole path.
  virtual SysResult<int> open_at(int dir, const char* name, int flags, unsigned mode) = 0;
  /// pwrite(2): may write fewer bytes than asked.
  virtual SysResult<std::size_t> pwrite(int fd, const std::byte* data, std::size_t size,
                                        std::uint64_t offset) = 0;
  /// pread(2): may read fewer bytes than asked; 0 at the end of the file.
  virtual SysResult<std::size_t> pread(int fd, std::byte* data, std::size_t size, std::uint64_t offset) = 0;
  virtual int fsync(int fd) = 0;
  /// close(2). The descriptor is gone even when this reports an error.
  virtual int close(int fd) = 0;
  /// linkat(2) without AT_SYMLINK_FOLLOW: never follows a symlink.
  virtual int link_at(int old_dir, const char* old_name, int new_dir, const char* new_name) = 0;
  /// renameat2(2); flags 0 or rename_noreplace. EINVAL/ENOSYS/EOPNOTSUPP when
  /// the file system cannot do rename_noreplace.
  virtual int rename_at(int old_dir, const char* old_name, int new_dir, const char* new_name,
                        unsigned flags) = 0;
  /// unlinkat(2); `directory` adds AT_REMOVEDIR.
  virtual int unlink_at(int dir, const char* name, bool directory) = 0;
  virtual int mkdir_at(int dir, const char* name, unsigned mode) = 0;
  /// fstatat(2) with AT_SYMLINK_NOFOLLOW: a symlink is reported, never followed.
  virtual SysResult<FileStatus> stat_at(int dir, const char* name) = 0;
  virtual SysResult<FileStatus> fstat(int fd) = 0;
  /// The names in the directory open as `dir`, without "." and "..", in no order.
  virtual SysResult<std::vector<std::string>> read_dir(int dir) = 0;
  /// flock(2): LOCK_EX | LOCK_NB gives EWOULDBLOCK when another holder has it.
  virtual int flock(int fd, int operation) = 0;
};

namespace detail {
inline FileStatus to_file_status(const struct stat& st) {
  FileStatus out;
  if (S_ISREG(st.st_mode)) {
    out.type = FileType::regular;
  } else if (S_ISDIR(st.st_mode)) {
    out.type = FileType::directory;
  } else if (S_ISLNK(st.st_mode)) {
    out.type = FileType::symlink;
  }
  out.size = st.st_size > 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  out.mode = static_cast<unsigned>(st.st_mode) & 07777u;
  return out;
}
}  // namespace detail

/// The real operating system. EINTR is retried where retrying is harmless;
/// fsync and close are never retried (a second fsync can report a success the
/// first could not give, and close releases the descriptor even on error).
class PosixOs final : public Os {
 public:
  /// A process-wide instance (the class has no state).
  static std::shared_ptr<PosixOs> shared() {
    static const auto instance = std::make_shared<PosixOs>();
    return instance;
  }

  SysResult<int> open_at(int dir, const char* name, int flags, unsigned mode) override {
    for (;;) {
      const int fd = ::openat(dir, name, flags, static_cast<mode_t>(mode));
      if (fd >= 0) return {fd, 0};
      if (errno != EINTR) return {-1, errno};
    }
  }

  SysResult<std::size_t> pwrite(int fd, const std::byte* data, std::size_t size,
                                std::uint64_t offset) override {
    for (;;) {
      const auto n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
      if (n >= 0) return {static_cast<std::size_t>(n), 0};
      if (errno != EINTR) return {0, errno};
    }
  }

  SysResult<std::size_t> pread(int fd, std::byte* data, std::size_t size, std::uint64_t offset) override {
    for (;;) {
      const auto n = ::pread(fd, data, size, static_cast<off_t>(offset));
      if (n >= 0) return {static_cast<std::size_t>(n), 0};
      if (errno != EINTR) return {0, errno};
    }
  }

  int fsync(int fd) override { return ::fsync(fd) == 0 ? 0 : errno; }

  int close(int fd) override {
    const int r = ::close(fd);
    // EINTR from close still released the descriptor on Linux: not an error.
    return r == 0 || errno == EINTR ? 0 : errno;
  }

  int link_at(int old_dir, const char* old_name, int new_dir, const char* new_name) override {
    return ::linkat(old_dir, old_name, new_dir, new_name, 0) == 0 ? 0 : errno;
  }

  int rename_at(int old_dir, const char* old_name, int new_dir, const char* new_name,
                unsigned flags) override {
    if (flags == 0) return ::renameat(old_dir, old_name, new_dir, new_name) == 0 ? 0 : errno;
    if (flags != rename_noreplace) return EINVAL;
#ifdef RENAME_NOREPLACE
    return ::renameat2(old_dir, old_name, new_dir, new_name, RENAME_NOREPLACE) == 0 ? 0 : errno;
#else
    return ENOSYS;
#endif
  }

  int unlink_at(int dir, const char* name, bool directory) override {
    return ::unlinkat(dir, name, directory ? AT_REMOVEDIR : 0) == 0 ? 0 : errno;
  }

  int mkdir_at(int dir, const char* name, unsigned mode) override {
    return ::mkdirat(dir, name, static_cast<mode_t>(mode)) == 0 ? 0 : errno;
  }

  SysResult<FileStatus> stat_at(int dir, const char* name) override {
    struct stat st {};
    if (::fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return {{}, errno};
    return {detail::to_file_status(st), 0};
  }

  SysResult<FileStatus> fstat(int fd) override {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return {{}, errno};
    return {detail::to_file_status(st), 0};
  }

  SysResult<std::vector<std::string>> read_dir(int dir) override {
    // fdopendir() takes its descriptor over: give it a new one of the same directory.
    const auto own = open_at(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (!own.ok()) return {{}, own.error};
    DIR* stream = ::fdopendir(own.value);
    if (stream == nullptr) {
      const int error = errno;
      ::close(own.value);
      return {{}, error};
    }
    SysResult<std::vector<std::string>> out;
    for (;;) {
      errno = 0;
      const dirent* entry = ::readdir(stream);
      if (entry == nullptr) {
        out.error = errno;
        break;
      }
      const std::string name = entry->d_name;
      if (name != "." && name != "..") out.value.push_back(name);
    }
    ::closedir(stream);
    if (!out.ok()) out.value.clear();
    return out;
  }

  int flock(int fd, int operation) override {
    for (;;) {
      if (::flock(fd, operation) == 0) return 0;
      if (errno != EINTR) return errno;
    }
  }
};

}  // namespace ckpt::fs
