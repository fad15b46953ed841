#pragma once
// S3FileSystem: ckpt::fs::FileSystem on S3-compatible object storage, rooted
// at s3://bucket/prefix or obs://bucket/prefix.
//
//   auto fs = ckpt::s3::S3FileSystem::make("s3://my-bucket/jobs/rate-limiter");
//   auto fs = ckpt::s3::S3FileSystem::make("s3://ckpt/test",
//       ckpt::s3::S3Options::custom_endpoint("http://127.0.0.1:9000").with_credentials(c));
//
// How the FileSystem contract maps onto an object store:
// - Directories are implicit: a path "a/b/c" is the key "<prefix>/a/b/c";
//   make_directories() is a no-op, list() is ListObjectsV2 with delimiter '/'
//   (following continuation tokens), a directory exists while a key is under it.
// - create() buffers and uploads (see S3WritableFile); the object appears
//   only at commit(), atomically, and exclusively (If-None-Match: *, or
//   HEAD-then-PUT on stores without conditional writes: see detail/exclusive.hpp).
// - publish() is one exclusive PUT.
// - open() is a HEAD; read() a ranged GET (see S3ReadableFile).
// - remove_all() is DeleteObjects over a listing, 1000 keys per request.
// - remove_temporaries() aborts the unfinished multipart uploads under the
//   directory (where the store can list them: ListMultipartUploads).
// - try_lock() is a leased lock object (see S3Lock for what is guaranteed).
// Names starting with ".ckpt-" are the backend's own and are not listed.

#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/path.hpp>
#include <ckpt/s3/client.hpp>
#include <ckpt/s3/detail/digest.hpp>
#include <ckpt/s3/detail/exclusive.hpp>
#include <ckpt/s3/location.hpp>
#include <ckpt/s3/lock.hpp>
#include <ckpt/s3/options.hpp>
#include <ckpt/s3/readable_file.hpp>
#include <ckpt/s3/writable_file.hpp>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt::s3 {

class S3FileSystem final : public fs::FileSystem {
 public:
  /// Opens `uri` with `options`; the URI's ?region=&endpoint=&addressing=&profile=
  /// parameters override the options. ConfigError for a bad URI or option, or
  /// when no credentials can be found.
  S3FileSystem(std::string_view uri, S3Options options) : client_(make_client(uri, std::move(options))) {}

  /// Options from the environment (S3Options::from_environment) and the URI.
  static std::shared_ptr<S3FileSystem> make(std::string_view uri) {
    const auto location = Location::parse(uri);
    return std::make_shared<S3FileSystem>(uri, S3Options::from_environment(location.scheme));
  }
  static std::shared_ptr<S3FileSystem> make(std::string_view uri, S3Options options) {
    return std::make_shared<S3FileSystem>(uri, std::move(options));
  }

  /// The client underneath, for what the FileSystem interface does not say
  /// (listing unfinished uploads, HEAD of a key).
  S3Client& client() noexcept { return *client_; }

  std::string uri() const override { return client_->location().uri(); }

  std::unique_ptr<fs::WritableFile> create(std::string_view path) override {
    fs::validate_path(path);
    return std::make_unique<S3WritableFile>(client_, std::string(path));
  }

  std::unique_ptr<fs::ReadableFile> open(std::string_view path) override {
    fs::validate_path(path);
    const auto key = client_->key(path);
    auto info = client_->head(key);
    if (!info)
      throw IoError(errc::not_found, std::string(path), "open '" + client_->object_uri(key) + "': no such object");
    return std::make_unique<S3ReadableFile>(client_, std::string(path), std::move(*info));
  }

  void publish(std::string_view path, std::span<const std::byte> data) override {
    fs::validate_path(path);
    const auto key = client_->key(path);
    if (data.size() > S3Options::max_part_size)
      throw IoError(errc::limit_exceeded, std::string(path),
                    "publish '" + client_->object_uri(key) + "': " + std::to_string(data.size()) +
                        " bytes is more than one PUT may carry; use create()");
    detail::put_exclusive(*client_, "publish", key, data, detail::random_hex(16));
  }

  std::vector<fs::Entry> list(std::string_view dir) override {
    fs::validate_path(dir, true);
    const std::string prefix = client_->dir_prefix(dir);
    std::vector<fs::Entry> out;
    const bool delimited = client_->options().delimiter_listing;
    walk(prefix, delimited ? "/" : "", [&](detail::ListPage& page) {
      for (auto& o : page.objects) {
        auto name = o.key.substr(std::min(prefix.size(), o.key.size()));
        if (const auto slash = name.find('/'); !delimited && slash != std::string::npos) {
          name.resize(slash);
          if (visible(name) && (out.empty() || out.back().name != name || out.back().type != fs::EntryType::directory))
            out.push_back({std::move(name), fs::EntryType::directory, 0});
        } else if (visible(name)) {
          out.push_back({std::move(name), fs::EntryType::file, o.size});
        }
      }
      for (auto& p : page.prefixes) {
        auto name = p.substr(std::min(prefix.size(), p.size()));
        while (!name.empty() && name.back() == '/') name.pop_back();
        if (visible(name)) out.push_back({std::move(name), fs::EntryType::directory, 0});
      }
    });
    const auto order = [](const fs::Entry& a, const fs::Entry& b) {
      return a.name != b.name ? a.name < b.name : a.type < b.type;
    };
    std::sort(out.begin(), out.end(), order);
    // A store may repeat a common prefix on several pages.
    out.erase(std::unique(out.begin(), out.end(),
                          [](const fs::Entry& a, const fs::Entry& b) { return a.name == b.name && a.type == b.type; }),
              out.end());
    return out;
  }

