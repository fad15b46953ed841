// The retry policy and the bounds, against FakeS3's injected faults:
// dropped connections, 5xx then success, a slow server, an ambiguous timeout
// after the object was stored, 403, hostile responses.
#include "fake_fixture.hpp"

#include <ckpt/clock.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace {

using ckpt::CorruptionError;
using ckpt::IoError;
using ckpt::errc;
using ckpt::s3::S3Options;
using ckpt::s3::S3WritableFile;
using namespace ckpt::s3::test;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

using FaultTest = FakeS3Test;

/// Applies `fault` to the first `times` requests of `op`.
std::function<Fault(const FakeRequest&)> first(const std::string& op, int times, Fault fault) {
  return [=](const FakeRequest& r) { return r.op == op && r.number <= times ? fault : Fault::none(); };
}

TEST_F(FaultTest, DroppedConnectionsAreRetried) {
  auto fs = make_fs();
  fs->publish("a", ckpt::as_bytes("alpha"));
  server_.set_fault(first("GetObject", 2, Fault::of(FaultKind::drop)));
  EXPECT_EQ(ckpt::as_string_view(read_all(*fs, "a")), "alpha");
  EXPECT_EQ(server_.count("GetObject"), 3);
  server_.set_fault(first("PutObject", 1 + server_.count("PutObject"), Fault::of(FaultKind::drop)));
  fs->publish("b", ckpt::as_bytes("beta"));  // dropped before it was stored: the retry stores it
  EXPECT_EQ(server_.object("root/b")->data, "beta");
  EXPECT_THAT(log_lines(), Contains(HasSubstr("retry 1 of 3")));
}

TEST_F(FaultTest, ServerErrorsAndThrottlingThenSuccess) {
  auto fs = make_fs();
  int n = 0;
  server_.set_fault([&](const FakeRequest& r) {
    if (r.op != "PutObject") return Fault::none();
    switch (++n) {
      case 1: return Fault::error(500, "InternalError");
      case 2: return Fault::error(503, "SlowDown", "Please reduce your request rate.");
      case 3: return Fault::error(429, "TooManyRequests");
      default: return Fault::none();
    }
  });
  fs->publish("x", ckpt::as_bytes("payload"));
  EXPECT_EQ(server_.count("PutObject"), 4);
  EXPECT_EQ(server_.object("root/x")->data, "payload");
}

TEST_F(FaultTest, RetriesGiveUpAfterMaxAttemptsWithAClearError) {
  auto fs = make_fs();
  server_.set_fault(first("HeadObject", 100, Fault::error(503, "SlowDown")));
  try {
    fs->open("chk-7/_metadata");
    FAIL() << "open succeeded";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), errc::io_error);
    EXPECT_EQ(e.path(), "chk-7/_metadata");
    EXPECT_THAT(e.what(), HasSubstr("HeadObject 's3://fake-bucket/root/chk-7/_metadata'"));
    EXPECT_THAT(e.what(), HasSubstr("HTTP 503"));  // a HEAD answer has no body to name the error
    EXPECT_THAT(e.what(), HasSubstr("after 4 attempts"));
  }
  EXPECT_EQ(server_.count("HeadObject"), 4);
}

TEST_F(FaultTest, RetriesSleepOnTheInjectedClock) {
  auto clock = std::make_shared<ckpt::ManualClock>();
  auto fs = make_fs(options().with_clock(clock).with_retry({3, 60s, 600s}));
  server_.set_fault(first("PutObject", 1, Fault::error(500, "InternalError")));
  auto done = std::async(std::launch::async, [&] { fs->publish("slow", ckpt::as_bytes("s")); });
  clock->wait_for_sleepers(1);  // the back-off sleeps on our clock, not on the real one
  EXPECT_EQ(server_.count("PutObject"), 1);
  clock->advance(60s);
  done.get();
  EXPECT_EQ(server_.count("PutObject"), 2);
}

TEST_F(FaultTest, ForbiddenIsNotRetriedAndTheMessageNamesTheObject) {
  auto fs = make_fs();
  server_.set_fault(first("PutObject", 100, Fault::error(403, "AccessDenied", "Access Denied")));
  try {
    fs->publish("chk-1/_metadata", ckpt::as_bytes("m"));
    FAIL() << "publish succeeded";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), errc::permission_denied);
    EXPECT_EQ(e.path(), "chk-1/_metadata");
    EXPECT_THAT(e.what(), HasSubstr("403 AccessDenied: Access Denied"));
    EXPECT_THAT(e.what(), HasSubstr("access key id AKIDFAKE"));
    EXPECT_THAT(e.what(), Not(HasSubstr(server_.options().secret)));
  }
  EXPECT_EQ(server_.count("PutObject"), 1);
}

