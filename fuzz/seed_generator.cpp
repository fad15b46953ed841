// Writes the fuzzers' seed corpus: real manifests and state files, written by
// CheckpointStorage from the reliability job (keyed state of every kind and
// operator list state), full and incremental, compressed and not, and a
// savepoint; and a few short programs for the directory fuzzer (see
// directory_fuzzer.cpp for what each byte does). Generated in the build;
// nothing binary is committed.
//
//   ckpt_fuzz_seeds <dir>   ->  <dir>/manifest/*, <dir>/state_file/*, <dir>/type_name/*, <dir>/directory/*

#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "job.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace {

void save(const std::filesystem::path& dir, const std::string& name, const ckpt::Bytes& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

ckpt::Bytes bytes_of(const std::string& text) {
  const auto* p = reinterpret_cast<const std::byte*>(text.data());
  return {p, p + text.size()};
}

std::string flat(std::string path) {
  for (auto& c : path)
    if (c == '/') c = '_';
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out = argv[1];
  struct Setup {
    std::string name;
    ckpt::StorageOptions options;
    std::uint64_t keys;
  };
  const Setup setups[] = {
      {"full", ckpt::StorageOptions::defaults().retain(2), 40},
      {"incremental", ckpt::StorageOptions::incremental_checkpoints(3), 60},
      {"raw", ckpt::StorageOptions::defaults().retain(2).with_compression(ckpt::Codec::none), 20},
      {"small", ckpt::StorageOptions::defaults(), 3},
  };
  std::size_t manifests = 0, state_files = 0;
  for (const auto& setup : setups) {
    auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
    ckpt::CheckpointStorage storage(fs, ckpt::StorageOptions(setup.options).with_compression_threads(1));
    ckpt::rel::Job job(setup.keys);
    for (std::uint64_t id = 1; id <= 3; ++id) {
      job.advance_to(id);
      job.checkpoint(storage, setup.options.incremental);
    }
    (void)storage.promote_to_savepoint(3, "seed");
    std::vector<std::string> dirs;
    for (const auto& info : storage.checkpoints()) dirs.push_back(info.directory);
    for (const auto& info : storage.savepoints()) dirs.push_back(info.directory);
    for (const auto& dir : dirs) {
      const auto manifest_path = dir + "/" + ckpt::manifest_file_name;
      const auto bytes = ckpt::fs::read_file(*fs, manifest_path, 1 << 30);
      save(out / "manifest", setup.name + "-" + flat(manifest_path), bytes);
      ++manifests;
      const auto m = ckpt::decode_manifest(bytes, manifest_path);
      for (const auto& op : m.operators) {  // the type names a dump parses, each with no value bytes
        save(out / "type_name", setup.name + "-key-" + op.uid, bytes_of(op.key_type));
        for (const auto& st : op.keyed_states)
          save(out / "type_name", setup.name + "-" + op.uid + "-" + st.name, bytes_of(st.value_type));
      }
      for (const auto& op : m.operators)
        for (const auto& s : op.subtasks)
          for (const auto& f : s.files) {
            const auto path = f.shared ? "shared/" + f.path : dir + "/" + f.path;
            save(out / "state_file", setup.name + "-" + flat(path), ckpt::fs::read_file(*fs, path, 1 << 30));
            ++state_files;
          }
    }
  }
  // The directory fuzzer's input: a flags byte (bit 0: the incremental
  // storage, bit 1: with the savepoint that ended the job), then operations.
  const std::vector<std::vector<unsigned char>> programs = {
      {0x00},                                // the checkpoints as written
      {0x01},                                // ... incremental
      {0x03},                                // ... and the savepoint that ended the job
      {0x00, 0, 1, 0, 9},                    // cp -a chk-2 chk-9
      {0x03, 0, 4, 0, 10},                   // a savepoint copied in as checkpoint 10
      {0x00, 6, 2, 1, 7},                    // chk-3's manifest claims id 7
      {0x01, 5, 2, 0, 0x40, 0x00, 0x5a, 1},  // chk-3's manifest damaged (not re-signed)
      {0x00, 5, 1, 0, 0x60, 0x00, 0x01, 0},  // chk-2's manifest changed and re-signed
      {0x00, 2, 0, 1},                       // chk-1 and chk-2 swapped
      {0x01, 1, 2, 1, 5},                    // chk-3 moved to savepoints/savepoint-5
      {0x05, 4, 7, 0, 0, 3, 0, 1, 4},        // a file deleted; retain 2
  };
  for (std::size_t i = 0; i < programs.size(); ++i) {
    const auto* p = reinterpret_cast<const std::byte*>(programs[i].data());
    save(out / "directory", "program-" + std::to_string(i), ckpt::Bytes(p, p + programs[i].size()));
  }
  std::printf("seed corpus: %zu manifests, %zu state files, %zu directory programs in %s\n", manifests, state_files,
              programs.size(), out.c_str());
  return 0;
}
