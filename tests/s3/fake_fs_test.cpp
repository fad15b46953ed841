// S3FileSystem semantics that need a server implementing more than s3rver
// does (AbortMultipartUpload, ListMultipartUploads, conditional writes), or
// that need to see inside the server (parallel parts, request counts).
#include "fake_fixture.hpp"

#include <ckpt/clock.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>

namespace {

using ckpt::IoError;
using ckpt::errc;
using ckpt::fs::Entry;
using ckpt::fs::EntryType;
using ckpt::s3::ConditionalWrites;
using ckpt::s3::S3Lock;
using ckpt::s3::S3Options;
using ckpt::s3::S3WritableFile;
using namespace ckpt::s3::test;
using ::testing::Contains;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

using FakeServer = FakeS3Test;

TEST_F(FakeServer, PartsAreUploadedInParallel) {
  // The server holds parts, so the client must not time them out meanwhile
  // (a busy machine can take a while to get three on the wire).
  auto fs = make_fs(options().with_upload_threads(3).with_timeouts(std::chrono::seconds(2), std::chrono::seconds(120)));
  // Hold each part until three are on the wire at once (or give up after a while).
  server_.set_fault([&](const FakeRequest& r) {
    if (r.op == "UploadPart" && r.number <= 3) server_.wait_active("UploadPart", 3, 60s);
    return Fault::none();
  });
  const auto data = pattern(5 * S3Options::min_part_size + 3, 31);
  auto f = fs->create("big");
  f->append(data);
  f->commit();
  EXPECT_EQ(server_.max_concurrent("UploadPart"), 3);
  EXPECT_EQ(server_.count("UploadPart"), 6);
  EXPECT_EQ(dynamic_cast<S3WritableFile&>(*f).parts_uploaded(), 6u);
  EXPECT_TRUE(same(ckpt::as_bytes(server_.object("root/big")->data), data));
  // The ETag is S3's multipart form: MD5 of the part MD5s, "-6".
  EXPECT_THAT(server_.object("root/big")->etag, HasSubstr("-6\""));
}

TEST_F(FakeServer, AbortLeavesNoUploadBehind) {
  auto fs = make_fs();
  {
    auto f = fs->create("chk-1/a");
    f->append(pattern(2 * S3Options::min_part_size + 1, 32));
    EXPECT_EQ(server_.uploads().size(), 1u);
    f->abort();
    EXPECT_TRUE(server_.uploads().empty());
  }
  {
    auto f = fs->create("chk-1/b");
    f->append(pattern(2 * S3Options::min_part_size + 1, 33));
  }  // destroyed uncommitted
  EXPECT_TRUE(server_.uploads().empty());
  EXPECT_EQ(server_.object_count(), 0u);
  EXPECT_EQ(server_.count("AbortMultipartUpload"), 2);
}

TEST_F(FakeServer, RemoveTemporariesAbortsUnfinishedUploads) {
  auto fs = make_fs();
  auto& client = fs->client();
  // What writers killed mid-upload leave: uploads nobody will complete.
  client.create_upload(client.key("chk-2/a"), {});
  client.create_upload(client.key("chk-2/sub/b"), {});
  client.create_upload(client.key("chk-3/c"), {});
  EXPECT_EQ(server_.uploads().size(), 3u);
  fs->remove_temporaries("chk-2");
  EXPECT_EQ(server_.uploads(), std::vector<std::string>{"root/chk-3/c"});
  EXPECT_THAT(log_lines(), Contains(HasSubstr("aborted 2 unfinished multipart upload(s)")));
  fs->remove_temporaries("");
  EXPECT_TRUE(server_.uploads().empty());
}

TEST_F(FakeServer, RemoveTemporariesOnAStoreThatCannotListUploadsIsANoOp) {
  server_.stop();
  FakeS3Options o;
  o.multipart_management = false;
  ckpt::s3::test::FakeS3 limited(o);
  auto fs = ckpt::s3::S3FileSystem::make(root(), options().with_endpoint(limited.endpoint()));
  fs->remove_temporaries("chk-1");
  EXPECT_THAT(log_lines(), Contains(HasSubstr("does not implement ListMultipartUploads")));
  {
    auto f = fs->create("big");
    f->append(pattern(S3Options::min_part_size + 1, 34));
  }  // abort is refused (405): logged, not thrown
  EXPECT_THAT(log_lines(), Contains(HasSubstr("does not implement it")));
  EXPECT_FALSE(limited.object("root/big"));
}

TEST_F(FakeServer, ListingCountsPrefixesTowardThePageAndFollowsTokens) {
  auto o = options();
  o.list_page_size = 3;
  auto fs = make_fs(o);
  for (const char* p : {"d/a", "d/b", "d/c/1", "d/c/2", "d/e/x/y", "d/f", "d/g/1", "d/h"})
    fs->publish(p, ckpt::as_bytes(p));
  EXPECT_EQ(fs->list("d"), (std::vector<Entry>{{"a", EntryType::file, 3},
                                               {"b", EntryType::file, 3},
                                               {"c", EntryType::directory, 0},
                                               {"e", EntryType::directory, 0},
                                               {"f", EntryType::file, 3},
                                               {"g", EntryType::directory, 0},
                                               {"h", EntryType::file, 3}}));
  EXPECT_GE(server_.count("ListObjectsV2"), 3);
}

TEST_F(FakeServer, ListingWithoutTheDelimiterGivesTheSameChildren) {
  auto fs = make_fs();
  for (const char* p : {"d/a", "d/b/1", "d/b/2", "d/c/x/y/z", "d/c/x/w", "d/e", "d/f/g/h"})
    fs->publish(p, ckpt::as_bytes(p));
  auto o = options();
  o.delimiter_listing = false;
  o.list_page_size = 2;
  auto walking = make_fs(o);
  for (const char* dir : {"", "d", "d/b", "d/c", "d/c/x", "d/f", "missing"})
    EXPECT_EQ(walking->list(dir), fs->list(dir)) << dir;
  EXPECT_EQ(walking->list("d/c"), (std::vector<Entry>{{"x", EntryType::directory, 0}}));
}

TEST_F(FakeServer, RemoveAllDeletesInBatchesOfAThousand) {
  auto fs = make_fs();
  for (int i = 0; i < 2500; ++i) server_.put_object("root/many/" + std::to_string(100000 + i), "x");
  server_.put_object("root/many-other", "keep");
  server_.put_object("root/many", "a file named like the directory");
  fs->remove_all("many");
  EXPECT_EQ(server_.count("DeleteObjects"), 3);
  EXPECT_EQ(server_.object_count(), 1u);
  EXPECT_TRUE(server_.object("root/many-other"));
}

TEST_F(FakeServer, VirtualHostAddressing) {
  auto fs = make_fs(options()
                        .with_endpoint("http://localhost:" + std::to_string(server_.port()))
                        .with_addressing(ckpt::s3::Addressing::virtual_host));
  fs->publish("v/h", ckpt::as_bytes("vhost"));
  EXPECT_EQ(server_.object("root/v/h")->data, "vhost");
  EXPECT_EQ(fs->list("v"), (std::vector<Entry>{{"h", EntryType::file, 5}}));
}

TEST_F(FakeServer, SessionTokensAreSentAndSigned) {
  const std::string token = "Session-Token-Value-abcdef123456";
  auto fs = make_fs(options().with_credentials(ckpt::s3::Credentials::make(
      server_.options().access_key_id, ckpt::s3::Secret(server_.options().secret), ckpt::s3::Secret(token))));
  std::string seen;
  server_.set_fault([&](const FakeRequest& r) {
    if (r.op == "PutObject") seen = std::string((*r.raw)["x-amz-security-token"]);
    return Fault::none();
  });
  fs->publish("t", ckpt::as_bytes("t"));  // the fake verifies the signature, token included
  EXPECT_EQ(seen, token);
}

TEST_F(FakeServer, DetectsAStoreWithoutConditionalWritesAndFallsBack) {
  server_.stop();
  FakeS3Options o;
  o.conditional_writes = false;
  ckpt::s3::test::FakeS3 plain(o);
  auto fs = ckpt::s3::S3FileSystem::make(
      root(), options().with_endpoint(plain.endpoint()).with_conditional_writes(ConditionalWrites::detect));
  fs->publish("m", ckpt::as_bytes("1"));
  EXPECT_THAT(log_lines(), Contains(HasSubstr("HEAD-then-PUT")));
  try {
    fs->publish("m", ckpt::as_bytes("2"));
    FAIL() << "second publish succeeded";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), errc::already_exists);
  }
  auto f = fs->create("m");
  f->append(pattern(S3Options::min_part_size + 1, 35));
  EXPECT_THROW(f->commit(), IoError);
  EXPECT_EQ(plain.object("root/m")->data, "1");
  EXPECT_EQ(plain.object_count(), 1u);  // the probe object is gone
  EXPECT_TRUE(fs->list("").size() == 1u);
}