TEST_F(FaultTest, SlowServerTimesOut) {
  auto fs = make_fs(options().with_timeouts(2000ms, 300ms).with_retry({2, 0ms, 0ms}));
  server_.set_fault(first("HeadObject", 100, Fault::of(FaultKind::hang)));
  try {
    fs->open("x");
    FAIL() << "open succeeded";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), errc::io_error);
    EXPECT_THAT(e.what(), HasSubstr("imeout"));
    EXPECT_THAT(e.what(), HasSubstr("after 2 attempts"));
  }
  EXPECT_EQ(server_.count("HeadObject"), 2);
}

TEST_F(FaultTest, AmbiguousTimeoutAfterTheObjectWasStoredIsASuccess) {
  auto fs = make_fs(options().with_timeouts(2000ms, 300ms));
  // The first PUT is stored, but its answer never comes: the client times
  // out, retries, and the retry's If-None-Match fails with 412.
  server_.set_fault(first("PutObject", 1, Fault::of(FaultKind::hang_after)));
  fs->publish("chk-3/_metadata", ckpt::as_bytes("manifest"));
  EXPECT_EQ(server_.count("PutObject"), 2);
  EXPECT_EQ(server_.object("root/chk-3/_metadata")->data, "manifest");
  EXPECT_THAT(log_lines(), Contains(HasSubstr("an earlier attempt had stored the object")));
  // And the name stays exclusive afterwards.
  EXPECT_THROW(fs->publish("chk-3/_metadata", ckpt::as_bytes("manifest")), IoError);
}

TEST_F(FaultTest, AmbiguousTimeoutWhileAnotherWriterStoredIsAConflict) {
  auto fs = make_fs(options().with_timeouts(2000ms, 300ms));
  server_.set_fault([&](const FakeRequest& r) {
    if (r.op != "PutObject" || r.number != 1) return Fault::none();
    server_.put_object("root/chk-3/_metadata", "manifest", {{"ckpt-writer", "someone-else"}});
    return Fault::of(FaultKind::hang);  // ours is never stored
  });
  try {
    fs->publish("chk-3/_metadata", ckpt::as_bytes("manifest"));  // the same bytes, even
    FAIL() << "publish over another writer's object succeeded";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), errc::already_exists);
  }
  EXPECT_EQ(server_.object("root/chk-3/_metadata")->meta.at("ckpt-writer"), "someone-else");
}

TEST_F(FaultTest, AmbiguousMultipartCompletionIsASuccess) {
  auto fs = make_fs(options().with_upload_threads(2));
  server_.set_fault(first("CompleteMultipartUpload", 1, Fault::of(FaultKind::drop_after)));
  const auto data = pattern(2 * S3Options::min_part_size + 10, 21);
  write_file(*fs, "chk-4/data", data);
  EXPECT_EQ(server_.count("CompleteMultipartUpload"), 2);  // the resent request answered NoSuchUpload
  EXPECT_THAT(log_lines(), Contains(HasSubstr("an earlier attempt had completed the upload")));
  EXPECT_TRUE(same(ckpt::as_bytes(server_.object("root/chk-4/data")->data), data));
  EXPECT_TRUE(server_.uploads().empty());
}

TEST_F(FaultTest, CompletionAnswering200WithAnErrorIsRetried) {
  auto fs = make_fs();
  server_.set_fault(first("CompleteMultipartUpload", 1,
                          {FaultKind::respond, 200,
                           "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
                           {}}));
  const auto data = pattern(S3Options::min_part_size + 1, 22);
  write_file(*fs, "big", data);
  EXPECT_EQ(server_.count("CompleteMultipartUpload"), 2);
  EXPECT_TRUE(same(ckpt::as_bytes(server_.object("root/big")->data), data));
}

TEST_F(FaultTest, CreateMultipartUploadIsNotRetriedAfterAnAmbiguousFailure) {
  auto fs = make_fs();
  server_.set_fault(first("CreateMultipartUpload", 1, Fault::of(FaultKind::drop_after)));
  auto f = fs->create("big");
  try {
    f->append(pattern(S3Options::min_part_size + 1, 23));
    FAIL() << "append succeeded";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("not retried"));
    EXPECT_EQ(e.path(), "big");
  }
  EXPECT_EQ(server_.count("CreateMultipartUpload"), 1);
  EXPECT_THROW(f->commit(), IoError);
  // Throttling means the server did nothing: that is retried.
  server_.set_fault(first("CreateMultipartUpload", 2, Fault::error(503, "SlowDown")));
  write_file(*fs, "big", pattern(S3Options::min_part_size + 1, 24));
  EXPECT_EQ(server_.count("CreateMultipartUpload"), 3);
}

TEST_F(FaultTest, AFailedPartFailsTheFileAndAbortsTheUpload) {
  auto fs = make_fs(options().with_upload_threads(2));
  server_.set_fault(first("UploadPart", 100, Fault::error(400, "InvalidArgument", "part rejected")));
  auto f = fs->create("big");
  EXPECT_THROW(
      {
        f->append(pattern(3 * S3Options::min_part_size, 25));
        f->commit();
      },
      IoError);
  f.reset();
  EXPECT_TRUE(server_.uploads().empty());
  EXPECT_FALSE(server_.object("root/big"));
}

