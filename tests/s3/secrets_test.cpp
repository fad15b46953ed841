// A known secret key and session token are configured, many operations are
// made to fail in every way we know (bad URIs, bad endpoints, 403s and 5xx
// from a server that even echoes the secret back, timeouts, hostile bodies,
// broken credentials files), and neither value may appear in any exception
// message or log line.
#include "env_guard.hpp"
#include "fake_fixture.hpp"

#include <ckpt/s3/file_system.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <sstream>

#include <unistd.h>

namespace {

using namespace ckpt::s3::test;
using ckpt::s3::Credentials;
using ckpt::s3::S3FileSystem;
using ckpt::s3::S3Options;
using ckpt::s3::Secret;
using namespace std::chrono_literals;

const std::string key_id = "AKIDSECRETSTEST";
const std::string secret = "SECRET-7f3a9c2e-DO-NOT-LEAK-b81d";
const std::string token = "TOKEN-2c9e71aa-DO-NOT-LEAK-44f0";

class SecretsTest : public FakeS3Test {
 protected:
  SecretsTest() : FakeS3Test(fake_options()) {}
  static FakeS3Options fake_options() {
    FakeS3Options o;
    o.access_key_id = key_id;
    o.secret = secret;
    return o;
  }
  S3Options secret_options() {
    return options().with_credentials(Credentials::make(key_id, Secret(secret), Secret(token)));
  }
  /// Runs `f`, which must throw a ckpt::Error, and keeps its message.
  void expect_failure(const std::string& what, const std::function<void()>& f) {
    try {
      f();
      ADD_FAILURE() << what << ": did not fail";
    } catch (const ckpt::Error& e) {
      messages_.emplace_back(what + ": " + e.what());
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": threw a non-ckpt exception: " << e.what();
    }
  }
  std::vector<std::string> messages_;
};

TEST_F(SecretsTest, NoMessageOrLogLineEverHoldsTheSecretOrTheToken) {
  EnvGuard env;
  env.clear_s3();
  const std::string echo = "the secret is " + secret + " and the token is " + token;

  // Bad URIs and endpoints carrying the secret.
  expect_failure("userinfo", [&] { S3FileSystem::make("s3://" + key_id + ":" + secret + "@bucket/p", secret_options()); });
  expect_failure("userinfo only", [&] { S3FileSystem::make("s3://" + secret + "@bucket/p", secret_options()); });
  expect_failure("query", [&] { S3FileSystem::make("s3://bucket/p?aws_secret_access_key=" + secret, secret_options()); });
  expect_failure("endpoint userinfo", [&] {
    S3FileSystem::make("s3://bucket/p", secret_options().with_endpoint("http://" + key_id + ":" + secret + "@127.0.0.1:9"));
  });
  expect_failure("bad option", [&] { S3FileSystem::make("s3://bucket/p", secret_options().with_part_size(1)); });

  // Credentials from a broken environment and broken files.
  env.set("AWS_SECRET_ACCESS_KEY", secret);
  expect_failure("half environment", [&] { Credentials::resolve("s3"); });
  env.unset("AWS_SECRET_ACCESS_KEY");
  const char* tmp = std::getenv("CKPT_TEST_TMPDIR");
  const std::string dir = tmp ? tmp : "/tmp";
  const std::string file = dir + "/secrets-test-credentials-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(file) << "[default\naws_secret_access_key=" << secret << "\naws_session_token=" << token << "\n";
  expect_failure("malformed file", [&] { Credentials::from_file(file); });
  std::ofstream(file) << "[default]\naws_secret_access_key=" << secret << "\naws_session_token=" << token << "\n";
  expect_failure("incomplete file", [&] { Credentials::from_file(file); });
  expect_failure("missing profile", [&] { Credentials::from_file(file, "nope"); });
  expect_failure("secret with a newline", [&] { Credentials::make(key_id, Secret(secret + "\n")); });

  // A server nobody listens on.
  {
    auto dead = S3FileSystem::make(root(), secret_options().with_endpoint("http://127.0.0.1:9").with_timeouts(500ms, 1000ms));
    expect_failure("connection refused", [&] { dead->publish("x", ckpt::as_bytes("x")); });
  }

  auto fs = make_fs(secret_options().with_timeouts(2000ms, 300ms));
  // 403 and 5xx whose bodies echo the secret and the token.
  server_.set_fault([&](const FakeRequest&) { return Fault::error(403, "AccessDenied", echo); });
  expect_failure("403 publish", [&] { fs->publish("a", ckpt::as_bytes("a")); });
  expect_failure("403 open", [&] { fs->open("a"); });
  expect_failure("403 list", [&] { fs->list("d"); });
  expect_failure("403 lock", [&] { fs->try_lock("l"); });
  server_.set_fault([&](const FakeRequest&) { return Fault::error(500, "InternalError", echo); });
  expect_failure("500 exists", [&] { fs->exists("a"); });
  expect_failure("500 remove_all", [&] { fs->remove_all("d"); });
  expect_failure("500 remove_temporaries", [&] { fs->remove_temporaries("d"); });
  server_.set_fault([&](const FakeRequest&) { return Fault::error(400, "InvalidArgument", echo); });
  expect_failure("400 multipart", [&] {
    auto f = fs->create("big");
    f->append(pattern(S3Options::min_part_size + 1, 41));
    f->commit();
  });
  // Hostile and malformed answers that carry the secret.
  server_.set_fault([&](const FakeRequest&) {
    return Fault{FaultKind::respond, 200, "<ListBucketResult><Contents><Key>" + echo + "</Key></Contents>", {}};
  });
  expect_failure("malformed listing", [&] { fs->list("d"); });
  server_.set_fault([&](const FakeRequest&) {
    return Fault{FaultKind::raw, 0,
                 "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\nX-Echo: " + echo + "\r\n\r\n" + echo, {}};
  });
  expect_failure("hostile length", [&] { fs->list("d"); });
  server_.set_fault([&](const FakeRequest& r) {
    if (r.op == "CompleteMultipartUpload")
      return Fault{FaultKind::respond, 200, "<Error><Code>AccessDenied</Code><Message>" + echo + "</Message></Error>", {}};
    return Fault::none();
  });
  expect_failure("complete error", [&] { write_file(*fs, "big", pattern(S3Options::min_part_size + 1, 42)); });
  server_.set_fault([&](const FakeRequest&) { return Fault::of(FaultKind::hang); });
  expect_failure("timeout", [&] { fs->open("a"); });
  server_.set_fault({});

  // A wrongly signed request (the fake verifies signatures with its secret).
  auto wrong = make_fs(secret_options().with_credentials(Credentials::make(key_id, Secret(secret + "-wrong"), Secret(token))));
  expect_failure("signature mismatch", [&] { wrong->publish("a", ckpt::as_bytes("a")); });

  // Printing credentials.
  std::ostringstream printed;
  printed << Credentials::make(key_id, Secret(secret), Secret(token)) << Secret(secret) << to_string(Secret(token));
  messages_.push_back(printed.str());

  EXPECT_GE(messages_.size(), 25u);
  const auto lines = log_lines();
  EXPECT_FALSE(lines.empty());
  std::vector<std::string> all = messages_;
  all.insert(all.end(), lines.begin(), lines.end());
  for (const auto& m : all) {
    EXPECT_EQ(m.find(secret), std::string::npos) << m;
    EXPECT_EQ(m.find(token), std::string::npos) << m;
    EXPECT_EQ(m.find("DO-NOT-LEAK"), std::string::npos) << m;
  }
  // The messages still say what failed.
  EXPECT_THAT(messages_, ::testing::Contains(::testing::HasSubstr("AccessDenied")));
  EXPECT_THAT(messages_, ::testing::Contains(::testing::HasSubstr("s3://fake-bucket/root/a")));
}

}  // namespace
