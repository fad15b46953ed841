#pragma once
// The S3-compatible server the server tests run against, from the environment
// tests/stages/s3.sh sets (CKPT_S3_TEST_ENDPOINT, _BUCKET, _ACCESS_KEY_ID,
// _SECRET_ACCESS_KEY). Without it the tests skip with a message saying how to
// run them, so plain ctest passes on a machine without node.
#include <ckpt/s3/file_system.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

namespace ckpt::s3::test {

struct ServerEnv {
  std::string endpoint, bucket, access_key_id, secret;
};

inline std::optional<ServerEnv> server_env() {
  const auto get = [](const char* n) -> std::string {
    const char* v = std::getenv(n);
    return v ? v : "";
  };
  ServerEnv e{get("CKPT_S3_TEST_ENDPOINT"), get("CKPT_S3_TEST_BUCKET"), get("CKPT_S3_TEST_ACCESS_KEY_ID"),
              get("CKPT_S3_TEST_SECRET_ACCESS_KEY")};
  if (e.endpoint.empty()) return std::nullopt;
  if (e.bucket.empty()) e.bucket = "ckpt-test";
  return e;
}

inline const char* skip_message() {
  return "no S3-compatible server: CKPT_S3_TEST_ENDPOINT is not set (tests/stages/s3.sh ci starts s3rver on "
         "loopback and runs these tests)";
}

/// A root no other test uses: s3://bucket/<test name>-<random>.
inline std::string unique_root(const ServerEnv& e) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "test";
  for (auto& c : name)
    if (c == '/') c = '.';
  return "s3://" + e.bucket + "/" + name + "-" + detail::random_hex(4);
}

inline S3Options server_options(const ServerEnv& e) {
  return S3Options::custom_endpoint(e.endpoint)
      .with_credentials(Credentials::make(e.access_key_id, Secret(e.secret)))
      .with_part_size(S3Options::min_part_size)
      .with_retry({4, std::chrono::milliseconds(20), std::chrono::milliseconds(200)});
}

}  // namespace ckpt::s3::test

#define CKPT_REQUIRE_S3_SERVER(env)                                           \
  const auto env##_opt = ::ckpt::s3::test::server_env();                      \
  if (!env##_opt) GTEST_SKIP() << ::ckpt::s3::test::skip_message();           \
  const auto& env = *env##_opt
