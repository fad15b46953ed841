#pragma once
// Every regular file under a directory with its bytes: to prove that a
// command left a tree exactly as it was.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace ckpt::test {

inline std::map<std::string, std::string> files_under(const std::filesystem::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    out[std::filesystem::relative(e.path(), dir).string()] = {std::istreambuf_iterator<char>(in), {}};
  }
  return out;
}

}  // namespace ckpt::test
