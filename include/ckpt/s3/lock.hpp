#pragma once
// S3Lock: what S3FileSystem::try_lock() returns, a lease on a lock object.
//
// The lock is an object at the lock's path whose metadata names its owner (a
// random token) and when its lease expires (x-amz-meta-ckpt-lock-expires,
// epoch milliseconds on the S3Options::clock). While the S3Lock lives a
// thread renews the lease every lock_lease/3; the destructor deletes the
// object. try_lock() succeeds when the object does not exist or its lease
// has expired, so a holder that died (kill -9, a lost machine) blocks others
// for at most one lease.
//
// What is guaranteed, honestly:
// - With a store that honours conditional writes (AWS S3, MinIO) creation is
//   If-None-Match: * and taking over an expired lease is If-Match: <etag>, so
//   two contenders never both succeed.
// - Without (s3rver, older stores) it is HEAD-then-PUT-then-HEAD: contenders
//   in one process are serialised, but two processes racing within one round
//   trip may both believe they hold it.
// - A lease is judged by the clocks of the contenders: keep lock_lease well
//   above the clock skew between machines.
// - A holder that stalls for longer than its lease (a long GC-like pause, a
//   partition) loses the lock without knowing at once; held() turns false at
//   the next renewal. Fencing the writes themselves is the caller's business
//   (checkpoint manifests are published exclusively, which is the real fence).

#include <ckpt/fs/file_system.hpp>
#include <ckpt/s3/client.hpp>
#include <ckpt/s3/detail/digest.hpp>
#include <ckpt/s3/detail/exclusive.hpp>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ckpt::s3 {

class S3Lock final : public fs::Lock {
 public:
  /// Takes the lock at `path`, or returns nullptr while a live owner holds it.
  static std::unique_ptr<S3Lock> try_acquire(std::shared_ptr<S3Client> client, const std::string& path) {
    auto& c = *client;
    const std::string key = c.key(path);
    const std::string token = detail::random_hex(16);
    const bool conditional = c.conditional_writes();
    for (int round = 0; round < 3; ++round) {
      const std::int64_t now = c.clock().epoch_millis();
      const std::int64_t expires = now + c.options().lock_lease.count();
      const auto meta = metadata(token, expires);
      const std::string body = describe(token, expires);
      std::optional<ObjectInfo> current;
      if (conditional) {
        const auto r = c.put(key, as_bytes(body), S3Client::Condition::if_none_match, {}, meta);
        if (r.stored) return make(client, path, key, token, r.etag, expires);
        current = c.head(key);
        if (current && owner(*current) == token)  // an earlier attempt of ours had stored it
          return make(client, path, key, token, current->etag, expires);
      } else {
        std::lock_guard guard(detail::key_mutex(c.location().bucket, key));
        current = c.head(key);
        if (!current) {
          c.put(key, as_bytes(body), S3Client::Condition::none, {}, meta);
          return confirm(client, path, key, token, expires);
        }
      }
      if (!current) continue;  // released meanwhile: try again
      if (now < lease_end(*current, c.options().lock_lease)) return nullptr;  // a live holder
      c.log("lock '" + c.object_uri(key) + "': the lease of owner " + owner(*current) +
            " has expired; taking the lock over");
      if (conditional) {
        const auto r = c.put(key, as_bytes(body), S3Client::Condition::if_match, current->etag, meta);
        if (!r.stored) return nullptr;  // someone renewed or took it over first
        return confirm(client, path, key, token, expires);
      }
      std::lock_guard guard(detail::key_mutex(c.location().bucket, key));
      c.put(key, as_bytes(body), S3Client::Condition::none, {}, meta);
      return confirm(client, path, key, token, expires);
    }
    return nullptr;
  }

  S3Lock(const S3Lock&) = delete;
  S3Lock& operator=(const S3Lock&) = delete;

