#pragma once
// One factory per keyed state backend, so a typed test (TYPED_TEST_SUITE
// over Backends) runs the same body against the heap backend and the RocksDB
// backend: make() builds a backend of string keys with max parallelism 128,
// the given key groups and clock; the factory keeps what the backend needs
// (a RocksDB working directory) alive as long as it lives.
#include <ckpt/clock.hpp>
#include <ckpt/rocksdb/rocksdb_keyed_state_backend.hpp>
#include <ckpt/state/keyed_state_backend.hpp>

#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ckpt::test {

inline constexpr std::uint32_t backend_max_parallelism = 128;

struct HeapBackendFactory {
  using Backend = ckpt::KeyedStateBackend<std::string>;
  static constexpr const char* name = "Heap";
  std::unique_ptr<Backend> make(const ckpt::Clock& clock,
                                KeyGroupRange range = KeyGroupRange::all(backend_max_parallelism)) {
    ckpt::KeyedStateBackendOptions o;
    o.max_parallelism = backend_max_parallelism;
    o.key_groups = range;
    o.clock = &clock;
    return std::make_unique<Backend>(o);
  }
};

struct RocksDBBackendFactory {
  using Backend = ckpt::rocksdb::RocksDBKeyedStateBackend<std::string>;
  static constexpr const char* name = "RocksDB";
  std::unique_ptr<Backend> make(const ckpt::Clock& clock,
                                KeyGroupRange range = KeyGroupRange::all(backend_max_parallelism)) {
    dirs_.push_back(std::make_unique<TempDir>("ckpt-rocksdb-typed"));
    return std::make_unique<Backend>(ckpt::rocksdb::RocksDBOptions::in(dirs_.back()->path())
                                         .with_memory_budget(std::size_t{8} << 20)
                                         .with_clock(clock),
                                     range, backend_max_parallelism);
  }

 private:
  std::vector<std::unique_ptr<TempDir>> dirs_;
};

using Backends = ::testing::Types<HeapBackendFactory, RocksDBBackendFactory>;

struct BackendName {
  template <class F>
  static std::string GetName(int) {
    return F::name;
  }
};

}  // namespace ckpt::test
