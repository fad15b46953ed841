#pragma once
// What the micro-benchmarks and the report share: deterministic workloads,
// timing, medians, the zstd-alone baselines and resident-memory probes.
//
// Every figure the report prints is a ratio to a baseline measured in the same
// run on the same bytes or keys, because the machines this runs on are shared
// and absolute times are noise.

#include <ckpt/bytes.hpp>

#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ckpt::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

template <class F>
double time_seconds(F&& f) {
  const auto t0 = Clock::now();
  f();
  return seconds_since(t0);
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

/// A fast, well-mixed, deterministic 64-bit sequence.
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// The value a workload stores for key `k`: a counter-like number (the upper
/// bytes are zero), so the state compresses as real counters do, not as
/// noise (which zstd skips over) and not as zeros (which it flies through).
inline std::uint64_t value_of(std::uint64_t k) { return splitmix64(k) % 1'000'000; }

/// `n` keys drawn uniformly from [0, population), reproducibly.
inline std::vector<std::uint64_t> random_keys(std::size_t n, std::uint64_t population, std::uint64_t seed) {
  std::vector<std::uint64_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = splitmix64(seed * 0x100000001B3ull + i) % population;
  return out;
}

/// Splits [0, n) over `threads` threads, items taken dynamically; `fn(thread, item)`.
inline void parallel_for(unsigned threads, std::size_t n, const std::function<void(unsigned, std::size_t)>& fn) {
  std::atomic<std::size_t> next{0};
  const auto work = [&](unsigned t) {
    for (std::size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) fn(t, i);
  };
  if (threads <= 1) return work(0);
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
}

/// zstd alone: compresses `blocks` (each as one frame, as ckpt does) on
/// `threads` threads with one reused context per thread, in memory.
class ZstdAlone {
 public:
  ZstdAlone(unsigned threads, int level) : threads_(std::max(1u, threads)), level_(level) {
    for (unsigned t = 0; t < threads_; ++t) {
      cctx_.push_back(ZSTD_createCCtx());
      dctx_.push_back(ZSTD_createDCtx());
      ZSTD_CCtx_setParameter(cctx_.back(), ZSTD_c_compressionLevel, level_);
      ZSTD_CCtx_setParameter(cctx_.back(), ZSTD_c_contentSizeFlag, 1);
    }
    out_.resize(threads_);
  }
  ~ZstdAlone() {
    for (auto* c : cctx_) ZSTD_freeCCtx(c);
    for (auto* d : dctx_) ZSTD_freeDCtx(d);
  }
  ZstdAlone(const ZstdAlone&) = delete;
  ZstdAlone& operator=(const ZstdAlone&) = delete;

  unsigned threads() const noexcept { return threads_; }

  /// Seconds to compress every block; `compressed` (optional) gets each frame.
  double compress(const std::vector<ByteSpan>& blocks, std::vector<Bytes>* compressed = nullptr,
                  std::uint64_t* compressed_bytes = nullptr) {
    std::size_t bound = 0;
    for (const auto& b : blocks) bound = std::max(bound, ZSTD_compressBound(b.size()));
    for (auto& o : out_) o.resize(bound);
    if (compressed) compressed->assign(blocks.size(), {});
    std::atomic<std::uint64_t> total{0};
    const double s = time_seconds([&] {
      parallel_for(threads_, blocks.size(), [&](unsigned t, std::size_t i) {
        const auto n = ZSTD_compress2(cctx_[t], out_[t].data(), out_[t].size(), blocks[i].data(), blocks[i].size());
        if (ZSTD_isError(n)) throw std::runtime_error(ZSTD_getErrorName(n));
        total.fetch_add(n, std::memory_order_relaxed);
        if (compressed) (*compressed)[i].assign(out_[t].begin(), out_[t].begin() + static_cast<std::ptrdiff_t>(n));
      });
    });
    if (compressed_bytes) *compressed_bytes = total.load();
    return s;
  }

  /// Seconds to decompress every frame (each into its own reused buffer).
  double decompress(const std::vector<Bytes>& frames) {
    std::size_t biggest = 0;
    for (const auto& f : frames) {
      const auto n = ZSTD_getFrameContentSize(f.data(), f.size());
      if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN) throw std::runtime_error("bad frame");
      biggest = std::max<std::size_t>(biggest, n);
    }
    for (auto& o : out_) o.resize(biggest);
    return time_seconds([&] {
      parallel_for(threads_, frames.size(), [&](unsigned t, std::size_t i) {
        const auto n = ZSTD_decompressDCtx(dctx_[t], out_[t].data(), out_[t].size(), frames[i].data(), frames[i].size());
        if (ZSTD_isError(n)) throw std::runtime_error(ZSTD_getErrorName(n));
      });
    });
  }

 private:
  unsigned threads_;
  int level_;
  std::vector<ZSTD_CCtx*> cctx_;
  std::vector<ZSTD_DCtx*> dctx_;
  std::vector<Bytes> out_;
};

// -- resident memory (Linux) ---------------------------------------------------

/// A field of /proc/self/status in bytes ("VmRSS", "VmHWM"), 0 if unknown.
inline std::uint64_t proc_status_bytes(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stoull(line.substr(prefix.size())) * 1024;
  }
  return 0;
}
inline std::uint64_t resident_bytes() { return proc_status_bytes("VmRSS"); }
inline std::uint64_t peak_resident_bytes() { return proc_status_bytes("VmHWM"); }
/// Resets VmHWM to the current resident size (Linux >= 4.0).
inline bool reset_peak_resident() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace ckpt::bench
