#pragma once
// S3Client: the object-store operations S3FileSystem is built from (HEAD,
// ranged GET, PUT, DELETE, ListObjectsV2, DeleteObjects, the multipart upload
// calls), each signed with Signature Version 4 and retried by one policy:
//
// - Retried, with exponential back-off and full jitter: a connection that
//   could not be made; HTTP 500/502/503/504, 429, SlowDown, RequestTimeout,
//   ConditionalRequestConflict; and, for idempotent requests only, a timeout
//   or a connection that broke after the request was sent (the server may
//   have acted on it). CreateMultipartUpload is not idempotent, so it is
//   retried only when the server cannot have acted on it.
// - Never retried: 4xx answers (403 is reported at once), a response larger
//   than allowed, a local error.
//
// Every message names the operation and the object (s3://bucket/key) and is
// scrubbed of the secret key and session token before it is thrown or logged.

#include <ckpt/bytes.hpp>
#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/s3/credentials.hpp>
#include <ckpt/s3/detail/backoff.hpp>
#include <ckpt/s3/detail/digest.hpp>
#include <ckpt/s3/detail/http.hpp>
#include <ckpt/s3/detail/url.hpp>
#include <ckpt/s3/detail/xml.hpp>
#include <ckpt/s3/location.hpp>
#include <ckpt/s3/options.hpp>
#include <ckpt/s3/sigv4.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt::s3 {

/// What HEAD says about an object.
struct ObjectInfo {
  std::uint64_t size = 0;
  std::string etag;  // as sent, with its quotes
  std::string last_modified;
  std::vector<std::pair<std::string, std::string>> metadata;  // x-amz-meta-<name>, lower-case name
  const std::string* meta(std::string_view name) const {
    for (const auto& [n, v] : metadata)
      if (n == name) return &v;
    return nullptr;
  }
};

/// The endpoint a client talks to, split for URL building and signing.
struct Endpoint {
  std::string scheme;     // "http" or "https"
  std::string authority;  // "host" or "host:port"
  bool virtual_host = false;

  static Endpoint resolve(const Location& location, const S3Options& options) {
    Endpoint e;
    std::string url = options.endpoint;
    const bool custom = !url.empty();
    if (!custom)
      url = location.scheme == "obs" ? "https://obs." + options.region + ".myhuaweicloud.com"
                                     : "https://s3." + options.region + ".amazonaws.com";
    const auto fail = [&](const std::string& why) {
      return ConfigError(errc::invalid_argument, "S3 endpoint '" + mask_uri(url) + "': " + why);
    };
    const auto sep = url.find("://");
    if (sep == std::string::npos) throw fail("expected http://host[:port] or https://host[:port]");
    e.scheme = url.substr(0, sep);
    if (e.scheme != "http" && e.scheme != "https") throw fail("the scheme must be http or https");
    std::string rest = url.substr(sep + 3);
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    if (rest.find('@') != std::string::npos) throw fail("credentials must never be part of an endpoint");
    if (rest.find_first_of("/?#") != std::string::npos)
      throw fail("an endpoint is scheme://host[:port], without a path or query");
    if (rest.empty()) throw fail("the host is missing");
    for (const char c : rest)
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) throw fail("the host holds a space or control character");
    e.authority = rest;
    switch (options.addressing) {
      case Addressing::path: e.virtual_host = false; break;
      case Addressing::virtual_host: e.virtual_host = true; break;
      case Addressing::automatic:
        e.virtual_host = !custom && location.bucket.find('.') == std::string::npos;
        break;
    }
    return e;
  }

  /// The host part without the port.
  std::string host() const {
    if (!authority.empty() && authority.front() == '[') return authority.substr(0, authority.find(']') + 1);
    return authority.substr(0, authority.rfind(':') == std::string::npos ? authority.size() : authority.rfind(':'));
  }
  bool loopback() const {
    const auto h = host();
    return h == "127.0.0.1" || h == "localhost" || h == "[::1]" || h.starts_with("127.");
  }
};

