#pragma once
// The pieces of LocalFileSystem (ckpt/fs/local_file_system.hpp) behind its
// interface: descriptors, the readable and writable files, the lock. Read
// that header first; this one is how it is done.

#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/os.hpp>
#include <ckpt/fs/os_error.hpp>
#include <ckpt/fs/path.hpp>
#include <ckpt/fs/temporary_name.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace ckpt::fs {

namespace detail {

/// Owns one descriptor of an Os and closes it when destroyed.
class Fd {
 public:
  Fd() = default;
  Fd(std::shared_ptr<Os> os, int fd) noexcept : os_(std::move(os)), fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : os_(std::move(other.os_)), fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      os_ = std::move(other.os_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  /// Gives the descriptor up without closing it.
  int release() noexcept { return std::exchange(fd_, -1); }
  /// Closes, ignoring errors: for descriptors whose close() result says nothing
  /// about durability (directories, read-only files, aborted files).
  void reset() noexcept {
    if (fd_ >= 0) static_cast<void>(os_->close(std::exchange(fd_, -1)));
  }

 private:
  std::shared_ptr<Os> os_;
  int fd_ = -1;
};

using DirFd = std::shared_ptr<const Fd>;

inline std::string describe_what(std::string_view what, std::string_view path, std::string_view where) {
  return "cannot " + std::string(what) + " '" + std::string(path) + "' in " + std::string(where);
}

inline IoError symlink_error(const std::string& path, std::string_view what, std::string_view where,
                             std::string_view link) {
  return IoError(errc::io_error, path,
                 describe_what(what, path, where) + ": '" + std::string(link) +
                     "' is a symbolic link, and ckpt never follows symbolic links inside its root",
                 std::error_code(ELOOP, std::system_category()));
}

/// The state a LocalWritableFile needs from its file system; shared so a file
/// may outlive the LocalFileSystem that created it.
struct LocalContext {
  std::shared_ptr<Os> os;
  std::string where;  // the root's URI, for messages
  bool sync_directories = true;
};

class LocalReadableFile final : public ReadableFile {
 public:
  LocalReadableFile(std::shared_ptr<const LocalContext> context, Fd fd, std::string path, std::uint64_t size)
      : context_(std::move(context)), fd_(std::move(fd)), path_(std::move(path)), size_(size) {}

  const std::string& path() const noexcept override { return path_; }
  std::uint64_t size() const noexcept override { return size_; }

  void read(std::uint64_t offset, std::span<std::byte> dst) override {
    if (offset > size_ || dst.size() > size_ - offset) throw truncated(offset, dst.size(), size_);
    std::size_t done = 0;
    while (done < dst.size()) {
      const auto r = context_->os->pread(fd_.get(), dst.data() + done, dst.size() - done, offset + done);
      if (!r.ok()) throw io_error_from_errno(r.error, path_, "read", context_->where);
      if (r.value == 0) throw truncated(offset, dst.size(), offset + done);  // shrank after open()
      done += r.value;
    }
  }

 private:
  CorruptionError truncated(std::uint64_t offset, std::size_t length, std::uint64_t available) const {
    return CorruptionError(errc::truncated, path_,
                           "bytes [" + std::to_string(offset) + ", " + std::to_string(offset + length) + ")",
                           "cannot read " + std::to_string(length) + " bytes at offset " +
                               std::to_string(offset) + " of '" + path_ + "' in " + context_->where +
                               ": the file has only " + std::to_string(available) + " bytes");
  }

  std::shared_ptr<const LocalContext> context_;
  Fd fd_;
  std::string path_;
  std::uint64_t size_;
};

class LocalWritableFile final : public WritableFile {
 public:
  LocalWritableFile(std::shared_ptr<const LocalContext> context, DirFd dir, Fd fd, std::string path,
                    std::string temporary)
      : context_(std::move(context)),
        dir_(std::move(dir)),
        fd_(std::move(fd)),
        path_(std::move(path)),
        name_(filename(path_)),
        temporary_(std::move(temporary)) {}

  ~LocalWritableFile() override { abort(); }

