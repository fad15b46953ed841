#pragma once
// A small HTTP/1.1 client over libcurl's easy interface, shared by the
// optional targets that link libcurl (ckpt::s3, ckpt::etcd; the core never
// includes it): one request at a time per handle, handles pooled so
// connections are kept alive, responses read with bounds (a body can only land in a caller-sized buffer or a capped
// string, so a hostile Content-Length or an endless body cannot make us
// allocate). Transport failures are returned, not thrown, and classified by
// whether the server may have acted on the request (for the retry policy).

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt::net {

struct HttpRequest {
  std::string method;  // GET HEAD PUT POST DELETE
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  ByteSpan body;
  /// A 2xx body goes here and may not exceed it (a ranged GET's destination).
  std::span<std::byte> into;
  /// Otherwise a 2xx body is kept in HttpResponse::body, up to this many bytes.
  std::size_t max_body = 0;
  /// Send on a new connection. libcurl silently resends a request whose
  /// kept-alive connection turned out dead; for a request that must not be
  /// sent twice that resend is not ours to allow.
  bool fresh_connection = false;
};

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;           // a 2xx body (when not `into`) or the start of an error body
  std::uint64_t received = 0;  // bytes written into HttpRequest::into

  const std::string* header(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (n == name) return &v;
    return nullptr;
  }
};

enum class Failure {
  none,
  not_sent,        // no connection was made: the server never saw the request
  timeout,         // the attempt timed out: the server may have acted on it
  connection,      // the connection broke mid-way: the server may have acted on it
  limit_exceeded,  // the response was larger than allowed (never retried)
  other,           // a local or protocol error (never retried)
};

struct Outcome {
  Failure failure = Failure::none;
  std::string what;  // curl's description, for messages
};

struct HttpSettings {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds request_timeout{300'000};
  bool bypass_proxy = false;  // loopback endpoints never go through an http_proxy
};

class HttpClient {
 public:
  /// Bytes of an error body kept for the message; the rest is not read.
  static constexpr std::size_t max_error_body = 64 * 1024;
  /// Bytes of response headers accepted.
  static constexpr std::size_t max_header_bytes = 256 * 1024;

  explicit HttpClient(HttpSettings settings) : settings_(settings) { global_init(); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  ~HttpClient() {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }

  /// Sends `request`; fills `response` (status, headers, bounded body).
  Outcome perform(const HttpRequest& request, HttpResponse& response) {
    Handle handle(*this);
    CURL* const curl = handle.get();
    response = HttpResponse{};
    Transfer t{&request, &response};
    char errbuf[CURL_ERROR_SIZE] = {};

    curl_slist* list = nullptr;
    struct FreeList {
      curl_slist*& l;
      ~FreeList() { curl_slist_free_all(l); }
    } free_list{list};
    bool failed_append = false;
    for (const auto& [name, value] : request.headers) {
      const std::string line = value.empty() ? name + ";" : name + ": " + value;
      curl_slist* next = curl_slist_append(list, line.c_str());
      if (!next) failed_append = true;
      else list = next;
    }
    for (const char* h : {"Expect:", "Accept:"}) {  // no 100-continue round trip, no Accept
      curl_slist* next = curl_slist_append(list, h);
      if (!next) failed_append = true;
      else list = next;
    }
    if (failed_append) return {Failure::other, "out of memory building request headers"};

    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.request_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    if (settings_.bypass_proxy) curl_easy_setopt(curl, CURLOPT_PROXY, "");
    if (request.fresh_connection) curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Transfer::on_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);

    if (request.method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method == "GET") {
      curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (request.method == "PUT" || request.method == "POST") {
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, &Transfer::on_read);
      curl_easy_setopt(curl, CURLOPT_READDATA, &t);
      curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, &Transfer::on_seek);
      curl_easy_setopt(curl, CURLOPT_SEEKDATA, &t);
      if (request.method == "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "POST");
    } else {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    const CURLcode code = curl_easy_perform(curl);
    // The handle keeps pointers into this frame: drop them before it is reused.
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
    response.status = t.status;

    if (t.limit_hit) return {Failure::limit_exceeded, t.limit_what};
    if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && t.error_body_truncated)) {
      if (response.status == 0) return {Failure::connection, "no HTTP status received"};
      return {};
    }
    std::string what = curl_easy_strerror(code);
    if (errbuf[0]) what += std::string(": ") + errbuf;
    switch (code) {
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
        return {Failure::not_sent, what};
      case CURLE_OPERATION_TIMEDOUT:
        return {Failure::timeout, what};
      case CURLE_SEND_ERROR:
      case CURLE_RECV_ERROR:
      case CURLE_GOT_NOTHING:
      case CURLE_PARTIAL_FILE:
      case CURLE_HTTP2:
      case CURLE_HTTP2_STREAM:
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_WEIRD_SERVER_REPLY:
        return {Failure::connection, what};
      default:
        return {Failure::other, what};
    }
  }

 private:
  static void global_init() {
    static const bool done = [] {
      if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        throw IoError(errc::io_error, "", "libcurl could not be initialised (curl_global_init failed)");
      return true;
    }();
    (void)done;
  }

