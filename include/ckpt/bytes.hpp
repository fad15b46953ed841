#pragma once
// The byte buffer every layer passes around. Its allocator leaves new bytes
// uninitialised on resize(): buffers are resized and then filled by a
// decompressor or a read, and zeroing them first would cost a memory pass.

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace ckpt {
namespace detail {
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;  // default-, not value-initialise
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
}  // namespace detail

using Bytes = std::vector<std::byte, detail::DefaultInitAllocator<std::byte>>;
using ByteSpan = std::span<const std::byte>;

inline ByteSpan as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::string_view as_string_view(ByteSpan b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes to_bytes(ByteSpan b) { return Bytes(b.begin(), b.end()); }

}  // namespace ckpt
