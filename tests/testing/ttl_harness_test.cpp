// State TTL through the keyed harness, driven by its manual clock: every
// combination of update type and visibility for value, list and map state;
// last-access times through a snapshot, a restore and a rescale; expired
// entries left out of snapshots; switching TTL on and off across a restore.
#include <ckpt/testing/gtest.hpp>
#include <ckpt/testing/keyed_process_function_test_harness.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <tuple>
#include <vector>
#include "keyed_backend_under_test.hpp"

namespace {
namespace ttl_harness {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using Update = ckpt::StateTtlConfig::UpdateType;
using Visibility = ckpt::StateTtlConfig::Visibility;

enum class Kind { value, list, map };

struct Cmd {
  std::string key;
  char op = 'r';  // 'w': write `value`, 'r': read and emit what is there
  int value = 0;
};

/// One state named "v" of `kind`, with or without TTL; writes and reads on command.
class TtlProbe final : public ckpt::KeyedProcessFunction<std::string, Cmd, std::string> {
 public:
  TtlProbe(Kind kind, std::optional<ckpt::StateTtlConfig> ttl) : kind_(kind), ttl_(ttl) {}

  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    auto& backend = ctx.keyed_state_backend<std::string>();
    const auto with_ttl = [&](auto descriptor) {
      if (ttl_) descriptor.enable_time_to_live(*ttl_);
      return descriptor;
    };
    switch (kind_) {
      case Kind::value: value_ = backend.get_state(with_ttl(ckpt::ValueStateDescriptor<int>{"v"})); break;
      case Kind::list: list_ = backend.get_list_state(with_ttl(ckpt::ListStateDescriptor<int>{"v"})); break;
      case Kind::map: map_ = backend.get_map_state(with_ttl(ckpt::MapStateDescriptor<std::string, int>{"v"})); break;
    }
  }

  void process_element(const Cmd& c, Context&, ckpt::Collector<std::string>& out) override {
    if (c.op == 'w') {
      switch (kind_) {
        case Kind::value: value_.update(c.value); break;
        case Kind::list: list_.add(c.value); break;
        case Kind::map: map_.put("e", c.value); break;
      }
      return;
    }
    std::string seen;
    switch (kind_) {
      case Kind::value:
        if (const auto v = value_.get()) seen = std::to_string(*v);
        break;
      case Kind::list:
        for (const int v : list_.get()) seen += (seen.empty() ? "" : ",") + std::to_string(v);
        break;
      case Kind::map:
        if (const auto v = map_.get("e")) seen = std::to_string(*v);
        break;
    }
    out.collect(seen.empty() ? "none" : seen);
  }

