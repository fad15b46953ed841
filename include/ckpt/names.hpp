#pragma once
// Validation of user-given names that end up in paths: operator uids, state
// names, savepoint names and tags. A name is one path component that can never
// climb out of, or hide inside, the checkpoint directory.

#include <ckpt/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace ckpt {

/// Longest allowed uid, state name, savepoint name or tag, in bytes.
inline constexpr std::size_t max_name_length = 200;

/// The first `limit` bytes of `name` with control characters shown as \xNN
/// (and "..." when cut), so a hostile name prints safely in a message.
inline std::string printable_name(std::string_view name, std::size_t limit = 64) {
  std::string out;
  for (const char c : name.substr(0, limit)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  return name.size() > limit ? out + "..." : out;
}

/// Why `name` is not allowed, or an empty string when it is. `what` says what
/// the name is for ("operator uid", "tag") and appears in the message.
inline std::string name_problem(std::string_view what, std::string_view name) {
  const auto quoted = [&] { return "'" + printable_name(name) + "'"; };
  if (name.empty()) return std::string(what) + " must not be empty";
  if (name.size() > max_name_length)
    return std::string(what) + " " + quoted() + " is " + std::to_string(name.size()) +
           " bytes; at most " + std::to_string(max_name_length) + " are allowed";
  if (name == "." || name.find("..") != std::string_view::npos)
    return std::string(what) + " " + quoted() + " must not contain '..' or be '.'";
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '/' || c == '\\')
      return std::string(what) + " " + quoted() + " must not contain '/' or '\\'";
    if (u < 0x20 || u == 0x7f)
      return std::string(what) + " " + quoted() + " must not contain NUL or control characters";
  }
  return {};
}

/// Throws ConfigError(errc::invalid_name) unless `name` is an allowed name.
inline void validate_name(std::string_view what, std::string_view name) {
  if (auto problem = name_problem(what, name); !problem.empty())
    throw ConfigError(errc::invalid_name, problem);
}

}  // namespace ckpt
