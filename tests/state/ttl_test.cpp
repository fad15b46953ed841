// State TTL as Flink defines it, driven by a manual clock (no sleeping).
#include <ckpt/ckpt.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Update = ckpt::StateTtlConfig::UpdateType;
using Visibility = ckpt::StateTtlConfig::Visibility;

struct TtlFixture {
  ckpt::ManualClock clock{1'000'000};
  ckpt::KeyedStateBackend<std::string> backend{[this] {
    ckpt::KeyedStateBackendOptions o;
    o.clock = &clock;
    return o;
  }()};
};

template <class D>
D with_ttl(D d, Update u, Visibility v) {
  d.enable_time_to_live(ckpt::StateTtlConfig::of(100ms).with_update_type(u).with_visibility(v).with_incremental_cleanup(0));
  return d;
}

class ValueTtl : public ::testing::TestWithParam<std::tuple<Update, Visibility>> {};

TEST_P(ValueTtl, ExpiresPerUpdateTypeAndVisibility) {
  const auto [update, visibility] = GetParam();
  TtlFixture f;
  auto v = f.backend.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{"v", -1}, update, visibility));
  f.backend.set_current_key("k");
  v.update(1);
  f.clock.advance(60ms);
  EXPECT_EQ(v.get(), 1);  // alive; with on_read_and_write this read restarts the clock
  f.clock.advance(60ms);  // 120 ms after the write, 60 ms after the read
  if (update == Update::on_read_and_write) {
    EXPECT_EQ(v.get(), 1);
    f.clock.advance(100ms);
  }
  // Expired now.
  if (visibility == Visibility::return_expired_if_not_cleaned_up) {
    EXPECT_EQ(v.get(), 1);  // handed out once more...
  }
  EXPECT_FALSE(v.get());  // ...and cleaned up on that access
  EXPECT_EQ(v.value(), -1);
  EXPECT_EQ(f.backend.size("v"), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    AllCombinations, ValueTtl,
    ::testing::Combine(::testing::Values(Update::on_create_and_write, Update::on_read_and_write),
                       ::testing::Values(Visibility::never_return_expired, Visibility::return_expired_if_not_cleaned_up)),
    [](const auto& param_info) {
      return std::string(std::get<0>(param_info.param) == Update::on_create_and_write ? "OnCreateAndWrite" : "OnReadAndWrite") +
             (std::get<1>(param_info.param) == Visibility::never_return_expired ? "_NeverReturnExpired" : "_ReturnExpired");
    });

TEST(Ttl, ExpiryBoundaryIsLastAccessPlusTtl) {
  TtlFixture f;
  auto v = f.backend.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{"v"}, Update::on_create_and_write,
                                        Visibility::never_return_expired));
  f.backend.set_current_key("k");
  v.update(5);
  f.clock.advance(99ms);
  EXPECT_EQ(v.get(), 5);
  f.clock.advance(1ms);  // last access + ttl <= now: expired
  EXPECT_FALSE(v.get());
}

TEST(Ttl, WriteRestartsTheClock) {
  TtlFixture f;
  auto v = f.backend.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{"v"}, Update::on_create_and_write,
                                        Visibility::never_return_expired));
  f.backend.set_current_key("k");
  v.update(1);
  f.clock.advance(80ms);
  v.update(2);
  f.clock.advance(80ms);
  EXPECT_EQ(v.get(), 2);
}

TEST(Ttl, ListStateExpiresPerElement) {
  TtlFixture f;
  auto l = f.backend.get_list_state(with_ttl(ckpt::ListStateDescriptor<int>{"l"}, Update::on_create_and_write,
                                             Visibility::never_return_expired));
  f.backend.set_current_key("k");
  l.add(1);
  f.clock.advance(50ms);
  l.add(2);
  f.clock.advance(60ms);  // 1 expired (110 ms), 2 alive (60 ms)
  EXPECT_THAT(l.get(), ElementsAre(2));
  f.clock.advance(50ms);
  EXPECT_THAT(l.get(), IsEmpty());
  EXPECT_EQ(f.backend.size("l"), 0u);
}

TEST(Ttl, ListStateReturnExpiredOnceThenGone) {
  TtlFixture f;
  auto l = f.backend.get_list_state(with_ttl(ckpt::ListStateDescriptor<int>{"l"}, Update::on_create_and_write,
                                             Visibility::return_expired_if_not_cleaned_up));
  f.backend.set_current_key("k");
  l.add_all({1, 2});
  f.clock.advance(200ms);
  EXPECT_THAT(l.get(), ElementsAre(1, 2));
  EXPECT_THAT(l.get(), IsEmpty());
}

TEST(Ttl, ListStateReadRefreshes) {
  TtlFixture f;
  auto l = f.backend.get_list_state(with_ttl(ckpt::ListStateDescriptor<int>{"l"}, Update::on_read_and_write,
                                             Visibility::never_return_expired));
  f.backend.set_current_key("k");
  l.add(1);
  for (int i = 0; i < 5; ++i) {
    f.clock.advance(90ms);
    EXPECT_THAT(l.get(), ElementsAre(1));
  }
}

