#pragma once
// FakeS3: an in-process S3-compatible server on 127.0.0.1 (Boost.Beast over
// Asio, one thread per connection) for the tests a real server cannot stage:
// a fault hook decides, per request, to answer normally or to drop the
// connection, hang, answer an error, store and then drop, or send a hostile
// response. It also implements what s3rver lacks (If-None-Match/If-Match on
// writes, AbortMultipartUpload, ListMultipartUploads) and verifies every
// request's Signature Version 4 against what actually came over the wire.
//
// Path-style (http://127.0.0.1:port/bucket/key) and virtual-host
// (http://bucket.localhost:port/key) addressing are both understood.

#include <ckpt/s3/detail/digest.hpp>
#include <ckpt/s3/detail/xml.hpp>
#include <ckpt/s3/secret.hpp>
#include <ckpt/s3/sigv4.hpp>

// Asio trips GCC's -Wnull-dereference after inlining; the warning is Boost's.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ckpt::s3::test {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

/// A request as the fault hook sees it.
struct FakeRequest {
  std::string op;  // "PutObject", "GetObject", "HeadObject", "DeleteObject", "ListObjectsV2",
                   // "DeleteObjects", "CreateMultipartUpload", "UploadPart",
                   // "CompleteMultipartUpload", "AbortMultipartUpload", "ListMultipartUploads"
  std::string key;
  int number = 0;  // 1 for the first request of this op, 2 for the second...
  const http::request<http::string_body>* raw = nullptr;
};

enum class FaultKind {
  none,         // answer normally
  respond,      // answer status/body/headers without doing anything
  drop,         // close the connection without doing anything or answering
  drop_after,   // do the operation, then close without answering
  hang,         // do nothing and answer nothing until the server stops or release() is called
  hang_after,   // do the operation, then hang
  raw,          // write `body` as the raw response bytes, then close
};

struct Fault {
  FaultKind kind = FaultKind::none;
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Fault none() { return {}; }
  static Fault error(int status, const std::string& code, const std::string& message = "fault injected") {
    return {FaultKind::respond, status,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code + "</Code><Message>" + message +
                "</Message><RequestId>FAKE</RequestId></Error>",
            {}};
  }
  static Fault of(FaultKind k) { return {k, 0, {}, {}}; }
};

struct FakeS3Options {
  std::string bucket = "fake-bucket";
  std::string access_key_id = "AKIDFAKE";
  std::string secret = "fake-secret-key";
  bool conditional_writes = true;      // honour If-None-Match / If-Match on writes
  bool multipart_management = true;    // implement AbortMultipartUpload / ListMultipartUploads
  bool verify_signatures = true;
};

class FakeS3 {
 public:
  struct Object {
    std::string data;
    std::string etag;  // quoted
    std::map<std::string, std::string> meta;
  };

  explicit FakeS3(FakeS3Options options = {}) : options_(std::move(options)) {
    acceptor_.open(tcp::v4());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accepter_ = std::thread([this] { accept_loop(); });
  }
  FakeS3(const FakeS3&) = delete;
  FakeS3& operator=(const FakeS3&) = delete;
  ~FakeS3() { stop(); }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::uint16_t port() const { return port_; }
  const FakeS3Options& options() const { return options_; }

