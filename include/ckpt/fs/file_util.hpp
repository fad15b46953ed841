#pragma once
// Whole-file helpers over any FileSystem: bounded reading, writing in one
// call, and streaming copies between file systems (e.g. exporting a savepoint
// from local disk to an object store).

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ckpt::fs {

/// The whole file. A file larger than `max_bytes` is
/// CorruptionError(errc::limit_exceeded) naming it, before anything is allocated.
inline Bytes read_file(FileSystem& fs, std::string_view path, std::uint64_t max_bytes) {
  auto file = fs.open(path);
  const auto size = file->size();
  if (size > max_bytes)
    throw CorruptionError(errc::limit_exceeded, file->path(), "whole file",
                          "'" + file->path() + "' in " + fs.uri() + " is " + std::to_string(size) +
                              " bytes; at most " + std::to_string(max_bytes) + " are allowed here");
  Bytes out(static_cast<std::size_t>(size));
  file->read(0, out);
  return out;
}

/// Creates, fills and commits `path` (errc::already_exists if it is taken).
inline void write_file(FileSystem& fs, std::string_view path, ByteSpan data) {
  auto file = fs.create(path);
  file->append(data);
  file->commit();
}

/// Copies `from_path` of `from` to the new file `to_path` of `to`, `chunk_bytes`
/// at a time, and commits it. Returns the bytes copied.
inline std::uint64_t copy_file(FileSystem& from, std::string_view from_path, FileSystem& to,
                               std::string_view to_path, std::size_t chunk_bytes = std::size_t{1} << 20) {
  if (chunk_bytes == 0) throw ConfigError(errc::invalid_argument, "copy_file needs a chunk size above 0");
  auto source = from.open(from_path);
  auto target = to.create(to_path);
  const auto size = source->size();
  Bytes buffer(static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, size)));
  for (std::uint64_t offset = 0; offset < size;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), size - offset));
    const std::span<std::byte> chunk(buffer.data(), n);
    source->read(offset, chunk);
    target->append(chunk);
    offset += n;
  }
  target->commit();
  return size;
}

}  // namespace ckpt::fs
