#pragma once
// A fresh directory under $CKPT_TEST_TMPDIR (or the system's temp directory),
// removed with everything in it when destroyed.

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include <stdlib.h>

namespace ckpt::test {

class TempDir {
 public:
  explicit TempDir(const char* prefix = "ckpt-test") {
    const char* base = std::getenv("CKPT_TEST_TMPDIR");
    std::filesystem::path dir = base != nullptr && *base != '\0' ? std::filesystem::path(base)
                                                                 : std::filesystem::temp_directory_path();
    std::filesystem::create_directories(dir);
    std::string templ = (dir / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(templ.data()) == nullptr)
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + templ);
    path_ = templ;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    for (auto it = std::filesystem::recursive_directory_iterator(path_, ignored);
         !ignored && it != std::filesystem::recursive_directory_iterator(); it.increment(ignored)) {
      if (it->is_directory(ignored) && !it->is_symlink(ignored))
        std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all,
                                     std::filesystem::perm_options::add, ignored);
    }
    std::filesystem::remove_all(path_, ignored);  // never follows symlinks
  }
  const std::filesystem::path& path() const noexcept { return path_; }
  std::string str() const { return path_.string(); }
  std::string uri() const { return "file://" + path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace ckpt::test
