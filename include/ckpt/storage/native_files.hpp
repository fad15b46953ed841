#pragma once
// The files of native (RocksDB) checkpoints in checkpoint storage: uploading
// a native snapshot's files (only those no retained checkpoint of the same
// database holds already; the rest are referenced), checking they are there,
// and fetching one back to a local path, verified against its size and
// whole-file XXH3-64 before anything opens it.
//
// Shareable files (SSTs) go into shared/ under a name carrying the id of the
// checkpoint that first uploaded them (layout.hpp), so the storage's cleanup
// deletes one only when no retained checkpoint lists it, also after a crash.
// The others (MANIFEST, OPTIONS, CURRENT) go into the checkpoint's directory,
// zstd-compressed when that makes them smaller: they are a few kB each,
// uploaded again by every checkpoint, and mostly text.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/path.hpp>
#include <ckpt/hash.hpp>
#include <ckpt/names.hpp>
#include <ckpt/snapshot/codec.hpp>
#include <ckpt/snapshot/manifest.hpp>
#include <ckpt/state/native_snapshot.hpp>
#include <ckpt/storage/layout.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace ckpt::detail {

inline constexpr std::size_t native_copy_chunk = std::size_t{1} << 20;
/// A checkpoint's own files up to this size are compressed whole (in memory);
/// larger ones, and every compressed file a reader accepts, stay within it.
inline constexpr std::uint64_t native_compress_limit = std::uint64_t{64} << 20;

/// What uploading one subtask's native snapshot did.
struct NativeUpload {
  NativeSubtaskManifest manifest;
  std::vector<std::string> new_shared;  // paths in shared/ written by this upload (removed on abort)
  std::uint64_t bytes_uploaded = 0;
  std::uint32_t files_uploaded = 0;
  std::uint32_t files_reused = 0;
};

/// Shared files of retained checkpoints, by the name the database gives them,
/// that a new checkpoint of `db_identity` may reference instead of uploading.
inline std::map<std::string, NativeFileRef> reusable_native_files(const std::vector<const Manifest*>& retained,
                                                                 const std::string& uid, std::uint32_t subtask,
                                                                 const std::string& db_identity) {
  std::map<std::string, NativeFileRef> out;
  for (const Manifest* m : retained) {
    const auto* n = m->find_native(uid, subtask);
    if (!n || n->db_identity != db_identity) continue;
    for (const auto& f : n->files)
      if (f.shared) out.emplace(f.name, f);
  }
  return out;
}

/// Reads local file `from` through, calling sink(piece) on each chunk;
/// returns its XXH3-64.
template <class Sink>
std::uint64_t read_local_file(const std::filesystem::path& from, std::uint64_t expected_size, Sink&& sink) {
  std::ifstream in(from, std::ios::binary);
  if (!in)
    throw IoError(errc::io_error, from.string(), "cannot open '" + from.string() + "' of a native snapshot for reading");
  Hasher64 hash;
  Bytes chunk(native_copy_chunk);
  std::uint64_t total = 0;
  while (in) {
    in.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got == 0) break;
    const ByteSpan piece(chunk.data(), got);
    hash.update(piece);
    sink(piece);
    total += got;
  }
  if (in.bad())
    throw IoError(errc::io_error, from.string(), "reading '" + from.string() + "' of a native snapshot failed");
  if (total != expected_size)
    throw IoError(errc::io_error, from.string(),
                  "'" + from.string() + "' of a native snapshot has " + std::to_string(total) + " bytes; its checkpoint listed " +
                      std::to_string(expected_size) + " (changed while the checkpoint was taken?)");
  return hash.digest();
}

/// Copies local file `from` into `out` (not committed), returning its XXH3-64.
inline std::uint64_t upload_local_file(const std::filesystem::path& from, std::uint64_t expected_size,
                                       fs::WritableFile& out) {
  return read_local_file(from, expected_size, [&](ByteSpan piece) { out.append(piece); });
}

/// Writes local file `from` into `out` (not committed) as one zstd frame when
/// that is smaller, as it is otherwise; fills in `ref`'s checksum (of the
/// file's own bytes) and stored size.
inline void upload_compressed(const std::filesystem::path& from, std::uint64_t expected_size, NativeFileRef& ref,
                              fs::WritableFile& out) {
  Bytes raw;
  raw.reserve(static_cast<std::size_t>(expected_size));
  ref.checksum = read_local_file(from, expected_size, [&](ByteSpan piece) { raw.insert(raw.end(), piece.begin(), piece.end()); });
  Bytes frame;
  Compressor(Codec::zstd, 3).compress(raw, frame);
  if (frame.size() < raw.size()) {
    out.append(frame);
    ref.stored_size = frame.size();
  } else {
    out.append(raw);
    ref.stored_size = 0;
  }
}

