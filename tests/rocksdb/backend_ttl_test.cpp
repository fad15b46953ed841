// State TTL, the same test bodies run against the heap backend and the
// RocksDB backend (typed tests), driven by a manual clock (no sleeping, no
// timing assertions): expiry per state kind, update type and visibility,
// cleanup in snapshots, switching TTL on and off through a snapshot.
#include "backends.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Update = ckpt::StateTtlConfig::UpdateType;
using Visibility = ckpt::StateTtlConfig::Visibility;

template <class D>
D with_ttl(D d, Update u, Visibility v, bool cleanup_in_snapshot = true) {
  d.enable_time_to_live(ckpt::StateTtlConfig::of(100ms)
                            .with_update_type(u)
                            .with_visibility(v)
                            .with_cleanup_in_snapshot(cleanup_in_snapshot)
                            .with_incremental_cleanup(0));
  return d;
}

std::shared_ptr<const ckpt::AggregateFunction<int, int, int>> sum_function() {
  return ckpt::make_aggregate_function<int, int, int>(
      [] { return 0; }, [](const int& v, int acc) { return acc + v; }, [](const int& acc) { return acc; },
      [](int x, int y) { return x + y; });
}

template <class Factory>
class BackendTtl : public ::testing::Test {
 protected:
  using Backend = typename Factory::Backend;
  std::unique_ptr<Backend> make() { return factory_.make(clock_); }

  ckpt::ManualClock clock_{1'000'000};
  Factory factory_;
  std::unique_ptr<Backend> backend_ = make();
};
TYPED_TEST_SUITE(BackendTtl, ckpt::test::Backends, ckpt::test::BackendName);

TYPED_TEST(BackendTtl, ValueExpiresPerUpdateTypeAndVisibility) {
  int round = 0;
  for (const auto update : {Update::on_create_and_write, Update::on_read_and_write}) {
    for (const auto visibility : {Visibility::never_return_expired, Visibility::return_expired_if_not_cleaned_up}) {
      SCOPED_TRACE(testing::Message() << "update type " << static_cast<int>(update) << ", visibility "
                                      << static_cast<int>(visibility));
      auto& b = *this->backend_;
      const std::string name = "v" + std::to_string(round++);
      auto v = b.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{name, -1}, update, visibility));
      b.set_current_key("k");
      v.update(1);
      this->clock_.advance(60ms);
      EXPECT_EQ(v.get(), 1);  // alive; with on_read_and_write this read restarts the clock
      this->clock_.advance(60ms);  // 120 ms after the write, 60 ms after the read
      if (update == Update::on_read_and_write) {
        EXPECT_EQ(v.get(), 1);
        this->clock_.advance(100ms);
      }
      // Expired now.
      if (visibility == Visibility::return_expired_if_not_cleaned_up) {
        EXPECT_EQ(v.get(), 1);  // handed out once more...
      }
      EXPECT_FALSE(v.get());  // ...and removed on that access
      EXPECT_EQ(v.value(), -1);
      EXPECT_EQ(b.size(name), 0u);
    }
  }
}

TYPED_TEST(BackendTtl, ExpiryBoundaryIsLastAccessPlusTtlAndAWriteRestartsTheClock) {
  auto& b = *this->backend_;
  auto v = b.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{"v"}, Update::on_create_and_write,
                                Visibility::never_return_expired));
  b.set_current_key("k");
  v.update(5);
  this->clock_.advance(99ms);
  EXPECT_EQ(v.get(), 5);  // a read does not restart the clock (on_create_and_write)
  this->clock_.advance(1ms);  // last access + ttl <= now: expired
  EXPECT_FALSE(v.get());

  v.update(1);
  this->clock_.advance(80ms);
  v.update(2);
  this->clock_.advance(80ms);
  EXPECT_EQ(v.get(), 2);
}

