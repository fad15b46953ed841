#pragma once
// A client for etcd's v3 API through its JSON gateway (etcd 3.4: POST
// /v3/kv/range, /v3/kv/put, /v3/kv/txn, /v3/kv/deleterange, /v3/lease/*),
// over the shared libcurl client with bounded responses. Keys and values are
// bytes (base64 on the wire). Safe to use from several threads at once.
//
// Errors: etcd unreachable, a timeout or an HTTP error -> IoError naming the
// endpoint and the call (errc::not_found for etcd's NOT_FOUND, such as an
// unknown lease); a response that is not what etcd sends -> CorruptionError.
// Nothing is retried here: a call is sent once (libcurl may resend it once on
// a kept-alive connection that turned out closed); the coordination
// primitives above decide what to retry.

#include <ckpt/error.hpp>
#include <ckpt/etcd/detail/base64.hpp>
#include <ckpt/etcd/detail/json.hpp>
#include <ckpt/etcd/options.hpp>
#include <ckpt/net/http_client.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt::etcd {

/// One key as etcd keeps it.
struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::int64_t lease = 0;
};

/// What a range read returned; `revision` is the store's revision it saw.
struct RangeResult {
  std::vector<KeyValue> kvs;
  std::int64_t count = 0;
  std::int64_t revision = 0;
  bool more = false;
};