class S3Client {
 public:
  enum class Idempotency { idempotent, once };
  enum class Condition { none, if_none_match, if_match };

  /// Validates `options`, resolves credentials (explicit, else environment or
  /// file for the URI's scheme) and the endpoint.
  S3Client(Location location, S3Options options)
      : location_(std::move(location)),
        options_(std::move(options)),
        credentials_(options_.credentials ? *options_.credentials
                                          : Credentials::resolve(location_.scheme, options_.profile)),
        endpoint_((options_.validate(), Endpoint::resolve(location_, options_))),
        http_(detail::HttpSettings{options_.connect_timeout, options_.request_timeout, endpoint_.loopback()}),
        backoff_(options_.retry),
        clock_(options_.clock ? options_.clock
                              : std::shared_ptr<Clock>(std::shared_ptr<Clock>{}, &SystemClock::instance())) {}

  const Location& location() const noexcept { return location_; }
  const S3Options& options() const noexcept { return options_; }
  Clock& clock() const noexcept { return *clock_; }
  const Endpoint& endpoint() const noexcept { return endpoint_; }

  /// The object key of a path relative to the root.
  std::string key(std::string_view path) const {
    if (location_.prefix.empty()) return std::string(path);
    if (path.empty()) return location_.prefix;
    return location_.prefix + "/" + std::string(path);
  }
  /// The key prefix that lists the children of `dir` ("" lists the bucket).
  std::string dir_prefix(std::string_view dir) const {
    const auto k = key(dir);
    return k.empty() ? std::string() : k + "/";
  }
  /// The path relative to the root of a key, for IoError::path().
  std::string path_of(std::string_view key) const {
    if (location_.prefix.empty()) return std::string(key);
    if (key.size() > location_.prefix.size() && key.starts_with(location_.prefix) &&
        key[location_.prefix.size()] == '/')
      return std::string(key.substr(location_.prefix.size() + 1));
    return std::string(key);
  }
  /// "s3://bucket/key" for messages.
  std::string object_uri(std::string_view key) const {
    return location_.scheme + "://" + location_.bucket + "/" + std::string(key);
  }

  /// `text` with every occurrence of the secret key and session token masked.
  std::string scrub(std::string text) const {
    for (const Secret* s : {&credentials_.secret_access_key, &credentials_.session_token}) {
      const auto& v = s->reveal();
      if (v.size() < 4) continue;
      for (auto p = text.find(v); p != std::string::npos; p = text.find(v, p + Secret::mask.size()))
        text.replace(p, v.size(), Secret::mask);
    }
    return text;
  }
  void log(const std::string& message) const {
    if (options_.log) options_.log(scrub(message));
  }

  // ---- objects ----

  std::optional<ObjectInfo> head(std::string_view key) {
    Call call{"HeadObject", "HEAD", std::string(key)};
    auto r = execute(call);
    if (r.response.status == 404) return std::nullopt;
    if (r.response.status != 200) fail(call, r);
    return object_info(call, r.response);
  }

  /// Reads dst.size() bytes at `offset` with one ranged GET. If `etag` is
  /// given the object must still be that version (If-Match).
  void get(std::string_view key, std::uint64_t offset, std::span<std::byte> dst, const std::string& etag = {}) {
    if (dst.empty()) return;
    const std::uint64_t last = offset + dst.size() - 1;
    Call call{"GetObject", "GET", std::string(key)};
    call.headers.emplace_back("range", "bytes=" + std::to_string(offset) + "-" + std::to_string(last));
    if (!etag.empty()) call.headers.emplace_back("if-match", etag);
    call.into = dst;
    auto r = execute(call);
    const long s = r.response.status;
    if (s == 412)
      raise(errc::io_error, key, "GetObject '" + object_uri(key) + "': the object changed since it was opened");
    if (s == 416)
      throw CorruptionError(errc::truncated, path_of(key), range_name(offset, dst.size()),
                            scrub("GetObject '" + object_uri(key) + "': bytes " + std::to_string(offset) + "-" +
                                  std::to_string(last) + " are beyond the end of the object"));
    if (s != 206 && s != 200) fail(call, r);
    if (r.response.received != dst.size())
      throw CorruptionError(errc::truncated, path_of(key), range_name(offset, dst.size()),
                            scrub("GetObject '" + object_uri(key) + "': got " + std::to_string(r.response.received) +
                                  " of the " + std::to_string(dst.size()) + " bytes requested at offset " +
                                  std::to_string(offset)));
  }

