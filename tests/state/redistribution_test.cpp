// Redistribution tables a reader can check by hand.
#include <ckpt/state/redistribution.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using Lists = std::vector<std::vector<std::string>>;

TEST(EvenSplit, ThreeToTwo) {
  // Concatenated: a1 a2 b1 c1 c2 (5 elements); base 2, the first gets one more.
  const Lists old{{"a1", "a2"}, {"b1"}, {"c1", "c2"}};
  EXPECT_EQ(ckpt::redistribute_even_split(old, 2), (Lists{{"a1", "a2", "b1"}, {"c1", "c2"}}));
}

TEST(EvenSplit, TwoToFive) {
  // 7 elements over 5: base 1, the first 2 get one more.
  const Lists old{{"a1", "a2", "a3", "a4"}, {"b1", "b2", "b3"}};
  EXPECT_EQ(ckpt::redistribute_even_split(old, 5),
            (Lists{{"a1", "a2"}, {"a3", "a4"}, {"b1"}, {"b2"}, {"b3"}}));
}

TEST(EvenSplit, OneToFour) {
  const Lists old{{"p0", "p1", "p2"}};
  EXPECT_EQ(ckpt::redistribute_even_split(old, 4), (Lists{{"p0"}, {"p1"}, {"p2"}, {}}));
}

TEST(EvenSplit, EmptyLists) {
  EXPECT_EQ(ckpt::redistribute_even_split(Lists{{}, {}}, 3), (Lists{{}, {}, {}}));
  EXPECT_EQ(ckpt::redistribute_even_split(Lists{}, 2), (Lists{{}, {}}));
  EXPECT_EQ(ckpt::redistribute_even_split(Lists{{}, {"x"}, {}}, 2), (Lists{{"x"}, {}}));
}

TEST(EvenSplit, UnchangedParallelismKeepsEveryonesOwnList) {
  // Even though a concatenate-and-cut would move "a3" to subtask 1.
  const Lists old{{"a1", "a2", "a3"}, {"b1"}};
  EXPECT_EQ(ckpt::redistribute_even_split(old, 2), old);
}

TEST(EvenSplit, Runs) {
  EXPECT_EQ(ckpt::even_split_run(7, 5, 0), (std::pair<std::size_t, std::size_t>{0, 2}));
  EXPECT_EQ(ckpt::even_split_run(7, 5, 1), (std::pair<std::size_t, std::size_t>{2, 4}));
  EXPECT_EQ(ckpt::even_split_run(7, 5, 4), (std::pair<std::size_t, std::size_t>{6, 7}));
  EXPECT_THROW(ckpt::even_split_run(7, 0, 0), ckpt::ConfigError);
}

TEST(Union, EveryoneGetsEverything) {
  const Lists old{{"a"}, {"b", "c"}};
  EXPECT_EQ(ckpt::redistribute_union(old, 3), (Lists{{"a", "b", "c"}, {"a", "b", "c"}, {"a", "b", "c"}}));
}

TEST(Broadcast, TwoToFive) {
  const std::vector<std::string> old{"copy0", "copy1"};
  EXPECT_EQ(ckpt::redistribute_broadcast(old, 5),
            (std::vector<std::string>{"copy0", "copy1", "copy0", "copy1", "copy0"}));
}

TEST(Broadcast, FiveToTwo) {
  const std::vector<std::string> old{"c0", "c1", "c2", "c3", "c4"};
  EXPECT_EQ(ckpt::redistribute_broadcast(old, 2), (std::vector<std::string>{"c0", "c1"}));
}

TEST(Redistribute, ByMode) {
  const Lists old{{"a"}, {"b"}};
  EXPECT_EQ(ckpt::redistribute(ckpt::Distribution::even_split, old, 1), (Lists{{"a", "b"}}));
  EXPECT_EQ(ckpt::redistribute(ckpt::Distribution::union_all, old, 1), (Lists{{"a", "b"}}));
  EXPECT_EQ(ckpt::redistribute(ckpt::Distribution::broadcast, old, 3), (Lists{{"a"}, {"b"}, {"a"}}));
}

}  // namespace
