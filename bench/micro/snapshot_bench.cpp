// The owner's side of a snapshot: the O(1) mark, and saving one key group.
#include "bench_support.hpp"

#include <ckpt/ckpt.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>

namespace {

using ckpt::bench::value_of;
using Backend = ckpt::KeyedStateBackend<std::uint64_t>;

Backend& loaded(std::uint64_t n) {
  static std::map<std::uint64_t, std::unique_ptr<Backend>> cache;
  auto& b = cache[n];
  if (!b) {
    b = std::make_unique<Backend>();
    auto v = b->get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v", 0});
    for (std::uint64_t k = 0; k < n; ++k) {
      b->set_current_key(k);
      v.update(value_of(k));
    }
  }
  return *b;
}

/// begin_snapshot() on the owner thread; the pause must not grow with the state.
void BM_BeginSnapshot(benchmark::State& st) {
  auto& b = loaded(static_cast<std::uint64_t>(st.range(0)));
  std::uint64_t id = 0;
  for (auto _ : st) {
    auto job = b.begin_snapshot(++id);
    st.PauseTiming();
    job.reset();
    b.notify_snapshot_aborted(id);
    st.ResumeTiming();
  }
}

/// Serializing one key group (1/128 of the state) as a writer thread does.
void BM_SaveKeyGroup(benchmark::State& st) {
  auto& b = loaded(static_cast<std::uint64_t>(st.range(0)));
  ckpt::Bytes out;
  std::uint32_t kg = 0;
  std::unique_ptr<ckpt::KeyedSnapshotJob> job;
  std::size_t bytes = 0;
  for (auto _ : st) {
    if (kg % 128 == 0) {
      st.PauseTiming();
      job.reset();
      job = b.begin_snapshot();
      kg = 0;
      st.ResumeTiming();
    }
    job->save(kg++, out);
    bytes += out.size();
  }
  job.reset();
  st.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

}  // namespace

BENCHMARK(BM_BeginSnapshot)->Arg(1 << 20)->Arg(1 << 23)->Iterations(200);
BENCHMARK(BM_SaveKeyGroup)->Arg(1 << 20);
