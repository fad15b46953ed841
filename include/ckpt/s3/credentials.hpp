#pragma once
// Credentials for an S3-compatible store and where they come from: an
// explicit object, the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN, or the OBS_ prefixed names for obs:// URIs), or an
// AWS-style shared credentials file with profiles. Never from a URI: a URI
// ends up in logs, manifests and shell history.
//
// The secret key and the session token are Secret values, so printing a
// Credentials object, or an error about one, never shows them.

#include <ckpt/error.hpp>
#include <ckpt/s3/secret.hpp>

// Boost.MultiIndex (inside PropertyTree) trips GCC's -Wnull-dereference after
// inlining; the warning is Boost's, not ours.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif
#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

namespace ckpt::s3 {

struct Credentials {
  std::string access_key_id;  // an identifier, not a secret (it is sent in every request)
  Secret secret_access_key;
  Secret session_token;  // empty unless temporary credentials
  std::string source;    // where these came from, for messages: "environment (AWS_*)", a file and profile

  /// Explicit credentials (from a vault, a test fixture, an STS call).
  static Credentials make(std::string access_key_id, Secret secret_access_key,
                          Secret session_token = {}) {
    Credentials c{std::move(access_key_id), std::move(secret_access_key), std::move(session_token),
                  "explicit"};
    c.validate();
    return c;
  }

  /// `<prefix>_ACCESS_KEY_ID`, `<prefix>_SECRET_ACCESS_KEY` and optionally
  /// `<prefix>_SESSION_TOKEN` (prefix "AWS" or "OBS"). nullopt when neither
  /// of the first two is set; ConfigError when only one is.
  static std::optional<Credentials> from_environment(std::string_view prefix = "AWS") {
    const std::string p(prefix);
    const auto get = [](const std::string& name) -> std::optional<std::string> {
      const char* v = std::getenv(name.c_str());
      if (!v || !*v) return std::nullopt;
      return std::string(v);
    };
    auto id = get(p + "_ACCESS_KEY_ID");
    auto secret = get(p + "_SECRET_ACCESS_KEY");
    if (!id && !secret) return std::nullopt;
    if (!id || !secret)
      throw ConfigError(errc::invalid_argument,
                        p + (id ? "_ACCESS_KEY_ID is set but " + p + "_SECRET_ACCESS_KEY is not"
                                : "_SECRET_ACCESS_KEY is set but " + p + "_ACCESS_KEY_ID is not") +
                            "; set both (and " + p + "_SESSION_TOKEN for temporary credentials)");
    auto token = get(p + "_SESSION_TOKEN");
    Credentials c{std::move(*id), Secret(std::move(*secret)), Secret(token.value_or("")),
                  "environment (" + p + "_*)"};
    c.validate();
    return c;
  }

  /// Reads `[profile]` of an AWS-style shared credentials file (INI:
  /// aws_access_key_id, aws_secret_access_key, aws_session_token).
  static Credentials from_file(const std::filesystem::path& file, std::string_view profile = "default") {
    const std::string where = "credentials file '" + file.string() + "'";
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    if (ec)
      throw ConfigError(errc::not_found, "cannot read " + where + ": " + ec.message());
    if (size > max_file_bytes)
      throw ConfigError(errc::limit_exceeded, where + " is " + std::to_string(size) +
                                                  " bytes; at most " + std::to_string(max_file_bytes) +
                                                  " are read");
    std::ifstream in(file, std::ios::binary);
    if (!in) throw ConfigError(errc::not_found, "cannot open " + where);
    std::ostringstream text;
    text << in.rdbuf();
    std::istringstream stream(text.str());
    boost::property_tree::ptree tree;
    try {
      boost::property_tree::ini_parser::read_ini(stream, tree);
    } catch (const boost::property_tree::ini_parser_error& e) {
      // The parser's message names the problem and line, never a value.
      throw ConfigError(errc::corrupt_data, where + " is not a valid INI file: " + e.message() +
                                                " (line " + std::to_string(e.line()) + ")");
    }
    const boost::property_tree::ptree* section = nullptr;
    for (const auto& [name, child] : tree)  // not tree.get(): a profile name may hold a '.'
      if (name == profile) section = &child;
    const std::string what = where + " profile '" + std::string(profile) + "'";
    if (!section) throw ConfigError(errc::not_found, what + " does not exist");
    const auto value = [&](const char* key) -> std::string {
      for (const auto& [name, child] : *section)
        if (name == key) return child.data();
      return {};
    };
    auto id = value("aws_access_key_id");
    auto secret = value("aws_secret_access_key");
    if (id.empty() || secret.empty())
      throw ConfigError(errc::invalid_argument,
                        what + " lacks aws_access_key_id or aws_secret_access_key");
    Credentials c{std::move(id), Secret(std::move(secret)), Secret(value("aws_session_token")), what};
    c.validate();
    return c;
  }