/// Uploads subtask `subtask` of `uid`'s native snapshot for checkpoint `id`
/// (directory `dir`): shareable files found in `reusable` with the same size
/// are referenced, the others uploaded.
inline NativeUpload upload_native(fs::FileSystem& fs, const NativeSnapshot& snap, const std::string& dir,
                                  std::uint64_t id, const std::string& uid, std::uint32_t subtask,
                                  const std::map<std::string, NativeFileRef>& reusable) {
  NativeUpload up;
  up.manifest.uid = uid;
  up.manifest.subtask = subtask;
  up.manifest.db_identity = snap.db_identity;
  try {
    for (const auto& f : snap.files) {
      if (auto p = name_problem("native file name", f.name); !p.empty())
        throw CheckpointError(errc::invalid_name, "native snapshot of '" + uid + "': bad file name '" +
                                                      printable_name(f.name) + "'");
      if (f.shareable) {
        if (auto it = reusable.find(f.name); it != reusable.end() && it->second.size == f.size) {
          up.manifest.files.push_back(it->second);
          ++up.files_reused;
          continue;
        }
      }
      NativeFileRef ref;
      ref.name = f.name;
      ref.shared = f.shareable;
      ref.path = f.shareable ? layout::shared_state_file(uid, subtask, id, layout::native_shared_suffix)
                             : layout::native_own_file(uid, subtask, f.name);
      const auto path = ref.shared ? fs::join(layout::shared_dir, ref.path) : fs::join(dir, ref.path);
      auto out = fs.create(path);
      if (!ref.shared && f.size <= native_compress_limit) {
        upload_compressed(snap.directory / f.name, f.size, ref, *out);
      } else {
        ref.checksum = upload_local_file(snap.directory / f.name, f.size, *out);
      }
      out->commit();
      if (ref.shared) up.new_shared.push_back(path);
      ref.size = f.size;
      up.bytes_uploaded += ref.stored_bytes();
      ++up.files_uploaded;
      up.manifest.files.push_back(std::move(ref));
    }
  } catch (...) {
    for (const auto& p : up.new_shared) {
      try {
        fs.remove(p);
      } catch (const Error&) {
        // Left for the storage's cleanup: no manifest lists it.
      }
    }
    throw;
  }
  return up;
}

/// Where a native file is, relative to the storage root.
inline std::string native_path(const NativeFileRef& f, const std::string& snapshot_dir) {
  return f.shared ? fs::join(layout::shared_dir, f.path) : fs::join(snapshot_dir, f.path);
}

/// Opens a native file and checks its size: a missing or truncated file is a
/// CorruptionError naming it.
inline std::unique_ptr<fs::ReadableFile> open_native(fs::FileSystem& fs, const NativeFileRef& f,
                                                     const std::string& snapshot_dir) {
  const auto path = native_path(f, snapshot_dir);
  std::unique_ptr<fs::ReadableFile> in;
  try {
    in = fs.open(path);
  } catch (const IoError& e) {
    if (e.code() != errc::not_found) throw;
    throw CorruptionError(errc::not_found, path, f.name,
                          fs.uri() + "/" + path + " (native file '" + printable_name(f.name) +
                              "') is missing; the manifest lists it");
  }
  const auto expected = f.stored_bytes();
  if (in->size() != expected)
    throw CorruptionError(in->size() < expected ? errc::truncated : errc::corrupt_data, path, f.name,
                          fs.uri() + "/" + path + " (native file '" + printable_name(f.name) + "') has " +
                              std::to_string(in->size()) + " bytes; the manifest says " + std::to_string(expected));
  if (f.compressed() && f.size > native_compress_limit)
    throw CorruptionError(errc::limit_exceeded, path, f.name,
                          fs.uri() + "/" + path + " (native file '" + printable_name(f.name) + "') claims " +
                              std::to_string(f.size) + " bytes compressed; at most " +
                              std::to_string(native_compress_limit) + " are ever compressed");
  return in;
}

