// Issue 15: restoring a bomb (bombs.hpp) costs at most the configured total
// limit, ReadLimits::max_restore_bytes, measured. Each restore -- open the
// storage, verify every block, restore into the reliability job, as a
// restarted program does -- runs in a child process of its own, so that one
// bomb's peak cannot hide another's: the child resets its peak resident set
// (writing 5 to /proc/self/clear_refs), restores, and reports the growth of
// VmHWM through a pipe. The restore must fail with a ckpt::Error naming the
// forged file, and the growth must stay under the limit plus kSlack.
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "bombs.hpp"
#include "hostile.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CKPT_PEAK_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(CKPT_PEAK_ASAN)
#define CKPT_PEAK_ASAN 1
#endif
#ifdef CKPT_PEAK_ASAN
#include <sanitizer/allocator_interface.h>
#endif

#ifdef CKPT_PEAK_ASAN
// ASan keeps freed memory in a quarantine (256 MiB) instead of reusing it, so
// a strict restore -- every block verified, then decoded again -- would show
// both decodes at once. This program measures what the library keeps, not
// what ASan withholds: no quarantine here (overflows are still caught).
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=0"; }
#endif

namespace ckpt::test {
void PrintTo(const Bomb& bomb, std::ostream* out) { *out << bomb.name; }
}  // namespace ckpt::test

namespace {

using ckpt::test::MiB;

/// What one snapshot may decode in all, for every bomb.
constexpr std::uint64_t kLimit = 64 * MiB;

/// What the peak may exceed the limit by: what restoring costs when nothing
/// is decoded, with room for allocator noise. A plain successful restore of
/// the unforged checkpoint (200 keys; PeakMemory.OfAPlainRestoreIsWithinTheSlack)
/// grows the peak by 7-9 MiB under ASan+UBSan at -O0 (shadow memory,
/// redzones, the quarantine) and by 1.3 MiB optimised (GCC -O2); the bombs
/// refused before anything is decompressed cost 4-8 MiB under ASan and
/// 1.6-1.9 MiB optimised. The slack is about three times the baseline, while
/// a bomb that nothing stops costs hundreds of MiB to GiB: with
/// max_restore_bytes raised to 4 GiB the list bombs grew the peak by 833 MiB
/// to 9.3 GiB under ASan, and this test failed for each.
#ifdef CKPT_SANITIZED
constexpr std::uint64_t kSlack = 24 * MiB;
#else
constexpr std::uint64_t kSlack = 4 * MiB;
#endif

/// The line "<key>: <n> kB" of /proc/self/status, in bytes.
std::uint64_t status_bytes(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(key) + ":";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return std::stoull(line.substr(prefix.size())) * 1024;
  return 0;
}

/// Gives the memory the allocator holds free back to the system, so that
/// what the child allocates shows in its peak: blocks the parent freed (the
/// forging) stay resident otherwise, and reusing them costs no new pages.
void release_free_memory() {
#ifdef CKPT_PEAK_ASAN
  __sanitizer_purge_allocator();  // the quarantine too
#else
  ::malloc_trim(0);
#endif
}

/// Resets this process's peak resident set to its current one; why not, if it cannot.
std::string reset_peak() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return std::string("/proc/self/clear_refs cannot be opened for writing: ") + std::strerror(errno);
  out << "5";
  out.flush();
  if (!out) return std::string("writing 5 to /proc/self/clear_refs failed: ") + std::strerror(errno);
  return {};
}

struct Outcome {
  std::string error;       // what() of the ckpt::Error, or why there was none
  bool ckpt_error = false;
  std::uint64_t growth = 0;  // VmHWM after - before, bytes
};

/// Runs `restore` in a child process and measures the growth of its peak
/// resident set. The result goes back through a pipe as "<ckpt_error> <growth>\n<error>".
Outcome measure_in_child(const std::function<void()>& restore) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(fds[0]);
    std::ostringstream report;
    release_free_memory();
    if (const auto why = reset_peak(); !why.empty()) {
      report << "0 0\n" << why;
    } else {
      const auto before = status_bytes("VmHWM");
      std::string error = "the restore succeeded";
      bool ckpt_error = false;
      try {
        restore();
      } catch (const ckpt::Error& e) {
        error = e.what();
        ckpt_error = true;
      } catch (const std::exception& e) {
        error = std::string("not a ckpt::Error: ") + e.what();
      }
      const auto after = status_bytes("VmHWM");
      report << (ckpt_error ? 1 : 0) << ' ' << (after - before) << '\n' << error;
    }
    const auto text = report.str();
    for (std::size_t done = 0; done < text.size();) {
      const auto n = ::write(fds[1], text.data() + done, text.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("the restoring child died (status " + std::to_string(status) + ")");
  std::istringstream in(text);
  Outcome out;
  int ckpt_error = 0;
  in >> ckpt_error >> out.growth;
  in.ignore(1);
  std::getline(in, out.error, '\0');
  out.ckpt_error = ckpt_error != 0;
  return out;
}

std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / static_cast<double>(MiB));
  return buf;
}

/// A storage holding checkpoint 1 of the reliability job.
std::shared_ptr<ckpt::fs::MemoryFileSystem> one_checkpoint() {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::rel::write_checkpoints(fs, ckpt::StorageOptions::defaults(), 1);
  return fs;
}

