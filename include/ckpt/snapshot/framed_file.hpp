#pragma once
// A small file that is verified before it is trusted: an 8-byte magic, a
// format version, the body's size and its XXH3-64. Tags use it (the manifest
// has the same shape).
//
//   file := magic[8], u32 format version, u32 reserved (0), u64 body size,
//           u64 XXH3-64 of the body, body

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/hash.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace ckpt {

struct FrameFormat {
  std::array<char, 8> magic;
  std::uint32_t version;         // written
  std::uint32_t oldest_version;  // the oldest still read
  const char* what;              // "tag", for messages
};

inline constexpr std::size_t frame_header_size = 32;

inline Bytes encode_framed(const FrameFormat& format, ByteSpan body) {
  Bytes out(frame_header_size);  // uninitialised: every byte is written below
  const std::uint64_t size = body.size();
  const std::uint64_t checksum = hash64(body);
  const std::uint32_t reserved = 0;
  std::memcpy(out.data(), format.magic.data(), 8);
  std::memcpy(out.data() + 8, &format.version, 4);
  std::memcpy(out.data() + 12, &reserved, 4);
  std::memcpy(out.data() + 16, &size, 8);
  std::memcpy(out.data() + 24, &checksum, 8);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

struct Framed {
  std::uint32_t version = 0;
  ByteSpan body;
};

/// Verifies the frame of `bytes` (read from `path`, at most `max_size` bytes)
/// and returns its version and body; a CorruptionError naming the file otherwise.
inline Framed decode_framed(const FrameFormat& format, ByteSpan bytes, const std::string& path, std::uint64_t max_size) {
  const auto fail = [&](errc code, const std::string& why) {
    return CorruptionError(code, path, format.what, path + ": " + why);
  };
  if (bytes.size() > max_size)
    throw fail(errc::limit_exceeded,
               "is " + std::to_string(bytes.size()) + " bytes; the limit is " + std::to_string(max_size));
  if (bytes.size() < frame_header_size) throw fail(errc::truncated, std::string("too short for a ") + format.what);
  if (std::memcmp(bytes.data(), format.magic.data(), 8) != 0)
    throw fail(errc::corrupt_data, std::string("not a ckpt ") + format.what + " (bad magic)");
  std::uint32_t version = 0, reserved = 0;
  std::uint64_t size = 0, checksum = 0;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&reserved, bytes.data() + 12, 4);
  std::memcpy(&size, bytes.data() + 16, 8);
  std::memcpy(&checksum, bytes.data() + 24, 8);
  if (version < format.oldest_version || version > format.version)
    throw fail(errc::unsupported_version, "format version " + std::to_string(version) + "; this build reads versions " +
                                              std::to_string(format.oldest_version) + " to " +
                                              std::to_string(format.version));
  if (reserved != 0) throw fail(errc::corrupt_data, "reserved header field is not 0");
  if (size != bytes.size() - frame_header_size)
    throw fail(errc::truncated, "body is " + std::to_string(bytes.size() - frame_header_size) +
                                    " bytes; the header says " + std::to_string(size));
  const auto body = bytes.subspan(frame_header_size);
  if (hash64(body) != checksum) throw fail(errc::corrupt_data, "checksum mismatch");
  return {version, body};
}

}  // namespace ckpt
