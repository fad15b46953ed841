// The child process of the process-crash (R1) and one-writer (R7) tests: a
// small program that checkpoints the reliability job (job.hpp) into a local
// directory with CheckpointStorage, exactly as a service would, and reports
// what it did on a pipe so the parent can hold it to it after a SIGKILL.
//
//   ckpt_rel_child run  <dir>   open, restore the latest checkpoint (checking its
//                               content), then take CKPT_CHILD_CHECKPOINTS more
//   ckpt_rel_child hold <dir>   open (take the lock) and wait until stdin closes
//
// Every system call goes through a counting Os around PosixOs; with
// CKPT_KILL_AT=n the child SIGKILLs itself at the n-th call of kind
// CKPT_KILL_OP ("any", "write", "fsync-file", "fsync-dir", "rename", ..., or
// "<kind>@<phase>", e.g. "rename@manifest", counted within that phase),
// before the call or, with CKPT_KILL_AFTER=1, right after it returned -- so the
// kill lands exactly inside the write, fsync, rename and manifest sequence.
//
// Report lines (fd CKPT_REPORT_FD): "restored <id>", "begin <id>",
// "complete <id>" (written right after complete() returned), "kill <phase>
// <call>", "locked", "opened", "counts <call>=<n> ...", "error <what>".
// Exit codes: 0 done, 3 the restored state is not what its id implies,
// 4 a ckpt::Error, 5 anything else, 10 the storage was locked.

#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/fs/os.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "job.hpp"

#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

