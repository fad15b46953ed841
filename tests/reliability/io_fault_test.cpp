// R3, I/O errors: EIO and ENOSPC at every write, fsync, close, rename, link,
// unlink, mkdir and open of a checkpoint, and short writes (alone, and followed
// by ENOSPC as a filling disk does), on FaultInjectingFileSystem. For each:
//   - the checkpoint fails with an IoError whose message names the file -- or,
//     for a fault ckpt can tolerate (closing a directory, unlinking a
//     temporary, retention's clean-up), it completes and says why clean-up failed;
//   - the previous checkpoint stays restorable, with its content;
//   - the same storage object takes the next checkpoint;
//   - after a power loss, the last checkpoint reported complete restores with
//     its content: the model drops the dirty data of a failed fsync as Linux
//     does, so a failed fsync retried into a reported success would lose it.
// A storage over an Os that does retry fsync must lose one: the test bites.
// The coordinator going on within its tolerable failures is
// tolerable_failures_test.cpp.

#include <ckpt/fs/fault_injecting_file_system.hpp>
#include <ckpt/fs/os.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "job.hpp"
#include "reliability.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace {
namespace io_fault {

using ckpt::fs::FaultInjectingFileSystem;
using ckpt::fs::FaultInjectingOs;
using ckpt::fs::LocalFileSystem;
using Op = FaultInjectingOs::Op;

constexpr std::uint64_t kKeys = 40;
const std::string kRoot = "/ckpt";

struct Variant {
  std::string name;
  ckpt::StorageOptions options;
  FaultInjectingOs::Options os_options = FaultInjectingOs::Options::defaults();
  std::uint64_t base = 1;
  std::optional<ckpt::StorageOptions> base_options{};  // how the base checkpoints were written, when not `options`
};
void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

std::vector<Variant> variants() {
  return {
      {"full, retain 1", ckpt::StorageOptions::defaults().retain(1).with_compression_threads(1)},
      {"full, retain 1, linkat instead of renameat2", ckpt::StorageOptions::defaults().retain(1).with_compression_threads(1),
       FaultInjectingOs::Options::without_rename_noreplace()},
      {"incremental, retain 2", ckpt::StorageOptions::incremental_checkpoints(2).with_compression_threads(1), {}, 2},
      {"incremental switched on: shared/ created by the faulty checkpoint",
       ckpt::StorageOptions::incremental_checkpoints(2).with_compression_threads(1), {}, 1,
       ckpt::StorageOptions::defaults().retain(2).with_compression_threads(1)},
  };
}

/// An Os that retries a failed fsync once, as a careless program might: the
/// mistake this test must catch.
class RetryingFsyncOs final : public ckpt::fs::Os {
 public:
  explicit RetryingFsyncOs(std::shared_ptr<FaultInjectingOs> inner) : inner_(std::move(inner)) {}
  ckpt::fs::SysResult<int> open_at(int d, const char* n, int f, unsigned m) override { return inner_->open_at(d, n, f, m); }
  ckpt::fs::SysResult<std::size_t> pwrite(int fd, const std::byte* p, std::size_t n, std::uint64_t o) override {
    return inner_->pwrite(fd, p, n, o);
  }
  ckpt::fs::SysResult<std::size_t> pread(int fd, std::byte* p, std::size_t n, std::uint64_t o) override {
    return inner_->pread(fd, p, n, o);
  }
  int fsync(int fd) override { return inner_->fsync(fd) == 0 ? 0 : inner_->fsync(fd); }
  int close(int fd) override { return inner_->close(fd); }
  int link_at(int a, const char* b, int c, const char* d) override { return inner_->link_at(a, b, c, d); }
  int rename_at(int a, const char* b, int c, const char* d, unsigned f) override { return inner_->rename_at(a, b, c, d, f); }
  int unlink_at(int d, const char* n, bool dir) override { return inner_->unlink_at(d, n, dir); }
  int mkdir_at(int d, const char* n, unsigned m) override { return inner_->mkdir_at(d, n, m); }
  ckpt::fs::SysResult<ckpt::fs::FileStatus> stat_at(int d, const char* n) override { return inner_->stat_at(d, n); }
  ckpt::fs::SysResult<ckpt::fs::FileStatus> fstat(int fd) override { return inner_->fstat(fd); }
  ckpt::fs::SysResult<std::vector<std::string>> read_dir(int d) override { return inner_->read_dir(d); }
  int flock(int fd, int op) override { return inner_->flock(fd, op); }

