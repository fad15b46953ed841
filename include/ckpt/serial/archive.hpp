#pragma once
// The cereal archives ckpt writes state with: a binary layout like cereal's
// BinaryArchive (little-endian, no padding, sizes as u64), writing into a byte
// buffer and reading from a bounded span. The input archive never trusts a
// length: a size that claims more elements than the remaining bytes could hold
// is an error before anything is allocated, and every error names the file
// and block being read.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>

#include <cereal/cereal.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

static_assert(std::endian::native == std::endian::little,
              "ckpt's snapshot format is little-endian; big-endian hosts are not supported");

namespace ckpt::serial {

/// Writes cereal-serializable values by appending to a byte buffer.
class OutputArchive : public cereal::OutputArchive<OutputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit OutputArchive(Bytes& out)
      : cereal::OutputArchive<OutputArchive, cereal::AllowEmptyClassElision>(this), out_(out) {}

  void saveBinary(const void* data, std::size_t size) {
    const auto* p = static_cast<const std::byte*>(data);
    out_.insert(out_.end(), p, p + size);
  }
  Bytes& buffer() noexcept { return out_; }

 private:
  Bytes& out_;
};

/// Where an archive reads from, for error messages: the file and the block.
struct ReadContext {
  std::string_view file = "<memory>";
  std::string_view block = "";
};

/// Reads what OutputArchive wrote, from a span it never reads past.
class InputArchive : public cereal::InputArchive<InputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit InputArchive(ByteSpan in, ReadContext context = {})
      : cereal::InputArchive<InputArchive, cereal::AllowEmptyClassElision>(this), in_(in), context_(context) {}

  void loadBinary(void* data, std::size_t size) {
    if (size > remaining())
      fail(errc::truncated, "needed " + std::to_string(size) + " more bytes at offset " +
                                std::to_string(pos_) + " but only " + std::to_string(remaining()) +
                                " remain");
    if (size != 0) std::memcpy(data, in_.data() + pos_, size);
    pos_ += size;
  }

  /// A length field read from the input: it may not promise more elements
  /// than the remaining bytes can hold (each element takes at least a byte).
  void check_length(std::uint64_t elements) const {
    if (elements > remaining())
      fail(errc::limit_exceeded, "a length field claims " + std::to_string(elements) +
                                     " elements at offset " + std::to_string(pos_) + " but only " +
                                     std::to_string(remaining()) + " bytes remain");
  }

  std::size_t remaining() const noexcept { return in_.size() - pos_; }
  std::size_t position() const noexcept { return pos_; }
  const ReadContext& context() const noexcept { return context_; }

  /// Skips `n` bytes (bounded like a read).
  void skip(std::size_t n) {
    if (n > remaining()) fail(errc::truncated, "cannot skip " + std::to_string(n) + " bytes");
    pos_ += n;
  }
  /// A view of the next `n` bytes, consumed.
  ByteSpan take(std::size_t n) {
    if (n > remaining())
      fail(errc::truncated, "needed " + std::to_string(n) + " bytes at offset " + std::to_string(pos_) +
                                " but only " + std::to_string(remaining()) + " remain");
    auto out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  [[noreturn]] void fail(errc code, const std::string& what) const {
    throw CorruptionError(code, std::string(context_.file), std::string(context_.block),
                          std::string(context_.file) +
                              (context_.block.empty() ? "" : ", " + std::string(context_.block)) + ": " + what);
  }

 private:
  ByteSpan in_;
  std::size_t pos_ = 0;
  ReadContext context_;
};

// -- the primitives cereal needs from an archive, as in cereal/archives/binary.hpp

template <class T>
  requires std::is_arithmetic_v<T>
inline void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const T& t) {
  ar.saveBinary(std::addressof(t), sizeof(t));
}
template <class T>
  requires std::is_arithmetic_v<T>
