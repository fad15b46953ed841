#include <ckpt/ckpt.hpp>
#include <ckpt/serial/archive.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// All five primitives, declared the same way by every backend in these tests.
struct States {
  ckpt::ValueState<std::int64_t> count;
  ckpt::ListState<std::string> events;
  ckpt::MapState<std::string, double> prices;
  ckpt::ReducingState<std::int64_t> total;
  ckpt::AggregatingState<std::int64_t, std::int64_t, std::string> seen;

  template <class Backend>
  explicit States(Backend& b)
      : count(b.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", -1})),
        events(b.get_list_state(ckpt::ListStateDescriptor<std::string>{"events"})),
        prices(b.get_map_state(ckpt::MapStateDescriptor<std::string, double>{"prices"})),
        total(b.get_reducing_state(ckpt::ReducingStateDescriptor<std::int64_t>{"total", std::plus<>{}})),
        seen(b.get_aggregating_state(ckpt::AggregatingStateDescriptor<std::int64_t, std::int64_t, std::string>{
            "seen", ckpt::make_aggregate_function<std::int64_t, std::int64_t, std::string>(
                        [] { return std::int64_t{0}; }, [](const std::int64_t& v, std::int64_t a) { return a + v; },
                        [](const std::int64_t& a) { return "n=" + std::to_string(a); },
                        [](std::int64_t a, std::int64_t c) { return a + c; })})) {}

  void fill(std::uint64_t k) {
    count.update(static_cast<std::int64_t>(k));
    events.add_all({"e" + std::to_string(k), "f"});
    prices.put("p" + std::to_string(k % 3), static_cast<double>(k) / 2);
    total.add(static_cast<std::int64_t>(k));
    total.add(1);
    seen.add(static_cast<std::int64_t>(k % 5));
  }
  void expect(std::uint64_t k) {
    ASSERT_EQ(count.value(), static_cast<std::int64_t>(k));
    ASSERT_THAT(events.get(), ElementsAre("e" + std::to_string(k), "f"));
    ASSERT_EQ(prices.get("p" + std::to_string(k % 3)), static_cast<double>(k) / 2);
    ASSERT_EQ(prices.size(), 1u);
    ASSERT_EQ(total.get(), static_cast<std::int64_t>(k) + 1);
    ASSERT_EQ(seen.get(), "n=" + std::to_string(k % 5));
  }
};

TEST(SnapshotRestore, EveryPrimitiveRoundTrips) {
  ckpt::KeyedStateBackend<std::uint64_t> a;
  States sa(a);
  for (std::uint64_t k = 0; k < 500; ++k) {
    a.set_current_key(k);
    sa.fill(k);
  }
  const auto snap = a.snapshot();
  EXPECT_EQ(snap.states.size(), 5u);
  EXPECT_EQ(snap.key_type, "u64");

  ckpt::KeyedStateBackend<std::uint64_t> b;
  States sb(b);  // declared before restore
  b.restore(snap);
  EXPECT_TRUE(b.is_restored());
  for (std::uint64_t k = 0; k < 500; ++k) {
    b.set_current_key(k);
    sb.expect(k);
  }
  b.set_current_key(100000);
  EXPECT_EQ(sb.count.value(), -1);  // the default survives too
}

TEST(SnapshotRestore, ThroughBytesWithCereal) {
  ckpt::KeyedStateBackend<std::string> a;
  auto v = a.get_state(ckpt::ValueStateDescriptor<std::string>{"v"});
  for (int i = 0; i < 100; ++i) {
    a.set_current_key("key-" + std::to_string(i));
    v.update("value-" + std::to_string(i));
  }
  const ckpt::Bytes bytes = ckpt::serial::encode(a.snapshot());
  const auto snap = ckpt::serial::decode<ckpt::KeyedStateSnapshot>(bytes);

  ckpt::KeyedStateBackend<std::string> b;
  b.restore(snap);  // restored before the state is declared
  auto w = b.get_state(ckpt::ValueStateDescriptor<std::string>{"v"});
  for (int i = 0; i < 100; ++i) {
    b.set_current_key("key-" + std::to_string(i));
    EXPECT_EQ(w.value(), "value-" + std::to_string(i));
  }
}

TEST(SnapshotRestore, SubsetOfKeyGroups) {
  ckpt::KeyedStateBackend<std::uint64_t> a;
  auto v = a.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  for (std::uint64_t k = 0; k < 1000; ++k) {
    a.set_current_key(k);
    v.update(k);
  }
  const auto snap = a.snapshot(ckpt::KeyGroupRange{0, 10});
  ASSERT_FALSE(snap.key_groups.empty());
  for (const auto& block : snap.key_groups) EXPECT_LT(block.key_group, 10u);
  ckpt::KeyedStateBackend<std::uint64_t> b;
  b.restore(snap);
  auto w = b.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  std::size_t restored = 0;
  for (std::uint64_t k = 0; k < 1000; ++k) {
    b.set_current_key(k);
    if (ckpt::key_group_for(k, 128) < 10) {
      EXPECT_EQ(w.get(), k);
      ++restored;
    } else {
      EXPECT_FALSE(w.get());
    }
  }
  EXPECT_EQ(restored, b.size("v"));
}

// Rescale 1 -> 4 -> 3: every key is restored exactly once, with its state.
TEST(SnapshotRestore, Rescale1To4To3EveryKeyExactlyOnce) {
  constexpr std::uint64_t keys = 3000;
  std::vector<ckpt::KeyedStateSnapshot> gen0;
  {
    ckpt::KeyedStateBackend<std::uint64_t> one;
    States s(one);
    for (std::uint64_t k = 0; k < keys; ++k) {
      one.set_current_key(k);
      s.fill(k);
    }
    gen0.push_back(one.snapshot());
  }
  const auto rescale = [&](const std::vector<ckpt::KeyedStateSnapshot>& old, std::uint32_t p) {
    std::vector<ckpt::KeyedStateSnapshot> out;
    std::multiset<std::uint64_t> owners;
    for (std::uint32_t i = 0; i < p; ++i) {
      ckpt::KeyedStateBackend<std::uint64_t> b(ckpt::KeyedStateBackendOptions::for_subtask(i, p));
      b.restore(old);
      States s(b);
      for (const auto k : b.keys("count")) owners.insert(k);
      for (std::uint64_t k = 0; k < keys; ++k) {
        if (!b.key_groups().contains(b.key_group_of(k))) continue;
        b.set_current_key(k);
        s.expect(k);
      }
      out.push_back(b.snapshot());
    }
    EXPECT_EQ(owners.size(), keys);
    for (std::uint64_t k = 0; k < keys; ++k) EXPECT_EQ(owners.count(k), 1u) << "key " << k;
    return out;
  };
  const auto gen1 = rescale(gen0, 4);
  const auto gen2 = rescale(gen1, 3);
  EXPECT_EQ(gen2.size(), 3u);
}

TEST(SnapshotRestore, StatesNeverDeclaredAgainAreCarriedForward) {
  ckpt::KeyedStateBackend<std::string> a;
  auto old_state = a.get_state(ckpt::ValueStateDescriptor<int>{"legacy"});
  a.set_current_key("k");
  old_state.update(42);

  ckpt::KeyedStateBackend<std::string> b;
  b.restore(a.snapshot());
  EXPECT_THAT(b.state_names(), ElementsAre("legacy"));
  const auto again = b.snapshot();  // "legacy" was never declared by b

  ckpt::KeyedStateBackend<std::string> c;
  c.restore(again);
  auto legacy = c.get_state(ckpt::ValueStateDescriptor<int>{"legacy"});
  c.set_current_key("k");
  EXPECT_EQ(legacy.value(), 42);
}

TEST(SnapshotRestore, RestoringIntoAnotherTypeIsAClearError) {
  ckpt::KeyedStateBackend<std::string> a;
  auto v = a.get_state(ckpt::ValueStateDescriptor<int>{"v"});
  a.set_current_key("k");
  v.update(1);
  const auto snap = a.snapshot();

  {  // declared first, then restored
    ckpt::KeyedStateBackend<std::string> b;
    b.get_state(ckpt::ValueStateDescriptor<std::string>{"v"});
    try {
      b.restore(snap);
      FAIL();
    } catch (const ckpt::StateError& e) {
      EXPECT_EQ(e.code(), ckpt::errc::state_type_mismatch);
      EXPECT_THAT(e.what(), HasSubstr("state 'v' is declared as value state of string"));
      EXPECT_THAT(e.what(), HasSubstr("value state of i32"));
    }
  }
  {  // restored first, then declared as another kind
    ckpt::KeyedStateBackend<std::string> b;
    b.restore(snap);
    EXPECT_THROW(b.get_list_state(ckpt::ListStateDescriptor<int>{"v"}), ckpt::StateError);
  }
  {  // another key type
    ckpt::KeyedStateBackend<std::uint64_t> b;
    EXPECT_THROW(b.restore(snap), ckpt::StateError);
  }
  {  // another max parallelism
    ckpt::KeyedStateBackendOptions o;
    o.max_parallelism = 256;
    ckpt::KeyedStateBackend<std::string> b(o);
    EXPECT_THROW(b.restore(snap), ckpt::RestoreError);
  }
}

TEST(SnapshotRestore, RestoreNeedsAnEmptyBackend) {
  ckpt::KeyedStateBackend<std::string> a;
  auto v = a.get_state(ckpt::ValueStateDescriptor<int>{"v"});
  a.set_current_key("k");
  v.update(1);
  EXPECT_THROW(a.restore(a.snapshot()), ckpt::StateError);
}

TEST(SnapshotRestore, CorruptBlocksAreDetectedNotTrusted) {
  ckpt::KeyedStateBackend<std::string> a;
  auto v = a.get_state(ckpt::ValueStateDescriptor<std::string>{"v"});
  a.set_current_key("k");
  v.update("hello");
  auto snap = a.snapshot();
  ASSERT_EQ(snap.key_groups.size(), 1u);
  auto& data = snap.key_groups[0].data;
  // Layout: u32 sections, u32 state index, u64 length, u64 entries, ...
  auto hostile = snap;
  std::uint64_t huge = 1ULL << 62;
  std::memcpy(hostile.key_groups[0].data.data() + 16, &huge, 8);  // the entry count
  ckpt::KeyedStateBackend<std::string> b;
  b.get_state(ckpt::ValueStateDescriptor<std::string>{"v"});
  try {
    b.restore(hostile);
    FAIL();
  } catch (const ckpt::CorruptionError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::limit_exceeded);
    EXPECT_THAT(e.what(), HasSubstr("key group"));
  }
  auto truncated = snap;
  truncated.key_groups[0].data.resize(data.size() - 3);
  ckpt::KeyedStateBackend<std::string> c;
  EXPECT_THROW(c.restore(truncated), ckpt::CorruptionError);
  auto bad_index = snap;
  bad_index.key_groups[0].data[4] = std::byte{9};  // state #9 of 1
  ckpt::KeyedStateBackend<std::string> d;
  EXPECT_THROW(d.restore(bad_index), ckpt::CorruptionError);
}

