#pragma once
// How a job checkpoints (Flink's CheckpointConfig), in cereal's options style.
//
//   auto config = ckpt::CheckpointConfig::every(std::chrono::seconds(10))
//                     .with_timeout(std::chrono::minutes(1))
//                     .with_tolerable_failed_checkpoints(3);

#include <ckpt/error.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ckpt {

enum class CheckpointingMode : std::uint8_t {
  exactly_once,   // operators with several inputs align barriers
  at_least_once,  // no alignment: after a restore some records may be seen twice
};

struct CheckpointConfig {
  using duration = std::chrono::milliseconds;

  /// Time between periodic checkpoints; none: only on demand.
  std::optional<duration> interval;
  /// A checkpoint not complete this long after its trigger is aborted.
  duration timeout = std::chrono::minutes(10);
  /// At least this long between the end of one checkpoint and the next trigger.
  duration min_pause_between_checkpoints{0};
  std::uint32_t max_concurrent_checkpoints = 1;
  /// Consecutive failed checkpoints the job tolerates; one more fails the job
  /// (Flink's default, 0, fails it on the first).
  std::uint32_t tolerable_failed_checkpoints = 0;
  CheckpointingMode mode = CheckpointingMode::exactly_once;
  /// Threads writing participants' snapshots in the background.
  unsigned writer_threads = 1;

  static CheckpointConfig every(duration interval) {
    CheckpointConfig c;
    c.interval = interval;
    return c;
  }
  static CheckpointConfig on_demand() { return {}; }

  CheckpointConfig& with_timeout(duration d) { timeout = d; return *this; }
  CheckpointConfig& with_min_pause(duration d) { min_pause_between_checkpoints = d; return *this; }
  CheckpointConfig& with_max_concurrent(std::uint32_t n) { max_concurrent_checkpoints = n; return *this; }
  CheckpointConfig& with_tolerable_failed_checkpoints(std::uint32_t n) { tolerable_failed_checkpoints = n; return *this; }
  CheckpointConfig& with_mode(CheckpointingMode m) { mode = m; return *this; }
  CheckpointConfig& with_writer_threads(unsigned n) { writer_threads = n; return *this; }

  void validate() const {
    if (interval && interval->count() <= 0)
      throw ConfigError(errc::invalid_argument, "the checkpoint interval must be positive");
    if (timeout.count() <= 0) throw ConfigError(errc::invalid_argument, "the checkpoint timeout must be positive");
    if (max_concurrent_checkpoints == 0)
      throw ConfigError(errc::invalid_argument, "at least one concurrent checkpoint must be allowed");
    if (writer_threads == 0) throw ConfigError(errc::invalid_argument, "at least one writer thread is needed");
  }
};

}  // namespace ckpt
