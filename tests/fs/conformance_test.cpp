// The conformance suite (ckpt/testing/file_system_conformance.hpp) against every backend in the core.

#include <ckpt/fs/fault_injecting_file_system.hpp>
#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/fs/memory_file_system.hpp>

#include <ckpt/testing/file_system_conformance.hpp>

#include "fs_test_util.hpp"

#include <atomic>
#include <memory>
#include <string>

namespace {

using ckpt::fs::FaultInjectingFileSystem;
using ckpt::fs::FaultInjectingOs;
using ckpt::fs::FileSystem;

std::shared_ptr<FileSystem> make_local() {
  auto dir = std::make_shared<ckpt::fs::test::TempDir>();
  // The deleter removes the directory once the test has dropped the file system.
  return std::shared_ptr<FileSystem>(new ckpt::fs::LocalFileSystem(dir->str() + "/root"),
                                     [dir](FileSystem* fs) { delete fs; });
}

std::shared_ptr<FileSystem> make_memory_in_named_store() {
  static std::atomic<int> counter{0};
  const auto name = "conformance-" + std::to_string(counter.fetch_add(1));
  auto fs = ckpt::fs::MemoryFileSystem::open_named(name, "some/prefix");
  // Something outside the prefix that the file system must never show.
  ckpt::fs::MemoryFileSystem(ckpt::fs::MemoryStore::named(name)).publish("outside", ckpt::as_bytes("x"));
  return std::shared_ptr<FileSystem>(fs.get(), [fs, name](FileSystem*) mutable {
    fs.reset();
    ckpt::fs::MemoryStore::drop(name);
  });
}

std::shared_ptr<FileSystem> make_fault_injecting(FaultInjectingOs::Options options) {
  auto os = std::make_shared<FaultInjectingOs>(options);
  return std::shared_ptr<FileSystem>(new FaultInjectingFileSystem(os), [os](FileSystem* fs) {
    // Only the root's descriptor may still be open: anything else leaked.
    EXPECT_EQ(os->open_descriptors(), 1u) << "descriptors leaked";
    delete fs;
    EXPECT_EQ(os->open_descriptors(), 0u) << "descriptors leaked";
  });
}

}  // namespace

CKPT_FS_CONFORMANCE(Local, make_local);
CKPT_FS_CONFORMANCE(Memory, [] { return std::make_shared<ckpt::fs::MemoryFileSystem>(); });
CKPT_FS_CONFORMANCE(MemoryNamedWithPrefix, make_memory_in_named_store);
CKPT_FS_CONFORMANCE(FaultInjecting,
                    [] { return make_fault_injecting(FaultInjectingOs::Options::defaults()); });
CKPT_FS_CONFORMANCE(FaultInjectingLinkFallback, [] {
  return make_fault_injecting(FaultInjectingOs::Options::without_rename_noreplace());
});
