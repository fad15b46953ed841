#pragma once
// Helpers shared by the file-system tests (and by other test binaries that
// instantiate tests/fs/conformance.hpp).

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>
#include <vector>

#include <unistd.h>

namespace ckpt::fs::test {

/// Runs `f` and returns the exception of type E it throws, after checking its
/// code; fails the test (and returns nullopt) if it throws nothing or another type.
template <class E, class F>
std::optional<E> expect_error(F&& f, errc code) {
  try {
    f();
  } catch (const E& e) {
    EXPECT_EQ(e.code(), make_error_code(code)) << e.what();
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << typeid(E).name() << " (" << make_error_code(code).message() << "), got "
                  << typeid(e).name() << ": " << e.what();
    return std::nullopt;
  }
  ADD_FAILURE() << "expected " << typeid(E).name() << " (" << make_error_code(code).message()
                << "), nothing was thrown";
  return std::nullopt;
}

/// Deterministic, position-dependent bytes: a misplaced chunk shows up.
inline Bytes pattern(std::size_t size, std::uint32_t seed = 1) {
  Bytes out(size);
  std::uint32_t x = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<std::byte>(x & 0xff);
  }
  return out;
}

inline Bytes bytes_of(std::string_view s) { return to_bytes(as_bytes(s)); }

inline std::string string_of(ByteSpan b) { return std::string(as_string_view(b)); }

/// The whole file at `path`, read through the interface.
inline Bytes read_all(FileSystem& fs, std::string_view path) {
  auto file = fs.open(path);
  Bytes out(static_cast<std::size_t>(file->size()));
  file->read(0, out);
  return out;
}

inline void write_all(FileSystem& fs, std::string_view path, ByteSpan data) {
  auto file = fs.create(path);
  file->append(data);
  file->commit();
}

inline std::vector<std::string> names(const std::vector<Entry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.name);
  return out;
}

/// A fresh directory under $CKPT_TEST_TMPDIR (or the system's temp directory),
/// removed with everything in it when destroyed.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("CKPT_TEST_TMPDIR");
    std::filesystem::path dir = base != nullptr && *base != '\0' ? std::filesystem::path(base)
                                                                 : std::filesystem::temp_directory_path();
    std::filesystem::create_directories(dir);
    std::string templ = (dir / "ckpt-fs-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr)
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + templ);
    path_ = templ;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    // Tests may have made directories read-only; give them back before removing.
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

 private:
  std::filesystem::path path_;
};

}  // namespace ckpt::fs::test
