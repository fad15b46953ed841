// kill -9 of a real process in the middle of a multipart upload, and of a
// lock holder, against the loopback S3-compatible server.
#include "child_process.hpp"
#include "server_env.hpp"
#include "test_data.hpp"

#include <ckpt/clock.hpp>
#include <ckpt/s3/file_system.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>

namespace {

using ckpt::s3::S3FileSystem;
using ckpt::s3::S3Options;
using ckpt::s3::test::ChildProcess;
using namespace ckpt::s3::test;

TEST(S3Crash, SigkillDuringMultipartUploadLeavesNothingVisibleAndEarlierDataIntact) {
  CKPT_REQUIRE_S3_SERVER(env);
  const auto root = unique_root(env);
  auto fs = S3FileSystem::make(root, server_options(env));
  // A committed checkpoint (itself a multipart object), and its manifest.
  const auto data = pattern(2 * S3Options::min_part_size + 99, 11);
  write_file(*fs, "chk-1/data", data);
  fs->publish("chk-1/_metadata", ckpt::as_bytes("manifest 1"));

  ChildProcess child({CKPT_S3_KILL_CHILD, "upload", root, "chk-2/data"});
  const auto line = child.read_line();
  ASSERT_THAT(line, ::testing::StartsWith("uploading ")) << "the child died before it was uploading";
  const std::string upload_id = line.substr(10);
  child.kill(SIGKILL);
  const int status = child.wait();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  EXPECT_FALSE(fs->exists("chk-2/data"));
  EXPECT_FALSE(fs->exists("chk-2"));
  EXPECT_EQ(fs->list(""), (std::vector<ckpt::fs::Entry>{{"chk-1", ckpt::fs::EntryType::directory, 0}}));
  EXPECT_TRUE(same(read_all(*fs, "chk-1/data"), data));
  EXPECT_EQ(ckpt::as_string_view(read_all(*fs, "chk-1/_metadata")), "manifest 1");

  // The unfinished upload is the crash's only trace; remove_temporaries() clears it.
  auto& client = fs->client();
  const auto before = client.list_uploads(client.dir_prefix("chk-2"), {}, {});
  if (before) {
    ASSERT_EQ(before->uploads.size(), 1u);
    EXPECT_EQ(before->uploads[0].upload_id, upload_id);
  } else {
    std::cout << "note: this server does not implement ListMultipartUploads (s3rver 3.7 does not); "
                 "FakeServer.RemoveTemporariesAbortsUnfinishedUploads checks remove_temporaries()\n";
  }
  fs->remove_temporaries("chk-2");
  if (before) {
    EXPECT_TRUE(client.list_uploads(client.dir_prefix("chk-2"), {}, {})->uploads.empty());
  }

  // The name is not poisoned: a new writer commits it.
  const auto again = pattern(S3Options::min_part_size + 5, 12);
  write_file(*fs, "chk-2/data", again);
  EXPECT_TRUE(same(read_all(*fs, "chk-2/data"), again));
}

TEST(S3Crash, LockOfAKilledHolderIsFreeOnceItsLeaseRunsOut) {
  CKPT_REQUIRE_S3_SERVER(env);
  const auto root = unique_root(env);
  ChildProcess child({CKPT_S3_KILL_CHILD, "lock", root, "job/_lock"});
  ASSERT_EQ(child.read_line(), "locked");
  child.kill(SIGKILL);
  child.wait();

  // The child's lease (60 s by default) was written with the real clock; ours is manual.
  auto clock = std::make_shared<ckpt::ManualClock>(ckpt::SystemClock().epoch_millis());
  auto fs = S3FileSystem::make(root, server_options(env).with_clock(clock));
  EXPECT_FALSE(fs->try_lock("job/_lock")) << "a fresh lease of a dead holder still counts";
  clock->advance(std::chrono::seconds(30));
  EXPECT_FALSE(fs->try_lock("job/_lock"));
  clock->advance(std::chrono::seconds(31));
  auto lock = fs->try_lock("job/_lock");
  ASSERT_TRUE(lock);
  EXPECT_TRUE(dynamic_cast<ckpt::s3::S3Lock&>(*lock).held());
  EXPECT_FALSE(fs->try_lock("job/_lock"));
}

}  // namespace
