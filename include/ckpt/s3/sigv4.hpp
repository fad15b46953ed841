#pragma once
// AWS Signature Version 4 (header-based), written against the AWS
// specification ("Create a signed AWS API request") with OpenSSL's SHA-256 and
// HMAC. tests/s3/sigv4_test.cpp checks it against AWS's published vectors
// (the SigV4 test suite's get-vanilla family and the S3 API reference's
// GET/PUT/list examples).

#include <ckpt/s3/detail/digest.hpp>
#include <ckpt/s3/detail/url.hpp>
#include <ckpt/s3/secret.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt::s3 {

/// A request as the signer sees it.
struct SignableRequest {
  std::string method;  // "GET", "PUT", ...
  /// The canonical URI: the path exactly as sent, already percent-encoded
  /// (each key segment once, '/' kept), e.g. "/bucket/a%20b.txt".
  std::string path = "/";
  /// Decoded query parameters; "?uploads" is {"uploads", ""}.
  std::vector<std::pair<std::string, std::string>> query;
  /// Every header to sign, including "host" and "x-amz-date".
  std::vector<std::pair<std::string, std::string>> headers;
  /// Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD".
  std::string payload_hash;
};

/// Where and when a request is signed.
struct SigningScope {
  std::string date_time;  // "20150830T123600Z", the request's x-amz-date
  std::string region;     // "us-east-1"
  std::string service;    // "s3"
  std::string date() const { return date_time.substr(0, 8); }
  std::string credential_scope() const { return date() + "/" + region + "/" + service + "/aws4_request"; }
};

/// "YYYYMMDDTHHMMSSZ" in UTC.
inline std::string amz_date(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  const auto n = std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buf, n);
}

/// name=value pairs, both encoded, sorted by name then value, joined by '&'.
inline std::string canonical_query(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [k, v] : query) encoded.emplace_back(detail::uri_encode(k), detail::uri_encode(v));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

namespace detail {
/// Lower-case names, trimmed values with inner runs of spaces collapsed,
/// sorted by name; repeated names joined by ','.
inline std::vector<std::pair<std::string, std::string>> canonical_headers(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : headers) {
    std::string n;
    n.reserve(name.size());
    for (const char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string v;
    bool space = false;
    for (const char c : value) {
      if (c == ' ' || c == '\t') {
        space = !v.empty();
        continue;
      }
      if (space) v += ' ';
      space = false;
      v += c;
    }
    out.emplace_back(std::move(n), std::move(v));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<std::string, std::string>> merged;
  for (auto& h : out) {
    if (!merged.empty() && merged.back().first == h.first) {
      merged.back().second += ',';
      merged.back().second += h.second;
    } else {
      merged.push_back(std::move(h));
    }
  }
  return merged;
}
}  // namespace detail

/// "host;x-amz-date": the lower-case names of the signed headers.
inline std::string signed_headers(const SignableRequest& r) {
  std::string out;
  for (const auto& [name, value] : detail::canonical_headers(r.headers)) {
    if (!out.empty()) out += ';';
    out += name;
  }
  return out;
}

inline std::string canonical_request(const SignableRequest& r) {
  std::string out = r.method;
  out += '\n';
  out += r.path.empty() ? std::string("/") : r.path;
  out += '\n';
  out += canonical_query(r.query);
  out += '\n';
  for (const auto& [name, value] : detail::canonical_headers(r.headers)) {
    out += name;
    out += ':';
    out += value;
    out += '\n';
  }
  out += '\n';
  out += signed_headers(r);
  out += '\n';
  out += r.payload_hash;
  return out;
}

inline std::string string_to_sign(const SigningScope& scope, std::string_view canonical) {
  return "AWS4-HMAC-SHA256\n" + scope.date_time + "\n" + scope.credential_scope() + "\n" +
         detail::sha256_hex(canonical);
}

/// Hex HMAC of the string to sign under the key derived from the secret.
inline std::string signature(const Secret& secret, const SigningScope& scope, std::string_view to_sign) {
  const Secret k("AWS4" + secret.reveal());  // wiped when done
  const auto k_date = detail::hmac_sha256(as_bytes(k.reveal()), as_bytes(scope.date()));
  const auto k_region = detail::hmac_sha256(k_date, scope.region);
  const auto k_service = detail::hmac_sha256(k_region, scope.service);
  const auto k_signing = detail::hmac_sha256(k_service, "aws4_request");
  return detail::hex(detail::hmac_sha256(k_signing, to_sign));
}

/// The Authorization header's value.
inline std::string authorization(const SignableRequest& r, std::string_view access_key_id,
                                 const Secret& secret, const SigningScope& scope) {
  return "AWS4-HMAC-SHA256 Credential=" + std::string(access_key_id) + "/" + scope.credential_scope() +
         ", SignedHeaders=" + signed_headers(r) +
         ", Signature=" + signature(secret, scope, string_to_sign(scope, canonical_request(r)));
}

}  // namespace ckpt::s3
