// A writer for the crash tests: started by ckpt_s3_server_tests, told by argv
// what to do, reports on stdout when it is in the middle of it, then keeps
// going (or waits) until the test kills it with SIGKILL.
//
//   ckpt_s3_kill_child upload <root-uri> <path>   a multipart upload, never committed
//   ckpt_s3_kill_child lock <root-uri> <path>     holds a lock
//   ckpt_s3_kill_child checkpoint <root-uri> <n>  checkpoint 1 (n keys), then a
//                                                 large checkpoint 2 (multipart)
//
// The server comes from the CKPT_S3_TEST_* environment, as for the tests.
#include "server_env.hpp"
#include "test_data.hpp"

#include <ckpt/s3/file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "s3_checkpoint_workload.hpp"

#include <cstdio>
#include <exception>
#include <string>

#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s upload|lock|checkpoint <root-uri> <path|keys>\n", argv[0]);
    return 2;
  }
  try {
    const auto env = ckpt::s3::test::server_env();
    if (!env) {
      std::fprintf(stderr, "CKPT_S3_TEST_ENDPOINT is not set\n");
      return 2;
    }
    const std::string mode = argv[1];
    auto fs = ckpt::s3::S3FileSystem::make(argv[2], ckpt::s3::test::server_options(*env).with_upload_threads(2));
    if (mode == "checkpoint") {
      ckpt::CheckpointStorage storage(fs);
      const auto keys = std::stoull(argv[3]);
      ckpt::s3::test::BlobOperator op;
      op.fill(keys, 1);
      op.checkpoint(storage, 1);
      std::printf("complete 1\n");
      std::fflush(stdout);
      op.fill(keys * 16, 2);  // large: a multipart upload of its state file
      op.checkpoint(storage, 2);
      std::printf("complete 2\n");
      std::fflush(stdout);
      char c;
      while (::read(STDIN_FILENO, &c, 1) > 0) {
      }
      return 0;
    }
    std::unique_ptr<ckpt::fs::Lock> lock;  // held until the kill
    if (mode == "lock") {
      lock = fs->try_lock(argv[3]);
      if (!lock) {
        std::fprintf(stderr, "lock is taken\n");
        return 1;
      }
      std::printf("locked\n");
      std::fflush(stdout);
    } else {
      auto file = fs->create(argv[3]);
      auto& s3file = dynamic_cast<ckpt::s3::S3WritableFile&>(*file);
      const auto part = ckpt::s3::test::pattern(ckpt::s3::S3Options::min_part_size, 7);
      bool told = false;
      for (int i = 0; i < 12; ++i) {  // at most 12 parts, then wait for the kill
        file->append(part);
        if (!told && s3file.parts_uploaded() >= 2) {
          std::printf("uploading %s\n", s3file.upload_id().c_str());
          std::fflush(stdout);
          told = true;
        }
      }
      if (!told) {
        std::printf("uploading %s\n", s3file.upload_id().c_str());
        std::fflush(stdout);
      }
      file.release();  // never abort: a SIGKILL would not either
    }
    char c;
    while (::read(STDIN_FILENO, &c, 1) > 0) {
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
