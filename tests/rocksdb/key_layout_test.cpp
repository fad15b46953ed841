#include <ckpt/rocksdb/key_layout.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace ckpt::rocksdb;

TEST(RocksDBKeyLayout, KeyGroupIsTwoBigEndianBytesFirst) {
  const std::string k = state_key(0x1234u, std::uint64_t{7});
  ASSERT_GE(k.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(k[0]), 0x12u);
  EXPECT_EQ(static_cast<unsigned char>(k[1]), 0x34u);
  EXPECT_EQ(key_group_of(k), 0x1234u);
  EXPECT_EQ(key_group_of(key_group_begin(32767)), 32767u);
}

TEST(RocksDBKeyLayout, KeysOfAKeyGroupSortInsideItsRange) {
  for (std::uint32_t g : {0u, 1u, 255u, 256u, 32766u}) {
    const std::string k = state_key(g, std::string("user-42"));
    EXPECT_GE(k, key_group_begin(g));
    EXPECT_LT(k, key_group_begin(g + 1));
  }
}

TEST(RocksDBKeyLayout, MapEntryKeyExtendsTheStateKey) {
  const std::string prefix = state_key(5, std::string("k"));
  const std::string entry = map_entry_key(5, std::string("k"), std::int32_t{9});
  ASSERT_GT(entry.size(), prefix.size());
  EXPECT_EQ(entry.compare(0, prefix.size(), prefix), 0);
}

TEST(RocksDBKeyLayout, ShortKeyIsCorruption) {
  EXPECT_THROW((void)key_group_of(std::string("x")), ckpt::CorruptionError);
}

}  // namespace
