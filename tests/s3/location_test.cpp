// URIs, options, endpoints and back-off.
#include "env_guard.hpp"

#include <ckpt/s3/client.hpp>
#include <ckpt/s3/detail/backoff.hpp>
#include <ckpt/s3/location.hpp>
#include <ckpt/s3/options.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using ckpt::ConfigError;
using ckpt::s3::Addressing;
using ckpt::s3::Endpoint;
using ckpt::s3::Location;
using ckpt::s3::S3Options;
using ckpt::s3::test::EnvGuard;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(Location, ParsesBucketAndPrefix) {
  auto l = Location::parse("s3://my-bucket/jobs/rate-limiter/");
  EXPECT_EQ(l.scheme, "s3");
  EXPECT_EQ(l.bucket, "my-bucket");
  EXPECT_EQ(l.prefix, "jobs/rate-limiter");
  EXPECT_EQ(l.uri(), "s3://my-bucket/jobs/rate-limiter");
  l = Location::parse("OBS://bucket.with.dots");
  EXPECT_EQ(l.scheme, "obs");
  EXPECT_EQ(l.prefix, "");
  EXPECT_EQ(l.uri(), "obs://bucket.with.dots");
  EXPECT_EQ(Location::parse("s3://b12/a%20b/%C3%A9").prefix, "a b/\xc3\xa9");
}

TEST(Location, CollectsParameters) {
  const auto l = Location::parse("s3://bucket/p?region=eu-west-1&endpoint=http%3A%2F%2F127.0.0.1%3A9000&addressing=path");
  ASSERT_EQ(l.parameters.size(), 3u);
  EXPECT_EQ(l.parameters[1].second, "http://127.0.0.1:9000");
  S3Options o;
  o.apply(l);
  EXPECT_EQ(o.region, "eu-west-1");
  EXPECT_EQ(o.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(o.addressing, Addressing::path);
}

TEST(Location, CredentialsInTheUriAreRejectedWithoutShowingThem) {
  for (const char* uri : {"s3://AKIDUSER:SuperSecret123@bucket/prefix", "s3://SuperSecret123@bucket",
                          "obs://AKIDUSER:SuperSecret123@bucket/p?region=x"}) {
    try {
      Location::parse(uri);
      FAIL() << "expected ConfigError for " << uri;
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), Not(HasSubstr("SuperSecret123"))) << uri;
      EXPECT_THAT(e.what(), HasSubstr("credentials")) << uri;
      EXPECT_EQ(e.code(), ckpt::errc::invalid_argument);
    }
  }
}

TEST(Location, RejectsWhatIsNotAnS3Root) {
  for (const char* uri : {"file:///tmp/x", "s3:/bucket", "s3://", "s3://ab", "s3://Bucket", "s3://-bucket",
                          "s3://bucket_x", "s3://a..b", "s3://bucket:9000/p", "s3://bucket/a/../b", "s3://bucket/a//b",
                          "s3://bucket/p#frag", "s3://bucket/%zz", "s3://bucket/a%00b"}) {
    EXPECT_THROW(Location::parse(uri), ConfigError) << uri;
  }
}

TEST(Location, UnknownParameterIsNamedButItsValueNotShown) {
  const auto l = Location::parse("s3://bucket/p?aws_secret_access_key=SuperSecret123");
  S3Options o;
  try {
    o.apply(l);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("aws_secret_access_key"));
    EXPECT_THAT(e.what(), Not(HasSubstr("SuperSecret123")));
  }
}

TEST(Location, MaskUriHidesUserInfoAndQueryValues) {
  EXPECT_EQ(ckpt::s3::mask_uri("s3://user:pw@bucket/p?x=1&y"), "s3://****@bucket/p?x=****&y");
  EXPECT_EQ(ckpt::s3::mask_uri("s3://bucket/p"), "s3://bucket/p");
}