  struct PutResult {
    bool stored = false;  // false: the condition failed (412)
    std::string etag;
    int attempts = 1;
    bool ambiguous = false;  // an earlier attempt may have stored the object
  };
  /// PUT of `body`, with Content-MD5, optional metadata and condition.
  PutResult put(std::string_view key, ByteSpan body, Condition condition = Condition::none,
                const std::string& if_match_etag = {},
                const std::vector<std::pair<std::string, std::string>>& metadata = {}) {
    Call call{"PutObject", "PUT", std::string(key)};
    call.body = body;
    const auto md5 = detail::md5(body);
    call.headers.emplace_back("content-md5", detail::base64(md5));
    call.headers.emplace_back("content-type", "application/octet-stream");
    if (condition == Condition::if_none_match) call.headers.emplace_back("if-none-match", "*");
    if (condition == Condition::if_match) call.headers.emplace_back("if-match", if_match_etag);
    for (const auto& [n, v] : metadata) call.headers.emplace_back("x-amz-meta-" + n, v);
    auto r = execute(call);
    PutResult out{false, {}, r.attempts, r.ambiguous};
    if (r.response.status == 412 && condition != Condition::none) return out;
    if (r.response.status != 200) fail(call, r);
    out.stored = true;
    if (const auto* etag = r.response.header("etag")) out.etag = *etag;
    check_etag(call, out.etag, detail::hex(md5));
    return out;
  }

  /// DELETE; a missing object is not an error.
  void remove(std::string_view key) {
    Call call{"DeleteObject", "DELETE", std::string(key)};
    auto r = execute(call);
    if (r.response.status != 204 && r.response.status != 200 && r.response.status != 404) fail(call, r);
  }

  /// One ListObjectsV2 page under `prefix`.
  detail::ListPage list(const std::string& prefix, const std::string& delimiter, const std::string& token,
                        int max_keys) {
    Call call{"ListObjectsV2", "GET", {}};
    call.query = {{"list-type", "2"}, {"max-keys", std::to_string(max_keys)}};
    if (!prefix.empty()) call.query.emplace_back("prefix", prefix);
    if (!delimiter.empty()) call.query.emplace_back("delimiter", delimiter);
    if (!token.empty()) call.query.emplace_back("continuation-token", token);
    call.max_body = options_.max_response_bytes;
    call.subject = prefix;
    auto r = execute(call);
    if (r.response.status != 200) fail(call, r);
    return parsed(call, [&] { return detail::parse_list_objects(r.response.body); });
  }

  /// DeleteObjects of at most 1000 keys.
  void remove_many(const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    Call call{"DeleteObjects", "POST", {}};
    call.query = {{"delete", ""}};
    const std::string body = detail::delete_body(keys);
    call.body = as_bytes(body);
    call.headers.emplace_back("content-md5", detail::base64(detail::md5(call.body)));
    call.headers.emplace_back("content-type", "application/xml");
    call.max_body = options_.max_response_bytes;
    call.subject = keys.front();
    auto r = execute(call);
    if (r.response.status != 200) fail(call, r);
    const auto failures = parsed(call, [&] { return detail::parse_delete_result(r.response.body); });
    if (!failures.empty()) {
      const auto& f = failures.front();
      raise(f.code == "AccessDenied" ? errc::permission_denied : errc::io_error, f.key,
            "DeleteObjects could not delete '" + object_uri(f.key) + "': " + f.code + ": " + f.message +
                (failures.size() > 1 ? " (and " + std::to_string(failures.size() - 1) + " more)" : ""));
    }
  }

