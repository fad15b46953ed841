#pragma once
// Keyed state of barely compressible blobs, so a checkpoint of a few thousand
// keys needs a multipart upload; its content is a function of (key, round).
#include <ckpt/ckpt.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <cstdint>
#include <string>

namespace ckpt::s3::test {

/// 1 KiB of pseudo-random text for (key, round).
inline std::string blob(std::uint64_t key, int round) {
  std::string out(1024, ' ');
  std::uint64_t x = key * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(round) * 0xBF58476D1CE4E5B9ULL + 1;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>('!' + x % 90);
  }
  return out;
}

struct BlobOperator {
  KeyedStateBackend<std::uint64_t> backend;
  ValueState<std::string> value = backend.get_state(ValueStateDescriptor<std::string>{"blob"});
  ValueState<std::int64_t> round = backend.get_state(ValueStateDescriptor<std::int64_t>{"round", 0});

  void fill(std::uint64_t keys, int r) {
    for (std::uint64_t k = 0; k < keys; ++k) {
      backend.set_current_key(k);
      value.update(blob(k, r));
      round.update(r);
    }
  }
  /// Checks the state is exactly what fill(keys_of_round, round) left.
  bool holds(std::uint64_t keys, int r) {
    if (backend.size("blob") != keys) return false;
    for (std::uint64_t k = 0; k < keys; k += 97) {
      backend.set_current_key(k);
      if (value.value() != blob(k, r) || round.value() != r) return false;
    }
    return true;
  }
  void checkpoint(CheckpointStorage& storage, std::uint64_t id) {
    auto pending = storage.begin_checkpoint(id, static_cast<std::int64_t>(id));
    pending->write({"blobs", 0, 1, backend.begin_snapshot(id), std::nullopt});
    pending->complete();
  }
};

}  // namespace ckpt::s3::test
