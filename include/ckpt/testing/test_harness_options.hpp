#pragma once
// TestHarnessOptions: which subtask a test harness plays, where its
// processing time starts, and which backend keeps keyed state.
//
//   auto options = ckpt::TestHarnessOptions::for_subtask(1, 3).with_processing_time(1'000);
//   auto on_rocksdb = ckpt::TestHarnessOptions{}.with_keyed_backend(
//       ckpt::rocksdb::keyed_backend(ckpt::rocksdb::RocksDBOptions::in(dir)));

#include <ckpt/error.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/kv_keyed_state_backend.hpp>

#include <cstdint>
#include <string>
#include <utility>

namespace ckpt {

struct TestHarnessOptions {
  std::uint32_t subtask_index = 0;
  std::uint32_t parallelism = 1;
  std::uint32_t max_parallelism = default_max_parallelism;
  /// The harness's manual clock at the start: epoch milliseconds.
  std::int64_t processing_time = 0;
  /// Makes the keyed backend of each instance; the heap backend when empty.
  KeyedBackendFactory keyed_backend;

  static TestHarnessOptions defaults() { return {}; }
  /// Subtask `index` of `parallelism`: a keyed harness then owns that
  /// subtask's key groups, and operator state is that subtask's share.
  static TestHarnessOptions for_subtask(std::uint32_t index, std::uint32_t parallelism,
                                        std::uint32_t max_parallelism = default_max_parallelism) {
    TestHarnessOptions o;
    o.subtask_index = index;
    o.parallelism = parallelism;
    o.max_parallelism = max_parallelism;
    return o;
  }
  TestHarnessOptions& with_processing_time(std::int64_t epoch_millis) noexcept {
    processing_time = epoch_millis;
    return *this;
  }
  TestHarnessOptions& with_max_parallelism(std::uint32_t max) noexcept {
    max_parallelism = max;
    return *this;
  }
  TestHarnessOptions& with_keyed_backend(KeyedBackendFactory factory) {
    keyed_backend = std::move(factory);
    return *this;
  }

  void validate() const {
    validate_parallelism(max_parallelism, parallelism);
    if (subtask_index >= parallelism)
      throw ConfigError(errc::invalid_argument, "subtask " + std::to_string(subtask_index) +
                                                    " is not below parallelism " + std::to_string(parallelism));
  }
};

}  // namespace ckpt
