// Restart strategies' decisions and the Supervisor, driven by a manual clock.
#include <ckpt/runtime/restart_strategy.hpp>
#include <ckpt/runtime/supervisor.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using tp = ckpt::Clock::time_point;

tp at(std::chrono::milliseconds ms) { return tp{} + ms; }

TEST(RestartStrategy, FixedDelayGivesUpAfterItsAttempts) {
  auto s = ckpt::restart::fixed_delay(3, 10s);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s->on_failure(at(1ms), at(0ms)), std::chrono::nanoseconds(10s));
  EXPECT_FALSE(s->on_failure(at(1ms), at(0ms)));
}

TEST(RestartStrategy, FailureRateCountsFailuresInTheInterval) {
  auto s = ckpt::restart::failure_rate(2, 1min, 5s);
  EXPECT_TRUE(s->on_failure(at(0ms), at(0ms)));
  EXPECT_TRUE(s->on_failure(at(10s), at(0ms)));
  EXPECT_FALSE(s->on_failure(at(20s), at(0ms)));  // a third within a minute
  auto t = ckpt::restart::failure_rate(2, 1min, 5s);
  EXPECT_TRUE(t->on_failure(at(0ms), at(0ms)));
  EXPECT_TRUE(t->on_failure(at(30s), at(0ms)));
  EXPECT_TRUE(t->on_failure(at(61s), at(0ms)));  // the first dropped out of the window
  EXPECT_EQ(t->on_failure(at(62s), at(0ms)), std::nullopt);
}

TEST(RestartStrategy, ExponentialDelayDoublesCapsAndResets) {
  auto s = ckpt::restart::exponential_delay(1s, 8s, 2.0, 1h, 0.0);
  std::vector<std::chrono::nanoseconds> delays;
  for (int i = 0; i < 6; ++i) delays.push_back(*s->on_failure(at(1s), at(0ms)));
  EXPECT_EQ(delays, (std::vector<std::chrono::nanoseconds>{1s, 2s, 4s, 8s, 8s, 8s}));
  // An attempt that ran an hour without failing starts over.
  EXPECT_EQ(s->on_failure(tp{} + 2h, tp{} + 1h), std::chrono::nanoseconds(1s));
  EXPECT_EQ(s->on_failure(tp{} + 2h, tp{} + 2h), std::chrono::nanoseconds(2s));
}

TEST(RestartStrategy, ExponentialJitterStaysWithinItsFraction) {
  auto s = ckpt::restart::exponential_delay(10s, 10s, 1.0, 1h, 0.2, /*seed=*/42);
  bool varied = false;
  std::optional<std::chrono::nanoseconds> first;
  for (int i = 0; i < 200; ++i) {
    const auto d = *s->on_failure(at(1s), at(0ms));
    EXPECT_GE(d, std::chrono::nanoseconds(8s));
    EXPECT_LE(d, std::chrono::nanoseconds(12s));
    if (first && d != *first) varied = true;
    first = first ? first : d;
  }
  EXPECT_TRUE(varied);
  EXPECT_THROW(ckpt::restart::exponential_delay(0s, 1s, 2.0, 1h), ckpt::ConfigError);
}

TEST(RestartStrategy, NoneNeverRestarts) { EXPECT_FALSE(ckpt::restart::none()->on_failure(at(0ms), at(0ms))); }

TEST(Supervisor, RestartsAfterTheStrategysDelayAndReturnsOnSuccess) {
  ckpt::ManualClock clock;
  ckpt::Supervisor supervisor(ckpt::restart::fixed_delay(5, 30s), clock);
  std::vector<std::uint32_t> attempts;
  std::vector<ckpt::Clock::time_point> started;
  std::jthread driver([&] {
    for (std::uint64_t i = 1; i <= 2; ++i) {
      clock.wait_for_sleeps(i);  // the supervisor waits out its i-th delay...
      clock.advance(30s);        // ...which the test lets pass
    }
  });
  supervisor.run([&](std::uint32_t attempt) {
    attempts.push_back(attempt);
    started.push_back(clock.now());
    if (attempt < 2) throw std::runtime_error("boom " + std::to_string(attempt));
  });
  EXPECT_EQ(attempts, (std::vector<std::uint32_t>{0, 1, 2}));
  EXPECT_EQ(started[1] - started[0], std::chrono::nanoseconds(30s));
  EXPECT_EQ(started[2] - started[1], std::chrono::nanoseconds(30s));
  ASSERT_EQ(supervisor.restarts().size(), 2u);
  EXPECT_EQ(supervisor.restarts()[1].error, "boom 1");
}

TEST(Supervisor, GivesUpWithTheLastError) {
  ckpt::ManualClock clock;
  ckpt::Supervisor supervisor(ckpt::restart::fixed_delay(1, 0s), clock);
  int runs = 0;
  try {
    supervisor.run([&](std::uint32_t attempt) { ++runs; throw std::runtime_error("failure " + std::to_string(attempt)); });
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "failure 1");
  }
  EXPECT_EQ(runs, 2);
}

TEST(Supervisor, StopEndsTheBackOffWait) {
  ckpt::ManualClock clock;
  ckpt::Supervisor supervisor(ckpt::restart::fixed_delay(5, 1h), clock);
  std::jthread stopper([&] {
    clock.wait_for_sleepers(1);
    supervisor.stop();
  });
  try {
    supervisor.run([](std::uint32_t) { throw std::runtime_error("down"); });
    FAIL();
  } catch (const ckpt::Error& e) {
    EXPECT_EQ(e.code(), ckpt::errc::cancelled);
    EXPECT_THAT(e.what(), HasSubstr("down"));
  }
}

}  // namespace
