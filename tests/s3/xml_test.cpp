// Reading and writing S3's XML, including hostile bodies.
#include <ckpt/s3/detail/xml.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using ckpt::CorruptionError;
namespace d = ckpt::s3::detail;

TEST(Xml, ParsesAListObjectsV2Page) {
  const auto page = d::parse_list_objects(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>p/</Prefix><KeyCount>3</KeyCount><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter>
  <IsTruncated>true</IsTruncated><NextContinuationToken>tok&amp;1</NextContinuationToken>
  <Contents><Key>p/a &amp; b</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>&quot;abc&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key> p/spaced </Key><Size>0</Size></Contents>
  <CommonPrefixes><Prefix>p/dir/</Prefix></CommonPrefixes>
</ListBucketResult>)");
  ASSERT_EQ(page.objects.size(), 2u);
  EXPECT_EQ(page.objects[0].key, "p/a & b");
  EXPECT_EQ(page.objects[0].size, 12u);
  EXPECT_EQ(page.objects[0].etag, "\"abc\"");
  EXPECT_EQ(page.objects[1].key, " p/spaced ");
  ASSERT_EQ(page.prefixes.size(), 1u);
  EXPECT_EQ(page.prefixes[0], "p/dir/");
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.next_token, "tok&1");
}

TEST(Xml, MalformedListingsAreCorruptionErrors) {
  for (const char* body :
       {"", "not xml", "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>",
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
        "<Other/>", "<ListBucketResult><Contents>"}) {
    try {
      d::parse_list_objects(body);
      ADD_FAILURE() << "accepted: " << body;
    } catch (const CorruptionError& e) {
      EXPECT_EQ(e.code(), ckpt::errc::corrupt_data);
      EXPECT_THAT(e.what(), ::testing::HasSubstr("ListBucketResult"));
    }
  }
}

TEST(Xml, DeepNestingIsRejectedBeforeParsing) {
  std::string body;
  for (int i = 0; i < 200000; ++i) body += "<a>";
  EXPECT_GT(d::xml_depth(body), d::max_xml_depth);
  EXPECT_THROW(d::parse_list_objects(body), CorruptionError);
  EXPECT_EQ(d::parse_error(body).code, "");  // never throws
  // Quoted '>' and self-closing tags are counted right.
  EXPECT_EQ(d::xml_depth(R"(<a x="/>"><b/><c><!-- <d> --><![CDATA[<e>]]></c></a>)"), 2);
}

TEST(Xml, ParsesErrors) {
  const auto e = d::parse_error(
      "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Reduce your rate</Message>"
      "<RequestId>R1</RequestId></Error>");
  EXPECT_EQ(e.code, "SlowDown");
  EXPECT_EQ(e.message, "Reduce your rate");
  EXPECT_EQ(e.request_id, "R1");
  EXPECT_EQ(d::parse_error("<html>Bad gateway</html>").code, "");
}

TEST(Xml, CompleteMayAnswerAnErrorWithStatus200) {
  auto r = d::parse_complete("<Error><Code>InternalError</Code><Message>x</Message></Error>");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, "InternalError");
  r = d::parse_complete("<CompleteMultipartUploadResult><ETag>\"e-2\"</ETag></CompleteMultipartUploadResult>");
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.etag, "\"e-2\"");
}

TEST(Xml, UploadsAndDeleteResults) {
  const auto u = d::parse_list_uploads(
      "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
      "<Upload><Key>p/x</Key><UploadId>u1</UploadId></Upload>"
      "<Upload><Key>p/y</Key><UploadId>u2</UploadId></Upload></ListMultipartUploadsResult>");
  ASSERT_EQ(u.uploads.size(), 2u);
  EXPECT_EQ(u.uploads[1].upload_id, "u2");
  const auto del = d::parse_delete_result(
      "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code>"
      "<Message>no</Message></Error></DeleteResult>");
  ASSERT_EQ(del.size(), 1u);
  EXPECT_EQ(del[0].key, "b");
  EXPECT_EQ(del[0].code, "AccessDenied");
  EXPECT_EQ(d::parse_upload_id("<InitiateMultipartUploadResult><UploadId>xyz</UploadId></InitiateMultipartUploadResult>"),
            "xyz");
  EXPECT_THROW(d::parse_upload_id("<InitiateMultipartUploadResult/>"), CorruptionError);
}

TEST(Xml, RequestBodiesEscapeAndRoundTrip) {
  const auto body = d::delete_body({"a<b>&\"c'", "plain"});
  EXPECT_THAT(body, ::testing::Not(::testing::HasSubstr("a<b>")));
  const auto tree = d::parse_xml(body, "Delete");
  std::vector<std::string> keys;
  for (const auto& [name, child] : tree)
    if (name == "Object") keys.push_back(*d::text(child, "Key"));
  EXPECT_EQ(keys, (std::vector<std::string>{"a<b>&\"c'", "plain"}));
  const auto complete = d::parse_xml(d::complete_body({{1, "\"e1\""}, {2, "\"e2\""}}), "CompleteMultipartUpload");
  int parts = 0;
  for (const auto& [name, child] : complete)
    if (name == "Part") {
      ++parts;
      EXPECT_EQ(*d::text(child, "ETag"), "\"e" + std::to_string(parts) + "\"");
      EXPECT_EQ(d::number(child, "PartNumber", "Part"), static_cast<std::uint64_t>(parts));
    }
  EXPECT_EQ(parts, 2);
}

}  // namespace
