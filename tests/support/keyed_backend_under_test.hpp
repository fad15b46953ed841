#pragma once
// Which keyed state backend the harness and pipeline tests of this folder run
// on: the heap backend, or RocksDB when the same files are built as
// ckpt_testing_on_rocksdb_tests (tests/rocksdb, CKPT_TEST_ROCKSDB_BACKEND), so
// every keyed harness, window, TTL and runtime-equivalence test is a test of
// both backends, chosen by configuration as a user chooses it.
#include <ckpt/runtime/job_runner.hpp>
#include <ckpt/testing/test_harness_options.hpp>

#ifdef CKPT_TEST_ROCKSDB_BACKEND
#include <ckpt/rocksdb/rocksdb_keyed_state_backend.hpp>

#include "temp_dir.hpp"
#endif

namespace ckpt::test {

#ifdef CKPT_TEST_ROCKSDB_BACKEND
inline KeyedBackendFactory test_keyed_backend() {
  static TempDir dir("ckpt-harness-rocksdb");  // every backend gets its own directory under it
  return rocksdb::keyed_backend(rocksdb::RocksDBOptions::in(dir.path()).with_memory_budget(std::size_t{8} << 20));
}
#else
inline KeyedBackendFactory test_keyed_backend() { return {}; }
#endif

/// `o` with the keyed backend under test.
inline TestHarnessOptions on_backend(TestHarnessOptions o = {}) {
  o.with_keyed_backend(test_keyed_backend());
  return o;
}
inline JobOptions on_backend(JobOptions o) {
  o.keyed_state_backend = test_keyed_backend();
  return o;
}

}  // namespace ckpt::test