TEST_F(FakeServer, DetectFindsConditionalWritesWhereTheyWork) {
  auto fs = make_fs(options().with_conditional_writes(ConditionalWrites::detect));
  fs->publish("m", ckpt::as_bytes("1"));
  EXPECT_THAT(log_lines(), Contains(HasSubstr("honours If-None-Match")));
  EXPECT_EQ(server_.count("PutObject"), 3);  // two probes, one publish
  fs->publish("n", ckpt::as_bytes("1"));
  EXPECT_EQ(server_.count("PutObject"), 4);  // probed once only
  EXPECT_EQ(server_.count("HeadObject"), 0);
}

TEST_F(FakeServer, ALockOfAnotherOwnerIsTakenOverOnlyAfterItsLeaseEnds) {
  auto clock = std::make_shared<ckpt::ManualClock>(1'000'000);
  auto fs = make_fs(options().with_clock(clock).with_lock_lease(10s));
  // A holder that died: its lease ends at 1'005'000.
  server_.put_object("root/job/_lock", "ckpt lock",
                     {{"ckpt-lock-owner", "dead-owner"}, {"ckpt-lock-expires", "1005000"}});
  EXPECT_FALSE(fs->try_lock("job/_lock"));
  clock->advance(5s);
  auto lock = fs->try_lock("job/_lock");
  ASSERT_TRUE(lock);
  auto& s3lock = dynamic_cast<S3Lock&>(*lock);
  EXPECT_TRUE(s3lock.held());
  EXPECT_EQ(s3lock.expires_at(), 1'015'000);
  EXPECT_NE(server_.object("root/job/_lock")->meta.at("ckpt-lock-owner"), "dead-owner");
  EXPECT_FALSE(fs->try_lock("job/_lock"));
  clock->advance(3s);
  s3lock.renew();
  EXPECT_EQ(s3lock.expires_at(), 1'018'000);
  lock.reset();
  EXPECT_FALSE(server_.object("root/job/_lock"));  // released
}

