// Writes the fuzzers' seed corpus: real manifests and state files, written by
// CheckpointStorage from the reliability job (keyed state of every kind and
// operator list state), full and incremental, compressed and not, and a
// savepoint. Generated in the build; nothing binary is committed.
//
//   ckpt_fuzz_seeds <dir>   ->  <dir>/manifest/*, <dir>/state_file/*

#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "job.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

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
  std::printf("seed corpus: %zu manifests, %zu state files in %s\n", manifests, state_files, out.c_str());
  return 0;
}