// A block for a key group its snapshot's backend never owned (a damaged or
// doctored header) is refused, not restored as if that backend had owned it.
TEST(SnapshotRestore, ABlockOutsideItsSnapshotsKeyGroupsIsACorruptionError) {
  ckpt::KeyedStateBackend<std::uint64_t> a(ckpt::KeyedStateBackendOptions::for_subtask(0, 2, 128));
  auto v = a.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  for (std::uint64_t k = 0; k < 1000; ++k) {
    if (ckpt::key_group_for(k, 128) >= 64) continue;
    a.set_current_key(k);
    v.update(k);
  }
  auto snap = a.snapshot();
  ASSERT_EQ(snap.key_group_end, 64u);
  ASSERT_GT(snap.key_groups.back().key_group, 32u);
  snap.key_group_end = 32;  // the header now claims only half of what the blocks hold
  snap.origin = "chk-7/keyed-0";
  ckpt::KeyedStateBackend<std::uint64_t> b;
  try {
    b.restore(snap);
    FAIL() << "restored blocks outside the snapshot's key groups";
  } catch (const ckpt::RestoreError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::corrupt_data);
    EXPECT_THAT(e.what(), HasSubstr("chk-7/keyed-0"));
    EXPECT_THAT(e.what(), HasSubstr("outside the key groups [0, 32)"));
  }
  // Restoring only the key groups the header does own still works.
  ckpt::KeyedStateBackend<std::uint64_t> c(ckpt::KeyedStateBackendOptions::for_subtask(0, 4, 128));
  c.restore(snap);
  c.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
  EXPECT_GT(c.size("v"), 0u);
}