  // ---- multipart uploads ----

  std::string create_upload(std::string_view key, const std::vector<std::pair<std::string, std::string>>& metadata) {
    Call call{"CreateMultipartUpload", "POST", std::string(key)};
    call.query = {{"uploads", ""}};
    call.idempotency = Idempotency::once;
    call.headers.emplace_back("content-type", "application/octet-stream");
    for (const auto& [n, v] : metadata) call.headers.emplace_back("x-amz-meta-" + n, v);
    call.max_body = options_.max_response_bytes;
    auto r = execute(call);
    if (r.response.status != 200) fail(call, r);
    return parsed(call, [&] { return detail::parse_upload_id(r.response.body); });
  }

  /// Uploads part `number` (1-based); returns its ETag.
  std::string upload_part(std::string_view key, const std::string& upload_id, int number, ByteSpan body,
                          const detail::Md5& md5) {
    Call call{"UploadPart", "PUT", std::string(key)};
    call.query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}};
    call.body = body;
    call.headers.emplace_back("content-md5", detail::base64(md5));
    auto r = execute(call);
    if (r.response.status != 200) fail(call, r);
    const auto* etag = r.response.header("etag");
    if (!etag || etag->empty())
      raise(errc::io_error, key, "UploadPart " + std::to_string(number) + " of '" + object_uri(key) +
                                     "': the response has no ETag");
    check_etag(call, *etag, detail::hex(md5));
    return *etag;
  }

  enum class CompleteStatus { completed, precondition_failed, no_such_upload };
  struct CompleteResult {
    CompleteStatus status = CompleteStatus::completed;
    std::string etag;
    int attempts = 1;
    bool ambiguous = false;
  };
  /// CompleteMultipartUpload, retried (it is idempotent; a retry after a lost
  /// success answers NoSuchUpload, which the caller resolves).
  CompleteResult complete_upload(std::string_view key, const std::string& upload_id,
                                 const std::vector<std::pair<int, std::string>>& parts, bool if_none_match) {
    Call call{"CompleteMultipartUpload", "POST", std::string(key)};
    call.query = {{"uploadId", upload_id}};
    const std::string body = detail::complete_body(parts);
    call.body = as_bytes(body);
    call.headers.emplace_back("content-type", "application/xml");
    if (if_none_match) call.headers.emplace_back("if-none-match", "*");
    call.max_body = options_.max_response_bytes;
    CompleteResult out;
    int attempts = 0;
    for (;;) {
      auto r = execute(call);
      attempts += r.attempts;
      out.ambiguous = out.ambiguous || r.ambiguous || attempts > 1;
      out.attempts = attempts;
      const long s = r.response.status;
      if (s == 412 && if_none_match) {
        out.status = CompleteStatus::precondition_failed;
        return out;
      }
      if (s == 404 && error_code(r.response) == "NoSuchUpload") {
        out.status = CompleteStatus::no_such_upload;
        return out;
      }
      if (s != 200) fail(call, r);
      // 200 and then an <Error>: S3 reports late failures this way.
      const auto result = parsed(call, [&] { return detail::parse_complete(r.response.body); });
      if (!result.error) {
        out.etag = result.etag;
        return out;
      }
      const auto& e = *result.error;
      const bool retry = e.code == "InternalError" || e.code == "SlowDown" || e.code == "ServiceUnavailable";
      if (!retry || attempts >= options_.retry.max_attempts)
        raise(errc::io_error, key, "CompleteMultipartUpload '" + object_uri(key) + "' failed: " + e.code + ": " +
                                       e.message + attempts_note(attempts));
      log("CompleteMultipartUpload '" + object_uri(key) + "': " + e.code + "; retrying");
      clock_->sleep_for(backoff_.delay(attempts));
    }
  }

  /// AbortMultipartUpload. false when the server does not implement it.
  bool abort_upload(std::string_view key, const std::string& upload_id) {
    Call call{"AbortMultipartUpload", "DELETE", std::string(key)};
    call.query = {{"uploadId", upload_id}};
    auto r = execute(call);
    const long s = r.response.status;
    if (s == 204 || s == 200 || s == 404) return true;
    if (s == 405 || s == 501) return false;
    fail(call, r);
  }

  /// One ListMultipartUploads page; nullopt when the server does not implement it.
  std::optional<detail::UploadsPage> list_uploads(const std::string& prefix, const std::string& key_marker,
                                                  const std::string& upload_id_marker) {
    Call call{"ListMultipartUploads", "GET", {}};
    call.query = {{"uploads", ""}};
    if (!prefix.empty()) call.query.emplace_back("prefix", prefix);
    if (!key_marker.empty()) call.query.emplace_back("key-marker", key_marker);
    if (!upload_id_marker.empty()) call.query.emplace_back("upload-id-marker", upload_id_marker);
    call.max_body = options_.max_response_bytes;
    call.subject = prefix;
    auto r = execute(call);
    const long s = r.response.status;
    if (s == 501 || s == 405) return std::nullopt;
    if (s != 200) fail(call, r);
    return parsed(call, [&] { return detail::parse_list_uploads(r.response.body); });
  }

  // ---- conditional writes ----

  /// Whether the store rejects a PUT with If-None-Match: * when the key
  /// exists. Per options; `detect` asks the store once with a probe object
  /// (.ckpt-probe-<random> under the root, deleted again).
  bool conditional_writes() {
    switch (options_.conditional_writes) {
      case ConditionalWrites::supported: return true;
      case ConditionalWrites::unsupported: return false;
      case ConditionalWrites::detect: break;
    }
    std::lock_guard lock(probe_mutex_);
    if (conditional_) return *conditional_;
    const std::string probe = key(".ckpt-probe-" + detail::random_hex(8));
    // Two conditional PUTs of an empty object: the second must fail with 412.
    Call call{"PutObject", "PUT", probe};
    call.headers = {{"content-md5", detail::base64(detail::md5({}))}, {"if-none-match", "*"}};
    bool supported = false;
    for (int round = 0; round < 2; ++round) {
      auto r = execute(call);
      const long s = r.response.status;
      if (s == 200) continue;
      if (s == 412 && round == 1) supported = true;
      else if (s == 501 || (s == 400 && error_code(r.response) == "NotImplemented")) supported = false;
      else fail(call, r);
      break;
    }
    try {
      remove(probe);
    } catch (const Error& e) {
      log(std::string("could not delete the conditional-write probe: ") + e.what());
    }
    conditional_ = supported;
    log(location_.uri() + (supported ? ": the store honours If-None-Match; exclusive writes are atomic"
                                     : ": the store ignores If-None-Match; exclusive writes fall back to "
                                       "HEAD-then-PUT (not atomic against racing writers)"));
    return supported;
  }

 private:
  struct Call {
    const char* op;
    std::string method;
    std::string key;  // "" for bucket-level calls
    std::vector<std::pair<std::string, std::string>> query{};
    std::vector<std::pair<std::string, std::string>> headers{};
    ByteSpan body{};
    std::span<std::byte> into{};
    std::size_t max_body = 0;
    Idempotency idempotency = Idempotency::idempotent;
    std::string subject{};  // what a bucket-level call is about, for messages
  };
  struct Result {
    detail::HttpResponse response;
    int attempts = 1;
    bool ambiguous = false;
  };

  std::string range_name(std::uint64_t offset, std::size_t n) const {
    return "bytes " + std::to_string(offset) + "-" + std::to_string(offset + n - 1);
  }
  static std::string attempts_note(int attempts) {
    return attempts > 1 ? " (after " + std::to_string(attempts) + " attempts)" : "";
  }
  std::string what_of(const Call& call) const {
    return std::string(call.op) + " '" + object_uri(call.key.empty() ? call.subject : call.key) + "'";
  }
  std::string path_for(const Call& call) const { return path_of(call.key.empty() ? call.subject : call.key); }

  [[noreturn]] void raise(errc code, std::string_view key, const std::string& message) const {
    throw IoError(code, path_of(key), scrub(message));
  }

  static std::string error_code(const detail::HttpResponse& r) { return detail::parse_error(r.body).code; }

  template <class F>
  auto parsed(const Call& call, F&& parse) const -> decltype(parse()) {
    try {
      return parse();
    } catch (const CorruptionError& e) {
      throw CorruptionError(errc::corrupt_data, path_for(call), e.block(), scrub(what_of(call) + ": " + e.what()));
    }
  }

  void check_etag(const Call& call, const std::string& etag, const std::string& md5_hex) const {
    // A plain (non-multipart, non-KMS) ETag is the MD5 of the bytes: a free end-to-end check.
    std::string_view e = etag;
    if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
    if (e.size() == 32 && e.find_first_not_of("0123456789abcdef") == std::string_view::npos && e != md5_hex)
      throw CorruptionError(errc::corrupt_data, path_for(call), "ETag",
                            scrub(what_of(call) + ": the store's ETag " + etag +
                                  " is not the MD5 of the bytes sent (" + md5_hex + ")"));
  }

  ObjectInfo object_info(const Call& call, const detail::HttpResponse& r) const {
    ObjectInfo info;
    const auto* length = r.header("content-length");
    std::uint64_t size = 0;
    if (!length || std::from_chars(length->data(), length->data() + length->size(), size).ptr !=
                       length->data() + length->size())
      throw CorruptionError(errc::corrupt_data, path_for(call), "Content-Length",
                            scrub(what_of(call) + ": the response has no valid Content-Length"));
    info.size = size;
    if (const auto* e = r.header("etag")) info.etag = *e;
    if (const auto* m = r.header("last-modified")) info.last_modified = *m;
    for (const auto& [n, v] : r.headers)
      if (n.starts_with("x-amz-meta-")) info.metadata.emplace_back(n.substr(11), v);
    return info;
  }

  [[noreturn]] void fail(const Call& call, const Result& r) const {
    const long s = r.response.status;
    const auto body = detail::parse_error(r.response.body);
    errc code = errc::io_error;
    if (s == 404) code = errc::not_found;
    else if (s == 401 || s == 403) code = errc::permission_denied;
    else if (s == 412) code = errc::already_exists;
    else if (body.code == "EntityTooLarge" || body.code == "QuotaExceeded") code = errc::no_space;
    std::string message = what_of(call) + " failed: HTTP " + std::to_string(s);
    if (!body.code.empty()) message += " " + body.code;
    if (!body.message.empty()) message += ": " + body.message;
    if (!body.request_id.empty()) message += " (request id " + body.request_id + ")";
    if (s == 403 && body.code == "SignatureDoesNotMatch")
      message += "; check the secret key for access key id " + credentials_.access_key_id + " (" +
                 credentials_.source + ") and the region";
    else if (s == 403 || s == 401)
      message += "; credentials: access key id " + credentials_.access_key_id + " from " + credentials_.source;
    message += attempts_note(r.attempts);
    throw IoError(code, path_for(call), scrub(message));
  }

  static bool retryable_status(long s, const std::string& code) {
    return s == 500 || s == 502 || s == 503 || s == 504 || s == 429 || code == "SlowDown" ||
           code == "RequestTimeout" || code == "ConditionalRequestConflict" || code == "InternalError";
  }
  /// Statuses that say the request was not carried out at all.
  static bool throttled(long s, const std::string& code) { return s == 429 || s == 503 || code == "SlowDown"; }

  std::string url_path(const std::string& key) const {
    std::string p = "/";
    if (!endpoint_.virtual_host) {
      p += location_.bucket;
      if (!key.empty()) p += "/";
    }
    p += detail::uri_encode(key, true);
    return p;
  }

  detail::HttpRequest build(const Call& call, const std::string& payload_hash) const {
    SignableRequest s;
    s.method = call.method;
    s.path = url_path(call.key);
    s.query = call.query;
    s.payload_hash = payload_hash;
    const std::string host = endpoint_.virtual_host ? location_.bucket + "." + endpoint_.authority
                                                    : endpoint_.authority;
    const std::string date = amz_date(std::chrono::system_clock::now());
    s.headers = {{"host", host}, {"x-amz-date", date}, {"x-amz-content-sha256", payload_hash}};
    if (!credentials_.session_token.empty())
      s.headers.emplace_back("x-amz-security-token", credentials_.session_token.reveal());
    for (const auto& h : call.headers) s.headers.push_back(h);
    const SigningScope scope{date, options_.region, "s3"};
    detail::HttpRequest req;
    req.method = call.method;
    req.url = endpoint_.scheme + "://" + host + s.path;
    if (!s.query.empty()) req.url += "?" + canonical_query(s.query);
    req.headers = s.headers;
    req.headers.emplace_back("authorization",
                             authorization(s, credentials_.access_key_id, credentials_.secret_access_key, scope));
    req.body = call.body;
    req.into = call.into;
    req.max_body = call.max_body;
    req.fresh_connection = call.idempotency == Idempotency::once;
    return req;
  }

  Result execute(const Call& call) {
    const std::string payload_hash = detail::sha256_hex(call.body);
    Result result;
    for (int attempt = 1;; ++attempt) {
      result.attempts = attempt;
      const auto request = build(call, payload_hash);
      const auto outcome = http_.perform(request, result.response);
      const bool last = attempt >= options_.retry.max_attempts;
      std::string why;
      if (outcome.failure == detail::Failure::none) {
        const long s = result.response.status;
        if (s < 400) return result;
        const auto code = s >= 400 ? error_code(result.response) : std::string();
        const bool may_retry = call.idempotency == Idempotency::idempotent || throttled(s, code);
        if (!retryable_status(s, code) || !may_retry || last) return result;
        if (!throttled(s, code)) result.ambiguous = true;
        why = "HTTP " + std::to_string(s) + (code.empty() ? "" : " " + code);
      } else {
        using detail::Failure;
        if (outcome.failure == Failure::limit_exceeded)
          raise(errc::limit_exceeded, call.key.empty() ? call.subject : call.key,
                what_of(call) + ": " + outcome.what);
        const bool not_sent = outcome.failure == Failure::not_sent;
        const bool may_retry =
            not_sent || (call.idempotency == Idempotency::idempotent &&
                         (outcome.failure == Failure::timeout || outcome.failure == Failure::connection));
        if (!not_sent) result.ambiguous = true;
        if (!may_retry || last)
          raise(errc::io_error, call.key.empty() ? call.subject : call.key,
                what_of(call) + " failed: " + outcome.what + " (endpoint " + endpoint_.scheme + "://" +
                    endpoint_.authority + ")" + attempts_note(attempt) +
                    (may_retry || not_sent ? ""
                                           : "; not retried: the request is not idempotent and may have "
                                             "reached the server"));
        why = outcome.what;
      }
      const auto delay = backoff_.delay(attempt);
      log(what_of(call) + ": " + why + "; retry " + std::to_string(attempt) + " of " +
          std::to_string(options_.retry.max_attempts - 1) + " in " + std::to_string(delay.count()) + " ms");
      clock_->sleep_for(delay);
    }
  }

  Location location_;
  S3Options options_;
  Credentials credentials_;
  Endpoint endpoint_;
  detail::HttpClient http_;
  detail::Backoff backoff_;
  std::shared_ptr<Clock> clock_;
  std::mutex probe_mutex_;
  std::optional<bool> conditional_;
};

}  // namespace ckpt::s3