 private:
  std::shared_ptr<FaultInjectingOs> inner_;
};

struct Fault {
  Op op;
  std::uint64_t nth;
  int error;              // 0 with short_write: a short write alone
  bool short_write = false;

  std::string describe() const {
    std::string e = error == EIO ? "EIO" : error == ENOSPC ? "ENOSPC" : std::to_string(error);
    if (short_write) return "short write #" + std::to_string(nth) + (error ? " then " + e : "");
    return std::string(FaultInjectingOs::op_name(op)) + " #" + std::to_string(nth) + " fails with " + e;
  }
  void arm(FaultInjectingOs& os) const {
    if (short_write) {
      os.short_write(nth, error);
    } else {
      os.fail_call(op, nth, error);
    }
  }
};

struct Result {
  bool reported = false;
  bool fired = false;
  std::string problem;
  std::string tolerated;  // why the checkpoint completed despite the fault
};

std::shared_ptr<ckpt::fs::FileSystem> make_fs(const std::shared_ptr<FaultInjectingOs>& os, bool retrying) {
  if (!retrying) return std::make_shared<FaultInjectingFileSystem>(os, kRoot);
  return std::make_shared<LocalFileSystem>(kRoot, LocalFileSystem::Options::defaults(),
                                           std::make_shared<RetryingFsyncOs>(os));
}

ckpt::rel::RawNames model_names(const std::shared_ptr<FaultInjectingOs>& os) {
  return [os](const std::string& dir) {
    return os->directory_names(dir.empty() ? kRoot : kRoot + "/" + dir).value_or(std::vector<std::string>{});
  };
}

/// The checkpoints before the faulty one, written by a storage closed since
/// (the faulty one is taken after a restart, with v.options). When the
/// options changed, the job restarts too: it restores from the base.
void write_base(const Variant& v, const std::shared_ptr<FaultInjectingOs>& os, ckpt::rel::Job& job) {
  const auto options = v.base_options.value_or(v.options);
  ckpt::CheckpointStorage storage(make_fs(os, false), options);
  for (std::uint64_t id = 1; id <= v.base; ++id) {
    job.advance_to(id);
    job.checkpoint(storage, options.incremental);
  }
  if (v.base_options) {
    job = ckpt::rel::Job(kKeys);
    job.restore(storage.restore_latest().get());
  }
}

/// Counts the calls of each kind checkpoint base+1 makes.
std::map<Op, std::uint64_t> count_calls(const Variant& v) {
  auto os = std::make_shared<FaultInjectingOs>(v.os_options);
  ckpt::rel::Job job(kKeys);
  write_base(v, os, job);
  ckpt::CheckpointStorage storage(make_fs(os, false), v.options);
  job.advance_to(v.base + 1);
  os->reset_counts();
  job.checkpoint(storage, v.options.incremental);
  std::map<Op, std::uint64_t> out;
  for (const auto op : FaultInjectingOs::all_ops) out[op] = os->calls(op);
  return out;
}

/// Checkpoint base+1 with `fault` armed. Then either (crash_now) a power loss
/// at once, or the checks on the same storage object and the next checkpoint,
/// and a power loss after that; either way what was last reported complete
/// must restore.
Result run(const Variant& v, const Fault& fault, bool crash_now, bool retrying_os = false) {
  Result out;
  auto os = std::make_shared<FaultInjectingOs>(v.os_options);
  ckpt::rel::Job job(kKeys);
  write_base(v, os, job);
  auto storage = std::make_unique<ckpt::CheckpointStorage>(make_fs(os, retrying_os), v.options);
  const auto id = v.base + 1;
  job.advance_to(id);
  os->reset_counts();
  fault.arm(*os);
  std::uint64_t last_reported = v.base;
  const auto fail = [&](const std::string& what) {
    if (out.problem.empty()) out.problem = what;
  };
  try {
    job.checkpoint(*storage, v.options.incremental);
    out.reported = true;
    last_reported = id;
  } catch (const ckpt::IoError& e) {
    job.notify_aborted(id);
    const std::string msg = e.what();
    const auto& path = e.path();
    const auto dir = ckpt::layout::checkpoint_dir(id);
    if (path.empty() || msg.find(path) == std::string::npos) fail("the IoError does not name its file: " + msg);
    if (!(path == dir || path.starts_with(dir + "/") || path.starts_with("shared")))
      fail("the IoError names '" + path + "', not a file of checkpoint " + std::to_string(id) + ": " + msg);
  } catch (const ckpt::Error& e) {
    job.notify_aborted(id);
    fail(std::string("not an IoError: ") + e.what());
  }
  out.fired = !os->fired().empty();
  if (out.reported) {
    if (auto e = storage->last_cleanup_error()) {
      out.tolerated = "clean-up failed";
      if (e->find("chk-") == std::string::npos && e->find("shared") == std::string::npos)
        fail("the clean-up error names no file: " + *e);
    } else if (out.fired) {
      out.tolerated = std::string(FaultInjectingOs::op_name(os->fired().front().op)) +
                      (os->fired().front().directory ? " of a directory" : "");
    }
  }
  if (!out.problem.empty()) return out;
  if (!crash_now) try {
    // The last complete checkpoint restores from the same storage object...
    {
      auto snapshot = storage->restore_latest(ckpt::RestoreOptions::strict());
      if (!snapshot || snapshot->checkpoint_id() != last_reported)
        return fail("restored " + std::to_string(snapshot ? snapshot->checkpoint_id() : 0) + " instead of " +
                    std::to_string(last_reported)),
               out;
      if (auto p = ckpt::rel::restored_mismatch(*snapshot, kKeys); !p.empty()) return fail(p), out;
    }
    // ... which takes the next checkpoint, without a fault.
    const auto next = storage->next_checkpoint_id();
    job.advance_to(next);
    job.checkpoint(*storage, v.options.incremental);
    last_reported = next;
  } catch (const ckpt::Error& e) {
    return fail(std::string("after the fault: ") + e.what()), out;
  }
  // Power loss: what was reported complete must be durable.
  storage.reset();
  os->crash();
  try {
    ckpt::CheckpointStorage after(std::make_shared<FaultInjectingFileSystem>(os, kRoot), v.options);
    auto snapshot = after.restore_latest(ckpt::RestoreOptions::strict());
    if (!snapshot || snapshot->checkpoint_id() != last_reported)
      return fail("after a power loss restored " + std::to_string(snapshot ? snapshot->checkpoint_id() : 0) +
                  " instead of " + std::to_string(last_reported) + ", which had been reported complete"),
             out;
    if (auto p = ckpt::rel::restored_mismatch(*snapshot, kKeys); !p.empty()) return fail("after a power loss: " + p), out;
    if (auto left = ckpt::rel::leftovers(after, model_names(os)); !left.empty()) return fail(left.front()), out;
  } catch (const ckpt::Error& e) {
    fail(std::string("after a power loss: ") + e.what());
  }
  return out;
}

std::vector<Fault> faults(const std::map<Op, std::uint64_t>& calls) {
  std::vector<Fault> out;
  for (const auto op : {Op::write, Op::fsync, Op::close, Op::rename, Op::link, Op::unlink, Op::mkdir, Op::open}) {
    const auto n = calls.at(op);
    for (std::uint64_t nth = 1; nth <= n; ++nth)
      for (const int e : {EIO, ENOSPC}) out.push_back({op, nth, e});
  }
  for (std::uint64_t nth = 1; nth <= calls.at(Op::write); ++nth) {
    out.push_back({Op::write, nth, ENOSPC, true});
    out.push_back({Op::write, nth, 0, true});
  }
  return out;
}

class IoFaults : public ::testing::TestWithParam<Variant> {};

TEST_P(IoFaults, EveryFaultFailsTheCheckpointCleanlyAndTheNextSucceeds) {
  const auto& v = GetParam();
  const auto calls = count_calls(v);
  std::map<std::string, std::uint64_t> injected, failed, tolerated;
  std::uint64_t total = 0, index = 0;
  for (const auto& f : faults(calls)) {
    if (ckpt::rel::sanitized && index++ % 3 != 0) continue;  // a third of them under a sanitizer
    ++total;
    const auto r = run(v, f, false);
    ASSERT_EQ(r.problem, "") << f.describe();
    const auto crashed = run(v, f, true);
    ASSERT_EQ(crashed.problem, "") << f.describe() << ", then a power loss";
    const std::string kind = f.short_write ? (f.error ? "short write+ENOSPC" : "short write")
                                           : std::string(FaultInjectingOs::op_name(f.op));
    ++injected[kind];
    if (!r.fired) continue;
    if (r.reported) {
      ++tolerated[kind + (r.tolerated.empty() ? "" : " (" + r.tolerated + ")")];
    } else {
      ++failed[kind];
    }
  }
  std::string line;
  for (const auto& [k, n] : injected) line += " " + k + "=" + std::to_string(n);
  std::printf("[ R3 ] %s: %llu faults injected (each twice: with and without a power loss after):%s\n",
              v.name.c_str(), static_cast<unsigned long long>(total), line.c_str());
  line.clear();
  for (const auto& [k, n] : failed) line += " " + k + "=" + std::to_string(n);
  std::printf("[ R3 ] %s: checkpoint failed with an IoError naming the file:%s\n", v.name.c_str(), line.c_str());
  line.clear();
  for (const auto& [k, n] : tolerated) line += " " + k + "=" + std::to_string(n);
  std::printf("[ R3 ] %s: checkpoint completed despite the fault (and survived power loss):%s\n", v.name.c_str(),
              line.c_str());
  // Every fault at a data write or a file fsync failed its checkpoint.
  for (const auto& [k, n] : tolerated) {
    EXPECT_FALSE(k.starts_with("write") || k.starts_with("short write+") || k == "fsync")
        << "a checkpoint completed although " << k << " failed";
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, IoFaults, ::testing::ValuesIn(variants()),
                         [](const ::testing::TestParamInfo<Variant>& param_info) {
                           std::string name;
                           for (const char c : param_info.param.name)
                             if (std::isalnum(static_cast<unsigned char>(c))) name += c;
                           return name;
                         });

// With an Os that retries a failed fsync, some fault must end in a checkpoint
// reported complete that a power loss then takes away (or corrupts).
TEST(IoFaultsBite, RetryingAFailedFsyncLosesACheckpointReportedComplete) {
  const auto v = variants().front();
  const auto calls = count_calls(v);
  std::uint64_t lost = 0;
  for (std::uint64_t nth = 1; nth <= calls.at(Op::fsync); ++nth) {
    const auto r = run(v, {Op::fsync, nth, EIO}, true, true);
    if (!r.problem.empty()) ++lost;
  }
  std::printf("[ R3 ] retrying fsync: %llu of %llu fsync faults lost or damaged a checkpoint reported complete\n",
              static_cast<unsigned long long>(lost), static_cast<unsigned long long>(calls.at(Op::fsync)));
  EXPECT_GT(lost, 0u);
}

}  // namespace io_fault
}  // namespace