/// Reads a native file through, calling sink(piece) on each chunk of its own
/// bytes (or, with `stored_form`, of the bytes as stored), and checks its
/// checksum at the end (before the caller trusts what it wrote). A compressed
/// file is verified whole before sink sees any of it.
template <class Sink>
void read_native(fs::FileSystem& fs, const NativeFileRef& f, const std::string& snapshot_dir, Sink&& sink,
                 bool stored_form = false) {
  auto in = open_native(fs, f, snapshot_dir);
  if (f.compressed()) {
    Bytes stored(static_cast<std::size_t>(f.stored_size));
    in->read(0, stored);
    Bytes raw;
    Decompressor().decompress(Codec::zstd, stored, f.size, raw, in->path(), "native file '" + printable_name(f.name) + "'");
    if (hash64(raw) != f.checksum)
      throw CorruptionError(errc::corrupt_data, in->path(), f.name,
                            fs.uri() + "/" + in->path() + " (native file '" + printable_name(f.name) +
                                "') fails its checksum: the file is damaged");
    const Bytes& out = stored_form ? stored : raw;
    sink(ByteSpan(out.data(), out.size()));
    return;
  }
  Hasher64 hash;
  Bytes chunk;
  for (std::uint64_t at = 0; at < f.size;) {
    chunk.resize(static_cast<std::size_t>(std::min<std::uint64_t>(f.size - at, native_copy_chunk)));
    in->read(at, chunk);
    hash.update(chunk);
    sink(ByteSpan(chunk.data(), chunk.size()));
    at += chunk.size();
  }
  if (hash.digest() != f.checksum)
    throw CorruptionError(errc::corrupt_data, in->path(), f.name,
                          fs.uri() + "/" + in->path() + " (native file '" + printable_name(f.name) +
                              "') fails its checksum: the file is damaged");
}

/// Fetches a native file to local path `to`, verified; on failure nothing is left at `to`.
inline void fetch_native(fs::FileSystem& fs, const NativeFileRef& f, const std::string& snapshot_dir,
                         const std::filesystem::path& to) {
  try {
    std::ofstream out(to, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(errc::io_error, to.string(), "cannot create '" + to.string() + "' to restore into");
    read_native(fs, f, snapshot_dir, [&](ByteSpan piece) {
      out.write(reinterpret_cast<const char*>(piece.data()), static_cast<std::streamsize>(piece.size()));
      if (!out) throw IoError(errc::io_error, to.string(), "writing '" + to.string() + "' failed");
    });
    out.close();
    if (!out) throw IoError(errc::io_error, to.string(), "writing '" + to.string() + "' failed");
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(to, ec);
    throw;
  }
}

/// Copies a native file into `to` (another storage's directory) as it is
/// stored (compressed or not), verified on the way.
inline void copy_native(fs::FileSystem& from, const NativeFileRef& f, const std::string& snapshot_dir,
                        fs::WritableFile& to) {
  read_native(from, f, snapshot_dir, [&](ByteSpan piece) { to.append(piece); }, true);
}

/// Checks the manifest's native subtasks: each names an operator's keyed
/// subtask once, with safe names.
inline void validate_native(const Manifest& m, const std::string& path) {
  const auto fail = [&](const std::string& what) {
    return CorruptionError(errc::corrupt_data, path, "manifest", path + ": " + what);
  };
  for (std::size_t i = 0; i < m.native.size(); ++i) {
    const auto& n = m.native[i];
    const auto* op = m.find(n.uid);
    const auto where = "native subtask " + std::to_string(n.subtask) + " of '" + printable_name(n.uid) + "'";
    if (!op || op->max_parallelism == 0 || n.subtask >= op->subtasks.size())
      throw fail(where + " names no keyed subtask of the manifest");
    if (m.find_native(n.uid, n.subtask) != &n) throw fail(where + " is listed twice");
    const auto& s = op->subtasks[n.subtask];
    if (s.key_group_begin >= s.key_group_end || s.key_group_end > op->max_parallelism)
      throw fail(where + ": invalid key-group range");
    for (const auto& st : n.states)
      if (auto p = name_problem("state name", st.name); !p.empty()) throw fail(where + ": " + p);
    for (const auto& f : n.files) {
      if (auto p = fs::path_problem(f.path); !p.empty()) throw fail(where + ": " + p);
      if (auto p = name_problem("native file name", f.name); !p.empty()) throw fail(where + ": " + p);
    }
  }
}

}  // namespace ckpt::detail
