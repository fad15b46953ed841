// Issue 15, item 4: type names in snapshots never depend on the standard
// library's spelling, and a snapshot written before they were made portable
// (tests/storage/data/names-v1, libstdc++'s names) keeps restoring.
#include <ckpt/serial/portable_type_name.hpp>
#include <ckpt/serial/type_name.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "stable_names.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace {

using ckpt::portable_type_name;
using ckpt::type_name;

const std::string kLibstdcxxString = "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >";
const std::string kLibcxxString = "std::__1::basic_string<char, std::__1::char_traits<char>, std::__1::allocator<char> >";

TEST(PortableTypeName, LibstdcxxAndLibcxxSpellingsOfOneTypeGiveOneName) {
  const auto expected = type_name<ckpt::test::Wrapper<std::string>>();
  EXPECT_EQ(expected, "ckpt::test::Wrapper<string>");
  EXPECT_EQ(portable_type_name("ckpt::test::Wrapper<" + kLibstdcxxString + " >"), expected);
  EXPECT_EQ(portable_type_name("ckpt::test::Wrapper<" + kLibcxxString + " >"), expected);

  // std::chrono::milliseconds: long with libstdc++, long long with libc++.
  const auto ms = type_name<std::chrono::milliseconds>();
  EXPECT_EQ(ms, "std::chrono::duration<i64,std::ratio<1,1000>>");
  EXPECT_EQ(portable_type_name("std::chrono::duration<long, std::ratio<1l, 1000l> >"), ms);
  EXPECT_EQ(portable_type_name("std::__1::chrono::duration<long long, std::__1::ratio<1ll, 1000ll> >"), ms);

  // Containers inside a user template lose their allocators, comparators and hashes.
  using MapWrapper = ckpt::test::Wrapper<std::map<std::string, std::vector<int>>>;
  EXPECT_EQ(type_name<MapWrapper>(), "ckpt::test::Wrapper<map<string,vector<i32>>>");
  EXPECT_EQ(portable_type_name("ckpt::test::Wrapper<std::__1::map<" + kLibcxxString + ", std::__1::vector<int, "
                               "std::__1::allocator<int> >, std::__1::less<" + kLibcxxString + " >, "
                               "std::__1::allocator<std::__1::pair<" + kLibcxxString + " const, std::__1::vector<int, "
                               "std::__1::allocator<int> > > > > >"),
            "ckpt::test::Wrapper<map<string,vector<i32>>>");
  using ArrayWrapper = ckpt::test::Wrapper<std::array<std::uint8_t, 4>>;
  EXPECT_EQ(type_name<ArrayWrapper>(), "ckpt::test::Wrapper<array<u8,4>>");
  EXPECT_EQ(portable_type_name("ckpt::test::Wrapper<std::__1::array<unsigned char, 4ul> >"),
            "ckpt::test::Wrapper<array<u8,4>>");
}

TEST(PortableTypeName, TheLibrarysOwnStateTypesHavePortableNames) {
  EXPECT_EQ(type_name<ckpt::test::SinkEntry>(), "ckpt::TwoPhaseCommitSink<string,ckpt::FileTransaction>::Entry");
  EXPECT_EQ(portable_type_name("ckpt::TwoPhaseCommitSink<" + kLibstdcxxString + ", ckpt::FileTransaction>::Entry"),
            type_name<ckpt::test::SinkEntry>());
  EXPECT_EQ(type_name<ckpt::PartitionOffset>(), "ckpt::PartitionOffset");
}

TEST(PortableTypeName, IsIdempotentAndLeavesWhatItCannotParseAsItIs) {
  for (const std::string& name :
       {"ckpt::test::Wrapper<" + kLibcxxString + " >", std::string("vector<pair<string,f64>>"),
        std::string("a<b>::c<d>e"), std::string("(anonymous namespace)::X<void (*)(int, long)>"),
        std::string("std::__cxx__1::11::x<int>"), std::string("f<>"), std::string("T<4ul,-3l>")}) {
    const auto once = portable_type_name(name);
    EXPECT_EQ(portable_type_name(once), once) << name;
  }
  EXPECT_EQ(portable_type_name("vector<i64"), "vector<i64");  // unbalanced
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "v<";
  deep += "i64" + std::string(40, '>');
  EXPECT_EQ(portable_type_name(deep), deep);  // deeper than max_type_name_depth
  EXPECT_EQ(portable_type_name(std::string(5000, 'x')).size(), 5000u);
}

TEST(StableNames, ACheckpointWrittenWithLibstdcxxNamesRestoresIntoTodaysTypes) {
  ckpt::test::TempDir dir;
  std::filesystem::copy(std::filesystem::path(CKPT_TEST_DATA_DIR) / "names-v1", dir.path(),
                        std::filesystem::copy_options::recursive);
  auto storage = ckpt::CheckpointStorage::open("file://" + dir.path().string(), ckpt::StorageOptions{}.must_exist());
  auto reader = storage->open_checkpoint(1);
  const auto* op = reader->manifest().find("named");
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->keyed_states.at(0).value_type, "ckpt::test::Wrapper<string>");  // as it is read

  ckpt::test::NamedStates restored;
  reader->restore("named", &restored.keyed, &restored.store);
  restored.expect();
}

}  // namespace