namespace {

int report_fd = -1;

void report(const std::string& line) {
  if (report_fd < 0) return;
  const std::string text = line + "\n";
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(report_fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

/// Where the child is, for the kill-point distribution.
std::atomic<const char*> phase{"open"};

/// PosixOs, counting every call by kind, and killing the process at one of them.
class CountingOs final : public ckpt::fs::Os {
 public:
  CountingOs() : inner_(ckpt::fs::PosixOs::shared()) {
    if (const char* op = std::getenv("CKPT_KILL_OP")) kill_op_ = op;
    kill_at_ = env_u64("CKPT_KILL_AT", 0);
    kill_after_ = env_u64("CKPT_KILL_AFTER", 0) != 0;
  }

  std::string counts() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& [name, n] : counts_) out += " " + name + "=" + std::to_string(n);
    return out;
  }

  ckpt::fs::SysResult<int> open_at(int dir, const char* name, int flags, unsigned mode) override {
    enter("open");
    auto r = inner_->open_at(dir, name, flags, mode);
    if (r.ok()) {
      std::lock_guard lock(mutex_);
      directories_[r.value] = (flags & O_DIRECTORY) != 0;
    }
    leave("open");
    return r;
  }
  ckpt::fs::SysResult<std::size_t> pwrite(int fd, const std::byte* data, std::size_t size,
                                          std::uint64_t offset) override {
    return call("write", [&] { return inner_->pwrite(fd, data, size, offset); });
  }
  ckpt::fs::SysResult<std::size_t> pread(int fd, std::byte* data, std::size_t size, std::uint64_t offset) override {
    return call("read", [&] { return inner_->pread(fd, data, size, offset); });
  }
  int fsync(int fd) override {
    bool directory = false;
    {
      std::lock_guard lock(mutex_);
      auto it = directories_.find(fd);
      directory = it != directories_.end() && it->second;
    }
    const char* kind = directory ? "fsync-dir" : "fsync-file";
    const int r = call(kind, [&] { return inner_->fsync(fd); });
    // The directory fsync that follows the manifest's rename ends its publication.
    if (directory && r == 0 && std::string_view(phase.load()) == "manifest-sync") phase = "retention";
    return r;
  }
  int close(int fd) override {
    {
      std::lock_guard lock(mutex_);
      directories_.erase(fd);
    }
    return call("close", [&] { return inner_->close(fd); });
  }
  int link_at(int old_dir, const char* old_name, int new_dir, const char* new_name) override {
    const int r = call("link", [&] { return inner_->link_at(old_dir, old_name, new_dir, new_name); });
    published(r, new_name);
    return r;
  }
  int rename_at(int old_dir, const char* old_name, int new_dir, const char* new_name, unsigned flags) override {
    const int r = call("rename", [&] { return inner_->rename_at(old_dir, old_name, new_dir, new_name, flags); });
    published(r, new_name);
    return r;
  }
  int unlink_at(int dir, const char* name, bool directory) override {
    return call("unlink", [&] { return inner_->unlink_at(dir, name, directory); });
  }
  int mkdir_at(int dir, const char* name, unsigned mode) override {
    return call("mkdir", [&] { return inner_->mkdir_at(dir, name, mode); });
  }
  ckpt::fs::SysResult<ckpt::fs::FileStatus> stat_at(int dir, const char* name) override {
    return call("stat", [&] { return inner_->stat_at(dir, name); });
  }
  ckpt::fs::SysResult<ckpt::fs::FileStatus> fstat(int fd) override {
    return call("stat", [&] { return inner_->fstat(fd); });
  }
  ckpt::fs::SysResult<std::vector<std::string>> read_dir(int dir) override {
    return call("readdir", [&] { return inner_->read_dir(dir); });
  }
  int flock(int fd, int operation) override {
    return call("lock", [&] { return inner_->flock(fd, operation); });
  }

 private:
  template <class F>
  auto call(const char* kind, F&& f) -> decltype(f()) {
    enter(kind);
    auto r = f();
    leave(kind);
    return r;
  }

  void published(int r, const char* new_name) {
    if (r == 0 && std::string_view(new_name) == ckpt::manifest_file_name &&
        std::string_view(phase.load()) == "manifest")
      phase = "manifest-sync";
  }

  // Counts the call (by kind, by kind in this phase, and in all); true when
  // it is the one to die at.
  bool due(const char* kind) {
    std::lock_guard lock(mutex_);
    const auto n = ++counts_[kind];
    const auto total = ++counts_["any"];
    const auto in_phase = ++counts_[std::string(kind) + "@" + phase.load()];
    if (kill_at_ == 0) return false;
    if (kill_op_ == "any") return total == kill_at_;
    if (kill_op_.find('@') != std::string::npos) return kill_op_ == std::string(kind) + "@" + phase.load() && in_phase == kill_at_;
    return kill_op_ == kind && n == kill_at_;
  }
  void enter(const char* kind) {
    if (!kill_after_ && due(kind)) die(kind);
  }
  void leave(const char* kind) {
    if (kill_after_ && due(kind)) die(kind);
  }
  [[noreturn]] static void die(const char* kind) {
    report(std::string("kill ") + phase.load() + " " + kind + (std::getenv("CKPT_KILL_AFTER") ? "+after" : ""));
    ::kill(::getpid(), SIGKILL);
    std::abort();  // not reached
  }

  std::shared_ptr<ckpt::fs::PosixOs> inner_;
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> counts_;
  std::map<int, bool> directories_;
  std::string kill_op_ = "any";
  std::uint64_t kill_at_ = 0;
  bool kill_after_ = false;
};

ckpt::StorageOptions storage_options() {
  auto o = ckpt::StorageOptions::defaults()
               .retain(static_cast<std::uint32_t>(env_u64("CKPT_CHILD_RETAIN", 1)))
               .with_incremental(env_u64("CKPT_CHILD_INCREMENTAL", 0) != 0)
               .with_compression_threads(static_cast<unsigned>(env_u64("CKPT_CHILD_THREADS", 2)));
  return o;
}

int run(const std::string& dir, bool hold) {
  auto os = std::make_shared<CountingOs>();
  const auto options = storage_options();
  std::unique_ptr<ckpt::CheckpointStorage> storage;
  try {
    storage = std::make_unique<ckpt::CheckpointStorage>(
        std::make_shared<ckpt::fs::LocalFileSystem>(dir, ckpt::fs::LocalFileSystem::Options::defaults(), os), options);
  } catch (const ckpt::Error& e) {
    if (e.code() == ckpt::errc::locked) {
      report(std::string("locked ") + e.what());
      return 10;
    }
    throw;
  }
  report("opened");
  if (hold) {
    char c;
    while (::read(STDIN_FILENO, &c, 1) > 0) {
    }
    return 0;
  }

  phase = "restore";
  ckpt::rel::Job job(env_u64("CKPT_CHILD_KEYS", 200));
  if (auto snapshot = storage->restore_latest(ckpt::RestoreOptions::strict())) {
    job.restore(snapshot.get());
    if (auto problem = job.mismatch(snapshot->checkpoint_id()); !problem.empty()) {
      report("error restored checkpoint " + std::to_string(snapshot->checkpoint_id()) + ": " + problem);
      return 3;
    }
    report("restored " + std::to_string(snapshot->checkpoint_id()));
  } else {
    report("restored 0");
  }

  const auto checkpoints = env_u64("CKPT_CHILD_CHECKPOINTS", 4);
  const bool incremental = options.incremental;
  for (std::uint64_t i = 0; i < checkpoints; ++i) {
    phase = "advance";
    const auto id = storage->next_checkpoint_id();
    job.advance_to(id);
    phase = "begin";
    auto pending = storage->begin_checkpoint(id, 1000 + static_cast<std::int64_t>(id));
    report("begin " + std::to_string(id));
    phase = "write";
    job.write(*pending, incremental);
    phase = "manifest";
    pending->complete({{"round", std::to_string(id)}});
    phase = "idle";
    report("complete " + std::to_string(id));
    job.notify_complete(id);
    if (auto e = storage->last_cleanup_error()) report("error cleanup after " + std::to_string(id) + ": " + *e);
  }
  phase = "exit";
  report("counts" + os->counts());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* fd = std::getenv("CKPT_REPORT_FD")) report_fd = std::atoi(fd);
  if (argc != 3 || (std::string_view(argv[1]) != "run" && std::string_view(argv[1]) != "hold")) {
    std::fprintf(stderr, "usage: %s run|hold <dir>\n", argv[0]);
    return 2;
  }
  try {
    return run(argv[2], std::string_view(argv[1]) == "hold");
  } catch (const ckpt::Error& e) {
    report(std::string("error ") + e.what());
    std::fprintf(stderr, "ckpt_rel_child: %s\n", e.what());
    return 4;
  } catch (const std::exception& e) {
    report(std::string("error ") + e.what());
    std::fprintf(stderr, "ckpt_rel_child: %s\n", e.what());
    return 5;
  }
}
