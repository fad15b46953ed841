#pragma once
// Base64 for etcd's JSON gateway (keys and values are bytes, sent as base64),
// by OpenSSL's EVP_EncodeBlock / EVP_DecodeBlock.

#include <openssl/evp.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ckpt::etcd::detail {

inline std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  if (bytes.empty()) return out;
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

/// The bytes `text` encodes, or nothing when it is not canonical padded base64.
inline std::optional<std::string> base64_decode(std::string_view text) {
  if (text.empty()) return std::string();
  if (text.size() % 4 != 0) return std::nullopt;
  // EVP_DecodeBlock skips surrounding blanks and counts padding as zero bytes:
  // refuse the one, subtract the other.
  for (const char c : text)
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) return std::nullopt;
  std::size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  out.resize(out.size() - padding);
  return out;
}

}  // namespace ckpt::etcd::detail
