#pragma once
// Relative paths inside a FileSystem root: '/'-separated components, none
// empty, '.', '..', or holding a NUL, a control character or a backslash.
// Checked once at the FileSystem boundary so no backend can be walked out of
// its root by a name that came from a manifest or a user.

#include <ckpt/error.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace ckpt::fs {

/// Why `path` is not a valid relative path, or "" when it is. An empty path
/// (the root itself) is valid only where `allow_root`.
inline std::string path_problem(std::string_view path, bool allow_root = false) {
  if (path.empty()) return allow_root ? std::string{} : std::string("empty path");
  if (path.size() > 4096) return "path longer than 4096 bytes";
  if (path.front() == '/') return "path '" + std::string(path) + "' is absolute; a relative path is required";
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto end = std::min(path.find('/', start), path.size());
    const auto part = path.substr(start, end - start);
    if (part.empty()) return "path '" + std::string(path) + "' has an empty component";
    if (part == "." || part == "..")
      return "path '" + std::string(path) + "' has a '" + std::string(part) + "' component";
    for (const char c : part) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f || c == '\\')
        return "path has a NUL, control character or backslash";
    }
    start = end + 1;
  }
  return {};
}

/// Throws ConfigError(errc::invalid_name) unless `path` is a valid relative path.
inline void validate_path(std::string_view path, bool allow_root = false) {
  if (auto problem = path_problem(path, allow_root); !problem.empty())
    throw ConfigError(errc::invalid_name, problem);
}

/// "a/b" + "c" -> "a/b/c"; "" + "c" -> "c".
inline std::string join(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  if (name.empty()) return std::string(dir);
  std::string out;
  out.reserve(dir.size() + 1 + name.size());
  out.append(dir).append("/").append(name);
  return out;
}

/// "a/b/c" -> "a/b"; "c" -> "".
inline std::string parent(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string{} : std::string(path.substr(0, slash));
}

/// "a/b/c" -> "c".
inline std::string filename(std::string_view path) {
  const auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

/// Splits a valid relative path into its components.
inline std::vector<std::string> components(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < path.size()) {
    const auto end = std::min(path.find('/', start), path.size());
    out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace ckpt::fs
