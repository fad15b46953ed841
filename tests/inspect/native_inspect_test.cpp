// ckpt-inspect on a native (incremental) RocksDB checkpoint: list and show
// name each native subtask's files (own and shared, with sizes), verify
// checks every file's size and XXH3 checksum and reports a flipped bit or a
// missing SST with a non-zero exit code, and dump asks for a savepoint. The
// program itself links only the core (native files are files and checksums);
// this test needs the RocksDB backend to write the checkpoint.
#include "inspect.hpp"

#include <ckpt/rocksdb/rocksdb_keyed_state_backend.hpp>
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/storage/native_files.hpp>

#include "temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {
namespace native_inspect {

using ::testing::HasSubstr;
using ::testing::Not;
using Backend = ckpt::rocksdb::RocksDBKeyedStateBackend<std::uint64_t>;

std::string run(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  }
  const int status = p ? ::pclose(p) : -1;
  return out + "\n[exit " + std::to_string(WEXITSTATUS(status)) + "]";
}

class NativeInspect : public ::testing::Test {
 protected:
  void SetUp() override {
    Backend backend(ckpt::rocksdb::RocksDBOptions::in(work.path()).with_options_factory(
                        [](::rocksdb::DBOptions&, ::rocksdb::ColumnFamilyOptions& cf) {
                          cf.disable_auto_compactions = true;
                        }),
                    ckpt::KeyGroupRange::all(128), 128);
    auto count = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0});
    for (std::uint64_t k = 0; k < 200; ++k) {
      backend.set_current_key(k);
      count.update(static_cast<std::int64_t>(k));
    }
    auto storage = ckpt::CheckpointStorage::open(dir.uri(), ckpt::StorageOptions::incremental_checkpoints(2));
    auto pending = storage->begin_checkpoint(1, 1000);
    pending->write({"counter", 0, 1, backend.begin_snapshot(1, ckpt::SnapshotMode::incremental), std::nullopt});
    pending->complete();
    backend.notify_snapshot_complete(1);
  }
  std::unique_ptr<ckpt::SnapshotReader> open() { return ckpt::CheckpointStorage::open_snapshot(dir.uri() + "/chk-1"); }
  /// The local path of the first shared SST file the checkpoint lists, and its name.
  std::pair<std::filesystem::path, std::string> an_sst() {
    auto reader = open();
    for (const auto& n : reader->manifest().native)
      for (const auto& f : n.files)
        if (f.shared && f.name.ends_with(".sst")) return {dir.path() / ckpt::detail::native_path(f, reader->directory()), f.name};
    ADD_FAILURE() << "no shared SST in the checkpoint";
    return {};
  }

  ckpt::test::TempDir work{"ckpt-inspect-native-work"};
  ckpt::test::TempDir dir{"ckpt-inspect-native"};
};

TEST_F(NativeInspect, ListAndShowNameTheNativeFiles) {
  std::ostringstream listed;
  ckpt::inspect::list(dir.uri(), listed);
  EXPECT_THAT(listed.str(), HasSubstr("/chk-1  native: "));
  EXPECT_THAT(listed.str(), HasSubstr(" shared, "));

  std::ostringstream shown;
  ckpt::inspect::show(*open(), shown);
  const auto text = shown.str();
  EXPECT_THAT(text, HasSubstr("subtask 0: native RocksDB files"));
  EXPECT_THAT(text, HasSubstr("keyed state 'count'"));
  const auto [path, name] = an_sst();
  EXPECT_THAT(text, HasSubstr("shared " + name));
  EXPECT_THAT(text, HasSubstr(std::to_string(std::filesystem::file_size(path))));
  EXPECT_THAT(text, HasSubstr("own    CURRENT"));
  EXPECT_THAT(text, HasSubstr("own    MANIFEST-"));
  EXPECT_THAT(text, HasSubstr("total native: "));
  EXPECT_THAT(ckpt::inspect::manifest_json(open()->manifest()), HasSubstr("\"native\""));
}

TEST_F(NativeInspect, VerifyChecksEveryNativeFile) {
  std::ostringstream out;
  auto reader = open();
  ckpt::inspect::verify(*reader, out);
  const auto files = reader->manifest().native.at(0).files.size();
  EXPECT_THAT(out.str(), HasSubstr("OK: 0 blocks and " + std::to_string(files) + " native files in "));
}

TEST_F(NativeInspect, AFlippedBitInAnSstFailsVerify) {
  const auto [path, name] = an_sst();
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(std::filesystem::file_size(path) / 2));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(path) / 2));
    f.put(static_cast<char>(c ^ 0x10));
  }
  std::ostringstream out;
  auto reader = open();
  EXPECT_THROW(ckpt::inspect::verify(*reader, out), ckpt::CorruptionError);
  EXPECT_THAT(out.str(), HasSubstr("BAD native file '" + name + "' of operator 'counter' subtask 0 (shared)"));
  EXPECT_THAT(out.str(), HasSubstr("FAILED: 1 of "));

  const auto program = run(std::string(CKPT_INSPECT_BIN) + " verify " + dir.uri() + "/chk-1");
  EXPECT_THAT(program, HasSubstr("BAD native file '" + name + "'"));
  EXPECT_THAT(program, HasSubstr("[exit 1]"));
  EXPECT_THAT(program, Not(HasSubstr("OK: ")));
}

TEST_F(NativeInspect, AMissingSstFailsVerify) {
  const auto [path, name] = an_sst();
  std::filesystem::remove(path);
  const auto program = run(std::string(CKPT_INSPECT_BIN) + " verify " + dir.uri() + "/chk-1");
  // Opening the checkpoint already finds it (every listed file must be there).
  EXPECT_THAT(program, HasSubstr("(native file '" + name + "') is missing; the manifest lists it"));
  EXPECT_THAT(program, HasSubstr("[exit 1]"));
}

TEST_F(NativeInspect, TheProgramListsShowsVerifiesAndWillNotDump) {
  const std::string bin = CKPT_INSPECT_BIN;
  EXPECT_THAT(run(bin + " list " + dir.uri()), HasSubstr("native: "));
  EXPECT_THAT(run(bin + " show " + dir.uri() + "/chk-1"), HasSubstr("native RocksDB files"));
  const auto verified = run(bin + " verify " + dir.uri() + "/chk-1");
  EXPECT_THAT(verified, HasSubstr("native files in "));
  EXPECT_THAT(verified, HasSubstr("[exit 0]"));
  const auto dumped = run(bin + " dump " + dir.uri() + "/chk-1 counter count");
  EXPECT_THAT(dumped, HasSubstr("take a savepoint"));
  EXPECT_THAT(dumped, HasSubstr("[exit 1]"));
}

}  // namespace native_inspect
}  // namespace
