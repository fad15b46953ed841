// Issue 15, "id, directory and kind must agree, or it is refused", for
// savepoints: found beside the directory fuzzer (fuzz/directory_fuzzer.cpp).
// checkpoints() leaves out a manifest that disagrees with its directory
// (cp -a chk-2 chk-9), and so does savepoints(): a checkpoint copied by hand
// into savepoints/savepoint-7 was listed as a "savepoint" of kind checkpoint
// and id 1, and create_tag() tagged it.
#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "workload.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace {

TEST(DirectoryConsistency, ACheckpointCopiedIntoTheSavepointsIsNeitherListedNorTaggedAsASavepoint) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  {
    ckpt::CheckpointStorage storage(fs);
    auto ops = ckpt::test::make_operators("op", 1);
    ckpt::test::checkpoint(storage, ops, 1);
  }
  fs->make_directories("savepoints/savepoint-7");  // cp -a chk-1 savepoints/savepoint-7
  for (const auto& e : fs->list("chk-1"))
    ckpt::fs::write_file(*fs, "savepoints/savepoint-7/" + e.name, ckpt::fs::read_file(*fs, "chk-1/" + e.name, 1 << 26));

  ckpt::CheckpointStorage storage(fs);
  EXPECT_THROW(storage.open_savepoint("savepoint-7"), ckpt::Error);
  for (const auto& s : storage.savepoints())
    ADD_FAILURE() << "savepoints() lists " << s.directory << " as " << ckpt::to_string(s.kind) << " " << s.id;
  EXPECT_THROW(storage.create_tag("copy", 1, 0), ckpt::RestoreError) << "a tag names a checkpoint's manifest";
}

}  // namespace
