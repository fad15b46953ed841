// Secret masking, and credentials from explicit values, the environment and
// an AWS-style shared credentials file.
#include "env_guard.hpp"

#include <ckpt/s3/credentials.hpp>
#include <ckpt/s3/options.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace {

using ckpt::ConfigError;
using ckpt::s3::Credentials;
using ckpt::s3::Secret;
using ckpt::s3::test::EnvGuard;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* secret_value = "TopSecretKeyValue/0123456789abcdef";
constexpr const char* token_value = "SessionTokenValue+fedcba9876543210";

std::filesystem::path temp_file(const std::string& name, const std::string& text) {
  const char* base = std::getenv("CKPT_TEST_TMPDIR");
  auto dir = std::filesystem::path(base ? base : "/tmp") / "s3_credentials_test";
  std::filesystem::create_directories(dir);
  auto path = dir / (name + "-" + std::to_string(::getpid()));
  std::ofstream(path) << text;
  return path;
}

TEST(Secret, PrintsMasked) {
  const Secret s(secret_value);
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "****");
  EXPECT_EQ(to_string(s), "****");
  EXPECT_EQ(s.reveal(), secret_value);
  EXPECT_EQ(to_string(Secret()), "<none>");
}

TEST(Secret, MovedFromIsEmptyAndCopiesKeepTheValue) {
  Secret a(secret_value);
  Secret b = a;
  Secret c = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract says so
  EXPECT_EQ(b.reveal(), secret_value);
  EXPECT_EQ(c.reveal(), secret_value);
  b = Secret("other");
  EXPECT_EQ(b.reveal(), "other");
}

TEST(Credentials, PrintingMasksSecretAndToken) {
  const auto c = Credentials::make("AKIDPRINT", Secret(secret_value), Secret(token_value));
  std::ostringstream os;
  os << c;
  EXPECT_THAT(os.str(), HasSubstr("AKIDPRINT"));
  EXPECT_THAT(os.str(), Not(HasSubstr(secret_value)));
  EXPECT_THAT(os.str(), Not(HasSubstr(token_value)));
}

TEST(Credentials, ExplicitMustNotBeEmptyOrHoldControlCharacters) {
  EXPECT_THROW(Credentials::make("", Secret(secret_value)), ConfigError);
  EXPECT_THROW(Credentials::make("AKID", Secret("")), ConfigError);
  try {
    Credentials::make("AKID", Secret(std::string(secret_value) + "\r\nX-Injected: 1"));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), Not(HasSubstr(secret_value)));
  }
}

TEST(Credentials, FromAwsEnvironment) {
  EnvGuard env;
  env.clear_s3();
  EXPECT_FALSE(Credentials::from_environment("AWS"));
  env.set("AWS_ACCESS_KEY_ID", "AKIDENV");
  env.set("AWS_SECRET_ACCESS_KEY", secret_value);
  env.set("AWS_SESSION_TOKEN", token_value);
  const auto c = Credentials::from_environment("AWS");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "AKIDENV");
  EXPECT_EQ(c->secret_access_key.reveal(), secret_value);
  EXPECT_EQ(c->session_token.reveal(), token_value);
  EXPECT_THAT(c->source, HasSubstr("AWS_"));
}

TEST(Credentials, ObsSchemeReadsObsVariablesOnly) {
  EnvGuard env;
  env.clear_s3();
  env.set("AWS_ACCESS_KEY_ID", "AKIDAWS");
  env.set("AWS_SECRET_ACCESS_KEY", "aws-secret-value");
  env.set("OBS_ACCESS_KEY_ID", "AKIDOBS");
  env.set("OBS_SECRET_ACCESS_KEY", secret_value);
  EXPECT_EQ(Credentials::resolve("obs").access_key_id, "AKIDOBS");
  EXPECT_EQ(Credentials::resolve("s3").access_key_id, "AKIDAWS");
}

TEST(Credentials, HalfSetEnvironmentIsAnErrorWithoutTheSecret) {
  EnvGuard env;
  env.clear_s3();
  env.set("AWS_SECRET_ACCESS_KEY", secret_value);
  try {
    Credentials::from_environment("AWS");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("AWS_ACCESS_KEY_ID"));
    EXPECT_THAT(e.what(), Not(HasSubstr(secret_value)));
  }
}

TEST(Credentials, FromFileWithProfiles) {
  const auto file = temp_file("profiles", "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\n"
                                          "aws_secret_access_key = default-secret\n\n"
                                          "[ci.deploy]\naws_access_key_id=AKIDCI\naws_secret_access_key=" +
                                              std::string(secret_value) + "\naws_session_token=" + token_value + "\n");
  EXPECT_EQ(Credentials::from_file(file).access_key_id, "AKIDDEFAULT");
  const auto ci = Credentials::from_file(file, "ci.deploy");
  EXPECT_EQ(ci.access_key_id, "AKIDCI");
  EXPECT_EQ(ci.secret_access_key.reveal(), secret_value);
  EXPECT_EQ(ci.session_token.reveal(), token_value);
  try {
    Credentials::from_file(file, "missing");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::not_found);
    EXPECT_THAT(e.what(), HasSubstr("'missing'"));
    EXPECT_THAT(e.what(), Not(HasSubstr(secret_value)));
  }
}

TEST(Credentials, ResolveFallsBackToTheSharedFileAndProfile) {
  EnvGuard env;
  env.clear_s3();
  const auto file = temp_file("shared", "[default]\naws_access_key_id=A1\naws_secret_access_key=s1\n"
                                        "[other]\naws_access_key_id=A2\naws_secret_access_key=s2\n");
  env.set("AWS_SHARED_CREDENTIALS_FILE", file.string());
  EXPECT_EQ(Credentials::resolve("s3").access_key_id, "A1");
  EXPECT_EQ(Credentials::resolve("s3", "other").access_key_id, "A2");
  env.set("AWS_PROFILE", "other");
  EXPECT_EQ(Credentials::resolve("s3").access_key_id, "A2");
}

TEST(Credentials, NoneAnywhereSaysWhatToSet) {
  EnvGuard env;
  env.clear_s3();
  try {
    Credentials::resolve("s3");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("AWS_ACCESS_KEY_ID"));
  }
}

TEST(Credentials, MalformedAndOversizedFilesAreClearErrors) {
  const auto bad = temp_file("malformed", "[default\naws_access_key_id=A\naws_secret_access_key=" +
                                              std::string(secret_value) + "\n");
  try {
    Credentials::from_file(bad);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr(bad.string()));
    EXPECT_THAT(e.what(), Not(HasSubstr(secret_value)));
  }
  const auto big = temp_file("big", std::string(Credentials::max_file_bytes + 1, '#'));
  try {
    Credentials::from_file(big);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::limit_exceeded);
  }
  const auto incomplete = temp_file("incomplete", "[default]\naws_access_key_id=A\n");
  EXPECT_THROW(Credentials::from_file(incomplete), ConfigError);
  EXPECT_THROW(Credentials::from_file(incomplete.string() + ".missing"), ConfigError);
}

}  // namespace