inline void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, T& t) {
  ar.loadBinary(std::addressof(t), sizeof(t));
}
/// A bool is one byte, 0 or 1: any other byte is damage (and loading it into
/// a bool would be undefined behaviour).
inline void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, bool& b) {
  std::uint8_t byte = 0;
  ar.loadBinary(&byte, 1);
  if (byte > 1) ar.fail(errc::corrupt_data, "a bool at offset " + std::to_string(ar.position() - 1) + " holds " + std::to_string(byte));
  b = byte != 0;
}
template <class T>
inline void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const cereal::NameValuePair<T>& t) {
  ar(t.value);
}
template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}
template <class T>
inline void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const cereal::SizeTag<T>& t) {
  const auto size = static_cast<std::uint64_t>(t.size);
  ar.saveBinary(&size, sizeof(size));
}
template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, cereal::SizeTag<T>& t) {
  std::uint64_t size = 0;
  ar.loadBinary(&size, sizeof(size));
  ar.check_length(size);  // before the container resizes to it
  t.size = static_cast<std::remove_reference_t<T>>(size);
}
template <class T>
inline void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const cereal::BinaryData<T>& bd) {
  ar.saveBinary(bd.data, static_cast<std::size_t>(bd.size));
}
template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, cereal::BinaryData<T>& bd) {
  ar.loadBinary(bd.data, static_cast<std::size_t>(bd.size));
}

// -- vectors, without allocating for elements that are not there
//
// cereal's own vector load resizes to the claimed count before reading the
// first element; the count is only checked against the bytes remaining, so a
// hostile length makes count * sizeof(T) bytes of elements (a 16 MiB manifest,
// 2 GB of OperatorManifests). Here a vector of fixed-size elements is checked
// against count * sizeof(T), and any other grows only as its elements are read.
// More specialized than cereal's overload for this archive, so it wins.

template <class T, class A>
  requires(!std::is_same_v<T, bool>)
inline void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::vector<T, A>& vector) {
  std::uint64_t size = 0;
  ar.loadBinary(&size, sizeof(size));
  if constexpr (std::is_arithmetic_v<T>) {
    if (size > ar.remaining() / sizeof(T))
      ar.fail(errc::limit_exceeded, "a length field claims " + std::to_string(size) + " elements of " +
                                        std::to_string(sizeof(T)) + " bytes at offset " +
                                        std::to_string(ar.position()) + " but only " +
                                        std::to_string(ar.remaining()) + " bytes remain");
    vector.resize(static_cast<std::size_t>(size));
    ar.loadBinary(vector.data(), static_cast<std::size_t>(size) * sizeof(T));
  } else {
    ar.check_length(size);
    vector.clear();
    // Reserve no more bytes than the input has left; grow as elements arrive.
    vector.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(size, ar.remaining() / sizeof(T))));
    for (std::uint64_t i = 0; i < size; ++i) ar(vector.emplace_back());
  }
}

// -- whole values to and from bytes

/// Appends the serialized `values` to `out`.
template <class... T>
void save_to(Bytes& out, const T&... values) {
  OutputArchive ar(out);
  ar(values...);
}

template <class... T>
Bytes encode(const T&... values) {
  Bytes out;
  save_to(out, values...);
  return out;
}

/// Runs `body` (which deserializes through an InputArchive) and turns anything
/// but a ckpt::Error that escapes it — a cereal::Exception from a user type,
/// std::bad_alloc or std::length_error from a hostile size a user type trusted
/// — into a CorruptionError naming the file and block.
template <class F>
decltype(auto) guarded_read(const ReadContext& context, F&& body) {
  const auto fail = [&](errc code, const std::string& what) -> CorruptionError {
    return CorruptionError(code, std::string(context.file), std::string(context.block),
                           std::string(context.file) +
                               (context.block.empty() ? "" : ", " + std::string(context.block)) + ": " + what);
  };
  try {
    return std::forward<F>(body)();
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw fail(errc::limit_exceeded, "a value claims more memory than can be allocated");
  } catch (const std::length_error& e) {
    throw fail(errc::limit_exceeded, std::string("a length is out of range (") + e.what() + ")");
  } catch (const std::exception& e) {
    throw fail(errc::corrupt_data, std::string("cannot deserialize: ") + e.what());
  }
}

/// Reads `values` from `in`, which must be consumed exactly.
template <class... T>
void load_from(ByteSpan in, ReadContext context, T&... values) {
  guarded_read(context, [&] {
    InputArchive ar(in, context);
    ar(values...);
    if (ar.remaining() != 0)
      ar.fail(errc::corrupt_data, std::to_string(ar.remaining()) + " unexpected bytes after the value");
  });
}

template <class T>
T decode(ByteSpan in, ReadContext context = {}) {
  T value{};
  load_from(in, context, value);
  return value;
}

}  // namespace ckpt::serial

CEREAL_REGISTER_ARCHIVE(ckpt::serial::OutputArchive)
CEREAL_REGISTER_ARCHIVE(ckpt::serial::InputArchive)
CEREAL_SETUP_ARCHIVE_TRAITS(ckpt::serial::InputArchive, ckpt::serial::OutputArchive)