  bool exists(std::string_view path) override {
    fs::validate_path(path);
    const auto key = client_->key(path);
    if (client_->head(key)) return true;
    // A directory exists while any key is under it (no delimiter: one key is enough).
    const auto page = client_->list(key + "/", {}, {}, 1);
    return !page.objects.empty() || !page.prefixes.empty();
  }

  void remove(std::string_view path) override {
    fs::validate_path(path);
    client_->remove(client_->key(path));
  }

  void remove_all(std::string_view dir) override {
    fs::validate_path(dir);  // never the root: that is the caller's whole store
    const std::string prefix = client_->dir_prefix(dir);
    walk(prefix, "", [&](detail::ListPage& page) {
      std::vector<std::string> keys;
      keys.reserve(page.objects.size());
      for (auto& o : page.objects) keys.push_back(std::move(o.key));
      for (std::size_t i = 0; i < keys.size(); i += 1000) {
        const auto end = std::min(keys.size(), i + 1000);
        client_->remove_many(std::vector<std::string>(keys.begin() + static_cast<std::ptrdiff_t>(i),
                                                      keys.begin() + static_cast<std::ptrdiff_t>(end)));
      }
    });
    client_->remove(client_->key(dir));  // a file of that name, if any
  }

  void make_directories(std::string_view dir) override { fs::validate_path(dir, true); }

  void remove_temporaries(std::string_view dir) override {
    fs::validate_path(dir, true);
    const std::string prefix = client_->dir_prefix(dir);
    std::string key_marker, id_marker;
    std::size_t aborted = 0;
    std::set<std::pair<std::string, std::string>> seen;
    for (;;) {
      const auto page = client_->list_uploads(prefix, key_marker, id_marker);
      if (!page) {
        client_->log("remove_temporaries '" + client_->object_uri(prefix) +
                     "': the store does not implement ListMultipartUploads; unfinished uploads cannot be "
                     "found (let a lifecycle rule, AbortIncompleteMultipartUpload, remove them)");
        return;
      }
      for (const auto& u : page->uploads) {
        client_->abort_upload(u.key, u.upload_id);
        ++aborted;
      }
      if (!page->truncated) break;
      if (!seen.emplace(page->next_key_marker, page->next_upload_id_marker).second)
        throw CorruptionError(errc::corrupt_data, std::string(dir), "ListMultipartUploadsResult",
                              "ListMultipartUploads '" + client_->object_uri(prefix) +
                                  "': the store returned the same marker twice");
      key_marker = page->next_key_marker;
      id_marker = page->next_upload_id_marker;
    }
    if (aborted > 0)
      client_->log("remove_temporaries '" + client_->object_uri(prefix) + "': aborted " + std::to_string(aborted) +
                   " unfinished multipart upload(s)");
  }

  std::unique_ptr<fs::Lock> try_lock(std::string_view path) override {
    fs::validate_path(path);
    return S3Lock::try_acquire(client_, std::string(path));
  }

 private:
  static std::shared_ptr<S3Client> make_client(std::string_view uri, S3Options options) {
    auto location = Location::parse(uri);
    options.apply(location);
    return std::make_shared<S3Client>(std::move(location), std::move(options));
  }

  /// Names the backend keeps for itself, and keys no path can name ("a//b").
  static bool visible(const std::string& name) {
    return !name.empty() && !name.starts_with(".ckpt-") && fs::path_problem(name).empty();
  }

  /// Every ListObjectsV2 page under `prefix`, bounded by max_list_entries.
  template <class F>
  void walk(const std::string& prefix, const std::string& delimiter, F&& on_page) {
    std::string token;
    std::size_t entries = 0;
    int empty_pages = 0;
    std::set<std::string> tokens;
    const auto& o = client_->options();
    for (;;) {
      auto page = client_->list(prefix, delimiter, token, o.list_page_size);
      entries += page.objects.size() + page.prefixes.size();
      if (entries > o.max_list_entries)
        throw IoError(errc::limit_exceeded, client_->path_of(prefix),
                      "listing '" + client_->object_uri(prefix) + "' holds more than " +
                          std::to_string(o.max_list_entries) + " entries (S3Options::max_list_entries)");
      const bool empty = page.objects.empty() && page.prefixes.empty();
      on_page(page);
      if (!page.truncated) return;
      if ((empty && ++empty_pages > 100) || !tokens.insert(page.next_token).second)
        throw CorruptionError(errc::corrupt_data, client_->path_of(prefix), "ListBucketResult",
                              "ListObjectsV2 '" + client_->object_uri(prefix) +
                                  "': the store keeps returning continuation tokens without progress");
      token = std::move(page.next_token);
    }
  }

  std::shared_ptr<S3Client> client_;
};

}  // namespace ckpt::s3
