#pragma once
// The job's checkpoint id counter in etcd (Flink's CheckpointIDCounter kept
// in ZooKeeper): /<prefix>/<job>/checkpoint-id-counter holds the next id, in
// decimal. get_and_increment() reads it and writes it + 1 in a transaction
// conditioned on the key's mod revision being the one it read
// (compare-and-swap), so ids are strictly increasing across every process of
// the job however many ask at once; a lost race reads again, a bounded number
// of times.

#include <ckpt/error.hpp>
#include <ckpt/etcd/client.hpp>
#include <ckpt/etcd/job_keys.hpp>

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

namespace ckpt::etcd {

class CheckpointIdCounter {
 public:
  /// Compare-and-swap attempts before get_and_increment() gives up.
  static constexpr int max_attempts = 64;

  /// `first` is the id handed out first when the counter does not exist yet.
  CheckpointIdCounter(Client& client, JobKeys keys, std::int64_t first = 1)
      : client_(client), keys_(std::move(keys)), first_(first) {
    if (first < 1) throw ConfigError(errc::invalid_argument, "the first checkpoint id must be at least 1");
  }

  /// The next id, reserved for the caller: no other caller gets it.
  std::int64_t get_and_increment() {
    const std::string key = keys_.checkpoint_id_counter();
    for (int attempt = 0; attempt < max_attempts; ++attempt) {
      const auto kv = client_.get(key);
      const std::int64_t id = kv ? parse(kv->value) : first_;
      const Compare guard =
          kv ? Compare::mod_revision(key, Compare::Result::equal, kv->mod_revision) : Compare::absent(key);
      if (client_.txn({guard}, {TxnOp::put(key, std::to_string(id + 1))}).succeeded) return id;
    }
    throw CheckpointError(errc::checkpoint_aborted,
                          "etcd checkpoint id counter " + key + " at " + client_.endpoint() + ": lost " +
                              std::to_string(max_attempts) + " compare-and-swap races in a row");
  }

  /// The id the next get_and_increment() would hand out (others may take it first).
  std::int64_t get() {
    const auto kv = client_.get(keys_.checkpoint_id_counter());
    return kv ? parse(kv->value) : first_;
  }

 private:
  std::int64_t parse(const std::string& text) const {
    std::int64_t v = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v < 1 ||
        v == std::numeric_limits<std::int64_t>::max())
      throw CorruptionError(errc::corrupt_data, client_.endpoint(), keys_.checkpoint_id_counter(),
                            "etcd checkpoint id counter " + keys_.checkpoint_id_counter() + " at " +
                                client_.endpoint() + " does not hold a valid id (" +
                                std::to_string(text.size()) + " bytes)");
    return v;
  }

  Client& client_;
  JobKeys keys_;
  std::int64_t first_;
};

}  // namespace ckpt::etcd