// -- a user type whose second version reads bytes of the first

// cereal writes a class version only for a serialize() that takes one, so a
// type that may evolve takes the version parameter from its first version on.
struct PersonV1 {
  std::string name;
  template <class A>
  void serialize(A& ar, const std::uint32_t /*version*/) {
    ar(name);
  }
};
struct PersonV2 {
  std::string name;
  int age = -1;  // unknown for people written by version 1
  template <class A>
  void serialize(A& ar, const std::uint32_t version) {
    ar(name);
    if (version >= 2) ar(age);
  }
};

}  // namespace

// Both versions are the same logical type "test.Person" in snapshots.
template <>
struct ckpt::TypeName<PersonV1> {
  static std::string get() { return "test.Person"; }
};
template <>
struct ckpt::TypeName<PersonV2> {
  static std::string get() { return "test.Person"; }
};
CEREAL_CLASS_VERSION(PersonV2, 2);

namespace {

TEST(SnapshotRestore, VersionedUserTypeMigrates) {
  ckpt::KeyedStateBackend<std::string> old_program;
  auto v1 = old_program.get_state(ckpt::ValueStateDescriptor<PersonV1>{"person"});
  auto l1 = old_program.get_list_state(ckpt::ListStateDescriptor<PersonV1>{"friends"});
  old_program.set_current_key("u1");
  v1.update(PersonV1{"Ada"});
  l1.add_all({PersonV1{"Bob"}, PersonV1{"Cy"}});
  const auto snap = old_program.snapshot();

  ckpt::KeyedStateBackend<std::string> new_program;
  new_program.restore(snap);
  auto v2 = new_program.get_state(ckpt::ValueStateDescriptor<PersonV2>{"person"});
  auto l2 = new_program.get_list_state(ckpt::ListStateDescriptor<PersonV2>{"friends"});
  new_program.set_current_key("u1");
  EXPECT_EQ(v2.value().name, "Ada");
  EXPECT_EQ(v2.value().age, -1);
  ASSERT_EQ(l2.get().size(), 2u);
  EXPECT_EQ(l2.get()[1].name, "Cy");
  v2.update(PersonV2{"Ada", 36});

  // Version 2's own snapshot restores with the age.
  ckpt::KeyedStateBackend<std::string> again;
  again.restore(new_program.snapshot());
  auto v3 = again.get_state(ckpt::ValueStateDescriptor<PersonV2>{"person"});
  again.set_current_key("u1");
  EXPECT_EQ(v3.value().age, 36);

  // ...but a program with version 1 cannot read what version 2 wrote.
  ckpt::KeyedStateBackend<std::string> downgrade;
  downgrade.restore(new_program.snapshot());
  try {
    downgrade.get_state(ckpt::ValueStateDescriptor<PersonV1>{"person"});
    FAIL();
  } catch (const ckpt::StateError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::unsupported_version);
  }
}

}  // namespace