TYPED_TEST(BackendTtl, ListStateExpiresPerElement) {
  auto& b = *this->backend_;
  auto l = b.get_list_state(with_ttl(ckpt::ListStateDescriptor<int>{"l"}, Update::on_create_and_write,
                                     Visibility::never_return_expired));
  b.set_current_key("k");
  l.add(1);
  this->clock_.advance(50ms);
  l.add_all({2, 3});
  this->clock_.advance(60ms);  // 1 expired (110 ms), 2 and 3 alive (60 ms)
  EXPECT_THAT(l.get(), ElementsAre(2, 3));
  EXPECT_EQ(b.size("l"), 1u);
  this->clock_.advance(50ms);
  EXPECT_THAT(l.get(), IsEmpty());
  EXPECT_EQ(b.size("l"), 0u);  // removed on that access
  l.update({7});
  this->clock_.advance(99ms);
  EXPECT_THAT(l.get(), ElementsAre(7));
}

TYPED_TEST(BackendTtl, ListStateReturnsExpiredOnceThenGone) {
  auto& b = *this->backend_;
  auto l = b.get_list_state(with_ttl(ckpt::ListStateDescriptor<int>{"l"}, Update::on_create_and_write,
                                     Visibility::return_expired_if_not_cleaned_up));
  b.set_current_key("k");
  l.add_all({1, 2});
  this->clock_.advance(200ms);
  EXPECT_THAT(l.get(), ElementsAre(1, 2));
  EXPECT_THAT(l.get(), IsEmpty());
}

TYPED_TEST(BackendTtl, ListStateReadRefreshesOnReadAndWrite) {
  auto& b = *this->backend_;
  auto l = b.get_list_state(with_ttl(ckpt::ListStateDescriptor<int>{"l"}, Update::on_read_and_write,
                                     Visibility::never_return_expired));
  b.set_current_key("k");
  l.add(1);
  for (int i = 0; i < 5; ++i) {
    this->clock_.advance(90ms);
    EXPECT_THAT(l.get(), ElementsAre(1));
  }
  this->clock_.advance(100ms);
  EXPECT_THAT(l.get(), IsEmpty());
}

TYPED_TEST(BackendTtl, MapStateExpiresPerEntry) {
  int round = 0;
  for (auto visibility : {Visibility::never_return_expired, Visibility::return_expired_if_not_cleaned_up}) {
    SCOPED_TRACE(testing::Message() << "visibility " << static_cast<int>(visibility));
    auto& b = *this->backend_;
    const std::string name = "m" + std::to_string(round++);
    auto m = b.get_map_state(
        with_ttl(ckpt::MapStateDescriptor<std::string, int>{name}, Update::on_create_and_write, visibility));
    b.set_current_key("k");
    m.put("old", 1);
    this->clock_.advance(70ms);
    m.put("new", 2);
    this->clock_.advance(40ms);  // "old" expired
    EXPECT_EQ(m.size(), 1u);
    EXPECT_EQ(m.get("new"), 2);
    if (visibility == Visibility::return_expired_if_not_cleaned_up) {
      EXPECT_EQ(m.get("old"), 1);
    }
    EXPECT_FALSE(m.get("old"));
    EXPECT_FALSE(m.contains("old"));
    this->clock_.advance(100ms);
    if (visibility == Visibility::return_expired_if_not_cleaned_up) {
      EXPECT_EQ(m.entries().size(), 1u);
    }
    EXPECT_TRUE(m.entries().empty());
    EXPECT_EQ(b.size(name), 0u);
  }
}

TYPED_TEST(BackendTtl, MapStateReadRefreshesOnReadAndWrite) {
  auto& b = *this->backend_;
  auto m = b.get_map_state(with_ttl(ckpt::MapStateDescriptor<std::string, int>{"m"}, Update::on_read_and_write,
                                    Visibility::never_return_expired));
  b.set_current_key("k");
  m.put("got", 1);
  m.put("walked", 2);
  m.put("left", 3);
  this->clock_.advance(90ms);
  EXPECT_EQ(m.get("got"), 1);  // restarts "got" only
  this->clock_.advance(20ms);  // "walked" and "left" expired
  EXPECT_EQ(m.entries(), (std::vector<std::pair<std::string, int>>{{"got", 1}}));
  m.put("walked", 4);
  this->clock_.advance(90ms);
  std::map<std::string, int> seen;
  m.for_each([&](const std::string& k, const int& v) { seen[k] = v; });  // restarts both
  EXPECT_EQ(seen, (std::map<std::string, int>{{"got", 1}, {"walked", 4}}));
  this->clock_.advance(90ms);
  EXPECT_EQ(m.size(), 2u);
  EXPECT_TRUE(m.remove("walked"));
  EXPECT_EQ(m.keys(), std::vector<std::string>{"got"});
}

