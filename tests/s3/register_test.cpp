// s3:// and obs:// through the file-system registry.
#include "env_guard.hpp"
#include "fake_s3.hpp"

#include <ckpt/fs/registry.hpp>
#include <ckpt/s3/register.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using namespace ckpt::s3::test;

TEST(Register, IncludingTheHeaderRegistersBothSchemes) {
  const auto schemes = ckpt::fs::registered_file_system_schemes();
  EXPECT_THAT(schemes, ::testing::Contains("s3"));
  EXPECT_THAT(schemes, ::testing::Contains("obs"));
}

TEST(Register, OpensAnS3RootFromAUriWithEnvironmentCredentials) {
  FakeS3 server;
  EnvGuard env;
  env.clear_s3();
  env.set("AWS_ACCESS_KEY_ID", server.options().access_key_id);
  env.set("AWS_SECRET_ACCESS_KEY", server.options().secret);
  auto fs = ckpt::fs::open_file_system("s3://" + server.options().bucket + "/jobs/a?endpoint=" + server.endpoint());
  EXPECT_EQ(fs->uri(), "s3://" + server.options().bucket + "/jobs/a");
  fs->publish("_metadata", ckpt::as_bytes("m"));
  EXPECT_EQ(server.object("jobs/a/_metadata")->data, "m");
}

TEST(Register, ObsUsesObsCredentialsAndExplicitOptionsWin) {
  FakeS3 server;
  EnvGuard env;
  env.clear_s3();
  env.set("OBS_ACCESS_KEY_ID", server.options().access_key_id);
  env.set("OBS_SECRET_ACCESS_KEY", server.options().secret);
  env.set("OBS_ENDPOINT", server.endpoint());
  auto fs = ckpt::fs::open_file_system("obs://" + server.options().bucket + "/p");
  fs->publish("x", ckpt::as_bytes("x"));
  EXPECT_TRUE(server.object("p/x"));
  env.unset("OBS_ACCESS_KEY_ID");
  env.unset("OBS_SECRET_ACCESS_KEY");
  ckpt::s3::register_file_systems(ckpt::s3::S3Options::custom_endpoint(server.endpoint())
                                      .with_credentials(ckpt::s3::Credentials::make(
                                          server.options().access_key_id, ckpt::s3::Secret(server.options().secret))));
  auto explicit_fs = ckpt::fs::open_file_system("s3://" + server.options().bucket + "/q");
  explicit_fs->publish("y", ckpt::as_bytes("y"));
  EXPECT_TRUE(server.object("q/y"));
  ckpt::s3::register_file_systems();  // back to the environment
}

TEST(Register, CredentialsInTheUriNeverReachTheBackend) {
  try {
    ckpt::fs::open_file_system("s3://AKID:VerySecretValue@bucket/p");
    FAIL() << "opened a URI with credentials";
  } catch (const ckpt::ConfigError& e) {
    EXPECT_THAT(e.what(), ::testing::Not(::testing::HasSubstr("VerySecretValue")));
  }
}

}  // namespace