TEST(Options, NamedFactories) {
  const auto aws = S3Options::aws("eu-central-1");
  EXPECT_EQ(aws.region, "eu-central-1");
  EXPECT_EQ(aws.addressing, Addressing::automatic);
  const auto custom = S3Options::custom_endpoint("http://127.0.0.1:9000").with_part_size(16 * S3Options::mib);
  EXPECT_EQ(custom.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(custom.addressing, Addressing::path);
  EXPECT_EQ(custom.part_size, 16 * S3Options::mib);
  EXPECT_NO_THROW(custom.validate());
}

TEST(Options, FromEnvironment) {
  EnvGuard env;
  env.clear_s3();
  env.set("AWS_DEFAULT_REGION", "ap-south-1");
  env.set("AWS_ENDPOINT_URL", "http://localhost:4566");
  auto o = S3Options::from_environment("s3");
  EXPECT_EQ(o.region, "ap-south-1");
  EXPECT_EQ(o.endpoint, "http://localhost:4566");
  EXPECT_EQ(o.addressing, Addressing::path);
  env.set("AWS_REGION", "us-west-2");
  env.set("AWS_ENDPOINT_URL_S3", "http://localhost:9000");
  o = S3Options::from_environment("s3");
  EXPECT_EQ(o.region, "us-west-2");
  EXPECT_EQ(o.endpoint, "http://localhost:9000");
  env.set("OBS_REGION", "cn-north-4");
  EXPECT_EQ(S3Options::from_environment("obs").region, "cn-north-4");
  EXPECT_EQ(S3Options::from_environment("obs").endpoint, "");
}

TEST(Options, ValidateNamesTheOptionAndItsRange) {
  const auto expect_invalid = [](S3Options o, const char* name) {
    try {
      o.validate();
      FAIL() << "expected ConfigError for " << name;
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr(name));
    }
  };
  expect_invalid(S3Options().with_part_size(1024), "part_size");
  expect_invalid(S3Options().with_upload_threads(0), "upload_threads");
  expect_invalid(S3Options().with_retry({0, {}, {}}), "max_attempts");
  expect_invalid(S3Options().with_retry({3, std::chrono::milliseconds(10), std::chrono::milliseconds(1)}), "back-off");
  expect_invalid(S3Options().with_timeouts(std::chrono::milliseconds(0), std::chrono::milliseconds(1)), "timeout");
  expect_invalid(S3Options().with_lock_lease(std::chrono::milliseconds(10)), "lock_lease");
  expect_invalid(S3Options().with_region("eu west"), "region");
}

TEST(Endpoint, DefaultsAndAddressing) {
  const auto s3 = Location::parse("s3://my-bucket/p");
  auto e = Endpoint::resolve(s3, S3Options::aws("eu-west-1"));
  EXPECT_EQ(e.scheme, "https");
  EXPECT_EQ(e.authority, "s3.eu-west-1.amazonaws.com");
  EXPECT_TRUE(e.virtual_host);
  EXPECT_FALSE(Endpoint::resolve(Location::parse("s3://my.bucket"), S3Options::aws("eu-west-1")).virtual_host);
  e = Endpoint::resolve(Location::parse("obs://my-bucket"), S3Options::obs("cn-north-4"));
  EXPECT_EQ(e.authority, "obs.cn-north-4.myhuaweicloud.com");
  e = Endpoint::resolve(s3, S3Options::custom_endpoint("http://127.0.0.1:4568/"));
  EXPECT_EQ(e.scheme, "http");
  EXPECT_EQ(e.authority, "127.0.0.1:4568");
  EXPECT_FALSE(e.virtual_host);
  EXPECT_TRUE(e.loopback());
  e = Endpoint::resolve(s3, S3Options::custom_endpoint("http://minio:9000").with_addressing(Addressing::virtual_host));
  EXPECT_TRUE(e.virtual_host);
  EXPECT_FALSE(e.loopback());
}

TEST(Endpoint, RejectsCredentialsPathsAndOtherSchemes) {
  const auto s3 = Location::parse("s3://my-bucket/p");
  for (const char* url : {"ftp://host", "host:9000", "http://user:SuperSecret123@host", "http://host/path",
                          "http://host?x=1", "http://"}) {
    try {
      Endpoint::resolve(s3, S3Options::custom_endpoint(url));
      FAIL() << "expected ConfigError for " << url;
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), Not(HasSubstr("SuperSecret123")));
    }
  }
}

TEST(Backoff, DoublesUpToTheCapAndJittersBelowIt) {
  ckpt::s3::detail::Backoff b({5, std::chrono::milliseconds(100), std::chrono::milliseconds(1000)});
  EXPECT_EQ(b.ceiling(1).count(), 100);
  EXPECT_EQ(b.ceiling(2).count(), 200);
  EXPECT_EQ(b.ceiling(4).count(), 800);
  EXPECT_EQ(b.ceiling(5).count(), 1000);
  EXPECT_EQ(b.ceiling(60).count(), 1000);
  for (int i = 0; i < 200; ++i) {
    const auto d = b.delay(3);
    EXPECT_GE(d.count(), 0);
    EXPECT_LE(d.count(), 400);
  }
  ckpt::s3::detail::Backoff none({5, std::chrono::milliseconds(0), std::chrono::milliseconds(0)});
  EXPECT_EQ(none.delay(3).count(), 0);
}

}  // namespace
