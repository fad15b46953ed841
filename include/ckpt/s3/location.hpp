#pragma once
// The root of an S3FileSystem as a URI: s3://bucket/prefix or obs://bucket/prefix,
// optionally with ?region=..&endpoint=..&addressing=path|virtual&profile=..
// (the form Arrow's S3 file system accepts). A URI never carries
// credentials: one with user:secret@ is rejected, and the message masks it.

#include <ckpt/error.hpp>
#include <ckpt/fs/path.hpp>
#include <ckpt/s3/detail/url.hpp>
#include <ckpt/s3/secret.hpp>

#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt::s3 {

/// `uri` for a message: any user-info and every query value replaced by ****.
inline std::string mask_uri(std::string_view uri) {
  std::string out;
  const auto scheme_end = uri.find("://");
  std::string_view rest = uri;
  if (scheme_end != std::string_view::npos) {
    out.append(uri.substr(0, scheme_end + 3));
    rest = uri.substr(scheme_end + 3);
  }
  const auto path_start = rest.find_first_of("/?#");
  const auto authority = rest.substr(0, path_start);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    out.append(Secret::mask).append("@").append(authority.substr(at + 1));
  } else {
    out.append(authority);
  }
  if (path_start == std::string_view::npos) return out;
  rest = rest.substr(path_start);
  const auto q = rest.find('?');
  out.append(rest.substr(0, q));
  if (q == std::string_view::npos) return out;
  std::string_view query = rest.substr(q + 1);
  out += '?';
  bool first = true;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto item = query.substr(0, amp);
    if (!first) out += '&';
    first = false;
    const auto eq = item.find('=');
    out.append(item.substr(0, eq));
    if (eq != std::string_view::npos) out.append("=").append(Secret::mask);
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return out;
}

struct Location {
  std::string scheme;  // "s3" or "obs"
  std::string bucket;
  std::string prefix;  // "" or "a/b": no leading or trailing '/'
  /// Decoded ?name=value pairs in order; S3Options::apply() interprets them.
  std::vector<std::pair<std::string, std::string>> parameters;

  /// "s3://bucket/prefix", without parameters: for messages and manifests.
  std::string uri() const { return scheme + "://" + bucket + (prefix.empty() ? "" : "/" + prefix); }

  /// Why `name` is not a valid bucket name, or "" when it is (the S3 rules:
  /// 3-63 of a-z 0-9 . -, starting and ending with a letter or digit).
  static std::string bucket_problem(std::string_view name) {
    if (name.size() < 3 || name.size() > 63)
      return "bucket name must be 3 to 63 characters long";
    for (const char c : name)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
        return "bucket name may hold only lower-case letters, digits, '.' and '-'";
    const auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
    if (!alnum(name.front()) || !alnum(name.back()))
      return "bucket name must start and end with a letter or a digit";
    if (name.find("..") != std::string_view::npos) return "bucket name must not hold '..'";
    return {};
  }

  static Location parse(std::string_view uri) {
    const auto fail = [&](const std::string& why) -> ConfigError {
      return ConfigError(errc::invalid_argument, "S3 URI '" + mask_uri(uri) + "': " + why);
    };
    const auto sep = uri.find("://");
    if (sep == std::string_view::npos) throw fail("expected s3://bucket/prefix or obs://bucket/prefix");
    Location loc;
    for (const char c : uri.substr(0, sep))
      loc.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (loc.scheme != "s3" && loc.scheme != "obs")
      throw fail("scheme must be s3 or obs, not '" + loc.scheme + "'");
    std::string_view rest = uri.substr(sep + 3);
    if (rest.find('#') != std::string_view::npos) throw fail("a fragment ('#') is not allowed");
    std::string_view query;
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
      query = rest.substr(q + 1);
      rest = rest.substr(0, q);
    }
    const auto slash = rest.find('/');
    const auto authority = rest.substr(0, slash);
    if (authority.find('@') != std::string_view::npos)
      throw fail(
          "credentials must never be part of a URI (they end up in logs and manifests); use the "
          "environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or OBS_*), a shared credentials "
          "file, or S3Options::with_credentials()");
    if (authority.find(':') != std::string_view::npos)
      throw fail("the bucket must not carry a port; give the endpoint as ?endpoint=http://host:port");
    if (auto problem = bucket_problem(authority); !problem.empty()) throw fail(problem);
    loc.bucket = std::string(authority);
    if (slash != std::string_view::npos) {
      std::string path;
      if (!detail::uri_decode(rest.substr(slash + 1), path)) throw fail("malformed %-escape in the prefix");
      while (!path.empty() && path.back() == '/') path.pop_back();
      if (auto problem = fs::path_problem(path, true); !problem.empty()) throw fail(problem);
      loc.prefix = std::move(path);
    }
    while (!query.empty()) {
      const auto amp = query.find('&');
      const auto item = query.substr(0, amp);
      if (!item.empty()) {
        const auto eq = item.find('=');
        std::string name, value;
        if (!detail::uri_decode(item.substr(0, eq), name) ||
            (eq != std::string_view::npos && !detail::uri_decode(item.substr(eq + 1), value)))
          throw fail("malformed %-escape in the query");
        loc.parameters.emplace_back(std::move(name), std::move(value));
      }
      if (amp == std::string_view::npos) break;
      query = query.substr(amp + 1);
    }
    return loc;
  }
};

}  // namespace ckpt::s3