  void set_fault(std::function<Fault(const FakeRequest&)> hook) {
    std::lock_guard lock(mutex_);
    hook_ = std::move(hook);
  }
  int count(const std::string& op) const {
    std::lock_guard lock(mutex_);
    const auto it = counts_.find(op);
    return it == counts_.end() ? 0 : it->second;
  }
  int max_concurrent(const std::string& op) const {
    std::lock_guard lock(mutex_);
    const auto it = max_active_.find(op);
    return it == max_active_.end() ? 0 : it->second;
  }
  std::optional<Object> object(const std::string& key) const {
    std::lock_guard lock(mutex_);
    const auto it = objects_.find(key);
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  std::size_t object_count() const {
    std::lock_guard lock(mutex_);
    return objects_.size();
  }
  /// Unfinished multipart uploads (key of each).
  std::vector<std::string> uploads() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [id, u] : uploads_) out.push_back(u.key);
    return out;
  }
  /// Stores an object directly, as another writer would.
  void put_object(const std::string& key, const std::string& data, std::map<std::string, std::string> meta = {}) {
    std::lock_guard lock(mutex_);
    objects_[key] = {data, quoted(md5_hex(data)), std::move(meta)};
  }
  /// Wakes every request held by a hang fault (they then close).
  void release() {
    {
      std::lock_guard lock(mutex_);
      ++release_generation_;
    }
    changed_.notify_all();
  }
  /// Blocks until `n` requests of `op` are being handled at once, or `timeout`.
  bool wait_active(const std::string& op, int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return stopping_ || active_[op] >= n; });
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    changed_.notify_all();
    {  // unblock accept()
      boost::system::error_code ec;
      tcp::socket s(io_);
      s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
    }
    if (accepter_.joinable()) accepter_.join();
    {
      boost::system::error_code ec;
      acceptor_.close(ec);  // from now on, connections are refused
    }
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      for (auto& s : sockets_) ::shutdown(s->native_handle(), SHUT_RDWR);
      threads.swap(connections_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  using Request = http::request<http::string_body>;
  using Response = http::response<http::string_body>;
  struct Upload {
    std::string key;
    std::map<std::string, std::string> meta;
    std::map<int, std::pair<std::string, std::string>> parts;  // number -> (data, etag)
  };

  static std::string md5_hex(std::string_view s) { return detail::hex(detail::md5(as_bytes(s))); }
  static std::string quoted(const std::string& s) { return "\"" + s + "\""; }
  static std::string unquoted(std::string s) {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    return s;
  }
  static std::string decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  }

  void accept_loop() {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(io_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      if (ec) continue;
      sockets_.push_back(socket);
      connections_.emplace_back([this, socket] { serve(*socket); });
    }
  }

  void serve(tcp::socket& socket) {
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(256u << 20);
      boost::system::error_code ec;
      http::read(socket, buffer, parser, ec);
      if (ec) break;
      Request req = parser.release();
      if (!handle(socket, req)) break;
    }
    boost::system::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);  // closed by stop(), after this thread ends
  }

  struct Target {
    std::string bucket, key;
    std::vector<std::pair<std::string, std::string>> query;  // decoded
    std::string raw_path, raw_query;
  };

  Target parse_target(const Request& req) const {
    Target t;
    std::string target(req.target());
    const auto q = target.find('?');
    t.raw_path = target.substr(0, q);
    if (q != std::string::npos) t.raw_query = target.substr(q + 1);
    std::string_view rq = t.raw_query;
    while (!rq.empty()) {
      const auto amp = rq.find('&');
      const auto item = rq.substr(0, amp);
      const auto eq = item.find('=');
      t.query.emplace_back(decode(item.substr(0, eq)), eq == std::string_view::npos ? "" : decode(item.substr(eq + 1)));
      if (amp == std::string_view::npos) break;
      rq = rq.substr(amp + 1);
    }
    const std::string host(req[http::field::host]);
    const std::string vhost = options_.bucket + ".";
    std::string path = decode(t.raw_path);
    if (host.starts_with(vhost)) {
      t.bucket = options_.bucket;
      t.key = path.size() > 1 ? path.substr(1) : "";
    } else {
      path = path.substr(1);
      const auto slash = path.find('/');
      t.bucket = path.substr(0, slash);
      t.key = slash == std::string::npos ? "" : path.substr(slash + 1);
    }
    return t;
  }

  static bool has(const Target& t, const std::string& name) {
    for (const auto& [k, v] : t.query)
      if (k == name) return true;
    return false;
  }
  static std::string get(const Target& t, const std::string& name) {
    for (const auto& [k, v] : t.query)
      if (k == name) return v;
    return {};
  }

  static std::string op_of(const Request& req, const Target& t) {
    const auto m = req.method();
    if (t.key.empty()) {
      if (m == http::verb::get && has(t, "uploads")) return "ListMultipartUploads";
      if (m == http::verb::get) return "ListObjectsV2";
      if (m == http::verb::post && has(t, "delete")) return "DeleteObjects";
      return "Unknown";
    }
    if (m == http::verb::put) return has(t, "uploadId") ? "UploadPart" : "PutObject";
    if (m == http::verb::get) return "GetObject";
    if (m == http::verb::head) return "HeadObject";
    if (m == http::verb::delete_) return has(t, "uploadId") ? "AbortMultipartUpload" : "DeleteObject";
    if (m == http::verb::post && has(t, "uploads")) return "CreateMultipartUpload";
    if (m == http::verb::post && has(t, "uploadId")) return "CompleteMultipartUpload";
    return "Unknown";
  }

  /// Handles one request; false closes the connection.
  bool handle(tcp::socket& socket, const Request& req) {
    const Target t = parse_target(req);
    const std::string op = op_of(req, t);
    FakeRequest fr{op, t.key, 0, &req};
    Fault fault;
    std::function<Fault(const FakeRequest&)> hook;
    {
      std::lock_guard lock(mutex_);
      fr.number = ++counts_[op];
      hook = hook_;
      auto& a = ++active_[op];
      max_active_[op] = std::max(max_active_[op], a);
    }
    changed_.notify_all();
    struct Done {
      FakeS3& s;
      const std::string& op;
      ~Done() {
        {
          std::lock_guard lock(s.mutex_);
          --s.active_[op];
        }
        s.changed_.notify_all();
      }
    } done{*this, op};
    if (hook) fault = hook(fr);

    boost::system::error_code ec;
    switch (fault.kind) {
      case FaultKind::drop: return false;
      case FaultKind::hang: hang(); return false;
      case FaultKind::raw:
        boost::asio::write(socket, boost::asio::buffer(fault.body), ec);
        return false;
      case FaultKind::respond: {
        Response res{static_cast<http::status>(fault.status), req.version()};
        for (const auto& [n, v] : fault.headers) res.set(n, v);
        if (!fault.body.empty()) res.set(http::field::content_type, "application/xml");
        res.body() = fault.body;
        res.keep_alive(req.keep_alive());
        if (req.method() == http::verb::head) {
          res.content_length(0);
          http::response<http::empty_body> head{res.result(), res.version()};
          http::write(socket, head, ec);
        } else {
          res.prepare_payload();
          http::write(socket, res, ec);
        }
        return !ec && res.keep_alive();
      }
      default: break;
    }
    Response res = process(req, t, op);
    if (fault.kind == FaultKind::drop_after) return false;
    if (fault.kind == FaultKind::hang_after) {
      hang();
      return false;
    }
    res.keep_alive(req.keep_alive());
    if (req.method() == http::verb::head) {
      http::response<http::empty_body> head{res.result(), res.version()};
      for (const auto& field : res) head.set(field.name_string(), field.value());
      head.keep_alive(req.keep_alive());
      http::response_serializer<http::empty_body> sr{head};
      http::write_header(socket, sr, ec);
    } else {
      res.prepare_payload();
      http::write(socket, res, ec);
    }
    return !ec && res.keep_alive();
  }

  void hang() {
    std::unique_lock lock(mutex_);
    const auto generation = release_generation_;
    changed_.wait(lock, [&] { return stopping_ || release_generation_ != generation; });
  }

  Response error(const Request& req, http::status status, const std::string& code, const std::string& message) const {
    Response res{status, req.version()};
    res.set(http::field::content_type, "application/xml");
    if (req.method() != http::verb::head)
      res.body() = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code + "</Code><Message>" + message +
                   "</Message><RequestId>FAKE</RequestId></Error>";
    return res;
  }

  /// Why the request's signature does not hold, or "".
  std::string signature_problem(const Request& req, const Target& t) const {
    const std::string auth(req[http::field::authorization]);
    const std::string prefix = "AWS4-HMAC-SHA256 Credential=";
    if (!auth.starts_with(prefix)) return "no SigV4 Authorization header";
    const auto field = [&](const std::string& name) -> std::string {
      const auto p = auth.find(name + "=");
      if (p == std::string::npos) return {};
      const auto start = p + name.size() + 1;
      return auth.substr(start, auth.find(',', start) - start);
    };
    const std::string credential = field("Credential");
    const std::string signed_names = field("SignedHeaders");
    const std::string signature = field("Signature");
    const auto parts = [](const std::string& s, char sep) {
      std::vector<std::string> out;
      std::size_t start = 0;
      for (;;) {
        const auto p = s.find(sep, start);
        out.push_back(s.substr(start, p - start));
        if (p == std::string::npos) return out;
        start = p + 1;
      }
    };
    const auto cred = parts(credential, '/');
    if (cred.size() != 5 || cred[0] != options_.access_key_id) return "unknown access key id";
    SignableRequest s;
    s.method = std::string(req.method_string());
    s.path = t.raw_path;
    s.query = t.query;
    s.payload_hash = std::string(req["x-amz-content-sha256"]);
    if (s.payload_hash != detail::sha256_hex(req.body())) return "x-amz-content-sha256 is not the body's hash";
    for (const auto& name : parts(signed_names, ';')) {
      const auto it = req.find(name);
      if (it == req.end()) return "signed header " + name + " is missing";
      s.headers.emplace_back(name, std::string(it->value()));
    }
    const SigningScope scope{std::string(req["x-amz-date"]), cred[2], cred[3]};
    if (scope.date() != cred[1]) return "the credential date is not the request date";
    const auto expected = ckpt::s3::signature(Secret(options_.secret), scope, string_to_sign(scope, canonical_request(s)));
    return expected == signature ? "" : "signature mismatch";
  }

  Response process(const Request& req, const Target& t, const std::string& op) {
    if (options_.verify_signatures) {
      if (auto problem = signature_problem(req, t); !problem.empty())
        return error(req, http::status::forbidden, "SignatureDoesNotMatch",
                     "The request signature we calculated does not match the signature you provided (" + problem + ")");
    }
    if (t.bucket != options_.bucket) return error(req, http::status::not_found, "NoSuchBucket", "no such bucket");
    std::lock_guard lock(mutex_);
    Response ok{http::status::ok, req.version()};
    if (op == "PutObject") {
      const auto existing = objects_.find(t.key);
      if (options_.conditional_writes) {
        if (req["if-none-match"] == "*" && existing != objects_.end())
          return error(req, http::status::precondition_failed, "PreconditionFailed", "exists");
        if (!req["if-match"].empty() &&
            (existing == objects_.end() || existing->second.etag != std::string(req["if-match"])))
          return error(req, http::status::precondition_failed, "PreconditionFailed", "etag");
      }
      if (const auto md5 = req["content-md5"]; !md5.empty() && std::string(md5) != detail::base64(detail::md5(as_bytes(req.body()))))
        return error(req, http::status::bad_request, "BadDigest", "Content-MD5 mismatch");
      Object o{req.body(), quoted(md5_hex(req.body())), meta_of(req)};
      ok.set(http::field::etag, o.etag);
      objects_[t.key] = std::move(o);
      return ok;
    }
    if (op == "GetObject" || op == "HeadObject") {
      const auto it = objects_.find(t.key);
      if (it == objects_.end()) return error(req, http::status::not_found, "NoSuchKey", "no such key");
      const auto& o = it->second;
      if (const auto m = req["if-match"]; !m.empty() && std::string(m) != o.etag)
        return error(req, http::status::precondition_failed, "PreconditionFailed", "etag");
      ok.set(http::field::etag, o.etag);
      ok.set(http::field::last_modified, "Wed, 21 Oct 2015 07:28:00 GMT");
      for (const auto& [n, v] : o.meta) ok.set("x-amz-meta-" + n, v);
      if (op == "HeadObject") {
        ok.content_length(o.data.size());
        return ok;
      }
      const std::string range(req[http::field::range]);
      if (range.starts_with("bytes=")) {
        const auto dash = range.find('-');
        const std::uint64_t a = std::stoull(range.substr(6, dash - 6));
        const std::uint64_t b = std::min<std::uint64_t>(std::stoull(range.substr(dash + 1)), o.data.size() - 1);
        if (o.data.empty() || a >= o.data.size())
          return error(req, http::status::range_not_satisfiable, "InvalidRange", "range");
        Response partial{http::status::partial_content, req.version()};
        partial.set(http::field::etag, o.etag);
        partial.set(http::field::content_range,
                    "bytes " + std::to_string(a) + "-" + std::to_string(b) + "/" + std::to_string(o.data.size()));
        partial.body() = o.data.substr(a, b - a + 1);
        return partial;
      }
      ok.body() = o.data;
      return ok;
    }
    if (op == "DeleteObject") {
      objects_.erase(t.key);
      return Response{http::status::no_content, req.version()};
    }
    if (op == "ListObjectsV2") return list(req, t);
    if (op == "DeleteObjects") {
      const auto tree = detail::parse_xml(req.body(), "Delete");
      for (const auto& [name, child] : tree)
        if (name == "Object") objects_.erase(*detail::text(child, "Key"));
      ok.body() = "<DeleteResult></DeleteResult>";
      return ok;
    }
    if (op == "CreateMultipartUpload") {
      const std::string id = "upload-" + std::to_string(++next_upload_);
      uploads_[id] = {t.key, meta_of(req), {}};
      ok.body() = "<InitiateMultipartUploadResult><Bucket>" + t.bucket + "</Bucket><UploadId>" + id +
                  "</UploadId></InitiateMultipartUploadResult>";
      return ok;
    }
    if (op == "UploadPart") {
      const auto it = uploads_.find(get(t, "uploadId"));
      if (it == uploads_.end()) return error(req, http::status::not_found, "NoSuchUpload", "no such upload");
      const std::string etag = quoted(md5_hex(req.body()));
      it->second.parts[std::stoi(get(t, "partNumber"))] = {req.body(), etag};
      ok.set(http::field::etag, etag);
      return ok;
    }
    if (op == "CompleteMultipartUpload") {
      const auto it = uploads_.find(get(t, "uploadId"));
      if (it == uploads_.end()) return error(req, http::status::not_found, "NoSuchUpload", "no such upload");
      if (options_.conditional_writes && req["if-none-match"] == "*" && objects_.count(t.key))
        return error(req, http::status::precondition_failed, "PreconditionFailed", "exists");
      const auto tree = detail::parse_xml(req.body(), "CompleteMultipartUpload");
      std::string data, md5s;
      int n = 0;
      for (const auto& [name, child] : tree) {
        if (name != "Part") continue;
        const int number = static_cast<int>(detail::number(child, "PartNumber", "Part"));
        const auto part = it->second.parts.find(number);
        if (part == it->second.parts.end() || part->second.second != *detail::text(child, "ETag"))
          return error(req, http::status::bad_request, "InvalidPart", "invalid part");
        data += part->second.first;
        const auto m = detail::md5(as_bytes(part->second.first));
        md5s.append(reinterpret_cast<const char*>(m.data()), m.size());
        ++n;
      }
      const std::string etag = quoted(md5_hex(md5s) + "-" + std::to_string(n));
      objects_[t.key] = {std::move(data), etag, it->second.meta};
      uploads_.erase(it);
      ok.body() = "<CompleteMultipartUploadResult><Key>" + t.key + "</Key><ETag>" + etag +
                  "</ETag></CompleteMultipartUploadResult>";
      return ok;
    }
    if (op == "AbortMultipartUpload") {
      if (!options_.multipart_management)
        return error(req, http::status::method_not_allowed, "MethodNotAllowed", "not implemented here");
      if (uploads_.erase(get(t, "uploadId")) == 0)
        return error(req, http::status::not_found, "NoSuchUpload", "no such upload");
      return Response{http::status::no_content, req.version()};
    }
    if (op == "ListMultipartUploads") {
      if (!options_.multipart_management)
        return error(req, http::status::not_implemented, "NotImplemented", "not implemented here");
      const std::string prefix = get(t, "prefix");
      std::string body = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>";
      for (const auto& [id, u] : uploads_)
        if (u.key.starts_with(prefix)) body += "<Upload><Key>" + u.key + "</Key><UploadId>" + id + "</UploadId></Upload>";
      ok.body() = body + "</ListMultipartUploadsResult>";
      return ok;
    }
    return error(req, http::status::bad_request, "InvalidRequest", "unsupported operation");
  }

  static std::map<std::string, std::string> meta_of(const Request& req) {
    std::map<std::string, std::string> meta;
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (name.starts_with("x-amz-meta-")) meta[name.substr(11)] = std::string(f.value());
    }
    return meta;
  }

  /// ListObjectsV2 as S3 does it: keys and common prefixes both count
  /// toward max-keys; the continuation token is the last name returned.
  Response list(const Request& req, const Target& t) const {
    const std::string prefix = get(t, "prefix");
    const std::string delimiter = get(t, "delimiter");
    const int max_keys = has(t, "max-keys") ? std::stoi(get(t, "max-keys")) : 1000;
    std::string after = get(t, "continuation-token");
    std::string contents, prefixes, last;
    int n = 0;
    bool truncated = false;
    for (auto it = objects_.upper_bound(after); it != objects_.end(); ++it) {
      const auto& key = it->first;
      if (!key.starts_with(prefix)) {
        if (key > prefix) break;
        continue;
      }
      std::string common;
      if (!delimiter.empty()) {
        const auto p = key.find(delimiter, prefix.size());
        if (p != std::string::npos) common = key.substr(0, p + delimiter.size());
      }
      if (!common.empty() && common <= after) continue;
      if (n == max_keys) {
        truncated = true;
        break;
      }
      ++n;
      if (!common.empty()) {
        prefixes += "<CommonPrefixes><Prefix>" + escape(common) + "</Prefix></CommonPrefixes>";
        last = common;
        // skip every key under this common prefix
        auto next = objects_.lower_bound(common + "\xff");
        if (next == objects_.begin()) continue;
        it = std::prev(next);
        continue;
      }
      contents += "<Contents><Key>" + escape(key) + "</Key><Size>" + std::to_string(it->second.data.size()) +
                  "</Size><ETag>" + escape(it->second.etag) + "</ETag></Contents>";
      last = key;
    }
    Response ok{http::status::ok, req.version()};
    ok.body() = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>" + t.bucket + "</Name><IsTruncated>" +
                (truncated ? "true" : "false") + "</IsTruncated>" +
                (truncated ? "<NextContinuationToken>" + escape(last) + "</NextContinuationToken>" : "") + contents +
                prefixes + "</ListBucketResult>";
    return ok;
  }

  static std::string escape(const std::string& s) {
    std::string out;
    for (const char c : s) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
      }
    }
    return out;
  }

  FakeS3Options options_;
  boost::asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::uint16_t port_ = 0;
  std::thread accepter_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  std::uint64_t release_generation_ = 0;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  std::vector<std::thread> connections_;
  std::function<Fault(const FakeRequest&)> hook_;
  std::map<std::string, int> counts_;
  std::map<std::string, int> active_;
  std::map<std::string, int> max_active_;
  std::map<std::string, Object> objects_;
  std::map<std::string, Upload> uploads_;
  std::uint64_t next_upload_ = 0;
};

}  // namespace ckpt::s3::test