 private:
  Kind kind_;
  std::optional<ckpt::StateTtlConfig> ttl_;
  ckpt::ValueState<int> value_;
  ckpt::ListState<int> list_;
  ckpt::MapState<std::string, int> map_;
};

using Harness = ckpt::KeyedProcessFunctionTestHarness<TtlProbe>;
constexpr std::int64_t start = 1'000'000;

ckpt::StateTtlConfig ttl_of(Update u, Visibility v) {
  // No background cleanup, so only the accesses of the test touch an entry.
  return ckpt::StateTtlConfig::of(100ms).with_update_type(u).with_visibility(v).with_incremental_cleanup(0).cleanup_in_rocksdb_compact_filter(0);
}

Harness probe(Kind kind, std::optional<ckpt::StateTtlConfig> ttl, std::int64_t now = start) {
  return Harness([kind, ttl] { return std::make_unique<TtlProbe>(kind, ttl); }, [](const Cmd& c) { return c.key; },
                 ckpt::test::on_backend(ckpt::TestHarnessOptions::defaults().with_processing_time(now)));
}

void write(Harness& h, int value, const std::string& key = "k") { h.process_element({key, 'w', value}); }
std::string read(Harness& h, const std::string& key = "k") {
  h.process_element({key, 'r', 0});
  const auto out = h.take_output_values();
  return out.size() == 1 ? out[0] : "<" + std::to_string(out.size()) + " outputs>";
}

/// After expiry: handed out once more with return_expired_if_not_cleaned_up, then gone.
void expect_expired(Harness& h, Visibility visibility, const std::string& value, const std::string& key = "k") {
  if (visibility == Visibility::return_expired_if_not_cleaned_up) {
    EXPECT_EQ(read(h, key), value) << key;
  }
  EXPECT_EQ(read(h, key), "none") << key;
}

const char* name(Kind k) { return k == Kind::value ? "Value" : k == Kind::list ? "List" : "Map"; }

class TtlThroughHarness : public ::testing::TestWithParam<std::tuple<Kind, Update, Visibility>> {};

TEST_P(TtlThroughHarness, ExpiresByUpdateTypeAndVisibility) {
  const auto [kind, update, visibility] = GetParam();
  auto h = probe(kind, ttl_of(update, visibility));
  write(h, 1);
  h.advance_processing_time(60ms);
  EXPECT_EQ(read(h), "1");  // alive; with on_read_and_write this read restarts its time
  h.advance_processing_time(60ms);  // 120 ms after the write, 60 after the read
  if (update == Update::on_read_and_write) {
    EXPECT_EQ(read(h), "1");
    h.advance_processing_time(100ms);
  }
  expect_expired(h, visibility, "1");
  EXPECT_EQ(h.keyed_state_backend().size("v"), 0u);
  write(h, 2);  // a new entry starts afresh
  h.advance_processing_time(99ms);
  EXPECT_EQ(read(h), "2");
}

TEST_P(TtlThroughHarness, LastAccessTimesAreInTheSnapshotAndKeptByARestore) {
  const auto [kind, update, visibility] = GetParam();
  auto h = probe(kind, ttl_of(update, visibility));
  write(h, 1);                      // at 0
  h.advance_processing_time(60ms);
  EXPECT_EQ(read(h), "1");          // at 60: on_read_and_write restarts the time here
  const auto checkpoint = h.snapshot(1);
  h.advance_processing_time(30ms);
  h.restore(checkpoint);            // at 90: a restore does not restart anyone's time
  h.advance_processing_time(60ms);  // at 150
  if (update == Update::on_create_and_write) {
    expect_expired(h, visibility, "1");  // 150 after the write
  } else {
    EXPECT_EQ(read(h), "1");  // 90 after the read at 60, which the snapshot kept
    h.advance_processing_time(100ms);
    expect_expired(h, visibility, "1");
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryCombination, TtlThroughHarness,
    ::testing::Combine(::testing::Values(Kind::value, Kind::list, Kind::map),
                       ::testing::Values(Update::on_create_and_write, Update::on_read_and_write),
                       ::testing::Values(Visibility::never_return_expired, Visibility::return_expired_if_not_cleaned_up)),
    [](const auto& param_info) {
      return std::string(name(std::get<0>(param_info.param))) +
             (std::get<1>(param_info.param) == Update::on_create_and_write ? "_OnCreateAndWrite" : "_OnReadAndWrite") +
             (std::get<2>(param_info.param) == Visibility::never_return_expired ? "_NeverReturnExpired" : "_ReturnExpired");
    });

class TtlPerKind : public ::testing::TestWithParam<Kind> {};

TEST_P(TtlPerKind, ExpiredEntriesAreLeftOutOfTheSnapshot) {
  auto h = probe(GetParam(), ttl_of(Update::on_create_and_write, Visibility::return_expired_if_not_cleaned_up));
  write(h, 1, "old");
  h.advance_processing_time(80ms);
  write(h, 2, "young");
  h.advance_processing_time(30ms);  // "old" expired, never accessed since
  h.restore(h.snapshot(1));
  EXPECT_THAT(h.keyed_state_backend().keys("v"), ElementsAre("young"));
  EXPECT_EQ(read(h, "old"), "none");  // not even returned once: it is gone
  EXPECT_EQ(read(h, "young"), "2");
}

TEST_P(TtlPerKind, ARescaleKeepsEveryEntrysTime) {
  const auto kind = GetParam();
  auto one = probe(kind, ttl_of(Update::on_create_and_write, Visibility::never_return_expired));
  for (int i = 0; i < 20; ++i) {
    write(one, i, "k" + std::to_string(i));  // key i written at 10 * i
    one.advance_processing_time(10ms);
  }
  auto two = one.rescale(one.snapshot(1), 2);  // at 200
  for (auto& h : two) h.advance_processing_time(50ms);  // at 250: keys written at 150 or before expired
  for (int i = 0; i < 20; ++i) {
    const Cmd probe_cmd{"k" + std::to_string(i), 'r', 0};
    auto& h = two[two[0].subtask_for(probe_cmd)];
    EXPECT_EQ(read(h, probe_cmd.key), i * 10 <= 150 ? "none" : std::to_string(i)) << probe_cmd.key;
  }
}

TEST_P(TtlPerKind, SwitchingTtlOnStartsEveryEntrysTimeAtTheRestore) {
  const auto kind = GetParam();
  auto plain = probe(kind, std::nullopt);
  write(plain, 7);
  plain.advance_processing_time(1h);
  const auto checkpoint = plain.snapshot(1);
  auto timed = probe(kind, ttl_of(Update::on_create_and_write, Visibility::never_return_expired), plain.processing_time());
  timed.restore(checkpoint);
  timed.advance_processing_time(99ms);
  EXPECT_EQ(read(timed), "7");
  timed.advance_processing_time(1ms);
  EXPECT_EQ(read(timed), "none");
}

TEST_P(TtlPerKind, SwitchingTtlOffDropsTheTimesAndKeepsTheValues) {
  const auto kind = GetParam();
  auto timed = probe(kind, ttl_of(Update::on_create_and_write, Visibility::never_return_expired));
  write(timed, 7);
  timed.advance_processing_time(50ms);
  const auto checkpoint = timed.snapshot(1);
  auto plain = probe(kind, std::nullopt, timed.processing_time());
  plain.restore(checkpoint);
  plain.advance_processing_time(24h);
  EXPECT_EQ(read(plain), "7");
  EXPECT_EQ(read(plain), "7");
}

INSTANTIATE_TEST_SUITE_P(EveryKind, TtlPerKind, ::testing::Values(Kind::value, Kind::list, Kind::map),
                         [](const auto& param_info) { return std::string(name(param_info.param)); });

}  // namespace ttl_harness
}  // namespace