TEST_F(FaultTest, HostileContentLengthIsRefusedBeforeAllocating) {
  auto fs = make_fs();
  fs->publish("small", ckpt::as_bytes("0123456789"));
  auto f = fs->open("small");
  const std::string hostile =
      "HTTP/1.1 206 Partial Content\r\nContent-Length: 1099511627776\r\nContent-Range: bytes 0-9/10\r\n\r\n0123456789";
  server_.set_fault(first("GetObject", 100, {FaultKind::raw, 0, hostile, {}}));
  ckpt::Bytes dst(10);
  try {
    f->read(0, dst);
    FAIL() << "read succeeded";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), errc::limit_exceeded);
    EXPECT_THAT(e.what(), HasSubstr("1099511627776"));
  }
  EXPECT_EQ(server_.count("GetObject"), 1);  // not retried
  server_.set_fault(first("ListObjectsV2", 100,
                          {FaultKind::raw, 0, "HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n<ListBucketResult>", {}}));
  try {
    fs->list("");
    FAIL() << "list succeeded";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), errc::limit_exceeded);
  }
}

TEST_F(FaultTest, EndlessResponseBodiesAreCutAtTheLimit) {
  auto options_ = options();
  options_.max_response_bytes = 64 * 1024;
  auto fs = make_fs(options_);
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(4096, 'x');
  for (int i = 0; i < 64; ++i) chunked += "1000\r\n" + chunk + "\r\n";
  chunked += "0\r\n\r\n";
  server_.set_fault(first("ListObjectsV2", 100, {FaultKind::raw, 0, chunked, {}}));
  try {
    fs->list("");
    FAIL() << "list succeeded";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), errc::limit_exceeded);
    EXPECT_THAT(e.what(), HasSubstr("65536"));
  }
}

TEST_F(FaultTest, ARangedReadAnsweredWithMoreBytesIsRefused) {
  auto fs = make_fs();
  fs->publish("f", ckpt::as_bytes(std::string(1000, 'z')));
  auto f = fs->open("f");
  // A server ignoring Range answers 200 with the whole object.
  server_.set_fault([](const FakeRequest& r) {
    if (r.op != "GetObject") return Fault::none();
    return Fault{FaultKind::respond, 200, std::string(1000, 'z'), {}};
  });
  ckpt::Bytes dst(10);
  EXPECT_THROW(f->read(5, dst), IoError);
}

TEST_F(FaultTest, MalformedXmlIsACorruptionErrorNamingTheListing) {
  auto fs = make_fs();
  server_.set_fault(first("ListObjectsV2", 100, {FaultKind::respond, 200, "<ListBucketResult><Contents>", {}}));
  try {
    fs->list("chk-1");
    FAIL() << "list succeeded";
  } catch (const CorruptionError& e) {
    EXPECT_EQ(e.code(), errc::corrupt_data);
    EXPECT_THAT(e.what(), HasSubstr("s3://fake-bucket/root/chk-1/"));
  }
}

TEST_F(FaultTest, ATruncatedBodyIsRetriedAndNeverAShortRead) {
  auto fs = make_fs();
  fs->publish("f", ckpt::as_bytes("0123456789"));
  auto f = fs->open("f");
  server_.set_fault(first("GetObject", 1,
                          {FaultKind::raw, 0, "HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\n\r\n01234", {}}));
  ckpt::Bytes dst(10);
  f->read(0, dst);
  EXPECT_EQ(ckpt::as_string_view(dst), "0123456789");
  EXPECT_EQ(server_.count("GetObject"), 2);
}

TEST_F(FaultTest, ConnectionRefusedIsRetriedThenReported) {
  const auto port = server_.port();
  server_.stop();
  auto fs = ckpt::s3::S3FileSystem::make(
      root(), options().with_endpoint("http://127.0.0.1:" + std::to_string(port)).with_timeouts(1000ms, 2000ms));
  try {
    fs->exists("x");
    FAIL() << "exists succeeded";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), errc::io_error);
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1:" + std::to_string(port)));
    EXPECT_THAT(e.what(), HasSubstr("after 4 attempts"));
  }
}

TEST_F(FaultTest, AWrongSecretIsRejectedOnTheWireAndNotShown) {
  const std::string wrong = "Wrong-Secret-Value-0987654321";
  auto fs = make_fs(options().with_credentials(
      ckpt::s3::Credentials::make(server_.options().access_key_id, ckpt::s3::Secret(wrong))));
  try {
    fs->publish("x", ckpt::as_bytes("x"));
    FAIL() << "a wrongly signed request was accepted";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), errc::permission_denied);
    EXPECT_THAT(e.what(), HasSubstr("SignatureDoesNotMatch"));
    EXPECT_THAT(e.what(), Not(HasSubstr(wrong)));
  }
  EXPECT_EQ(server_.count("PutObject"), 1);
}

}  // namespace