TEST_F(FakeServer, AHolderWhoseLockWasTakenOverLearnsIt) {
  auto clock = std::make_shared<ckpt::ManualClock>(0);
  auto fs = make_fs(options().with_clock(clock).with_lock_lease(10s));
  auto first_lock = fs->try_lock("job/_lock");
  ASSERT_TRUE(first_lock);
  clock->advance(11s);  // the first holder stalled past its lease
  auto second_lock = fs->try_lock("job/_lock");
  ASSERT_TRUE(second_lock);
  auto& stale = dynamic_cast<S3Lock&>(*first_lock);
  try {
    stale.renew();
    FAIL() << "a stale holder renewed";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), errc::locked);
  }
  EXPECT_FALSE(stale.held());
  first_lock.reset();  // must not delete the new holder's lock
  EXPECT_TRUE(server_.object("root/job/_lock"));
  EXPECT_TRUE(dynamic_cast<S3Lock&>(*second_lock).held());
}

TEST_F(FakeServer, ReadsAreRangedAndCheckTheVersion) {
  auto fs = make_fs();
  const auto data = pattern(100'000, 36);
  write_file(*fs, "f", data);
  auto f = fs->open("f");
  ckpt::Bytes part(1000);
  f->read(50'000, part);
  EXPECT_TRUE(same(part, std::span(data).subspan(50'000, 1000)));
  // Replaced under the reader: reported, never mixed.
  fs->remove("f");
  server_.put_object("root/f", std::string(100'000, 'q'));
  try {
    f->read(0, part);
    FAIL() << "read a replaced object";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("changed since it was opened"));
  }
}

TEST_F(FakeServer, MisuseOfAWritableFileIsAClearError) {
  auto fs = make_fs();
  auto f = fs->create("x");
  f->append(ckpt::as_bytes("x"));
  f->commit();
  try {
    f->append(ckpt::as_bytes("y"));
    FAIL() << "append after commit";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("already committed"));
  }
  EXPECT_THROW(f->commit(), IoError);
  f->abort();  // harmless after commit
  EXPECT_EQ(server_.object("root/x")->data, "x");
  EXPECT_THROW(fs->create("../x"), ckpt::ConfigError);
  EXPECT_THROW(fs->list("/abs"), ckpt::ConfigError);
}

}  // namespace
