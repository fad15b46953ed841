#pragma once
// S3Options: how an S3FileSystem talks to its store. A small struct with named
// factories for the usual cases (cereal's JSONOutputArchive::Options is the
// model) and with_* setters for the rest:
//
//   auto o = S3Options::aws("eu-west-1");
//   auto o = S3Options::custom_endpoint("http://127.0.0.1:9000").with_credentials(c);
//   auto o = S3Options::from_environment("s3");   // AWS_REGION, AWS_ENDPOINT_URL_S3, ...
//
// validate() throws ConfigError naming the option and its allowed range.

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/s3/credentials.hpp>
#include <ckpt/s3/location.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ckpt::s3 {

/// Where the bucket goes in a request.
enum class Addressing {
  automatic,     // virtual-host on the default AWS/OBS endpoints (bucket without '.'), else path
  path,          // http://endpoint/bucket/key (custom endpoints, MinIO, s3rver)
  virtual_host,  // http://bucket.endpoint/key
};

/// Whether the store honours If-None-Match: * (and If-Match) on writes.
enum class ConditionalWrites {
  detect,       // ask the store once, with a probe object, on the first exclusive write
  supported,    // trust it (AWS S3 since 2024, MinIO): exclusive writes are atomic
  unsupported,  // HEAD, then PUT: exclusive only against writers that are not racing
};

/// Exponential back-off with full jitter: before retry n (1-based) sleep a
/// uniformly random time in [0, min(max_backoff, initial_backoff * 2^(n-1))].
struct RetryOptions {
  int max_attempts = 6;  // including the first
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{10'000};
};

struct S3Options {
  static constexpr std::size_t mib = std::size_t{1} << 20;
  /// S3 rejects parts below 5 MiB (but the last) and above 5 GiB.
  static constexpr std::size_t min_part_size = 5 * mib;
  static constexpr std::size_t max_part_size = std::size_t{5} << 30;
  static constexpr int max_parts = 10'000;

  /// "http(s)://host[:port]"; empty means the provider's default for the
  /// region (s3.<region>.amazonaws.com, obs.<region>.myhuaweicloud.com).
  std::string endpoint;
  std::string region = "us-east-1";
  Addressing addressing = Addressing::automatic;
  /// Explicit credentials; when empty, Credentials::resolve(scheme, profile).
  std::optional<Credentials> credentials;
  std::string profile;  // shared-credentials-file profile ("" = $AWS_PROFILE or "default")

  /// Bytes per multipart part; a file that never reaches this size is one PUT.
  std::size_t part_size = 8 * mib;
  /// Parts of one file uploaded at once (each holds part_size bytes).
  unsigned upload_threads = 4;
  /// Reads larger than this are split into several ranged GETs.
  std::size_t read_chunk_size = 64 * mib;

