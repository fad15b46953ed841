#pragma once
// Where ckpt::etcd::Client finds etcd and how long it waits: the endpoint of
// etcd's v3 JSON gateway (etcd 3.4 serves it on its client URL) and short,
// bounded timeouts, so an unreachable etcd is an error in about a second, not
// a hang.

#include <ckpt/error.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace ckpt::etcd {

struct Options {
  /// etcd's client URL, "http://host:port" (https too; no user or password in it).
  std::string endpoint = "http://127.0.0.1:2379";
  /// Time to open a connection to etcd.
  std::chrono::milliseconds connect_timeout{1'000};
  /// Time for one whole request, connection included.
  std::chrono::milliseconds request_timeout{3'000};
  /// Largest response body accepted; a larger one is an error, never an allocation.
  std::size_t max_response_bytes = 4u << 20;

  /// Options for the etcd at `endpoint`, the rest as defaulted.
  static Options at(std::string endpoint) {
    Options o;
    o.endpoint = std::move(endpoint);
    return o;
  }

  /// Throws ConfigError(errc::invalid_argument) unless the options can be used.
  void validate() const {
    const std::string_view e = endpoint;
    const bool scheme = e.starts_with("http://") || e.starts_with("https://");
    const std::string_view rest = scheme ? e.substr(e.find("//") + 2) : std::string_view{};
    if (!scheme || rest.empty() || rest.find_first_of("@/?# ") != std::string_view::npos)
      throw ConfigError(errc::invalid_argument,
                        "etcd endpoint must be http://host:port or https://host:port, without a user, password, "
                        "path or query (the value given is not shown: it may hold a password)");
    if (connect_timeout.count() <= 0 || request_timeout.count() <= 0)
      throw ConfigError(errc::invalid_argument, "etcd timeouts must be positive (endpoint " + endpoint + ")");
    if (max_response_bytes < 1024)
      throw ConfigError(errc::invalid_argument, "etcd max_response_bytes must be at least 1024 (endpoint " +
                                                    endpoint + ")");
  }

  /// Whether the endpoint is a loopback address (then no http_proxy is used).
  bool loopback() const {
    for (const std::string_view host : {"://127.", "://localhost:", "://localhost", "://[::1]"})
      if (std::string_view(endpoint).find(host) != std::string_view::npos) return true;
    return false;
  }
};

}  // namespace ckpt::etcd
