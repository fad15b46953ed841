// Timers as keyed state: ordering, deduplication, deletion, and surviving a
// snapshot, a restore and a rescale.
#include <ckpt/state/timer_service.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using ::testing::ElementsAre;

struct Fired {
  std::string key;
  std::int64_t t;
  friend bool operator==(const Fired&, const Fired&) = default;
};

TEST(Timers, FireInTimestampOrderOncePerKeyAndTimestamp) {
  ckpt::KeyedStateBackend<std::string> b;
  std::int64_t now = 0;
  ckpt::InternalTimerService<std::string> timers(b, [&] { return now; });
  for (auto [k, t] : std::vector<std::pair<std::string, std::int64_t>>{{"a", 30}, {"b", 10}, {"a", 10}, {"a", 30}, {"c", 20}}) {
    b.set_current_key(k);
    timers.register_event_time_timer(t);
  }
  b.set_current_key("c");
  timers.delete_event_time_timer(20);
  EXPECT_EQ(timers.size(), 3u);
  std::vector<Fired> fired;
  timers.advance_watermark(15, [&](const std::string& k, std::int64_t t, ckpt::TimeDomain) {
    EXPECT_EQ(b.current_key(), k);  // the key is current when the timer fires
    fired.push_back({k, t});
  });
  EXPECT_EQ(fired.size(), 2u);
  timers.advance_watermark(100, [&](const std::string& k, std::int64_t t, ckpt::TimeDomain) { fired.push_back({k, t}); });
  EXPECT_EQ(fired.back(), (Fired{"a", 30}));
  EXPECT_EQ(fired.size(), 3u);
  EXPECT_EQ(timers.current_watermark(), 100);
}

TEST(Timers, ProcessingTimeTimers) {
  ckpt::KeyedStateBackend<std::string> b;
  ckpt::InternalTimerService<std::string> timers(b, [] { return 0; });
  b.set_current_key("k");
  timers.register_processing_time_timer(500);
  timers.register_processing_time_timer(200);
  EXPECT_EQ(timers.next_processing_time(), 200);
  std::vector<std::int64_t> fired;
  timers.advance_processing_time(300, [&](const std::string&, std::int64_t t, ckpt::TimeDomain d) {
    EXPECT_EQ(d, ckpt::TimeDomain::processing_time);
    fired.push_back(t);
  });
  EXPECT_THAT(fired, ElementsAre(200));
  EXPECT_EQ(timers.next_processing_time(), 500);
}

TEST(Timers, AreCheckpointedAndFireAfterARestoreAndARescale) {
  ckpt::KeyedStateBackend<std::string> b;
  {
    ckpt::InternalTimerService<std::string> timers(b, [] { return 0; });
    for (int i = 0; i < 100; ++i) {
      b.set_current_key("key-" + std::to_string(i));
      timers.register_event_time_timer(i);
    }
  }
  const auto snap = b.snapshot();
  std::vector<std::string> fired;
  for (std::uint32_t i = 0; i < 3; ++i) {  // rescale 1 -> 3
    ckpt::KeyedStateBackend<std::string> sub(ckpt::KeyedStateBackendOptions::for_subtask(i, 3));
    sub.restore(snap);
    ckpt::InternalTimerService<std::string> timers(sub, [] { return 0; });
    timers.advance_watermark(1000, [&](const std::string& k, std::int64_t t, ckpt::TimeDomain) {
      EXPECT_EQ(k, "key-" + std::to_string(t));
      fired.push_back(k);
    });
    timers.advance_watermark(2000, [&](const std::string& k, std::int64_t, ckpt::TimeDomain) { fired.push_back(k); });
  }
  EXPECT_EQ(fired.size(), 100u);  // each timer once, on the subtask owning its key
  std::sort(fired.begin(), fired.end());
  EXPECT_EQ(std::unique(fired.begin(), fired.end()), fired.end());
}

}  // namespace
