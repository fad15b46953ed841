// The bounded archive and stable type names.
#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/std_types.hpp>
#include <ckpt/serial/type_name.hpp>
#include <ckpt/names.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

using ::testing::HasSubstr;

TEST(Archive, RoundTripsStandardTypes) {
  const std::map<std::string, std::vector<double>> m{{"a", {1.5, 2}}, {"b", {}}};
  const auto bytes = ckpt::serial::encode(m, std::string("tail"), std::int16_t{-3});
  std::map<std::string, std::vector<double>> m2;
  std::string tail;
  std::int16_t x = 0;
  ckpt::serial::load_from(bytes, {}, m2, tail, x);
  EXPECT_EQ(m2, m);
  EXPECT_EQ(tail, "tail");
  EXPECT_EQ(x, -3);
}

TEST(Archive, LengthFieldClaimingMoreThanTheBytesIsAnErrorNotAnAllocation) {
  ckpt::Bytes bytes(8);
  const std::uint64_t claim = 1ULL << 62;
  std::memcpy(bytes.data(), &claim, 8);
  try {
    (void)ckpt::serial::decode<std::vector<std::uint64_t>>(bytes, {"state.bin", "block 3"});
    FAIL();
  } catch (const ckpt::CorruptionError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::limit_exceeded);
    EXPECT_EQ(e.path(), "state.bin");
    EXPECT_EQ(e.block(), "block 3");
    EXPECT_THAT(e.what(), HasSubstr("state.bin, block 3"));
    EXPECT_THAT(e.what(), HasSubstr("4611686018427387904 elements"));
  }
  EXPECT_THROW((void)ckpt::serial::decode<std::string>(bytes), ckpt::CorruptionError);
  EXPECT_THROW((void)(ckpt::serial::decode<std::map<int, int>>(bytes)), ckpt::CorruptionError);
}

TEST(Archive, TruncationAndTrailingBytesAreErrors) {
  auto number = ckpt::serial::encode(std::uint64_t{7});
  number.pop_back();
  try {
    (void)ckpt::serial::decode<std::uint64_t>(number);
    FAIL();
  } catch (const ckpt::CorruptionError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::truncated);
  }
  auto bytes = ckpt::serial::encode(std::string("hello"));
  auto truncated = bytes;
  truncated.pop_back();  // the length now promises more than is there
  EXPECT_THROW((void)ckpt::serial::decode<std::string>(truncated), ckpt::CorruptionError);
  bytes.push_back(std::byte{0});
  EXPECT_THROW((void)ckpt::serial::decode<std::string>(bytes), ckpt::CorruptionError);
}

struct Widget {
  int id = 0;
  template <class A>
  void serialize(A& ar) {
    ar(id);
  }
};

TEST(TypeName, StableNames) {
  EXPECT_EQ(ckpt::type_name<std::uint64_t>(), "u64");
  EXPECT_EQ(ckpt::type_name<unsigned long long>(), "u64");
  EXPECT_EQ(ckpt::type_name<std::int32_t>(), "i32");
  EXPECT_EQ(ckpt::type_name<bool>(), "bool");
  EXPECT_EQ(ckpt::type_name<char>(), "char");
  EXPECT_EQ(ckpt::type_name<double>(), "f64");
  EXPECT_EQ(ckpt::type_name<float>(), "f32");
  EXPECT_EQ(ckpt::type_name<std::string>(), "string");
  EXPECT_EQ((ckpt::type_name<std::map<std::string, std::vector<std::int64_t>>>()), "map<string,vector<i64>>");
  EXPECT_EQ((ckpt::type_name<std::pair<std::string, double>>()), "pair<string,f64>");
  EXPECT_EQ(ckpt::type_name<Widget>(), "(anonymous namespace)::Widget");
}

TEST(Names, RejectTraversalSeparatorsAndControlCharacters) {
  for (const auto* ok : {"source-1", "my.operator", "Kafka Source (orders)", "a..b-is-not-ok-but-a.b-is"}) {
    if (std::string(ok).find("..") != std::string::npos) continue;
    EXPECT_NO_THROW(ckpt::validate_name("uid", ok)) << ok;
  }
  for (const std::string& bad : {std::string(), std::string("."), std::string(".."), std::string("a/b"),
                                std::string("..hidden"), std::string("a\\b"), std::string("a\0b", 3),
                                std::string("new\nline"), std::string("\x7f"), std::string(201, 'x')}) {
    try {
      ckpt::validate_name("savepoint name", bad);
      FAIL() << "accepted '" << bad << "'";
    } catch (const ckpt::ConfigError& e) {
      EXPECT_EQ(e.code(), ckpt::errc::invalid_name);
      EXPECT_THAT(e.what(), HasSubstr("savepoint name"));
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);  // control characters are escaped
    }
  }
}

TEST(Errors, CodesCarryTheCkptCategory) {
  const std::error_code ec = ckpt::errc::corrupt_data;
  EXPECT_EQ(ec.category().name(), std::string("ckpt"));
  EXPECT_EQ(ec.message(), "corrupt data");
  const ckpt::IoError e(ckpt::errc::no_space, "chk-1/x", "chk-1/x: no space", std::make_error_code(std::errc::no_space_on_device));
  EXPECT_EQ(e.code(), ckpt::errc::no_space);
  EXPECT_EQ(e.system_code(), std::errc::no_space_on_device);
  const ckpt::Error& base = e;
  EXPECT_EQ(base.code(), ckpt::errc::no_space);
}

}  // namespace
