#pragma once
// Window triggers (Flink's Trigger): when a window emits its result.
//   EventTimeTrigger::create()       fire when the watermark passes the window's max_timestamp()
//                                    (and again at once for each late element within the allowed lateness);
//                                    the default of event-time assigners
//   ProcessingTimeTrigger::create()  fire when the clock passes max_timestamp(); the default of
//                                    processing-time assigners
//   CountTrigger::of(n)              fire each time n more elements arrived in the window (the
//                                    contents stay: a firing sees every element so far); the window's
//                                    state is still removed at its cleanup time
// A firing never purges: the window's contents are removed at its cleanup
// time, max_timestamp() + allowed lateness (processing-time windows: at
// max_timestamp()).

#include <ckpt/error.hpp>

#include <cstdint>

namespace ckpt {

class WindowTrigger {
 public:
  enum class Kind : std::uint8_t { event_time, processing_time, count };
  Kind kind() const noexcept { return kind_; }
  /// For a count trigger: the elements per firing.
  std::uint64_t count() const noexcept { return count_; }

 protected:
  WindowTrigger(Kind kind, std::uint64_t count) : kind_(kind), count_(count) {}

 private:
  Kind kind_;
  std::uint64_t count_;
};

namespace detail {
struct NamedTrigger : WindowTrigger {
  NamedTrigger(Kind kind, std::uint64_t count) : WindowTrigger(kind, count) {}
};
}  // namespace detail

struct EventTimeTrigger {
  static WindowTrigger create() { return detail::NamedTrigger(WindowTrigger::Kind::event_time, 0); }
};
struct ProcessingTimeTrigger {
  static WindowTrigger create() { return detail::NamedTrigger(WindowTrigger::Kind::processing_time, 0); }
};
struct CountTrigger {
  static WindowTrigger of(std::uint64_t n) {
    if (n == 0) throw ConfigError(errc::invalid_argument, "CountTrigger::of: the count must be > 0");
    return detail::NamedTrigger(WindowTrigger::Kind::count, n);
  }
};

}  // namespace ckpt