  const std::string& path() const noexcept override { return path_; }
  std::uint64_t size() const noexcept override { return size_; }

  void append(std::span<const std::byte> data) override {
    require_open("append to");
    auto& os = *context_->os;
    std::size_t done = 0;
    while (done < data.size()) {
      const auto r = os.pwrite(fd_.get(), data.data() + done, data.size() - done, size_);
      if (!r.ok()) fail(r.error, "write");
      if (r.value == 0) fail(EIO, "write");  // no progress and no errno: never loop forever
      done += r.value;
      size_ += r.value;
    }
  }

  void commit() override {
    require_open("commit");
    auto& os = *context_->os;
    // Never retried: after a failed fsync the kernel may have dropped the pages.
    if (const int e = os.fsync(fd_.get()); e != 0) fail(e, "sync");
    if (const int e = os.close(fd_.release()); e != 0) fail(e, "close");
    const int dir = dir_->get();
    int e = os.rename_at(dir, temporary_.c_str(), dir, name_.c_str(), Os::rename_noreplace);
    if (e == EINVAL || e == ENOSYS || e == EOPNOTSUPP) {
      // No RENAME_NOREPLACE here: linkat is just as exclusive. A temporary name
      // left by a failed unlink is harmless: remove_temporaries() deletes it.
      e = os.link_at(dir, temporary_.c_str(), dir, name_.c_str());
      if (e == 0) {
        static_cast<void>(os.unlink_at(dir, temporary_.c_str(), false));
        temporary_exists_ = false;
      }
    } else if (e == 0) {
      temporary_exists_ = false;
    }
    if (e == EEXIST) {
      abort();
      state_ = State::failed;
      throw IoError(errc::already_exists, path_,
                    describe_what("commit", path_, context_->where) +
                        ": a file or directory of that name already exists",
                    std::error_code(EEXIST, std::system_category()));
    }
    if (e != 0) fail(e, "publish");
    if (context_->sync_directories) {
      if (const int s = os.fsync(dir); s != 0) {
        // Not durable, and a retry could not make it so: take the name back so
        // the caller's view (failed) matches what it sees.
        static_cast<void>(os.unlink_at(dir, name_.c_str(), false));
        fail(s, "sync the directory of");
      }
    }
    state_ = State::committed;
  }

  void abort() noexcept override {
    if (state_ != State::open) return;
    fd_.reset();
    if (temporary_exists_) static_cast<void>(context_->os->unlink_at(dir_->get(), temporary_.c_str(), false));
    temporary_exists_ = false;
    state_ = State::aborted;
  }

 private:
  enum class State { open, committed, aborted, failed };

  void require_open(std::string_view what) const {
    switch (state_) {
      case State::open:
        return;
      case State::committed:
        throw ConfigError(errc::invalid_argument,
                    describe_what(what, path_, context_->where) + ": the file was already committed");
      case State::aborted:
        throw ConfigError(errc::invalid_argument,
                    describe_what(what, path_, context_->where) + ": the file was aborted");
      case State::failed:
        throw IoError(errc::io_error, path_,
                      describe_what(what, path_, context_->where) +
                          ": the file was abandoned after an earlier I/O error");
    }
  }

  [[noreturn]] void fail(int error, const std::string& what) {
    abort();
    state_ = State::failed;
    throw io_error_from_errno(error, path_, what, context_->where);
  }

  std::shared_ptr<const LocalContext> context_;
  DirFd dir_;
  Fd fd_;
  std::string path_;
  std::string name_;
  std::string temporary_;
  bool temporary_exists_ = true;
  std::uint64_t size_ = 0;
  State state_ = State::open;
};

class LocalLock final : public Lock {
 public:
  LocalLock(Fd fd, std::optional<Fd> directory) : fd_(std::move(fd)), directory_(std::move(directory)) {}
  // Closing the descriptors releases the flocks; so does the holder's death.

 private:
  Fd fd_;
  std::optional<Fd> directory_;  // the lock file's directory, locked too
};

}  // namespace detail

}  // namespace ckpt::fs