/// How the restore is asked for: a plain restart (restore_latest() with
/// fallback), or a strict one that verifies every block first.
enum class Path { plain, strict };
const char* to_string(Path path) { return path == Path::plain ? "plain" : "strict"; }
void PrintTo(Path path, std::ostream* out) { *out << to_string(path); }

/// Opens the storage and restores its newest checkpoint into the job.
void restore(const std::shared_ptr<ckpt::fs::FileSystem>& fs, ckpt::ReadLimits limits, Path path) {
  if (path == Path::strict) return ckpt::rel::restore_everything(fs, limits);
  ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions::defaults().with_limits(limits).with_compression_threads(1));
  auto snapshot = storage.restore_latest();
  if (!snapshot) throw std::logic_error("nothing to restore");
  ckpt::rel::Job job;
  job.restore(snapshot.get());
}

#ifdef CKPT_SANITIZED_THREAD
// ThreadSanitizer keeps shadow memory for every byte touched (a 16 MiB block
// costs some 80 MiB): resident memory measures it, not the library. The
// ASan and optimised builds run these.
#define CKPT_REQUIRE_CLEAR_REFS() GTEST_SKIP() << "resident memory under ThreadSanitizer is mostly its shadow"
#else
#define CKPT_REQUIRE_CLEAR_REFS()                                         \
  do {                                                                    \
    if (const auto why = reset_peak(); !why.empty()) GTEST_SKIP() << why; \
  } while (false)
#endif

class PeakMemory : public ::testing::TestWithParam<Path> {};

TEST_P(PeakMemory, OfAPlainRestoreIsWithinTheSlack) {
  CKPT_REQUIRE_CLEAR_REFS();
  auto fs = one_checkpoint();
  const auto outcome = measure_in_child([&] { restore(fs, ckpt::ReadLimits::tight(kLimit), GetParam()); });
  EXPECT_EQ(outcome.error, "the restore succeeded");
  std::printf("[ peak ] restoring checkpoint 1 (200 keys): +%s\n", mib(outcome.growth).c_str());
  EXPECT_LT(outcome.growth, kSlack / 2) << "a plain restore costs more than the slack allows for: re-measure kSlack";
}

std::string path_name(const ::testing::TestParamInfo<Path>& param) { return to_string(param.param); }
INSTANTIATE_TEST_SUITE_P(Restore, PeakMemory, ::testing::Values(Path::plain, Path::strict), path_name);

/// Where the library does not keep a bomb under the limit yet (found by
/// this test, reported with issue 15): those instances are registered in
/// the suite DISABLED_KnownExcess (run them with
/// --gtest_also_run_disabled_tests); delete an entry with its fix. Fixed
/// since: a strict restore verified blocks larger than max_restore_bytes,
/// and a table reserved slots for an untrusted entry count.
std::string known_excess(const std::string& bomb, Path /*path*/) {
  if (bomb == "an operator-state block of 32 MiB claiming its remaining bytes - 1 elements" ||
      bomb == "an operator-state entry claiming as many elements as its 16 MiB block has bytes")
    return "each operator-state element holds a Bytes (24 bytes) per 8 bytes of block, which max_restore_bytes "
           "does not count";
  return {};
}

class PeakMemoryOfBomb : public ::testing::TestWithParam<std::tuple<ckpt::test::Bomb, Path>> {};

TEST_P(PeakMemoryOfBomb, StaysUnderTheTotalLimit) {
  CKPT_REQUIRE_CLEAR_REFS();
  const auto& [bomb, path] = GetParam();
  auto fs = one_checkpoint();
  bomb.forge(*fs);
  auto limits = bomb.limits;
  limits.max_restore_bytes = kLimit;
  const auto outcome = measure_in_child([&, path = path] { restore(fs, limits, path); });
  std::printf("[ peak ] %s (%s): +%s (limit %s, slack %s)\n", bomb.name.c_str(), to_string(path),
              mib(outcome.growth).c_str(), mib(kLimit).c_str(), mib(kSlack).c_str());
  EXPECT_TRUE(outcome.ckpt_error) << outcome.error;
  EXPECT_NE(outcome.error.find(bomb.file), std::string::npos) << "the error does not name " << bomb.file << ": " << outcome.error;
  EXPECT_LT(outcome.growth, kLimit + kSlack) << "restoring it grew the peak resident set by " << mib(outcome.growth)
                                             << "; its error: " << outcome.error;
  if (const auto why = known_excess(bomb.name, path); !why.empty()) std::printf("[ peak ] known: %s\n", why.c_str());
}

std::string test_name(const ::testing::TestParamInfo<std::tuple<ckpt::test::Bomb, Path>>& param) {
  const auto& [bomb, path] = param.param;
  std::string out;
  for (const char c : bomb.name) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out + "_" + to_string(path);
}

/// Every bomb on both paths, those with a known excess or the others.
std::vector<std::tuple<ckpt::test::Bomb, Path>> cases(bool known) {
  std::vector<std::tuple<ckpt::test::Bomb, Path>> out;
  for (const auto& bomb : ckpt::test::bombs())
    for (const auto path : {Path::plain, Path::strict})
      if (known_excess(bomb.name, path).empty() != known) out.emplace_back(bomb, path);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Bombs, PeakMemoryOfBomb, ::testing::ValuesIn(cases(false)), test_name);
INSTANTIATE_TEST_SUITE_P(DISABLED_KnownExcess, PeakMemoryOfBomb, ::testing::ValuesIn(cases(true)), test_name);

}  // namespace