TYPED_TEST(BackendTtl, ReducingAndAggregatingStateExpire) {
  auto& b = *this->backend_;
  auto r = b.get_reducing_state(with_ttl(ckpt::ReducingStateDescriptor<int>{"r", [](int x, int y) { return x + y; }},
                                         Update::on_create_and_write, Visibility::never_return_expired));
  auto a = b.get_aggregating_state(with_ttl(ckpt::AggregatingStateDescriptor<int, int, int>{"a", sum_function()},
                                            Update::on_read_and_write, Visibility::never_return_expired));
  b.set_current_key("k");
  r.add(1);
  r.add(2);
  a.add(1);
  a.add(2);
  EXPECT_EQ(r.get(), 3);
  this->clock_.advance(60ms);
  EXPECT_EQ(a.get(), 3);  // restarts the aggregate (on_read_and_write), not the sum
  this->clock_.advance(40ms);
  r.add(10);  // the expired sum is not combined with
  EXPECT_EQ(r.get(), 10);
  a.add(10);  // alive: 60 ms after the read
  EXPECT_EQ(a.get(), 13);
  this->clock_.advance(100ms);
  EXPECT_FALSE(r.get());
  EXPECT_FALSE(a.get());
  EXPECT_EQ(b.size("r"), 0u);
  EXPECT_EQ(b.size("a"), 0u);
}

TYPED_TEST(BackendTtl, ExpiredEntriesAreLeftOutOfSnapshotsUnlessAskedToKeepThem) {
  for (const bool cleanup : {true, false}) {
    SCOPED_TRACE(testing::Message() << "cleanup_in_snapshot " << cleanup);
    auto b = this->make();
    const auto declare = [&](auto& backend) {
      return std::make_tuple(
          backend.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{"v"}, Update::on_create_and_write,
                                     Visibility::return_expired_if_not_cleaned_up, cleanup)),
          backend.get_list_state(with_ttl(ckpt::ListStateDescriptor<int>{"l"}, Update::on_create_and_write,
                                          Visibility::return_expired_if_not_cleaned_up, cleanup)),
          backend.get_map_state(with_ttl(ckpt::MapStateDescriptor<int, int>{"m"}, Update::on_create_and_write,
                                         Visibility::return_expired_if_not_cleaned_up, cleanup)));
    };
    auto [v, l, m] = declare(*b);
    b->set_current_key("old");
    v.update(1);
    l.add(1);
    m.put(1, 1);
    this->clock_.advance(80ms);
    b->set_current_key("young");
    v.update(2);
    l.add(2);
    m.put(2, 2);
    b->set_current_key("old");
    l.add(3);  // "old" keeps one live element and one live entry
    m.put(3, 3);
    this->clock_.advance(30ms);  // "old"'s first value, element and entry expired, never accessed
    const auto snap = b->snapshot();

    auto restored = this->make();
    auto [rv, rl, rm] = declare(*restored);
    restored->restore(snap);
    EXPECT_EQ(restored->size("v"), cleanup ? 1u : 2u);
    EXPECT_EQ(restored->size("l"), 2u);
    restored->set_current_key("young");
    EXPECT_EQ(rv.get(), 2);
    restored->set_current_key("old");
    // Without the cleanup the expired value is restored and handed out once more.
    EXPECT_EQ(rv.get(), cleanup ? std::nullopt : std::optional<int>(1));
    EXPECT_EQ(rl.get(), cleanup ? std::vector<int>({3}) : std::vector<int>({1, 3}));
    EXPECT_EQ(rm.entries().size(), cleanup ? 1u : 2u);
  }
}