  // Per-request state the curl callbacks see.
  struct Transfer {
    const HttpRequest* request;
    HttpResponse* response;
    long status = 0;
    std::size_t upload_offset = 0;
    std::size_t header_bytes = 0;
    bool limit_hit = false;
    bool error_body_truncated = false;
    std::string limit_what{};

    bool success() const { return status >= 200 && status < 300; }

    void limit(std::string what) {
      limit_hit = true;
      limit_what = std::move(what);
    }

    static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self) {
      auto& t = *static_cast<Transfer*>(self);
      const std::size_t len = size * n;
      t.header_bytes += len;
      if (t.header_bytes > max_header_bytes) {
        t.limit("response headers exceed " + std::to_string(max_header_bytes) + " bytes");
        return 0;
      }
      std::string_view line(data, len);
      while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
      if (line.starts_with("HTTP/")) {  // a new response (after 100 Continue, say): start over
        t.response->headers.clear();
        t.status = 0;
        const auto sp = line.find(' ');
        if (sp != std::string_view::npos) {
          const auto code = line.substr(sp + 1, 3);
          long v = 0;
          const auto [p, ec] = std::from_chars(code.data(), code.data() + code.size(), v);
          if (ec == std::errc() && p == code.data() + code.size()) t.status = v;
        }
        return len;
      }
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) return len;
      std::string name;
      for (const char c : line.substr(0, colon))
        name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      if (name == "content-length" && t.success() && t.request->method != "HEAD") {
        std::uint64_t length = 0;
        const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
        const std::uint64_t cap = t.request->into.empty() ? t.request->max_body : t.request->into.size();
        if (ec != std::errc() || p != value.data() + value.size()) {
          t.limit("the response's Content-Length '" + std::string(value.substr(0, 32)) + "' is not a number");
          return 0;
        }
        if (length > cap) {
          t.limit("the response announces " + std::to_string(length) + " bytes; at most " +
                  std::to_string(cap) + " were expected");
          return 0;
        }
      }
      t.response->headers.emplace_back(std::move(name), std::string(value));
      return len;
    }

    static std::size_t on_write(char* data, std::size_t size, std::size_t n, void* self) {
      auto& t = *static_cast<Transfer*>(self);
      const std::size_t len = size * n;
      auto& r = *t.response;
      if (!t.success()) {
        const std::size_t room = max_error_body - std::min(max_error_body, r.body.size());
        r.body.append(data, std::min(room, len));
        if (len > room) {
          t.error_body_truncated = true;  // enough for a message: stop reading
          return 0;
        }
        return len;
      }
      const auto& into = t.request->into;
      if (!into.empty()) {
        if (r.received + len > into.size()) {
          t.limit("the response body exceeds the " + std::to_string(into.size()) + " bytes requested");
          return 0;
        }
        std::memcpy(into.data() + r.received, data, len);
        r.received += len;
        return len;
      }
      if (r.body.size() + len > t.request->max_body) {
        t.limit("the response body exceeds " + std::to_string(t.request->max_body) + " bytes");
        return 0;
      }
      r.body.append(data, len);
      return len;
    }

    static std::size_t on_read(char* dst, std::size_t size, std::size_t n, void* self) {
      auto& t = *static_cast<Transfer*>(self);
      const auto& body = t.request->body;
      const std::size_t len = std::min(size * n, body.size() - t.upload_offset);
      if (len > 0) std::memcpy(dst, body.data() + t.upload_offset, len);
      t.upload_offset += len;
      return len;
    }

    static int on_seek(void* self, curl_off_t offset, int origin) {
      auto& t = *static_cast<Transfer*>(self);
      if (origin != SEEK_SET || offset < 0 || static_cast<std::uint64_t>(offset) > t.request->body.size())
        return CURL_SEEKFUNC_CANTSEEK;
      t.upload_offset = static_cast<std::size_t>(offset);
      return CURL_SEEKFUNC_OK;
    }
  };

  // A pooled easy handle: reset for each use, kept for its live connections.
  class Handle {
   public:
    explicit Handle(HttpClient& owner) : owner_(owner) {
      {
        std::lock_guard lock(owner_.mutex_);
        if (!owner_.idle_.empty()) {
          curl_ = owner_.idle_.back();
          owner_.idle_.pop_back();
        }
      }
      if (curl_) curl_easy_reset(curl_);
      else curl_ = curl_easy_init();
      if (!curl_) throw IoError(errc::io_error, "", "libcurl could not create a handle (curl_easy_init failed)");
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() {
      std::lock_guard lock(owner_.mutex_);
      if (owner_.idle_.size() < max_idle) {
        owner_.idle_.push_back(curl_);
        return;
      }
      curl_easy_cleanup(curl_);
    }
    CURL* get() const noexcept { return curl_; }

   private:
    static constexpr std::size_t max_idle = 32;
    HttpClient& owner_;
    CURL* curl_ = nullptr;
  };

  HttpSettings settings_;
  std::mutex mutex_;
  std::vector<CURL*> idle_;
};

}  // namespace ckpt::net