  std::chrono::milliseconds connect_timeout{10'000};
  /// Whole-request limit for one attempt (includes the transfer of a part).
  std::chrono::milliseconds request_timeout{300'000};
  RetryOptions retry;

  ConditionalWrites conditional_writes = ConditionalWrites::detect;
  /// How long a lock outlives its holder's last renewal; holders renew every lease/3.
  std::chrono::milliseconds lock_lease{60'000};

  /// Caps on what a server may send: an XML response (listing, error) and the
  /// number of entries one list() or remove_all() walks.
  std::size_t max_response_bytes = 8 * mib;
  std::size_t max_list_entries = 10'000'000;
  int list_page_size = 1000;
  /// list() asks the store for one level (delimiter '/'). false: it walks
  /// every key under the directory and derives the children itself, for
  /// stores whose delimiter listing is broken (s3rver 3.7 drops a prefix two
  /// levels down when nothing is stored between); costs a page per 1000 descendants.
  bool delimiter_listing = true;

  /// Backs off, judges lock expiry (epoch_millis); null = SystemClock::instance().
  /// Requests are always signed with the real time.
  std::shared_ptr<Clock> clock;
  /// Receives warnings and notable events (retries, fallbacks); secrets
  /// masked. Called from whichever thread hit the event (upload workers, lock
  /// renewal), so it must be thread-safe.
  std::function<void(std::string_view)> log;

  // ---- named factories ----

  /// AWS S3 in `region`, virtual-host addressing.
  static S3Options aws(std::string region) {
    S3Options o;
    o.region = std::move(region);
    return o;
  }
  /// Huawei Cloud OBS in `region` (its S3-compatible API).
  static S3Options obs(std::string region) { return aws(std::move(region)); }
  /// Any S3-compatible server (MinIO, Ceph, s3rver): path-style addressing.
  static S3Options custom_endpoint(std::string endpoint, std::string region = "us-east-1") {
    S3Options o;
    o.endpoint = std::move(endpoint);
    o.region = std::move(region);
    o.addressing = Addressing::path;
    return o;
  }
  /// What the AWS tools read: AWS_REGION / AWS_DEFAULT_REGION and
  /// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (OBS_REGION / OBS_ENDPOINT for "obs"),
  /// AWS_PROFILE. Credentials are resolved later, when the file system opens.
  static S3Options from_environment(std::string_view scheme = "s3") {
    const auto get = [](const char* name) -> std::string {
      const char* v = std::getenv(name);
      return v ? std::string(v) : std::string();
    };
    S3Options o;
    const bool obs = scheme == "obs";
    std::string region = obs ? get("OBS_REGION") : get("AWS_REGION");
    if (region.empty() && !obs) region = get("AWS_DEFAULT_REGION");
    if (!region.empty()) o.region = region;
    o.endpoint = obs ? get("OBS_ENDPOINT") : get("AWS_ENDPOINT_URL_S3");
    if (o.endpoint.empty() && !obs) o.endpoint = get("AWS_ENDPOINT_URL");
    if (!o.endpoint.empty()) o.addressing = Addressing::path;
    o.profile = get("AWS_PROFILE");
    return o;
  }

  // ---- setters ----
  S3Options& with_endpoint(std::string e) { endpoint = std::move(e); return *this; }
  S3Options& with_region(std::string r) { region = std::move(r); return *this; }
  S3Options& with_addressing(Addressing a) { addressing = a; return *this; }
  S3Options& with_credentials(Credentials c) { credentials = std::move(c); return *this; }
  S3Options& with_profile(std::string p) { profile = std::move(p); return *this; }
  S3Options& with_part_size(std::size_t bytes) { part_size = bytes; return *this; }
  S3Options& with_upload_threads(unsigned n) { upload_threads = n; return *this; }
  S3Options& with_timeouts(std::chrono::milliseconds connect, std::chrono::milliseconds request) {
    connect_timeout = connect;
    request_timeout = request;
    return *this;
  }
  S3Options& with_retry(RetryOptions r) { retry = r; return *this; }
  S3Options& with_conditional_writes(ConditionalWrites c) { conditional_writes = c; return *this; }
  S3Options& with_lock_lease(std::chrono::milliseconds lease) { lock_lease = lease; return *this; }
  S3Options& with_clock(std::shared_ptr<Clock> c) { clock = std::move(c); return *this; }
  S3Options& with_log(std::function<void(std::string_view)> sink) { log = std::move(sink); return *this; }

  /// Applies a URI's ?region=&endpoint=&addressing=&profile= parameters.
  S3Options& apply(const Location& location) {
    for (const auto& [name, value] : location.parameters) {
      if (name == "region") {
        region = value;
      } else if (name == "endpoint") {
        endpoint = value;
        if (addressing == Addressing::automatic) addressing = Addressing::path;
      } else if (name == "addressing") {
        if (value == "path") addressing = Addressing::path;
        else if (value == "virtual") addressing = Addressing::virtual_host;
        else if (value == "auto") addressing = Addressing::automatic;
        else
          throw ConfigError(errc::invalid_argument, "S3 URI " + location.uri() +
                                                        ": addressing must be path, virtual or auto");
      } else if (name == "profile") {
        profile = value;
      } else {
        // The value is not shown: someone may have tried to pass a secret this way.
        throw ConfigError(errc::invalid_argument,
                          "S3 URI " + location.uri() + ": unknown parameter '" + name +
                              "' (known: region, endpoint, addressing, profile; credentials are "
                              "never taken from a URI)");
      }
    }
    return *this;
  }

  /// ConfigError naming the first option outside its range.
  void validate() const {
    const auto fail = [](const std::string& what) { throw ConfigError(errc::invalid_argument, "S3Options: " + what); };
    if (part_size < min_part_size || part_size > max_part_size)
      fail("part_size is " + std::to_string(part_size) + "; it must be 5 MiB to 5 GiB (S3's limits)");
    if (upload_threads < 1 || upload_threads > 64)
      fail("upload_threads is " + std::to_string(upload_threads) + "; it must be 1 to 64");
    if (read_chunk_size < 1)
      fail("read_chunk_size must be at least 1");
    if (retry.max_attempts < 1 || retry.max_attempts > 100)
      fail("retry.max_attempts is " + std::to_string(retry.max_attempts) + "; it must be 1 to 100");
    if (retry.initial_backoff.count() < 0 || retry.max_backoff < retry.initial_backoff)
      fail("retry back-off must satisfy 0 <= initial_backoff <= max_backoff");
    if (connect_timeout.count() <= 0 || request_timeout.count() <= 0)
      fail("connect_timeout and request_timeout must be positive");
    if (lock_lease.count() < 1000)
      fail("lock_lease is " + std::to_string(lock_lease.count()) + " ms; it must be at least 1000 ms");
    if (max_response_bytes < 64 * 1024)
      fail("max_response_bytes must be at least 64 KiB");
    if (list_page_size < 1 || list_page_size > 1000)
      fail("list_page_size is " + std::to_string(list_page_size) + "; it must be 1 to 1000");
    if (region.empty()) fail("region must not be empty");
    for (const char c : region)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-')
        fail("region '" + region + "' may hold only letters, digits and '-'");
  }
};

}  // namespace ckpt::s3