TYPED_TEST(BackendTtl, SwitchingTtlOnOrOffMigratesThroughASnapshot) {
  auto& b = *this->backend_;
  auto plain = b.get_state(ckpt::ValueStateDescriptor<int>{"v"});
  auto plain_map = b.get_map_state(ckpt::MapStateDescriptor<std::string, int>{"m"});
  b.set_current_key("k");
  plain.update(7);
  plain_map.put("x", 8);
  const auto without_ttl = b.snapshot();

  // On: entries written without TTL start their time-to-live at the restore.
  this->clock_.set_epoch_millis(5'000'000);
  auto timed_backend = this->make();
  timed_backend->restore(without_ttl);
  auto timed = timed_backend->get_state(
      with_ttl(ckpt::ValueStateDescriptor<int>{"v"}, Update::on_create_and_write, Visibility::never_return_expired));
  auto timed_map = timed_backend->get_map_state(with_ttl(ckpt::MapStateDescriptor<std::string, int>{"m"},
                                                         Update::on_create_and_write, Visibility::never_return_expired));
  timed_backend->set_current_key("k");
  this->clock_.advance(99ms);
  EXPECT_EQ(timed.get(), 7);
  EXPECT_EQ(timed_map.get("x"), 8);
  const auto with_ttl_snap = timed_backend->snapshot();
  this->clock_.advance(1ms);
  EXPECT_FALSE(timed.get());
  EXPECT_FALSE(timed_map.get("x"));

  // Off: the timestamps are dropped and the values stay.
  auto untimed_backend = this->make();
  untimed_backend->restore(with_ttl_snap);
  auto untimed = untimed_backend->get_state(ckpt::ValueStateDescriptor<int>{"v"});
  auto untimed_map = untimed_backend->get_map_state(ckpt::MapStateDescriptor<std::string, int>{"m"});
  untimed_backend->set_current_key("k");
  this->clock_.advance(std::chrono::hours(1));
  EXPECT_EQ(untimed.get(), 7);
  EXPECT_EQ(untimed_map.get("x"), 8);
}

TYPED_TEST(BackendTtl, AStateIsDeclaredWithTtlOrWithoutItNotBoth) {
  auto& b = *this->backend_;
  (void)b.get_state(ckpt::ValueStateDescriptor<int>{"v"});
  EXPECT_THROW((void)b.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{"v"}, Update::on_create_and_write,
                                          Visibility::never_return_expired)),
               ckpt::StateError);
  (void)b.get_list_state(
      with_ttl(ckpt::ListStateDescriptor<int>{"l"}, Update::on_create_and_write, Visibility::never_return_expired));
  (void)b.get_list_state(
      with_ttl(ckpt::ListStateDescriptor<int>{"l"}, Update::on_create_and_write, Visibility::never_return_expired));
  EXPECT_THROW((void)b.get_list_state(ckpt::ListStateDescriptor<int>{"l"}), ckpt::StateError);
}

TYPED_TEST(BackendTtl, TtlStatesAreDescribedAsOnTheHeapBackend) {
  // The same StateMeta (ttl flag, TtlValue's encoding) on either backend.
  ckpt::KeyedStateBackendOptions o;
  o.max_parallelism = ckpt::test::backend_max_parallelism;
  o.clock = &this->clock_;
  ckpt::KeyedStateBackend<std::string> heap(o);
  const auto declare = [&](auto& backend) {
    (void)backend.get_state(with_ttl(ckpt::ValueStateDescriptor<std::int64_t>{"v"}, Update::on_create_and_write,
                                     Visibility::never_return_expired));
    (void)backend.get_list_state(with_ttl(ckpt::ListStateDescriptor<std::int64_t>{"l"}, Update::on_create_and_write,
                                          Visibility::never_return_expired));
    (void)backend.get_map_state(with_ttl(ckpt::MapStateDescriptor<std::int64_t, std::int64_t>{"m"},
                                         Update::on_create_and_write, Visibility::never_return_expired));
  };
  declare(heap);
  declare(*this->backend_);
  const auto ours = this->backend_->snapshot();
  const auto theirs = heap.snapshot();
  ASSERT_EQ(ours.states.size(), 3u);
  EXPECT_EQ(ours.states, theirs.states);
  for (const auto& s : ours.states) EXPECT_TRUE(s.ttl) << s.name;
}

}  // namespace
