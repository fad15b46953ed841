#pragma once
// S3ReadableFile: what S3FileSystem::open() returns. open() did one HEAD for
// the size and ETag; every read() is a ranged GET (split into chunks of
// S3Options::read_chunk_size) of exactly the bytes asked for, with If-Match on
// the ETag, so a rescaling restore fetches only the key groups it needs and a
// file replaced under a reader is reported instead of mixed. read() may be
// called from several threads at once.

#include <ckpt/fs/file_system.hpp>
#include <ckpt/s3/client.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>

namespace ckpt::s3 {

class S3ReadableFile final : public fs::ReadableFile {
 public:
  S3ReadableFile(std::shared_ptr<S3Client> client, std::string path, ObjectInfo info)
      : client_(std::move(client)), path_(std::move(path)), key_(client_->key(path_)), info_(std::move(info)) {}

  const std::string& path() const noexcept override { return path_; }
  std::uint64_t size() const noexcept override { return info_.size; }
  const std::string& etag() const noexcept { return info_.etag; }

  void read(std::uint64_t offset, std::span<std::byte> dst) override {
    if (offset > info_.size || dst.size() > info_.size - offset)
      throw CorruptionError(errc::truncated, path_, "bytes " + std::to_string(offset) + "+" + std::to_string(dst.size()),
                            client_->scrub("read of " + std::to_string(dst.size()) + " bytes at offset " +
                                           std::to_string(offset) + " of '" + client_->object_uri(key_) +
                                           "', which has " + std::to_string(info_.size) + " bytes"));
    if (offset == 0 && dst.size() == 1 && info_.size >= 2) {
      // "bytes=0-0" is the one range some servers get wrong (s3rver 3.7 sends
      // the whole object): ask for two bytes and keep one.
      std::byte two[2];
      client_->get(key_, 0, two, info_.etag);
      dst[0] = two[0];
      return;
    }
    const std::size_t chunk = client_->options().read_chunk_size;
    while (!dst.empty()) {
      const std::size_t n = std::min(dst.size(), chunk);
      client_->get(key_, offset, dst.first(n), info_.etag);
      offset += n;
      dst = dst.subspan(n);
    }
  }

 private:
  std::shared_ptr<S3Client> client_;
  std::string path_;
  std::string key_;
  ObjectInfo info_;
};

}  // namespace ckpt::s3
