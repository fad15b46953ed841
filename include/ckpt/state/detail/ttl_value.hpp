#pragma once
// A value with the processing time it was last written (or read), stored in
// place of the plain value for states with a time-to-live.

#include <ckpt/serial/type_name.hpp>
#include <ckpt/state/state_ttl_config.hpp>

#include <cstdint>
#include <string>

namespace ckpt {
namespace detail {

template <class T>
struct TtlValue {
  T value{};
  std::int64_t last_access = 0;  // epoch milliseconds

  template <class Archive>
  void serialize(Archive& ar) {
    ar(value, last_access);
  }
  friend bool operator==(const TtlValue&, const TtlValue&) = default;
};

/// Flink's rule: expired once last access + ttl <= now.
inline bool expired(std::int64_t last_access, const StateTtlConfig& ttl, std::int64_t now) noexcept {
  return last_access <= now - ttl.millis();
}
}  // namespace detail

template <class T>
struct TypeName<detail::TtlValue<T>> {
  static std::string get() { return "ttl<" + type_name<T>() + ">"; }
};

}  // namespace ckpt