  /// The shared credentials file: $AWS_SHARED_CREDENTIALS_FILE, else
  /// $HOME/.aws/credentials; nullopt when neither names a file that exists.
  static std::optional<std::filesystem::path> default_file() {
    if (const char* f = std::getenv("AWS_SHARED_CREDENTIALS_FILE"); f && *f) return std::filesystem::path(f);
    if (const char* home = std::getenv("HOME"); home && *home) {
      std::filesystem::path p = std::filesystem::path(home) / ".aws" / "credentials";
      std::error_code ec;
      if (std::filesystem::exists(p, ec)) return p;
    }
    return std::nullopt;
  }

  /// The default chain for a URI scheme: the environment (OBS_* for "obs",
  /// AWS_* otherwise), then the shared credentials file with `profile` (or
  /// $AWS_PROFILE, or "default"). ConfigError saying what to set when none.
  static Credentials resolve(std::string_view scheme, std::string_view profile = {}) {
    const std::string_view prefix = scheme == "obs" ? "OBS" : "AWS";
    if (auto c = from_environment(prefix)) return std::move(*c);
    std::string chosen(profile);
    if (chosen.empty())
      if (const char* p = std::getenv("AWS_PROFILE"); p && *p) chosen = p;
    if (auto file = default_file()) return from_file(*file, chosen.empty() ? "default" : chosen);
    throw ConfigError(errc::invalid_argument,
                      "no credentials for " + std::string(scheme) + "://: set " + std::string(prefix) +
                          "_ACCESS_KEY_ID and " + std::string(prefix) +
                          "_SECRET_ACCESS_KEY, or provide a shared credentials file "
                          "(AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials), or pass "
                          "S3Options::with_credentials()");
  }

  friend std::ostream& operator<<(std::ostream& os, const Credentials& c) {
    return os << "Credentials{access_key_id=" << c.access_key_id << ", secret_access_key="
              << c.secret_access_key << ", session_token=" << c.session_token << ", source=" << c.source
              << "}";
  }

  static constexpr std::uintmax_t max_file_bytes = 1 << 20;

 private:
  void validate() const {
    const auto bad = [](std::string_view v) {
      for (const char ch : v) {
        const auto u = static_cast<unsigned char>(ch);
        if (u <= 0x20 || u == 0x7f) return true;  // would break or smuggle an HTTP header
      }
      return false;
    };
    if (access_key_id.empty() || secret_access_key.empty())
      throw ConfigError(errc::invalid_argument, "credentials from " + source +
                                                    ": the access key id and secret key must not be empty");
    if (bad(access_key_id) || bad(secret_access_key.reveal()) || bad(session_token.reveal()))
      throw ConfigError(errc::invalid_argument,
                        "credentials from " + source +
                            ": the access key id, secret key or session token holds whitespace or a "
                            "control character");
  }
};

}  // namespace ckpt::s3
