#pragma once
// Percent-encoding as Signature Version 4 defines it (RFC 3986: everything but
// A-Z a-z 0-9 - . _ ~ is encoded, hex upper case), used both for the request
// line and the canonical request so the two never disagree.

#include <string>
#include <string_view>

namespace ckpt::s3::detail {

inline bool unreserved(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

/// Encodes every byte but the unreserved ones; '/' too unless `keep_slash`.
inline std::string uri_encode(std::string_view s, bool keep_slash = false) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  for (const char c : s) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += c;
    } else {
      const auto u = static_cast<unsigned char>(c);
      out += '%';
      out += digits[u >> 4];
      out += digits[u & 0xf];
    }
  }
  return out;
}

/// Decodes %XX escapes; false (and `out` unspecified) on a malformed escape.
inline bool uri_decode(std::string_view s, std::string& out) {
  out.clear();
  out.reserve(s.size());
  const auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return false;
    const int hi = value(s[i + 1]);
    const int lo = value(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

}  // namespace ckpt::s3::detail
