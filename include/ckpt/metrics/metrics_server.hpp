#pragma once
// MetricsServer: an opt-in HTTP endpoint (Boost.Beast) for CheckpointMetrics.
//
//   GET /metrics      the Prometheus text format (render_prometheus_text)
//   GET /checkpoints  the checkpoint history as JSON (render_checkpoint_history_json)
//
// Anything else is refused: another path 404, another method 405, a header
// over MetricsServerOptions::header_limit 431, a body over body_limit 413,
// bytes that are not HTTP 400 (each of those closes the connection). It
// serves no files. It listens on 127.0.0.1 unless told otherwise; port 0
// takes a free port (port() says which). One thread serves every connection
// asynchronously, so a client that stalls holds only its own connection,
// and only until read_timeout; at most max_connections are open at once.
// The destructor stops it and joins its thread.

#include <ckpt/error.hpp>
#include <ckpt/metrics/checkpoint_history_json.hpp>
#include <ckpt/metrics/checkpoint_metrics.hpp>
#include <ckpt/metrics/prometheus_text.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace ckpt {

struct MetricsServerOptions {
  std::string address = "127.0.0.1";  // loopback unless configured otherwise
  std::uint16_t port = 0;             // 0: a free port, see MetricsServer::port()
  /// A whole request (header and body) must arrive within this, and a
  /// response must be taken within write_timeout; else the connection closes.
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{5000};
  std::uint32_t header_limit = 8 * 1024;  // bytes of request line and header fields
  std::uint64_t body_limit = 1024;        // a GET has no business sending more
  std::size_t max_connections = 64;       // further connections are closed at once

  static MetricsServerOptions defaults() { return {}; }
  static MetricsServerOptions on_port(std::uint16_t port, std::string address = "127.0.0.1") {
    MetricsServerOptions o;
    o.port = port;
    o.address = std::move(address);
    return o;
  }
};

namespace detail {

namespace metrics_http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using Response = http::response<http::string_body>;

/// The answer to a complete, well-formed request.
inline Response respond(const CheckpointMetrics& metrics, const http::request<http::string_body>& request) {
  Response r{http::status::ok, request.version()};
  r.set(http::field::server, "ckpt");
  r.keep_alive(request.keep_alive());
  const std::string_view target(request.target().data(), request.target().size());
  const auto path = target.substr(0, target.find('?'));
  const bool known = path == "/metrics" || path == "/checkpoints";
  if (!known) {
    r.result(http::status::not_found);
    r.set(http::field::content_type, "text/plain; charset=utf-8");
    r.body() = "not found: this server answers GET /metrics and GET /checkpoints\n";
  } else if (request.method() != http::verb::get) {
    r.result(http::status::method_not_allowed);
    r.set(http::field::allow, "GET");
    r.set(http::field::content_type, "text/plain; charset=utf-8");
    r.body() = "method not allowed: only GET\n";
  } else {
    try {
      const auto snapshot = metrics.snapshot();
      if (path == "/metrics") {
        r.set(http::field::content_type, std::string(prometheus_text_content_type));
        r.body() = render_prometheus_text(snapshot);
      } else {
        r.set(http::field::content_type, "application/json");
        r.body() = render_checkpoint_history_json(snapshot);
      }
    } catch (const std::exception&) {
      r.result(http::status::internal_server_error);
      r.set(http::field::content_type, "text/plain; charset=utf-8");
      r.body() = "internal error\n";
    }
  }
  r.prepare_payload();
  return r;
}

/// The refusal of a request the parser rejected.
inline Response refuse(const beast::error_code& ec) {
  Response r{http::status::bad_request, 11};
  if (ec == http::error::header_limit)
    r.result(http::status::request_header_fields_too_large);
  else if (ec == http::error::body_limit)
    r.result(http::status::payload_too_large);
  r.set(http::field::server, "ckpt");
  r.set(http::field::content_type, "text/plain; charset=utf-8");
  r.body() = std::string(r.reason()) + "\n";
  r.keep_alive(false);
  r.prepare_payload();
  return r;
}

struct ServerState {
  const CheckpointMetrics& metrics;
  MetricsServerOptions options;
  std::size_t connections = 0;  // only touched on the server's thread
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<ServerState> state)
      : stream_(std::move(socket)), state_(std::move(state)) {
    ++state_->connections;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() { --state_->connections; }

  void start() { read(); }
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(state_->options.header_limit);
    parser_->body_limit(state_->options.body_limit);
    stream_.expires_after(state_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(const beast::error_code& ec) {
    if (!ec) {
      response_ = respond(state_->metrics, parser_->get());
      write();
    } else if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message) {
      response_ = refuse(ec);  // the parser refused what arrived: say why, then close
      write();
    } else {
      close();  // the client went away, stalled past the timeout, or we are stopping
    }
  }

  void write() {
    stream_.expires_after(state_->options.write_timeout);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec || !self->response_.keep_alive()) return self->close();
      self->read();
    });
  }

  beast::tcp_stream stream_;
  std::shared_ptr<ServerState> state_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
};

}  // namespace metrics_http
}  // namespace detail

class MetricsServer {
  using tcp = boost::asio::ip::tcp;

 public:
  /// Starts serving `metrics`, which must outlive the server. Throws
  /// ConfigError for an address that is not an IP address and IoError when
  /// the address cannot be bound.
  explicit MetricsServer(const CheckpointMetrics& metrics, MetricsServerOptions options = {})
      : state_(std::make_shared<detail::metrics_http::ServerState>(
            detail::metrics_http::ServerState{metrics, std::move(options), 0})),
        acceptor_(io_) {
    const auto& o = state_->options;
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(o.address, ec);
    if (ec)
      throw ConfigError(errc::invalid_argument, "metrics server: '" + o.address + "' is not an IP address");
    const tcp::endpoint endpoint(address, o.port);
    const auto where = o.address + ":" + std::to_string(o.port);
    if (acceptor_.open(endpoint.protocol(), ec) ||
        acceptor_.set_option(tcp::acceptor::reuse_address(true), ec) || acceptor_.bind(endpoint, ec) ||
        acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec))
      throw IoError(errc::io_error, where, "metrics server: cannot listen on " + where + ": " + ec.message(),
                    ec);
    port_ = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] { run(); });
  }
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  ~MetricsServer() { stop(); }

  /// The port it listens on (the one chosen when options.port was 0).
  std::uint16_t port() const noexcept { return port_; }
  const std::string& address() const noexcept { return state_->options.address; }

  /// Closes the listening socket and every connection, and joins the
  /// server's thread. Idempotent.
  void stop() {
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      for (auto& weak : sessions_)
        if (auto s = weak.lock()) s->close();
      sessions_.clear();
    });
    thread_.join();
  }

 private:
  void run() {
    for (;;) {
      try {
        io_.run();  // returns once stop() closed everything
        return;
      } catch (const std::exception&) {
        // A handler threw (out of memory, say): that connection is lost; serving goes on.
      }
    }
  }

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) {
        if (state_->connections >= state_->options.max_connections) {
          boost::system::error_code ignored;
          socket.close(ignored);
        } else {
          auto session = std::make_shared<detail::metrics_http::Session>(std::move(socket), state_);
          sessions_.remove_if([](const auto& w) { return w.expired(); });
          sessions_.push_back(session);
          session->start();
        }
      }
      accept();
    });
  }

  std::shared_ptr<detail::metrics_http::ServerState> state_;
  boost::asio::io_context io_{1};
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::list<std::weak_ptr<detail::metrics_http::Session>> sessions_;  // server thread only
  std::thread thread_;
};

}  // namespace ckpt
