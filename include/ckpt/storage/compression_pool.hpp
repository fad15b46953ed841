#pragma once
// Serializes and compresses the key groups of a snapshot job on a bounded
// pool of threads (one reused zstd context per thread), and hands the blocks
// back in key-group order so they can be appended to one file. At most
// `window` key groups are in flight, which bounds the memory used.

#include <ckpt/bytes.hpp>
#include <ckpt/snapshot/codec.hpp>
#include <ckpt/snapshot/state_file_writer.hpp>
#include <ckpt/state/keyed_snapshot_job.hpp>

#include <ckpt/detail/worker_pool.hpp>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <thread>
#include <utility>

namespace ckpt::detail {

class CompressionPool {
 public:
  /// `threads` 0 means one per hardware thread; 1 means no pool (the caller's thread).
  explicit CompressionPool(unsigned threads)
      : threads_(threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : threads) {
    if (threads_ > 1) pool_ = std::make_unique<WorkerPool>(threads_);
  }
  CompressionPool(const CompressionPool&) = delete;
  CompressionPool& operator=(const CompressionPool&) = delete;

  unsigned threads() const noexcept { return threads_; }

  using Consume = std::function<void(std::uint32_t key_group, KeyGroupResult, StoredBlock&)>;

  /// Saves and compresses every key group of `job`, calling `consume` in
  /// ascending key-group order on the calling thread.
  void run(KeyedSnapshotJob& job, Codec codec, int level, const Consume& consume) {
    const auto range = job.key_groups();
    if (!pool_ || range.size() < 2) {
      auto& c = compressor(codec, level);
      Bytes raw;
      StoredBlock block;
      for (auto kg = range.begin; kg < range.end; ++kg) {
        const auto r = job.save(kg, raw);
        if (r == KeyGroupResult::written) compress_block(c, raw, block);
        consume(kg, r, block);
      }
      return;
    }
    struct Result {
      KeyGroupResult result;
      StoredBlock block;
    };
    std::deque<std::future<Result>> in_flight;
    // Tasks reference `job`: never leave while one may still run.
    struct Drain {
      std::deque<std::future<Result>>& q;
      ~Drain() {
        for (auto& f : q)
          if (f.valid()) f.wait();
      }
    } drain{in_flight};
    const std::size_t window = 2 * static_cast<std::size_t>(threads_);
    auto next = range.begin;
    const auto schedule = [&] {
      while (next < range.end && in_flight.size() < window) {
        const auto kg = next++;
        auto task = std::make_shared<std::packaged_task<Result()>>([&job, kg, codec, level] {
          thread_local Bytes raw;
          Result r{job.save(kg, raw), {}};
          if (r.result == KeyGroupResult::written) compress_block(compressor(codec, level), raw, r.block);
          return r;
        });
        in_flight.push_back(task->get_future());
        pool_->post([task] { (*task)(); });
      }
    };
    for (auto kg = range.begin; kg < range.end; ++kg) {
      schedule();
      auto r = in_flight.front().get();
      in_flight.pop_front();
      consume(kg, r.result, r.block);
    }
  }

 private:
  static Compressor& compressor(Codec codec, int level) {
    thread_local std::map<std::pair<Codec, int>, std::unique_ptr<Compressor>> per_thread;
    auto& c = per_thread[{codec, level}];
    if (!c) c = std::make_unique<Compressor>(codec, level);
    return *c;
  }

  unsigned threads_;
  std::unique_ptr<WorkerPool> pool_;
};

}  // namespace ckpt::detail
