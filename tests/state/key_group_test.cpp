#include <ckpt/state/key_group.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/std_types.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>

namespace {

// Golden values: XXH3-64 of the documented key bytes, computed outside ckpt
// with the xxhsum command-line tool (xxhsum -H3). They must never change: a
// snapshot taken by one build restores into another only if they hold.
TEST(KeyGroup, StableHashGoldenValues) {
  EXPECT_EQ(ckpt::stable_key_hash(std::uint64_t{0}), 0xc77b3abb6f87acd9ULL);
  EXPECT_EQ(ckpt::stable_key_hash(std::uint64_t{42}), 0xd5a6f8c838df27c8ULL);
  EXPECT_EQ(ckpt::stable_key_hash(~std::uint64_t{0}), 0x5111c7e47d784413ULL);
  EXPECT_EQ(ckpt::stable_key_hash(std::int32_t{-7}), 0x93655db649343ceaULL);
  EXPECT_EQ(ckpt::stable_key_hash(std::int64_t{123456789}), 0x27196ab4438f6ad5ULL);
  EXPECT_EQ(ckpt::stable_key_hash(2.5), 0xdf606fb485b75391ULL);
  EXPECT_EQ(ckpt::stable_key_hash(std::string()), 0xc77b3abb6f87acd9ULL);
  EXPECT_EQ(ckpt::stable_key_hash(std::string("alice")), 0x3a998cf829f48d9aULL);
  EXPECT_EQ(ckpt::stable_key_hash(std::string("bob")), 0x04dc046014783635ULL);
  EXPECT_EQ(ckpt::stable_key_hash(std::string(300, 'x')), 0x64e4cb6f337e54ffULL);
  EXPECT_EQ(ckpt::stable_key_hash(std::pair<std::string, std::uint32_t>{"user-1", 7}), 0x59067e41efd6d6d5ULL);
}

TEST(KeyGroup, KeyGroupGoldenValues) {
  EXPECT_EQ(ckpt::key_group_for(std::uint64_t{42}, 128), 72u);
  EXPECT_EQ(ckpt::key_group_for(std::string("alice"), 128), 26u);
  EXPECT_EQ(ckpt::key_group_for(std::string("bob"), 128), 53u);
  EXPECT_EQ(ckpt::key_group_for(std::int32_t{-7}, 128), 106u);
  EXPECT_EQ(ckpt::key_group_for(std::string("alice"), 32768), 3482u);
  EXPECT_EQ(ckpt::key_group_for(std::pair<std::string, std::uint32_t>{"user-1", 7}, 32768), 22229u);
}

// The fast paths for numbers and strings hash the same bytes the archive writes.
TEST(KeyGroup, FastPathsMatchSerializedBytes) {
  const auto via_archive = [](const auto& key) { return ckpt::hash64(ckpt::serial::encode(key)); };
  for (std::uint64_t k : {0ULL, 1ULL, 99ULL, 1ULL << 40}) EXPECT_EQ(ckpt::stable_key_hash(k), via_archive(k));
  for (const std::string& s : {std::string(), std::string("k"), std::string(248, 'a'), std::string(249, 'b'),
                              std::string(10000, 'c')})
    EXPECT_EQ(ckpt::stable_key_hash(s), via_archive(s)) << s.size();
}

TEST(KeyGroup, SubtaskRangesMatchFlinkAndPartitionEveryKeyGroup) {
  for (std::uint32_t max : {1u, 7u, 128u, 1000u}) {
    for (std::uint32_t p = 1; p <= std::min(max, 40u); ++p) {
      std::uint32_t next = 0;
      for (std::uint32_t i = 0; i < p; ++i) {
        const auto r = ckpt::KeyGroupRange::for_subtask(max, p, i);
        EXPECT_EQ(r.begin, next) << max << " " << p << " " << i;
        // Flink: start = ceil(i*max/p), inclusive end = ((i+1)*max - 1) / p.
        EXPECT_EQ(r.begin, (i * max + p - 1) / p);
        EXPECT_EQ(r.end - 1, ((i + 1) * max - 1) / p);
        for (auto kg = r.begin; kg < r.end; ++kg) EXPECT_EQ(ckpt::subtask_for_key_group(max, p, kg), i);
        next = r.end;
      }
      EXPECT_EQ(next, max);
    }
  }
}

TEST(KeyGroup, RangeArithmetic) {
  const ckpt::KeyGroupRange r{10, 20};
  EXPECT_EQ(r.size(), 10u);
  EXPECT_TRUE(r.contains(10));
  EXPECT_FALSE(r.contains(20));
  EXPECT_EQ(r.intersect({15, 30}), (ckpt::KeyGroupRange{15, 20}));
  EXPECT_TRUE(r.intersect({25, 30}).empty());
  EXPECT_EQ(r.to_string(), "[10, 20)");
}

TEST(KeyGroup, ParallelismBounds) {
  EXPECT_NO_THROW(ckpt::validate_parallelism(32768, 32768));
  EXPECT_THROW(ckpt::validate_parallelism(32769), ckpt::ConfigError);
  EXPECT_THROW(ckpt::validate_parallelism(0), ckpt::ConfigError);
  EXPECT_THROW(ckpt::validate_parallelism(128, 129), ckpt::ConfigError);
  EXPECT_THROW(ckpt::KeyGroupRange::for_subtask(128, 4, 4), ckpt::ConfigError);
}

}  // namespace
