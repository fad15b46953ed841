#include <ckpt/fs/uri.hpp>

#include "fs_test_util.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace {

using ckpt::ConfigError;
using ckpt::errc;
using ckpt::fs::Uri;
using ckpt::fs::test::expect_error;

TEST(Uri, APlainPathMeansTheFileScheme) {
  EXPECT_EQ(Uri::parse("/var/ckpt"), (Uri{"file", "", "/var/ckpt", ""}));
  EXPECT_EQ(Uri::parse("relative/dir"), (Uri{"file", "", "relative/dir", ""}));
  EXPECT_EQ(Uri::parse("with space?and:colon"), (Uri{"file", "", "with space?and:colon", ""}));
  EXPECT_EQ(Uri::parse("/odd/a://b"), (Uri{"file", "", "/odd/a://b", ""}))
      << "a '/' before '://' means a path";
}

TEST(Uri, SchemeAuthorityPathAndQuery) {
  EXPECT_EQ(Uri::parse("file:///var/ckpt"), (Uri{"file", "", "/var/ckpt", ""}));
  EXPECT_EQ(Uri::parse("FILE:///x"), (Uri{"file", "", "/x", ""})) << "schemes are case-insensitive";
  EXPECT_EQ(Uri::parse("mem://store"), (Uri{"mem", "store", "", ""}));
  EXPECT_EQ(Uri::parse("mem://store/a/b"), (Uri{"mem", "store", "/a/b", ""}));
  EXPECT_EQ(Uri::parse("s3+tls://host:9000/bucket/p?region=eu-1&path_style"),
            (Uri{"s3+tls", "host:9000", "/bucket/p", "region=eu-1&path_style"}));
}

TEST(Uri, PathsArePercentDecodedAndStrEncodesThemBack) {
  const auto uri = Uri::parse("file:///my%20dir/%C3%BC");
  EXPECT_EQ(uri.path, "/my dir/\xc3\xbc");
  EXPECT_EQ(uri.str(), "file:///my%20dir/%C3%BC");
  EXPECT_EQ(Uri::parse(uri.str()), uri);
}

TEST(Uri, QueryParametersAndRedaction) {
  const auto uri = Uri::parse("s3://bucket/p?region=eu%2Dwest&token=abc123&flag");
  EXPECT_EQ(uri.query_params(), (std::vector<std::pair<std::string, std::string>>{
                                    {"region", "eu-west"}, {"token", "abc123"}, {"flag", ""}}));
  EXPECT_EQ(uri.query_param("region"), "eu-west");
  EXPECT_EQ(uri.query_param("missing"), std::nullopt);
  EXPECT_EQ(uri.redacted(), "s3://bucket/p?region=***&token=***&flag=***");
  EXPECT_EQ(uri.redacted().find("abc123"), std::string::npos);
}

TEST(Uri, MalformedUrisAreConfigErrors) {
  for (const std::string& bad :
       {std::string(), std::string("://x"), std::string("1abc://x"), std::string("s_3://x"),
        std::string("s3://bu cket/x"), std::string("file:///a b"), std::string("s3://b/x#frag"),
        std::string("s3://b/%zz"), std::string("s3://b/%4"), std::string("s3://b/%00"),
        std::string("s3://b/\n"), std::string("/path/with\x01control"), std::string("s3://b/x?q=a b"),
        std::string("s3://b{}/x")}) {
    SCOPED_TRACE(bad);
    expect_error<ConfigError>([&] { Uri::parse(bad); }, errc::invalid_argument);
  }
}

TEST(Uri, CredentialsAreRejectedWithoutBeingEchoed) {
  for (const std::string& uri : {std::string("s3://AKIAEXAMPLEKEY:s3cr3tP4ssw0rd@bucket/prefix"),
                                 std::string("obs://AKIAEXAMPLEKEY:s3cr3tP4ssw0rd@bucket"),
                                 std::string("s3://AKIAEXAMPLEKEY@bucket/prefix"),
                                 std::string("s3://:s3cr3tP4ssw0rd@bucket/prefix")}) {
    SCOPED_TRACE(uri);
    const auto e = expect_error<ConfigError>([&] { Uri::parse(uri); }, errc::invalid_argument);
    ASSERT_TRUE(e.has_value());
    const std::string message = e->what();
    EXPECT_EQ(message.find("s3cr3tP4ssw0rd"), std::string::npos) << message;
    EXPECT_EQ(message.find("AKIAEXAMPLEKEY"), std::string::npos) << message;
    EXPECT_NE(message.find("bucket"), std::string::npos) << message;
    EXPECT_NE(message.find("credentials"), std::string::npos) << message;
  }
}

}  // namespace