TEST(Ttl, MapStateExpiresPerEntry) {
  for (auto visibility : {Visibility::never_return_expired, Visibility::return_expired_if_not_cleaned_up}) {
    TtlFixture f;
    auto m = f.backend.get_map_state(
        with_ttl(ckpt::MapStateDescriptor<std::string, int>{"m"}, Update::on_create_and_write, visibility));
    f.backend.set_current_key("k");
    m.put("old", 1);
    f.clock.advance(70ms);
    m.put("new", 2);
    f.clock.advance(40ms);  // "old" expired
    EXPECT_EQ(m.size(), 1u);
    EXPECT_EQ(m.get("new"), 2);
    if (visibility == Visibility::return_expired_if_not_cleaned_up) {
      EXPECT_EQ(m.get("old"), 1);
    }
    EXPECT_FALSE(m.get("old"));
    EXPECT_FALSE(m.contains("old"));
    f.clock.advance(100ms);
    if (visibility == Visibility::return_expired_if_not_cleaned_up) {
      EXPECT_EQ(m.entries().size(), 1u);
    }
    EXPECT_TRUE(m.entries().empty());
    EXPECT_EQ(f.backend.size("m"), 0u);
  }
}

TEST(Ttl, ReducingAndAggregatingStateExpire) {
  TtlFixture f;
  auto r = f.backend.get_reducing_state(with_ttl(ckpt::ReducingStateDescriptor<int>{"r", [](int a, int b) { return a + b; }},
                                                 Update::on_create_and_write, Visibility::never_return_expired));
  f.backend.set_current_key("k");
  r.add(1);
  r.add(2);
  EXPECT_EQ(r.get(), 3);
  f.clock.advance(100ms);
  r.add(10);  // the expired sum is not combined with
  EXPECT_EQ(r.get(), 10);
}

TEST(Ttl, ExpiredEntriesAreLeftOutOfSnapshots) {
  TtlFixture f;
  auto v = f.backend.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{"v"}, Update::on_create_and_write,
                                        Visibility::return_expired_if_not_cleaned_up));
  f.backend.set_current_key("old");
  v.update(1);
  f.clock.advance(80ms);
  f.backend.set_current_key("young");
  v.update(2);
  f.clock.advance(30ms);  // "old" expired but never accessed
  const auto snap = f.backend.snapshot();
  TtlFixture g;
  g.clock.set_epoch_millis(f.clock.epoch_millis());
  auto w = g.backend.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{"v"}, Update::on_create_and_write,
                                        Visibility::return_expired_if_not_cleaned_up));
  g.backend.restore(snap);
  EXPECT_EQ(g.backend.size("v"), 1u);
  g.backend.set_current_key("young");
  EXPECT_EQ(w.get(), 2);
}

TEST(Ttl, IncrementalCleanupRemovesExpiredEntriesInTheBackground) {
  TtlFixture f;
  ckpt::ValueStateDescriptor<int> d{"v"};
  d.enable_time_to_live(ckpt::StateTtlConfig::of(100ms).with_incremental_cleanup(5));
  auto v = f.backend.get_state(d);
  for (int i = 0; i < 1000; ++i) {
    f.backend.set_current_key("k" + std::to_string(i));
    v.update(i);
  }
  f.clock.advance(200ms);
  f.backend.set_current_key("probe");
  for (int i = 0; i < 1000; ++i) (void)v.get();  // accesses to one key sweep the others
  EXPECT_EQ(f.backend.size("v"), 0u);
}

TEST(Ttl, SwitchingTtlOnOrOffMigrates) {
  TtlFixture f;
  auto plain = f.backend.get_state(ckpt::ValueStateDescriptor<int>{"v"});
  f.backend.set_current_key("k");
  plain.update(7);
  const auto without_ttl = f.backend.snapshot();

  // On: entries written without TTL start their time-to-live at the restore.
  TtlFixture g;
  g.clock.set_epoch_millis(5'000'000);
  g.backend.restore(without_ttl);
  auto timed = g.backend.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{"v"}, Update::on_create_and_write,
                                            Visibility::never_return_expired));
  g.backend.set_current_key("k");
  g.clock.advance(99ms);
  EXPECT_EQ(timed.get(), 7);
  const auto with_ttl_snap = g.backend.snapshot();
  g.clock.advance(1ms);
  EXPECT_FALSE(timed.get());

  // Off: the timestamps are dropped and the value stays.
  TtlFixture h;
  h.backend.restore(with_ttl_snap);
  auto untimed = h.backend.get_state(ckpt::ValueStateDescriptor<int>{"v"});
  h.backend.set_current_key("k");
  EXPECT_EQ(untimed.get(), 7);
}

TEST(Ttl, ConfigIsValidated) {
  ckpt::ValueStateDescriptor<int> d{"v"};
  EXPECT_THROW(d.enable_time_to_live(ckpt::StateTtlConfig::of(0ms)), ckpt::ConfigError);
}

}  // namespace
