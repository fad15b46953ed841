// One key group's bytes: ckpt's bulk columns and its MapState encoding beside
// cereal element by element, and zstd level 1 on the same bytes (compress and
// decompress), and rebuilding a key group's map from its bytes.
#include "bench_support.hpp"

#include <ckpt/ckpt.hpp>
#include <ckpt/serial/columns.hpp>
#include <ckpt/snapshot/codec.hpp>

#include <benchmark/benchmark.h>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cereal/archives/binary.hpp>

#include <cstdint>
#include <sstream>
#include <vector>

namespace {

using ckpt::bench::value_of;
using Flat = boost::unordered_flat_map<std::uint64_t, std::uint64_t>;

Flat make_flat(std::uint64_t n) {
  Flat m;
  m.reserve(n);
  for (std::uint64_t k = 0; k < n; ++k) m.emplace(k * 128, value_of(k));
  return m;
}

void BM_Columns_WriteEntries(benchmark::State& st) {
  const auto m = make_flat(static_cast<std::uint64_t>(st.range(0)));
  ckpt::Bytes out;
  for (auto _ : st) {
    out.clear();
    ckpt::serial::write_entries<std::uint64_t, std::uint64_t>(out, m);
    benchmark::DoNotOptimize(out.data());
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(out.size()));
}

void BM_Cereal_ElementByElement(benchmark::State& st) {
  const auto m = make_flat(static_cast<std::uint64_t>(st.range(0)));
  std::size_t bytes = 0;
  for (auto _ : st) {
    std::ostringstream os;
    {
      cereal::BinaryOutputArchive ar(os);
      for (const auto& [k, v] : m) ar(k, v);
    }
    bytes = os.str().size();
    benchmark::DoNotOptimize(bytes);
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * bytes));
}

/// MapState<u64,u64>: one key group of keys each holding a small map.
void BM_MapState_KeyGroupSave(benchmark::State& st) {
  const auto keys = static_cast<std::uint64_t>(st.range(0));
  ckpt::KeyedStateBackend<std::uint64_t> b{ckpt::KeyedStateBackendOptions{1, std::nullopt, nullptr}};
  auto m = b.get_map_state(ckpt::MapStateDescriptor<std::uint64_t, std::uint64_t>{"m"});
  for (std::uint64_t k = 0; k < keys; ++k) {
    b.set_current_key(k);
    for (std::uint64_t e = 0; e < 64; ++e) m.put(k * 64 + e, value_of(k + e));
  }
  std::size_t bytes = 0;
  for (auto _ : st) {
    auto snap = b.snapshot();
    bytes = snap.key_groups.at(0).data.size();
    benchmark::DoNotOptimize(snap.key_groups.data());
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * bytes));
}

ckpt::Bytes key_group_bytes(std::uint64_t n) {
  ckpt::Bytes out;
  ckpt::serial::write_entries<std::uint64_t, std::uint64_t>(out, make_flat(n));
  return out;
}

void BM_Zstd1_Compress(benchmark::State& st) {
  const auto raw = key_group_bytes(static_cast<std::uint64_t>(st.range(0)));
  ckpt::Compressor c(ckpt::Codec::zstd, 1);
  ckpt::Bytes out;
  for (auto _ : st) {
    c.compress(raw, out);
    benchmark::DoNotOptimize(out.data());
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(raw.size()));
  st.counters["ratio"] = static_cast<double>(out.size()) / static_cast<double>(raw.size());
}

void BM_Zstd_Decompress(benchmark::State& st) {
  const auto raw = key_group_bytes(static_cast<std::uint64_t>(st.range(0)));
  ckpt::Compressor c(ckpt::Codec::zstd, 1);
  ckpt::Bytes frame, out;
  c.compress(raw, frame);
  ckpt::Decompressor d;
  for (auto _ : st) {
    d.decompress(ckpt::Codec::zstd, frame, raw.size(), out, "bench", "block");
    benchmark::DoNotOptimize(out.data());
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(raw.size()));
}

/// Rebuilding one key group's map from its bytes (what restore does per block).
void BM_Columns_ReadEntriesIntoMap(benchmark::State& st) {
  const auto raw = key_group_bytes(static_cast<std::uint64_t>(st.range(0)));
  for (auto _ : st) {
    Flat m;
    m.reserve(static_cast<std::size_t>(ckpt::serial::entry_count(raw)));
    ckpt::serial::read_entries<std::uint64_t, std::uint64_t>(
        raw, {}, [&](std::uint64_t&& k, std::uint64_t&& v) { m.insert_or_assign(k, v); });
    benchmark::DoNotOptimize(m.size());
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(raw.size()));
}

}  // namespace

BENCHMARK(BM_Columns_WriteEntries)->Arg(1 << 16);
BENCHMARK(BM_Cereal_ElementByElement)->Arg(1 << 16);
BENCHMARK(BM_MapState_KeyGroupSave)->Arg(1024);
BENCHMARK(BM_Zstd1_Compress)->Arg(1 << 16);
BENCHMARK(BM_Zstd_Decompress)->Arg(1 << 16);
BENCHMARK(BM_Columns_ReadEntriesIntoMap)->Arg(1 << 16);
