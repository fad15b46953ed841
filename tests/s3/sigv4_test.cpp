// Signature Version 4 against AWS's published vectors: the SigV4 test suite
// (get-vanilla, get-vanilla-query-order-key-case, post-vanilla) and the four
// worked examples of the S3 API reference ("Signature Calculations for the
// Authorization Header: Transferring Payload in a Single Chunk").
#include <ckpt/s3/sigv4.hpp>

#include <gtest/gtest.h>

#include <chrono>

namespace {

using ckpt::s3::Secret;
using ckpt::s3::SignableRequest;
using ckpt::s3::SigningScope;

const Secret suite_secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
const SigningScope suite_scope{"20150830T123600Z", "us-east-1", "service"};
constexpr const char* empty_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

SignableRequest suite_request(std::string method) {
  SignableRequest r;
  r.method = std::move(method);
  r.path = "/";
  r.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  r.payload_hash = empty_sha256;
  return r;
}

TEST(SigV4, GetVanilla) {
  const auto r = suite_request("GET");
  EXPECT_EQ(ckpt::s3::canonical_request(r),
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
                std::string(empty_sha256));
  EXPECT_EQ(ckpt::s3::string_to_sign(suite_scope, ckpt::s3::canonical_request(r)),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(ckpt::s3::authorization(r, "AKIDEXAMPLE", suite_secret, suite_scope),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, GetVanillaQueryOrderKeyCase) {
  auto r = suite_request("GET");
  r.query = {{"Param2", "value2"}, {"Param1", "value1"}};
  EXPECT_EQ(ckpt::s3::canonical_query(r.query), "Param1=value1&Param2=value2");
  const auto to_sign = ckpt::s3::string_to_sign(suite_scope, ckpt::s3::canonical_request(r));
  EXPECT_EQ(ckpt::s3::signature(suite_secret, suite_scope, to_sign),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4, PostVanilla) {
  const auto r = suite_request("POST");
  const auto to_sign = ckpt::s3::string_to_sign(suite_scope, ckpt::s3::canonical_request(r));
  EXPECT_EQ(ckpt::s3::signature(suite_secret, suite_scope, to_sign),
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

// The S3 API reference's examples.
const Secret s3_secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
const SigningScope s3_scope{"20130524T000000Z", "us-east-1", "s3"};

SignableRequest s3_request(std::string method, std::string path, std::string payload_hash) {
  SignableRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.payload_hash = payload_hash;
  r.headers = {{"host", "examplebucket.s3.amazonaws.com"},
               {"x-amz-date", "20130524T000000Z"},
               {"x-amz-content-sha256", payload_hash}};
  return r;
}

TEST(SigV4, S3GetObjectWithRange) {
  auto r = s3_request("GET", "/test.txt", empty_sha256);
  r.headers.emplace_back("Range", "bytes=0-9");
  const auto canonical = ckpt::s3::canonical_request(r);
  EXPECT_EQ(canonical, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                       "x-amz-content-sha256:" + std::string(empty_sha256) +
                           "\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n" +
                           empty_sha256);
  EXPECT_EQ(ckpt::s3::detail::sha256_hex(canonical),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  const auto auth = ckpt::s3::authorization(r, "AKIAIOSFODNN7EXAMPLE", s3_secret, s3_scope);
  EXPECT_EQ(auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, S3PutObjectEncodesTheKeyOnce) {
  const auto payload = ckpt::s3::detail::sha256_hex(std::string_view("Welcome to Amazon S3."));
  EXPECT_EQ(payload, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  auto r = s3_request("PUT", "/" + ckpt::s3::detail::uri_encode("test$file.text", true), payload);
  EXPECT_EQ(r.path, "/test%24file.text");
  r.headers.emplace_back("Date", "Fri, 24 May 2013 00:00:00 GMT");
  r.headers.emplace_back("x-amz-storage-class", "REDUCED_REDUNDANCY");
  const auto canonical = ckpt::s3::canonical_request(r);
  EXPECT_EQ(ckpt::s3::detail::sha256_hex(canonical),
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  EXPECT_EQ(ckpt::s3::signature(s3_secret, s3_scope, ckpt::s3::string_to_sign(s3_scope, canonical)),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, S3GetBucketLifecycle) {
  auto r = s3_request("GET", "/", empty_sha256);
  r.query = {{"lifecycle", ""}};
  const auto to_sign = ckpt::s3::string_to_sign(s3_scope, ckpt::s3::canonical_request(r));
  EXPECT_EQ(ckpt::s3::signature(s3_secret, s3_scope, to_sign),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, S3ListObjectsQueryOrder) {
  auto r = s3_request("GET", "/", empty_sha256);
  r.query = {{"prefix", "J"}, {"max-keys", "2"}};  // given out of order
  const auto to_sign = ckpt::s3::string_to_sign(s3_scope, ckpt::s3::canonical_request(r));
  EXPECT_EQ(ckpt::s3::signature(s3_secret, s3_scope, to_sign),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, AnotherSecretGivesAnotherSignature) {
  const auto r = suite_request("GET");
  const auto to_sign = ckpt::s3::string_to_sign(suite_scope, ckpt::s3::canonical_request(r));
  EXPECT_NE(ckpt::s3::signature(Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEX"), suite_scope, to_sign),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, CanonicalHeadersTrimCollapseLowerCaseAndMerge) {
  SignableRequest r;
  r.method = "GET";
  r.headers = {{"My-Header1", "  a   b   c  "}, {"host", "h"}, {"my-header1", "d"}, {"X-Amz-Date", "t"}};
  r.payload_hash = empty_sha256;
  EXPECT_EQ(ckpt::s3::canonical_request(r),
            "GET\n/\n\nhost:h\nmy-header1:a b c,d\nx-amz-date:t\n\nhost;my-header1;x-amz-date\n" +
                std::string(empty_sha256));
}

TEST(SigV4, UriEncodingKeepsOnlyUnreservedCharacters) {
  using ckpt::s3::detail::uri_encode;
  EXPECT_EQ(uri_encode("a b/c+d~e_f.g-h", true), "a%20b/c%2Bd~e_f.g-h");
  EXPECT_EQ(uri_encode("a/b=c&d"), "a%2Fb%3Dc%26d");
  EXPECT_EQ(uri_encode("\xc3\xa9t\xc3\xa9"), "%C3%A9t%C3%A9");
  std::string decoded;
  EXPECT_TRUE(ckpt::s3::detail::uri_decode("%C3%A9t%c3%a9%2F", decoded));
  EXPECT_EQ(decoded, "\xc3\xa9t\xc3\xa9/");
  EXPECT_FALSE(ckpt::s3::detail::uri_decode("abc%2", decoded));
  EXPECT_FALSE(ckpt::s3::detail::uri_decode("abc%zz", decoded));
}

TEST(SigV4, AmzDateIsUtcBasicFormat) {
  using namespace std::chrono;
  const auto t = system_clock::time_point(seconds(1440938160));  // 2015-08-30T12:36:00Z
  EXPECT_EQ(ckpt::s3::amz_date(t), "20150830T123600Z");
  EXPECT_EQ(ckpt::s3::amz_date(system_clock::time_point(seconds(0))), "19700101T000000Z");
}

}  // namespace
