// State access against the containers it is built on: ckpt's ValueState and
// MapState beside a bare boost::unordered_flat_map and std::unordered_map doing
// the same operations (read the current value, write it back plus one) on the
// same random keys.
#include "bench_support.hpp"

#include <ckpt/ckpt.hpp>

#include <benchmark/benchmark.h>
#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace {

using ckpt::bench::random_keys;
using ckpt::bench::value_of;
using Backend = ckpt::KeyedStateBackend<std::uint64_t>;

constexpr std::size_t kOps = 1 << 20;

template <class Map>
void bare_value(benchmark::State& st) {
  const auto n = static_cast<std::uint64_t>(st.range(0));
  Map map;
  map.reserve(n);
  for (std::uint64_t k = 0; k < n; ++k) map.emplace(k, value_of(k));
  const auto keys = random_keys(kOps, n, 1);
  std::size_t i = 0;
  for (auto _ : st) {
    const auto k = keys[i++ & (kOps - 1)];
    const auto it = map.find(k);
    const std::uint64_t x = it == map.end() ? 0 : it->second;
    map.insert_or_assign(k, x + 1);
  }
  st.SetItemsProcessed(st.iterations());
}

void BM_FlatMap_Value(benchmark::State& st) { bare_value<boost::unordered_flat_map<std::uint64_t, std::uint64_t>>(st); }
void BM_StdUnorderedMap_Value(benchmark::State& st) { bare_value<std::unordered_map<std::uint64_t, std::uint64_t>>(st); }

// Handle: what get_state() returns (KeyedValueState, accesses inlined) or the
// key-erased ValueState<T> it converts to (a virtual call per access).
template <class Handle>
void value_update(benchmark::State& st) {
  const auto n = static_cast<std::uint64_t>(st.range(0));
  Backend b;
  Handle v = b.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v", 0});
  for (std::uint64_t k = 0; k < n; ++k) {
    b.set_current_key(k);
    v.update(value_of(k));
  }
  const auto keys = random_keys(kOps, n, 1);
  std::size_t i = 0;
  for (auto _ : st) {
    b.set_current_key(keys[i++ & (kOps - 1)]);
    v.update(v.value() + 1);
  }
  st.SetItemsProcessed(st.iterations());
}

void BM_ValueState_ValueUpdate(benchmark::State& st) {
  value_update<ckpt::KeyedValueState<std::uint64_t, std::uint64_t>>(st);
}
void BM_ErasedValueState_ValueUpdate(benchmark::State& st) { value_update<ckpt::ValueState<std::uint64_t>>(st); }

void BM_SetCurrentKey(benchmark::State& st) {
  Backend b;
  const auto keys = random_keys(kOps, 1 << 20, 1);
  std::size_t i = 0;
  for (auto _ : st) {
    b.set_current_key(keys[i++ & (kOps - 1)]);
    benchmark::DoNotOptimize(b.current_key_group());
  }
  st.SetItemsProcessed(st.iterations());
}

template <class Outer>
void bare_map(benchmark::State& st) {
  const auto n = static_cast<std::uint64_t>(st.range(0));
  constexpr std::uint64_t entries = 8;
  Outer map;
  for (std::uint64_t k = 0; k < n; ++k)
    for (std::uint64_t e = 0; e < entries; ++e) map[k][e] = value_of(k + e);
  const auto keys = random_keys(kOps, n, 2);
  const auto ukeys = random_keys(kOps, entries, 3);
  std::size_t i = 0;
  for (auto _ : st) {
    const auto j = i++ & (kOps - 1);
    std::uint64_t x = 0;
    if (const auto it = map.find(keys[j]); it != map.end())
      if (const auto e = it->second.find(ukeys[j]); e != it->second.end()) x = e->second;
    map[keys[j]].insert_or_assign(ukeys[j], x + 1);
  }
  st.SetItemsProcessed(st.iterations());
}

void BM_FlatMap_Map(benchmark::State& st) {
  bare_map<boost::unordered_flat_map<std::uint64_t, boost::unordered_flat_map<std::uint64_t, std::uint64_t>>>(st);
}
void BM_StdUnorderedMap_Map(benchmark::State& st) {
  bare_map<std::unordered_map<std::uint64_t, std::unordered_map<std::uint64_t, std::uint64_t>>>(st);
}

void BM_MapState_GetPut(benchmark::State& st) {
  const auto n = static_cast<std::uint64_t>(st.range(0));
  constexpr std::uint64_t entries = 8;
  Backend b;
  auto m = b.get_map_state(ckpt::MapStateDescriptor<std::uint64_t, std::uint64_t>{"m"});
  for (std::uint64_t k = 0; k < n; ++k) {
    b.set_current_key(k);
    for (std::uint64_t e = 0; e < entries; ++e) m.put(e, value_of(k + e));
  }
  const auto keys = random_keys(kOps, n, 2);
  const auto ukeys = random_keys(kOps, entries, 3);
  std::size_t i = 0;
  for (auto _ : st) {
    const auto j = i++ & (kOps - 1);
    b.set_current_key(keys[j]);
    m.put(ukeys[j], m.get(ukeys[j]).value_or(0) + 1);
  }
  st.SetItemsProcessed(st.iterations());
}

}  // namespace

BENCHMARK(BM_SetCurrentKey);
BENCHMARK(BM_FlatMap_Value)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK(BM_ValueState_ValueUpdate)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK(BM_ErasedValueState_ValueUpdate)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK(BM_StdUnorderedMap_Value)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK(BM_FlatMap_Map)->Arg(1 << 12)->Arg(1 << 18);
BENCHMARK(BM_MapState_GetPut)->Arg(1 << 12)->Arg(1 << 18);
BENCHMARK(BM_StdUnorderedMap_Map)->Arg(1 << 12)->Arg(1 << 18);
