// R4, hostile input under a hard memory cap. Each hostile snapshot
// (hostile.hpp: lengths claiming 2^62 elements, zstd frames claiming 2^40
// bytes, decompression bombs, oversized manifests) is written to a real
// directory, then restored -- open, verify every block, restore into the job
// -- in a child process whose address space is capped with setrlimit(RLIMIT_AS)
// (256 MiB unless CKPT_MEMORY_CAP_MB says otherwise). Each must end in a
// ckpt::Error of the expected kind naming the file, never std::bad_alloc (an
// allocation the cap refused), a crash or a hang. operator new is counted, so
// the largest single allocation is reported too; it must stay far below the
// cap. A first child proves the cap is enforced by failing to allocate it.
//
// Built without sanitizers (their shadow memory needs terabytes of address
// space): it runs the same in every preset.

#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "hostile.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <string>

#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

// ---- counting operator new (this binary only) ------------------------------

namespace {
std::atomic<std::size_t> largest_request{0};
std::atomic<std::size_t> live_bytes{0};
std::atomic<std::size_t> peak_live{0};
constexpr std::size_t header = 16;

void* counted_alloc(std::size_t size) {
  for (auto seen = largest_request.load(); size > seen && !largest_request.compare_exchange_weak(seen, size);) {
  }
  void* p = std::malloc(size + header);
  if (!p) throw std::bad_alloc();
  std::memcpy(p, &size, sizeof size);
  const auto live = live_bytes.fetch_add(size) + size;
  for (auto peak = peak_live.load(); live > peak && !peak_live.compare_exchange_weak(peak, live);) {
  }
  return static_cast<char*>(p) + header;
}
void counted_free(void* p) noexcept {
  if (!p) return;
  auto* base = static_cast<char*>(p) - header;
  std::size_t size = 0;
  std::memcpy(&size, base, sizeof size);
  live_bytes.fetch_sub(size);
  std::free(base);
}
}  // namespace

void* operator new(std::size_t size) { return counted_alloc(size); }
void* operator new[](std::size_t size) { return counted_alloc(size); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }

// ---- the cases -------------------------------------------------------------

namespace {

std::size_t cap_bytes() {
  const char* mb = std::getenv("CKPT_MEMORY_CAP_MB");
  return (mb && *mb ? std::strtoull(mb, nullptr, 10) : 256) << 20;
}

void apply_cap(std::size_t cap) {
  struct rlimit limit {};
  limit.rlim_cur = limit.rlim_max = cap;
  if (::setrlimit(RLIMIT_AS, &limit) != 0) {
    std::perror("setrlimit");
    std::_Exit(3);
  }
}

/// Runs `body` in a child under the cap; its exit code (or 128+signal).
template <class F>
int in_capped_child(std::size_t cap, F&& body) {
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(3);
  }
  if (pid == 0) {
    apply_cap(cap);
    largest_request = 0;
    peak_live = live_bytes.load();
    const int rc = body();
    std::fflush(stdout);
    std::_Exit(rc);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string mib(std::size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

}  // namespace

int main() {
  const auto cap = cap_bytes();
  const char* base = std::getenv("CKPT_TEST_TMPDIR");
  std::filesystem::path root = base && *base ? base : std::filesystem::temp_directory_path().string();
  std::filesystem::create_directories(root);
  std::string templ = (root / "rel-memcap-XXXXXX").string();
  if (!::mkdtemp(templ.data())) {
    std::perror("mkdtemp");
    return 3;
  }
  root = templ;
  struct Cleanup {
    std::filesystem::path p;
    ~Cleanup() {
      std::error_code ignored;
      std::filesystem::remove_all(p, ignored);
    }
  } cleanup{root};

  // The cap holds: allocating it is refused.
  const int control = in_capped_child(cap, [&] {
    try {
      auto* p = new char[cap];
      p[0] = 1;
      std::printf("[ R4 ] FAIL: allocated %s under a cap of %s\n", mib(cap).c_str(), mib(cap).c_str());
      return 1;
    } catch (const std::bad_alloc&) {
      return 0;
    }
  });
  if (control != 0) return 1;
  std::printf("[ R4 ] cap %s (RLIMIT_AS) enforced: allocating it fails\n", mib(cap).c_str());

  const auto cases = ckpt::rel::hostile_cases();
  int failures = 0;
  std::size_t index = 0;
  for (const auto& c : cases) {
    const auto dir = (root / ("case-" + std::to_string(index++))).string();
    try {
      auto fs = std::make_shared<ckpt::fs::LocalFileSystem>(dir);
      ckpt::rel::write_checkpoints(fs, ckpt::StorageOptions::defaults(), 1);
      c.forge(*fs);
    } catch (const std::exception& e) {
      std::printf("[ R4 ] FAIL: %s: cannot forge it: %s\n", c.name.c_str(), e.what());
      ++failures;
      continue;
    }
    const int rc = in_capped_child(cap, [&] {
      try {
        ckpt::rel::restore_everything(std::make_shared<ckpt::fs::LocalFileSystem>(dir), c.limits);
        std::printf("[ R4 ] FAIL: %s: accepted\n", c.name.c_str());
        return 1;
      } catch (const ckpt::Error& e) {
        const std::string what = e.what();
        const bool named = what.find(c.file) != std::string::npos;
        const bool kind = e.code() == ckpt::make_error_code(c.expected);
        std::printf("[ R4 ] %s %s: %s error naming %s; largest allocation %s, peak heap %s\n",
                    named && kind ? "ok  " : "FAIL", c.name.c_str(), e.code().message().c_str(),
                    named ? "the file" : "NOT the file", mib(largest_request).c_str(), mib(peak_live).c_str());
        if (!named || !kind) std::printf("         %s\n", what.c_str());
        if (largest_request > cap / 4) {
          std::printf("[ R4 ] FAIL: %s: a single allocation of %s\n", c.name.c_str(), mib(largest_request).c_str());
          return 1;
        }
        return named && kind ? 0 : 1;
      } catch (const std::bad_alloc&) {
        std::printf("[ R4 ] FAIL: %s: an allocation hit the cap (largest request %s)\n", c.name.c_str(),
                    mib(largest_request).c_str());
        return 1;
      } catch (const std::exception& e) {
        std::printf("[ R4 ] FAIL: %s: not a ckpt::Error: %s\n", c.name.c_str(), e.what());
        return 1;
      }
    });
    if (rc != 0) {
      if (rc > 128) std::printf("[ R4 ] FAIL: %s: the reader died of signal %d\n", c.name.c_str(), rc - 128);
      ++failures;
    }
  }
  struct rusage usage {};
  ::getrusage(RUSAGE_CHILDREN, &usage);
  std::printf("[ R4 ] %zu hostile snapshots under a %s cap: %d failed; peak RSS of any reader %s\n", cases.size(),
              mib(cap).c_str(), failures, mib(static_cast<std::size_t>(usage.ru_maxrss) * 1024).c_str());
  return failures == 0 ? 0 : 1;
}
