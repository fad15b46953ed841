#pragma once
// Uri: the storage location a user configures, e.g. "file:///var/ckpt",
// "mem://tests/job-1", "s3://bucket/prefix?region=eu-west-1", or a plain path
// ("/var/ckpt", "ckpt") which means the file scheme.
//
// A URI never carries credentials: "user:password@" in the authority is
// rejected, and the message does not repeat what was before the '@'.
// Messages never echo a whole URI either (a query may hold a secret); use
// redacted() to show one.

#include <ckpt/error.hpp>

#include <algorithm>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt::fs {

struct Uri {
  std::string scheme;     // lower case; "file" for a plain path
  std::string authority;  // host[:port], bucket or store name; "" when absent
  std::string path;       // percent-decoded; "/..." after an authority, as written for a plain path
  std::string query;      // after '?', raw; "" when absent

  /// Parses `text`; a malformed URI is ConfigError(errc::invalid_argument).
  /// "<scheme>://..." is a URI; anything else is a plain local path.
  static Uri parse(std::string_view text) {
    if (text.empty()) throw invalid("an empty string is not a storage URI");
    for (const char c : text) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) throw invalid("a storage URI must not contain NUL or control characters");
    }
    const auto separator = text.find("://");
    const auto first_slash = text.find('/');
    if (separator == std::string_view::npos || first_slash < separator) {
      // "file:relative" is a URI missing its "//", not a directory of that name.
      if (const auto colon = text.find(':'); colon != std::string_view::npos && colon < first_slash &&
                                             valid_scheme(lower(text.substr(0, colon))))
        throw invalid("'" + std::string(text.substr(0, std::min<std::size_t>(colon, 32))) +
                      ":' starts a URI without '//': write " + lower(text.substr(0, std::min<std::size_t>(colon, 32))) +
                      "://... (a local directory is file:///absolute/path, three slashes), or ./" +
                      "name for a relative directory whose name has a colon");
      Uri out;  // a plain path, taken literally
      out.scheme = "file";
      out.path = std::string(text);
      return out;
    }
    Uri out;
    out.scheme = lower(text.substr(0, separator));
    if (!valid_scheme(out.scheme))
      throw invalid("'" + std::string(text.substr(0, std::min<std::size_t>(separator, 32))) +
                    "' is not a URI scheme (a letter, then letters, digits, '+', '-' or '.')");
    auto rest = text.substr(separator + 3);
    if (const auto hash = rest.find('#'); hash != std::string_view::npos)
      throw invalid("a " + out.scheme + ":// URI must not have a fragment ('#')");
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
      out.query = std::string(rest.substr(q + 1));
      rest = rest.substr(0, q);
    }
    const auto slash = rest.find('/');
    const auto authority = rest.substr(0, slash);
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
      // Name only what follows the '@': before it is a user name and maybe a secret.
      throw invalid("the " + out.scheme + ":// URI for '" + std::string(authority.substr(at + 1)) +
                    "' carries user information (credentials) before an '@'; ckpt never takes credentials "
                    "from a URI: configure them for the backend instead");
    }
    for (const char c : authority) {
      if (!authority_char(c))
        throw invalid("the authority of a " + out.scheme +
                      ":// URI has a character that is not allowed there");
    }
    out.authority = std::string(authority);
    if (slash != std::string_view::npos) out.path = decode(rest.substr(slash), out.scheme);
    for (const char c : out.query) {
      if (c == ' ') throw invalid("the query of a " + out.scheme + ":// URI must not contain spaces");
    }
    return out;
  }

  /// "scheme://authority/path?query", with the path percent-encoded where needed.
  std::string str() const { return build(false); }
  /// str() with every query value replaced by "***": safe for messages and logs.
  std::string redacted() const { return build(true); }

  /// The query as name/value pairs, percent-decoded, in order.
  std::vector<std::pair<std::string, std::string>> query_params() const {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t start = 0;
    while (start <= query.size() && !query.empty()) {
      const auto end = std::min(query.find('&', start), query.size());
      const auto item = std::string_view(query).substr(start, end - start);
      if (!item.empty()) {
        const auto eq = item.find('=');
        out.emplace_back(decode(item.substr(0, eq), scheme),
                         eq == std::string_view::npos ? std::string() : decode(item.substr(eq + 1), scheme));
      }
      start = end + 1;
    }
    return out;
  }

  /// The value of the first query parameter called `name`.
  std::optional<std::string> query_param(std::string_view name) const {
    for (auto& [key, value] : query_params()) {
      if (key == name) return std::move(value);
    }
    return std::nullopt;
  }

  friend bool operator==(const Uri&, const Uri&) = default;
  /// Prints redacted(): a Uri streamed into a log or a test failure never shows a secret.
  friend std::ostream& operator<<(std::ostream& out, const Uri& uri) { return out << uri.redacted(); }

 private:
  static ConfigError invalid(const std::string& what) { return ConfigError(errc::invalid_argument, what); }

  static std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  }

  static bool valid_scheme(std::string_view s) {
    if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z')) return false;
    for (const char c : s) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
        return false;
    }
    return true;
  }

  static bool unreserved(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
  }

  static bool authority_char(char c) {
    static constexpr std::string_view extra = "!$&'()*+,;=:[]%";
    return unreserved(c) || extra.find(c) != std::string_view::npos;
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  static std::string decode(std::string_view s, const std::string& scheme) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == ' ') throw invalid("a " + scheme + ":// URI must not contain spaces (write %20)");
      if (s[i] != '%') {
        out += s[i];
        continue;
      }
      const int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        throw invalid("a " + scheme + ":// URI has a '%' that is not followed by two hexadecimal digits");
      const auto value = static_cast<char>(hi * 16 + lo);
      if (value == '\0' || static_cast<unsigned char>(value) < 0x20 || value == 0x7f)
        throw invalid("a " + scheme + ":// URI must not encode NUL or control characters");
      out += value;
      i += 2;
    }
    return out;
  }

  std::string build(bool redact) const {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out = scheme + "://" + authority;
    for (const char c : path) {
      if (unreserved(c) || c == '/' || std::string_view("!$&'()*+,;=:@").find(c) != std::string_view::npos) {
        out += c;
      } else {
        const auto u = static_cast<unsigned char>(c);
        out += '%';
        out += hex[u >> 4];
        out += hex[u & 0xf];
      }
    }
    if (!query.empty()) {
      out += '?';
      if (!redact) {
        out += query;
      } else {
        bool first = true;
        for (const auto& [key, value] : query_params()) {
          if (!first) out += '&';
          first = false;
          out += key + "=***";
        }
      }
    }
    return out;
  }
};

}  // namespace ckpt::fs
