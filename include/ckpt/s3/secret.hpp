#pragma once
// Secret: a credential (a secret access key, a session token) that is never
// printed. operator<< and to_string() show "****"; only reveal() gives the
// value, and only the request signer calls it. The memory is wiped
// (OPENSSL_cleanse) when the value is destroyed or moved from.

#include <openssl/crypto.h>

#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace ckpt::s3 {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = default;
  Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
  Secret& operator=(const Secret& other) {
    if (this != &other) {
      wipe();
      value_ = other.value_;
    }
    return *this;
  }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      wipe();
      value_ = std::move(other.value_);
      other.wipe();
    }
    return *this;
  }
  ~Secret() { wipe(); }

  /// The value itself. Only for signing; never for a message.
  const std::string& reveal() const noexcept { return value_; }
  bool empty() const noexcept { return value_.empty(); }

  /// What a message shows instead of the value.
  static constexpr std::string_view mask = "****";
  std::string masked() const { return value_.empty() ? std::string("<none>") : std::string(mask); }

  friend std::ostream& operator<<(std::ostream& os, const Secret& s) { return os << s.masked(); }
  friend std::string to_string(const Secret& s) { return s.masked(); }

 private:
  void wipe() noexcept {
    // The whole buffer, not just size(): a moved-from short string keeps its bytes.
    if (value_.capacity() > 0) OPENSSL_cleanse(value_.data(), value_.capacity());
    value_.clear();
  }
  std::string value_;
};

}  // namespace ckpt::s3