  ~S3Lock() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (renewer_.joinable()) renewer_.join();
    if (!held_) return;
    try {
      const auto info = client_->head(key_);
      if (info && owner(*info) == token_) client_->remove(key_);
    } catch (const std::exception& e) {
      client_->log(std::string("could not release lock '") + client_->object_uri(key_) +
                   "' (it expires with its lease): " + e.what());
    } catch (...) {
    }
  }

  /// False once a renewal found the lock taken over, or could not renew it
  /// before the lease ran out.
  bool held() const {
    std::lock_guard lock(mutex_);
    return held_;
  }
  /// When the current lease ends, in epoch milliseconds of S3Options::clock.
  std::int64_t expires_at() const {
    std::lock_guard lock(mutex_);
    return expires_;
  }
  const std::string& path() const noexcept { return path_; }

  /// Extends the lease now; IoError(locked) when the lock is no longer ours.
  void renew() {
    std::lock_guard serial(renew_mutex_);  // one renewal at a time: each needs the last one's ETag
    std::string etag;
    {
      std::lock_guard lock(mutex_);
      if (!held_)
        throw IoError(errc::locked, path_, "lock '" + client_->object_uri(key_) + "' is no longer held");
      etag = etag_;
    }
    auto& c = *client_;
    const std::int64_t expires = c.clock().epoch_millis() + c.options().lock_lease.count();
    const auto meta = metadata(token_, expires);
    const std::string body = describe(token_, expires);
    std::optional<std::string> new_etag;
    if (conditional_) {
      const auto r = c.put(key_, as_bytes(body), S3Client::Condition::if_match, etag, meta);
      if (r.stored) new_etag = r.etag;
    } else {
      std::lock_guard guard(detail::key_mutex(c.location().bucket, key_));
      const auto info = c.head(key_);
      if (info && owner(*info) == token_)
        new_etag = c.put(key_, as_bytes(body), S3Client::Condition::none, {}, meta).etag;
    }
    std::lock_guard lock(mutex_);
    if (!new_etag) {
      held_ = false;
      c.log("lock '" + c.object_uri(key_) + "' was taken over by another owner");
      throw IoError(errc::locked, path_, "lock '" + c.object_uri(key_) + "' was taken over by another owner");
    }
    etag_ = *new_etag;
    expires_ = expires;
  }

 private:
  S3Lock(std::shared_ptr<S3Client> client, std::string path, std::string key, std::string token, std::string etag,
         std::int64_t expires)
      : client_(std::move(client)),
        path_(std::move(path)),
        key_(std::move(key)),
        token_(std::move(token)),
        etag_(std::move(etag)),
        expires_(expires),
        conditional_(client_->conditional_writes()) {
    renewer_ = std::thread([this] { renew_loop(); });
  }

  static std::unique_ptr<S3Lock> make(const std::shared_ptr<S3Client>& client, const std::string& path,
                                      const std::string& key, const std::string& token, const std::string& etag,
                                      std::int64_t expires) {
    return std::unique_ptr<S3Lock>(new S3Lock(client, path, key, token, etag, expires));
  }

  /// After an unconditional write: ours only if the object now names us.
  static std::unique_ptr<S3Lock> confirm(const std::shared_ptr<S3Client>& client, const std::string& path,
                                         const std::string& key, const std::string& token, std::int64_t expires) {
    const auto info = client->head(key);
    if (!info || owner(*info) != token) return nullptr;
    return make(client, path, key, token, info->etag, expires);
  }

  static std::vector<std::pair<std::string, std::string>> metadata(const std::string& token, std::int64_t expires) {
    return {{"ckpt-lock-owner", token}, {"ckpt-lock-expires", std::to_string(expires)}};
  }
  static std::string describe(const std::string& token, std::int64_t expires) {
    return "ckpt lock\nowner: " + token + "\nexpires (epoch ms): " + std::to_string(expires) + "\n";
  }
  static std::string owner(const ObjectInfo& info) {
    const auto* o = info.meta("ckpt-lock-owner");
    return o ? *o : std::string("<unknown>");
  }

  /// When the holder's lease ends: its expiry metadata, else Last-Modified +
  /// lease; an object that says neither is not a lock anyone holds.
  static std::int64_t lease_end(const ObjectInfo& info, std::chrono::milliseconds lease) {
    if (const auto* e = info.meta("ckpt-lock-expires")) {
      std::int64_t v = 0;
      const auto [p, ec] = std::from_chars(e->data(), e->data() + e->size(), v);
      if (ec == std::errc() && p == e->data() + e->size()) return v;
    }
    std::tm tm{};
    if (!info.last_modified.empty() && strptime(info.last_modified.c_str(), "%a, %d %b %Y %H:%M:%S", &tm))
      return static_cast<std::int64_t>(timegm(&tm)) * 1000 + lease.count();
    return 0;
  }

  void renew_loop() {
    const auto period = client_->options().lock_lease / 3;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, period, [&] { return stop_; }) || !held_) return;
      }
      try {
        renew();
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex_);
        if (!held_) return;
        client_->log(std::string("could not renew lock '") + client_->object_uri(key_) + "': " + e.what());
        if (client_->clock().epoch_millis() >= expires_) {
          held_ = false;
          client_->log("lock '" + client_->object_uri(key_) + "': the lease ran out before it could be renewed");
          return;
        }
      }
    }
  }

  std::shared_ptr<S3Client> client_;
  std::string path_;
  std::string key_;
  std::string token_;
  mutable std::mutex mutex_;
  std::mutex renew_mutex_;
  std::condition_variable wake_;
  std::string etag_;
  std::int64_t expires_;
  bool conditional_;
  bool held_ = true;
  bool stop_ = false;
  std::thread renewer_;
};

}  // namespace ckpt::s3