/// The key after every key that starts with `prefix` (etcd's range_end for a prefix).
inline std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& c = prefix.back();
    if (static_cast<unsigned char>(c) < 0xff) {
      c = static_cast<char>(static_cast<unsigned char>(c) + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

/// A condition of a transaction.
struct Compare {
  enum class Target { version, create_revision, mod_revision, value, lease };
  enum class Result { equal, greater, less, not_equal };
  std::string key;
  Target target = Target::version;
  Result result = Result::equal;
  std::int64_t number = 0;  // for version, revisions and lease
  std::string value;        // for value

  /// The key's create revision compared with `revision` (0: the key does not exist).
  static Compare create_revision(std::string key, Result r, std::int64_t revision) {
    return {std::move(key), Target::create_revision, r, revision, {}};
  }
  static Compare mod_revision(std::string key, Result r, std::int64_t revision) {
    return {std::move(key), Target::mod_revision, r, revision, {}};
  }
  static Compare version(std::string key, Result r, std::int64_t version) {
    return {std::move(key), Target::version, r, version, {}};
  }
  static Compare value_is(std::string key, Result r, std::string value) {
    return {std::move(key), Target::value, r, 0, std::move(value)};
  }
  /// The key does not exist.
  static Compare absent(std::string key) { return create_revision(std::move(key), Result::equal, 0); }
};

/// An operation of a transaction.
struct TxnOp {
  enum class Kind { put, range, delete_range };
  Kind kind = Kind::range;
  std::string key;
  std::string value;      // put
  std::string range_end;  // range, delete_range: empty for the key alone
  std::int64_t lease = 0; // put

  static TxnOp put(std::string key, std::string value, std::int64_t lease = 0) {
    return {Kind::put, std::move(key), std::move(value), {}, lease};
  }
  static TxnOp get(std::string key) { return {Kind::range, std::move(key), {}, {}, 0}; }
  static TxnOp get_prefix(std::string prefix) {
    std::string end = prefix_end(prefix);
    return {Kind::range, std::move(prefix), {}, std::move(end), 0};
  }
  static TxnOp remove(std::string key) { return {Kind::delete_range, std::move(key), {}, {}, 0}; }
  static TxnOp remove_prefix(std::string prefix) {
    std::string end = prefix_end(prefix);
    return {Kind::delete_range, std::move(prefix), {}, std::move(end), 0};
  }
  /// Deletes [key, range_end).
  static TxnOp remove_range(std::string key, std::string range_end) {
    return {Kind::delete_range, std::move(key), {}, std::move(range_end), 0};
  }
};

/// One operation's response: `range` for a range, `deleted` for a delete.
struct TxnResponse {
  TxnOp::Kind kind = TxnOp::Kind::range;
  RangeResult range;
  std::int64_t deleted = 0;
};

struct TxnResult {
  bool succeeded = false;     // every compare held: the success branch ran
  std::int64_t revision = 0;  // the store's revision after the transaction
  std::vector<TxnResponse> responses;  // of the branch that ran, in order
};

struct LeaseGrant {
  std::int64_t id = 0;
  std::int64_t ttl = 0;  // seconds, as etcd granted (it may raise a small TTL)
};

class Client {
 public:
  /// Largest key plus value sent (etcd's own default request limit is 1.5 MiB).
  static constexpr std::size_t max_request_bytes = 1536 * 1024;

  explicit Client(Options options)
      : options_((options.validate(), std::move(options))),
        http_(net::HttpSettings{options_.connect_timeout, options_.request_timeout, options_.loopback()}) {}

  const Options& options() const noexcept { return options_; }
  const std::string& endpoint() const noexcept { return options_.endpoint; }

  /// Writes `key` = `value` (under `lease` when not 0); returns the new revision.
  std::int64_t put(const std::string& key, const std::string& value, std::int64_t lease = 0) {
    std::string body = object([&](detail::JsonWriter& w) { write_put(w, TxnOp::put(key, value, lease)); });
    const auto doc = call("/v3/kv/put", "put", body);
    return header_revision(doc, where("put"));
  }

  /// The key, or nothing when it does not exist.
  std::optional<KeyValue> get(const std::string& key) {
    RangeResult r = range(key);
    if (r.kvs.empty()) return std::nullopt;
    return std::move(r.kvs.front());
  }

  /// Keys in [key, range_end) (the key alone when range_end is empty), sorted by key.
  RangeResult range(const std::string& key, const std::string& range_end = {}, std::int64_t limit = 0) {
    std::string body = object([&](detail::JsonWriter& w) { write_range(w, key, range_end, limit); });
    const auto doc = call("/v3/kv/range", "range", body);
    return read_range(doc, where("range"));
  }

  /// Every key that starts with `prefix`, sorted by key.
  RangeResult range_prefix(const std::string& prefix) { return range(prefix, prefix_end(prefix)); }

  /// Deletes [key, range_end) (the key alone when range_end is empty); returns how many were deleted.
  std::int64_t delete_range(const std::string& key, const std::string& range_end = {}) {
    std::string body = object([&](detail::JsonWriter& w) {
      detail::write_key(w, "key", detail::base64_encode(key));
      if (!range_end.empty()) detail::write_key(w, "range_end", detail::base64_encode(range_end));
    });
    const auto doc = call("/v3/kv/deleterange", "deleterange", body);
    return detail::get_int(doc, "deleted", where("deleterange"));
  }

  /// if (every compare holds) success else failure, atomically.
  TxnResult txn(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                const std::vector<TxnOp>& failure = {}) {
    std::string body = object([&](detail::JsonWriter& w) {
      w.Key("compare");
      w.StartArray();
      for (const auto& c : compares) write_compare(w, c);
      w.EndArray();
      for (const auto& [name, ops] : {std::pair{"success", &success}, std::pair{"failure", &failure}}) {
        w.Key(name);
        w.StartArray();
        for (const auto& op : *ops) {
          w.StartObject();
          switch (op.kind) {
            case TxnOp::Kind::put:
              w.Key("request_put");
              w.StartObject();
              write_put(w, op);
              w.EndObject();
              break;
            case TxnOp::Kind::range:
              w.Key("request_range");
              w.StartObject();
              write_range(w, op.key, op.range_end, 0);
              w.EndObject();
              break;
            case TxnOp::Kind::delete_range:
              w.Key("request_delete_range");
              w.StartObject();
              detail::write_key(w, "key", detail::base64_encode(op.key));
              if (!op.range_end.empty()) detail::write_key(w, "range_end", detail::base64_encode(op.range_end));
              w.EndObject();
              break;
          }
          w.EndObject();
        }
        w.EndArray();
      }
    });
    const auto doc = call("/v3/kv/txn", "txn", body);
    const std::string at = where("txn");
    TxnResult result;
    result.succeeded = detail::get_bool(doc, "succeeded", at);
    result.revision = header_revision(doc, at);
    const auto& ran = result.succeeded ? success : failure;
    const detail::JsonValue* responses = detail::get_array(doc, "responses", at);
    const std::size_t n = responses == nullptr ? 0 : responses->Size();
    if (n != ran.size())
      detail::malformed(at, std::to_string(n) + " responses to " + std::to_string(ran.size()) + " operations");
    for (std::size_t i = 0; i < n; ++i) {
      const detail::JsonValue& r = (*responses)[static_cast<rapidjson::SizeType>(i)];
      TxnResponse out;
      out.kind = ran[i].kind;
      const char* field = out.kind == TxnOp::Kind::put     ? "response_put"
                          : out.kind == TxnOp::Kind::range ? "response_range"
                                                           : "response_delete_range";
      const detail::JsonValue* body_of = detail::get_object(r, field, at);
      if (body_of == nullptr) detail::malformed(at, std::string("response ") + std::to_string(i) + " has no " + field);
      if (out.kind == TxnOp::Kind::range) out.range = read_range(*body_of, at);
      if (out.kind == TxnOp::Kind::delete_range) out.deleted = detail::get_int(*body_of, "deleted", at);
      result.responses.push_back(std::move(out));
    }
    return result;
  }

  /// A new lease of `ttl` (whole seconds, at least 1).
  LeaseGrant lease_grant(std::chrono::seconds ttl) {
    if (ttl.count() < 1)
      throw ConfigError(errc::invalid_argument, "etcd lease TTL must be at least 1 s (endpoint " + endpoint() + ")");
    std::string body = object([&](detail::JsonWriter& w) { detail::write_int(w, "TTL", ttl.count()); });
    const auto doc = call("/v3/lease/grant", "lease grant", body);
    const std::string at = where("lease grant");
    if (const std::string error = detail::get_string(doc, "error", at); !error.empty())
      throw IoError(errc::io_error, endpoint(), at + " failed: " + bounded(error));
    LeaseGrant g{detail::get_int(doc, "ID", at), detail::get_int(doc, "TTL", at)};
    if (g.id == 0 || g.ttl <= 0) detail::malformed(at, "no lease id or TTL");
    return g;
  }

  /// Renews the lease once; returns its new TTL in seconds, 0 when etcd no
  /// longer has it (expired or revoked).
  std::int64_t lease_keep_alive(std::int64_t id) {
    std::string body = object([&](detail::JsonWriter& w) { detail::write_int(w, "ID", id); });
    const auto doc = call("/v3/lease/keepalive", "lease keepalive", body);
    const std::string at = where("lease keepalive");
    // A streamed call: the gateway wraps each message in "result" or "error".
    if (const detail::JsonValue* error = detail::get_object(doc, "error", at))
      throw IoError(errc::io_error, endpoint(), at + " failed: " + bounded(detail::get_string(*error, "message", at)));
    const detail::JsonValue* result = detail::get_object(doc, "result", at);
    if (result == nullptr) detail::malformed(at, "no 'result'");
    return std::max<std::int64_t>(0, detail::get_int(*result, "TTL", at));
  }

  /// Revokes the lease (its keys are deleted); false when etcd did not have it.
  bool lease_revoke(std::int64_t id) {
    std::string body = object([&](detail::JsonWriter& w) { detail::write_int(w, "ID", id); });
    try {
      call("/v3/lease/revoke", "lease revoke", body);
    } catch (const IoError& e) {
      if (e.code() == errc::not_found) return false;
      throw;
    }
    return true;
  }

  /// The lease's remaining TTL in seconds, or -1 when etcd does not have it.
  std::int64_t lease_time_to_live(std::int64_t id) {
    std::string body = object([&](detail::JsonWriter& w) { detail::write_int(w, "ID", id); });
    const auto doc = call("/v3/lease/timetolive", "lease timetolive", body);
    return detail::get_int(doc, "TTL", where("lease timetolive"));
  }

 private:
  std::string where(const char* op) const { return "etcd " + std::string(op) + " at " + endpoint(); }

  // At most 200 characters of what a server said, control characters dropped.
  static std::string bounded(std::string_view text) {
    std::string out;
    for (const char c : text.substr(0, 200)) out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    if (text.size() > 200) out += "...";
    return out;
  }

  template <class F>
  static std::string object(F&& fill) {
    rapidjson::StringBuffer buffer;
    detail::JsonWriter w(buffer);
    w.StartObject();
    fill(w);
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
  }

  static void write_put(detail::JsonWriter& w, const TxnOp& op) {
    if (op.key.size() + op.value.size() > max_request_bytes)
      throw ConfigError(errc::limit_exceeded, "an etcd key and value may hold at most " +
                                                  std::to_string(max_request_bytes) + " bytes (got " +
                                                  std::to_string(op.key.size() + op.value.size()) + ")");
    detail::write_key(w, "key", detail::base64_encode(op.key));
    detail::write_key(w, "value", detail::base64_encode(op.value));
    if (op.lease != 0) detail::write_int(w, "lease", op.lease);
  }

  static void write_range(detail::JsonWriter& w, const std::string& key, const std::string& range_end,
                          std::int64_t limit) {
    detail::write_key(w, "key", detail::base64_encode(key));
    if (!range_end.empty()) detail::write_key(w, "range_end", detail::base64_encode(range_end));
    if (limit > 0) detail::write_int(w, "limit", limit);
  }

  static void write_compare(detail::JsonWriter& w, const Compare& c) {
    static constexpr const char* targets[] = {"VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
    static constexpr const char* results[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
    w.StartObject();
    detail::write_key(w, "key", detail::base64_encode(c.key));
    detail::write_key(w, "target", targets[static_cast<int>(c.target)]);
    detail::write_key(w, "result", results[static_cast<int>(c.result)]);
    switch (c.target) {
      case Compare::Target::version: detail::write_int(w, "version", c.number); break;
      case Compare::Target::create_revision: detail::write_int(w, "create_revision", c.number); break;
      case Compare::Target::mod_revision: detail::write_int(w, "mod_revision", c.number); break;
      case Compare::Target::lease: detail::write_int(w, "lease", c.number); break;
      case Compare::Target::value: detail::write_key(w, "value", detail::base64_encode(c.value)); break;
    }
    w.EndObject();
  }

  static std::int64_t header_revision(const detail::JsonValue& doc, const std::string& at) {
    const detail::JsonValue* header = detail::get_object(doc, "header", at);
    if (header == nullptr) detail::malformed(at, "no 'header'");
    const std::int64_t revision = detail::get_int(*header, "revision", at);
    if (revision <= 0) detail::malformed(at, "no positive revision in the header");
    return revision;
  }

  static std::string decode(const detail::JsonValue& kv, const char* field, const std::string& at) {
    const std::string text = detail::get_string(kv, field, at);
    auto bytes = detail::base64_decode(text);
    if (!bytes) detail::malformed(at, std::string("'") + field + "' is not base64");
    return std::move(*bytes);
  }

  static RangeResult read_range(const detail::JsonValue& doc, const std::string& at) {
    RangeResult r;
    r.revision = header_revision(doc, at);
    r.count = detail::get_int(doc, "count", at);
    r.more = detail::get_bool(doc, "more", at);
    if (const detail::JsonValue* kvs = detail::get_array(doc, "kvs", at)) {
      r.kvs.reserve(kvs->Size());  // bounded: the body is capped
      for (const auto& kv : kvs->GetArray()) {
        if (!kv.IsObject()) detail::malformed(at, "a 'kvs' entry is not an object");
        KeyValue out;
        out.key = decode(kv, "key", at);
        out.value = decode(kv, "value", at);
        out.create_revision = detail::get_int(kv, "create_revision", at);
        out.mod_revision = detail::get_int(kv, "mod_revision", at);
        out.version = detail::get_int(kv, "version", at);
        out.lease = detail::get_int(kv, "lease", at);
        if (out.create_revision <= 0 || out.mod_revision < out.create_revision)
          detail::malformed(at, "a key without valid revisions");
        r.kvs.push_back(std::move(out));
      }
    }
    return r;
  }

  static errc code_of(long grpc_code, long status) {
    switch (grpc_code) {
      case 5: return errc::not_found;          // NOT_FOUND
      case 6: return errc::already_exists;     // ALREADY_EXISTS
      case 7:                                  // PERMISSION_DENIED
      case 16: return errc::permission_denied; // UNAUTHENTICATED
      case 3: return errc::invalid_argument;   // INVALID_ARGUMENT
      default: break;
    }
    return status == 404 ? errc::not_found : errc::io_error;
  }

  rapidjson::Document call(const char* path, const char* op, const std::string& body) {
    const std::string at = where(op);
    net::HttpRequest request;
    request.method = "POST";
    request.url = options_.endpoint + path;
    request.headers = {{"Content-Type", "application/json"}};
    request.body = ByteSpan(reinterpret_cast<const std::byte*>(body.data()), body.size());
    request.max_body = options_.max_response_bytes;
    net::HttpResponse response;
    const net::Outcome outcome = http_.perform(request, response);
    switch (outcome.failure) {
      case net::Failure::none: break;
      case net::Failure::not_sent:
        throw IoError(errc::io_error, endpoint(), at + ": etcd is unreachable (" + outcome.what + ")");
      case net::Failure::timeout:
        throw IoError(errc::io_error, endpoint(), at + ": etcd did not answer within " +
                                                      std::to_string(options_.request_timeout.count()) + " ms (" +
                                                      outcome.what + ")");
      case net::Failure::limit_exceeded:
        throw IoError(errc::limit_exceeded, endpoint(), at + ": " + outcome.what);
      case net::Failure::connection:
      case net::Failure::other:
        throw IoError(errc::io_error, endpoint(), at + ": the request failed (" + outcome.what + ")");
    }
    if (response.status != 200) {
      long grpc_code = -1;
      std::string message;
      try {
        const auto doc = detail::parse_json(response.body, at);
        grpc_code = static_cast<long>(detail::get_int(doc, "code", at));
        message = detail::get_string(doc, "message", at);
      } catch (const CorruptionError&) {
        message = response.body;  // not etcd's JSON: say what came, bounded
      }
      throw IoError(code_of(grpc_code, response.status), endpoint(),
                    at + ": HTTP " + std::to_string(response.status) + ": " + bounded(message));
    }
    return detail::parse_json(response.body, at);
  }

  Options options_;
  net::HttpClient http_;
};

}  // namespace ckpt::etcd
