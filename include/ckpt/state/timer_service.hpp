#pragma once
// Per-key timers (Flink's TimerService): a keyed function registers a timer
// for the current key in event time or processing time and its on_timer()
// runs, with that key current, once the watermark (or the clock) passes it.
//
// Timers are keyed state: a map per key (timestamp -> registered) in two
// internal states, so they are part of every checkpoint, move with their key
// groups on rescale, and fire after a restore. An in-memory index, rebuilt
// from the state on restore, orders them for firing. A (key, timestamp) pair
// is one timer however often it is registered.
//
// The service works over any keyed backend with the heap backend's state API
// (get_map_state, set_current_key, has_current_key, current_key, and
// keys(state) for the rebuild): KeyedStateBackend<K> by default, or e.g.
//   ckpt::InternalTimerService<K, ckpt::rocksdb::RocksDBKeyedStateBackend<K>>
// (this header never includes an optional backend).

#include <ckpt/clock.hpp>
#include <ckpt/state/keyed_state_backend.hpp>
#include <ckpt/state/map_state.hpp>
#include <ckpt/state/state_descriptor.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ckpt {

enum class TimeDomain : std::uint8_t { event_time, processing_time };

class TimerService {
 public:
  virtual ~TimerService() = default;
  virtual std::int64_t current_processing_time() const = 0;
  virtual std::int64_t current_watermark() const = 0;
  virtual void register_event_time_timer(std::int64_t timestamp) = 0;
  virtual void register_processing_time_timer(std::int64_t timestamp) = 0;
  virtual void delete_event_time_timer(std::int64_t timestamp) = 0;
  virtual void delete_processing_time_timer(std::int64_t timestamp) = 0;
};

/// The timer service of one keyed task (or test harness), keeping its
/// timers in `Backend`'s keyed state.
template <class K, class Backend = KeyedStateBackend<K>>
class InternalTimerService final : public TimerService {
 public:
  using Fire = std::function<void(const K& key, std::int64_t timestamp, TimeDomain domain)>;
  using backend_type = Backend;

  InternalTimerService(Backend& backend, std::function<std::int64_t()> processing_time)
      : backend_(backend),
        processing_time_(std::move(processing_time)),
        event_(backend.get_map_state(MapStateDescriptor<std::int64_t, bool>{"_timers_event_time"})),
        processing_(backend.get_map_state(MapStateDescriptor<std::int64_t, bool>{"_timers_processing_time"})) {
    rebuild_index();
  }

  std::int64_t current_processing_time() const override { return processing_time_(); }
  std::int64_t current_watermark() const override { return watermark_; }

  void register_event_time_timer(std::int64_t t) override { add(event_, event_index_, t); }
  void register_processing_time_timer(std::int64_t t) override { add(processing_, processing_index_, t); }
  void delete_event_time_timer(std::int64_t t) override { remove(event_, event_index_, t); }
  void delete_processing_time_timer(std::int64_t t) override { remove(processing_, processing_index_, t); }

  /// Fires, in timestamp order, every event-time timer at or before `watermark`.
  void advance_watermark(std::int64_t watermark, const Fire& fire) {
    if (watermark <= watermark_) return;
    watermark_ = watermark;
    fire_until(event_, event_index_, watermark, TimeDomain::event_time, fire);
  }
  /// Fires every processing-time timer at or before `now`.
  void advance_processing_time(std::int64_t now, const Fire& fire) {
    fire_until(processing_, processing_index_, now, TimeDomain::processing_time, fire);
  }
  /// The earliest processing-time timer, if any.
  std::optional<std::int64_t> next_processing_time() const {
    if (processing_index_.empty()) return std::nullopt;
    return processing_index_.begin()->first;
  }
  std::size_t size() const { return event_index_.size() + processing_index_.size(); }
  /// Every timer of `domain` as (timestamp, key), in firing order.
  std::vector<std::pair<std::int64_t, K>> timers(TimeDomain domain) const {
    const auto& index = domain == TimeDomain::event_time ? event_index_ : processing_index_;
    return {index.begin(), index.end()};
  }

  /// Re-reads every timer from the state (after the backend was restored).
  void rebuild_index() {
    event_index_.clear();
    processing_index_.clear();
    const auto saved = backend_.has_current_key() ? std::optional<K>(backend_.current_key()) : std::nullopt;
    for (auto* domain : {&event_, &processing_}) {
      auto& index = domain == &event_ ? event_index_ : processing_index_;
      const auto name = domain == &event_ ? "_timers_event_time" : "_timers_processing_time";
      for (const auto& key : backend_.keys(name)) {
        backend_.set_current_key(key);
        domain->for_each([&](const std::int64_t& t, const bool&) { index.emplace(t, key); });
      }
    }
    if (saved) backend_.set_current_key(*saved);
  }

 private:
  // Keys need only operator==: ties on a timestamp keep registration order.
  using Index = std::multimap<std::int64_t, K>;

  void add(MapState<std::int64_t, bool>& state, Index& index, std::int64_t t) {
    const auto& key = backend_.current_key();
    if (state.contains(t)) return;
    state.put(t, true);
    index.emplace(t, key);
  }
  void remove(MapState<std::int64_t, bool>& state, Index& index, std::int64_t t) {
    if (!state.remove(t)) return;
    const auto& key = backend_.current_key();
    for (auto [it, end] = index.equal_range(t); it != end; ++it)
      if (it->second == key) {
        index.erase(it);
        return;
      }
  }
  void fire_until(MapState<std::int64_t, bool>& state, Index& index, std::int64_t limit, TimeDomain domain,
                  const Fire& fire) {
    while (!index.empty() && index.begin()->first <= limit) {
      auto [t, key] = *index.begin();
      index.erase(index.begin());
      backend_.set_current_key(key);
      state.remove(t);
      fire(key, t, domain);  // may register new timers, also at or before the limit
    }
  }

  Backend& backend_;
  std::function<std::int64_t()> processing_time_;
  MapState<std::int64_t, bool> event_;
  MapState<std::int64_t, bool> processing_;
  Index event_index_;
  Index processing_index_;
  std::int64_t watermark_ = no_timestamp;
};

}  // namespace ckpt
