#pragma once
// Exclusive creation of an object ("commit fails with already_exists if the
// name is taken"), shared by publish() and WritableFile::commit().
//
// Where the store honours If-None-Match: * the PUT (or the completion of a
// multipart upload) is itself the atomic test-and-set. Where it does not, we
// HEAD first and then write: exclusive against writers that are not racing
// us, and — through a process-wide lock per key — against racing writers in
// this process; two processes racing on one name may both succeed.
//
// Every exclusive write carries a random writer token in its metadata
// (x-amz-meta-ckpt-writer). When a conditional write is refused (412, or
// NoSuchUpload for a completion) the refusal may be the answer to a resent
// request whose first copy succeeded: we retried after a timeout, a dropped
// connection or a 5xx, or libcurl itself resent it on a fresh connection
// after a kept-alive one died. So the object is checked: if it carries our
// token, has our size and our ETag (the MD5 of the bytes, or for a multipart
// upload the MD5 of the part MD5s with "-N"), the earlier copy succeeded and
// the write is reported as done, not as a conflict.

#include <ckpt/s3/client.hpp>
#include <ckpt/s3/detail/digest.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::s3::detail {

/// The metadata name of the writer token.
inline constexpr const char* writer_meta = "ckpt-writer";

/// A process-wide mutex for one (bucket, key): serialises HEAD-then-PUT.
inline std::mutex& key_mutex(std::string_view bucket, std::string_view key) {
  static std::array<std::mutex, 64> stripes;
  const auto h = std::hash<std::string>{}(std::string(bucket) + '/' + std::string(key));
  return stripes[h % stripes.size()];
}

inline std::string unquote(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return std::string(etag);
}

/// The ETag S3 gives a multipart object: MD5 of the part MD5s, "-", part count.
inline std::string multipart_etag(const std::vector<Md5>& part_md5s) {
  Digest d(EVP_md5());
  for (const auto& m : part_md5s) d.update(std::as_bytes(std::span<const unsigned char>(m)));
  return hex(d.finish<16>()) + "-" + std::to_string(part_md5s.size());
}

/// Whether the object at `key` is the one this writer stored.
inline bool stored_by_us(S3Client& client, std::string_view key, const std::string& token, std::uint64_t size,
                         const std::string& expected_etag) {
  const auto info = client.head(key);
  if (!info) return false;
  const auto* meta = info->meta(writer_meta);
  if (!meta || *meta != token || info->size != size) return false;
  const auto etag = unquote(info->etag);
  // A store that does not compute S3-style multipart ETags (s3rver hashes the
  // whole object) is judged by token and size alone.
  const bool comparable = expected_etag.find('-') == std::string::npos || etag.find('-') != std::string::npos;
  return !comparable || etag == expected_etag;
}

inline IoError already_exists(S3Client& client, std::string_view op, std::string_view key) {
  return IoError(errc::already_exists, client.path_of(key),
                 client.scrub(std::string(op) + " '" + client.object_uri(key) + "': the object already exists"));
}

/// Stores `body` at `key` unless the key exists (IoError already_exists).
inline void put_exclusive(S3Client& client, std::string_view op, std::string_view key, ByteSpan body,
                          const std::string& token) {
  const std::vector<std::pair<std::string, std::string>> meta{{writer_meta, token}};
  if (client.conditional_writes()) {
    const auto r = client.put(key, body, S3Client::Condition::if_none_match, {}, meta);
    if (r.stored) return;
    if (stored_by_us(client, key, token, body.size(), hex(md5(body)))) {
      client.log(std::string(op) + " '" + client.object_uri(key) +
                 "': an earlier attempt had stored the object; the write is complete");
      return;
    }
    throw already_exists(client, op, key);
  }
  std::lock_guard guard(key_mutex(client.location().bucket, key));
  if (client.head(key)) throw already_exists(client, op, key);
  client.put(key, body, S3Client::Condition::none, {}, meta);
}

}  // namespace ckpt::s3::detail
