// Timers (InternalTimerService) over either keyed backend, the same test
// bodies run against the heap backend and the RocksDB backend (typed
// tests): registration, deduplication, deletion, firing order with the key
// current, and timers surviving a snapshot and a restore at another
// parallelism, firing in order afterwards.
#include "backends.hpp"

#include <ckpt/state/timer_service.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using ::testing::ElementsAre;

struct Fired {
  std::string key;
  std::int64_t t;
  ckpt::TimeDomain domain;
  friend bool operator==(const Fired&, const Fired&) = default;
};

template <class Factory>
class BackendTimers : public ::testing::Test {
 protected:
  using Backend = typename Factory::Backend;
  using Timers = ckpt::InternalTimerService<std::string, Backend>;
  std::unique_ptr<Backend> make(ckpt::KeyGroupRange range = ckpt::KeyGroupRange::all(ckpt::test::backend_max_parallelism)) {
    return factory_.make(clock_, range);
  }
  /// A callback that records what fires and checks the key is current.
  typename Timers::Fire record(Backend& b, std::vector<Fired>& into) {
    return [&b, &into](const std::string& k, std::int64_t t, ckpt::TimeDomain d) {
      EXPECT_EQ(b.current_key(), k);  // the key is current when its timer fires
      into.push_back({k, t, d});
    };
  }

  ckpt::ManualClock clock_{0};
  Factory factory_;
};
TYPED_TEST_SUITE(BackendTimers, ckpt::test::Backends, ckpt::test::BackendName);

TYPED_TEST(BackendTimers, FireInTimestampOrderOncePerKeyAndTimestamp) {
  auto b = this->make();
  typename TestFixture::Timers timers(*b, [] { return std::int64_t{0}; });
  for (auto [k, t] : std::vector<std::pair<std::string, std::int64_t>>{
           {"a", 30}, {"b", 10}, {"a", 10}, {"a", 30}, {"c", 20}, {"d", 25}}) {
    b->set_current_key(k);
    timers.register_event_time_timer(t);
  }
  b->set_current_key("c");
  timers.delete_event_time_timer(20);
  timers.delete_event_time_timer(25);  // "d"'s timer, not "c"'s: nothing
  EXPECT_EQ(timers.size(), 4u);
  std::vector<Fired> fired;
  timers.advance_watermark(15, this->record(*b, fired));
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[0].t, 10);
  EXPECT_EQ(fired[1].t, 10);
  timers.advance_watermark(10, this->record(*b, fired));  // backwards: nothing
  timers.advance_watermark(100, this->record(*b, fired));
  ASSERT_EQ(fired.size(), 4u);
  EXPECT_EQ(fired[2], (Fired{"d", 25, ckpt::TimeDomain::event_time}));
  EXPECT_EQ(fired[3], (Fired{"a", 30, ckpt::TimeDomain::event_time}));
  EXPECT_EQ(timers.size(), 0u);
  EXPECT_EQ(timers.current_watermark(), 100);
  // Fired timers are gone from the state too.
  EXPECT_TRUE(b->keys("_timers_event_time").empty());
}

TYPED_TEST(BackendTimers, ProcessingTimeTimersAndTimersRegisteredWhileFiring) {
  auto b = this->make();
  typename TestFixture::Timers timers(*b, [&c = this->clock_] { return c.epoch_millis(); });
  b->set_current_key("k");
  timers.register_processing_time_timer(500);
  timers.register_processing_time_timer(200);
  timers.register_event_time_timer(200);  // another domain: not fired by processing time
  EXPECT_EQ(timers.next_processing_time(), 200);
  std::vector<Fired> fired;
  timers.advance_processing_time(300, [&](const std::string& k, std::int64_t t, ckpt::TimeDomain d) {
    fired.push_back({k, t, d});
    if (t == 200) timers.register_processing_time_timer(250);  // at or before the limit: fires now
  });
  EXPECT_THAT(fired, ElementsAre(Fired{"k", 200, ckpt::TimeDomain::processing_time},
                                 Fired{"k", 250, ckpt::TimeDomain::processing_time}));
  EXPECT_EQ(timers.next_processing_time(), 500);
  b->set_current_key("k");
  timers.delete_processing_time_timer(500);
  EXPECT_FALSE(timers.next_processing_time().has_value());
  EXPECT_EQ(timers.size(), 1u);
}

TYPED_TEST(BackendTimers, SurviveASnapshotAndARestoreAtParallelismThreeAndFireInOrder) {
  auto b = this->make();
  {
    typename TestFixture::Timers timers(*b, [] { return std::int64_t{0}; });
    for (int i = 0; i < 100; ++i) {
      b->set_current_key("key-" + std::to_string(i));
      timers.register_event_time_timer(1000 - 10 * i);  // registered in reverse order
      timers.register_processing_time_timer(i);
      if (i % 10 == 0) timers.delete_processing_time_timer(i);
    }
  }
  const auto snap = b->snapshot();
  std::vector<std::string> event_keys;
  std::size_t processing = 0;
  for (std::uint32_t i = 0; i < 3; ++i) {  // rescale 1 -> 3
    auto sub = this->make(ckpt::KeyGroupRange::for_subtask(ckpt::test::backend_max_parallelism, 3, i));
    sub->restore(snap);
    typename TestFixture::Timers timers(*sub, [] { return std::int64_t{0}; });
    std::vector<Fired> fired;
    timers.advance_watermark(2000, this->record(*sub, fired));
    ASSERT_FALSE(fired.empty()) << "subtask " << i;
    EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end(), [](const Fired& x, const Fired& y) { return x.t < y.t; }))
        << "subtask " << i;
    for (const auto& f : fired) {
      EXPECT_EQ(f.t, 1000 - 10 * std::stoll(f.key.substr(4))) << f.key;
      EXPECT_EQ(sub->key_group_of(f.key), ckpt::key_group_for(f.key, ckpt::test::backend_max_parallelism));
      EXPECT_TRUE(sub->key_groups().contains(sub->key_group_of(f.key))) << f.key;
      event_keys.push_back(f.key);
    }
    fired.clear();
    timers.advance_processing_time(1000, this->record(*sub, fired));
    for (const auto& f : fired) {
      EXPECT_EQ(f.t, std::stoll(f.key.substr(4))) << f.key;
      EXPECT_NE(f.t % 10, 0) << "deleted timer " << f.key << " fired";
    }
    processing += fired.size();
  }
  EXPECT_EQ(event_keys.size(), 100u);  // each timer once, on the subtask owning its key
  std::sort(event_keys.begin(), event_keys.end());
  EXPECT_EQ(std::unique(event_keys.begin(), event_keys.end()), event_keys.end());
  EXPECT_EQ(processing, 90u);
}

TYPED_TEST(BackendTimers, TheIndexIsRebuiltFromTheStateAndTheCurrentKeyKept) {
  auto b = this->make();
  typename TestFixture::Timers first(*b, [] { return std::int64_t{0}; });
  for (const std::string k : {"x", "y", "z"}) {
    b->set_current_key(k);
    first.register_event_time_timer(k == "y" ? 5 : 7);
  }
  b->set_current_key("current");
  typename TestFixture::Timers second(*b, [] { return std::int64_t{0}; });  // same state, index read from it
  EXPECT_EQ(b->current_key(), "current");
  const auto timers = second.timers(ckpt::TimeDomain::event_time);
  ASSERT_EQ(timers.size(), 3u);
  EXPECT_EQ(timers[0], (std::pair<std::int64_t, std::string>{5, "y"}));
  EXPECT_EQ(timers[1].first, 7);
  EXPECT_EQ(timers[2].first, 7);
}

}  // namespace
