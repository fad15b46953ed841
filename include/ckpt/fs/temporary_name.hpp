#pragma once
// Names of the temporary files a FileSystem writes before it publishes them.
// They share one recognisable prefix so list() can hide them and
// remove_temporaries() can find what a crashed writer left behind; a user path
// may not use the prefix, so a real file is never mistaken for one.

#include <ckpt/error.hpp>
#include <ckpt/fs/path.hpp>

#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include <unistd.h>

namespace ckpt::fs {

inline constexpr std::string_view temporary_prefix = ".ckpt-tmp-";

inline bool is_temporary_name(std::string_view name) noexcept {
  return name.substr(0, temporary_prefix.size()) == temporary_prefix;
}

/// validate_path(), and no component may start with temporary_prefix.
inline void validate_user_path(std::string_view path, bool allow_root = false) {
  validate_path(path, allow_root);
  for (const auto& part : components(path)) {
    if (is_temporary_name(part))
      throw ConfigError(errc::invalid_name,
                        "path '" + std::string(path) + "' has a component starting with '" +
                            std::string(temporary_prefix) + "', which is reserved for temporary files");
  }
}

/// A fresh temporary file name: unique within the process by a counter, across
/// processes by the pid, and across pid reuse by a random part. Creation still
/// uses O_EXCL and retries, so uniqueness only has to be likely.
inline std::string make_temporary_name() {
  static std::atomic<std::uint64_t> counter{0};
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  const auto append_hex = [](std::string& out, std::uint64_t v) {
    char buf[16];
    int n = 0;
    do {
      buf[n++] = hex[v & 0xf];
      v >>= 4;
    } while (v != 0);
    while (n > 0) out += buf[--n];
  };
  std::string name(temporary_prefix);
  append_hex(name, static_cast<std::uint64_t>(::getpid()));
  name += '-';
  append_hex(name, counter.fetch_add(1, std::memory_order_relaxed));
  name += '-';
  append_hex(name, random() & 0xffffffffu);
  return name;
}

}  // namespace ckpt::fs
