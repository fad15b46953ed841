#pragma once
// Digests and encodings the S3 protocol needs, all from OpenSSL: SHA-256 and
// HMAC-SHA-256 (Signature Version 4), MD5 (Content-MD5 and ETags), hex and
// base64. Nothing here is hand-written cryptography.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ckpt::s3::detail {

using Sha256 = std::array<unsigned char, 32>;
using Md5 = std::array<unsigned char, 16>;

inline std::string hex(std::span<const unsigned char> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

inline std::string base64(std::span<const unsigned char> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

/// An incremental digest (one EVP_MD_CTX), for data that arrives in pieces.
class Digest {
 public:
  explicit Digest(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), md, nullptr) != 1)
      throw IoError(errc::io_error, "", "OpenSSL could not initialise a digest");
  }
  void update(ByteSpan data) {
    if (!data.empty() && EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1)
      throw IoError(errc::io_error, "", "OpenSSL digest update failed");
  }
  template <std::size_t N>
  std::array<unsigned char, N> finish() {
    std::array<unsigned char, N> out{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), out.data(), &len) != 1 || len != N)
      throw IoError(errc::io_error, "", "OpenSSL digest finalisation failed");
    return out;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

inline Sha256 sha256(ByteSpan data) {
  Digest d(EVP_sha256());
  d.update(data);
  return d.finish<32>();
}
inline std::string sha256_hex(ByteSpan data) { return hex(sha256(data)); }
inline std::string sha256_hex(std::string_view data) { return sha256_hex(as_bytes(data)); }

inline Md5 md5(ByteSpan data) {
  Digest d(EVP_md5());
  d.update(data);
  return d.finish<16>();
}

inline Sha256 hmac_sha256(ByteSpan key, ByteSpan data) {
  Sha256 out{};
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len) ||
      len != out.size())
    throw IoError(errc::io_error, "", "OpenSSL HMAC-SHA-256 failed");
  return out;
}
inline Sha256 hmac_sha256(std::span<const unsigned char> key, std::string_view data) {
  return hmac_sha256(std::as_bytes(key), as_bytes(data));
}

/// `n` cryptographically random bytes as hex: writer tokens, probe names.
inline std::string random_hex(std::size_t n = 16) {
  std::array<unsigned char, 64> buf{};
  if (n > buf.size() || RAND_bytes(buf.data(), static_cast<int>(n)) != 1)
    throw IoError(errc::io_error, "", "OpenSSL could not produce random bytes");
  return hex(std::span<const unsigned char>(buf.data(), n));
}

}  // namespace ckpt::s3::detail
