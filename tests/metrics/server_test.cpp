// The MetricsServer refuses what is not a GET of its two paths, survives
// hostile and stalled clients, and keeps serving everyone else.
#include "http_clients.hpp"

#include <ckpt/error.hpp>
#include <ckpt/metrics/checkpoint_metrics.hpp>
#include <ckpt/metrics/metrics_server.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;

ckpt::CheckpointMetrics some_metrics() {
  ckpt::CheckpointMetrics metrics({"svc", 10});
  ckpt::CheckpointStats s;
  s.id = 1;
  s.participants = 2;
  s.stored_bytes = 100;
  metrics.record(s);
  return metrics;
}

void expect_serving(std::uint16_t port) {
  EXPECT_EQ(ckpt::test::curl(port, "/metrics").status, 200);
  EXPECT_EQ(ckpt::test::curl(port, "/checkpoints").status, 200);
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(MetricsServer, RefusesOtherPathsAndMethods) {
  const auto metrics = some_metrics();
  ckpt::MetricsServer server(metrics);
  const auto port = server.port();
  EXPECT_EQ(ckpt::test::curl(port, "/").status, 404);
  EXPECT_EQ(ckpt::test::curl(port, "/etc/passwd").status, 404);
  EXPECT_EQ(ckpt::test::curl(port, "/../metrics", {"--path-as-is"}).status, 404);
  EXPECT_EQ(ckpt::test::curl(port, "/metrics/x").status, 404);
  EXPECT_EQ(ckpt::test::curl(port, "/metrics", {"-X", "POST", "--data", "x=1"}).status, 405);
  EXPECT_EQ(ckpt::test::curl(port, "/checkpoints", {"-X", "DELETE"}).status, 405);
  EXPECT_EQ(ckpt::test::curl(port, "/metrics?name=x").status, 200);  // a query is ignored
  expect_serving(port);
}

TEST(MetricsServer, RefusesMalformedAndOversizedRequests) {
  const auto metrics = some_metrics();
  ckpt::MetricsServer server(metrics);
  const auto port = server.port();

  const auto garbage = "\x00\xff\x16\x03\x01 not http at all\r\n\r\n"s;
  EXPECT_TRUE(starts_with(ckpt::test::raw_exchange(port, garbage), "HTTP/1.1 400")) << "garbage";
  expect_serving(port);

  EXPECT_TRUE(
      starts_with(ckpt::test::raw_exchange(port, "GET /metrics HTTP/1.1\r\nHost x\r\n\r\n"), "HTTP/1.1 400"));
  EXPECT_TRUE(starts_with(ckpt::test::raw_exchange(port, "GET /metrics HTTP/9.9\r\n\r\n"), "HTTP/1.1 400"));

  // A 1 MiB header: 431, or the connection closed while we were still sending.
  const std::string big =
      "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n";
  const auto big_answer = ckpt::test::raw_exchange(port, big);
  EXPECT_TRUE(big_answer.empty() || starts_with(big_answer, "HTTP/1.1 431")) << big_answer.substr(0, 100);
  expect_serving(port);

  // A body beyond the limit, announced or chunked.
  EXPECT_TRUE(
      starts_with(ckpt::test::raw_exchange(
                      port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n", true),
                  "HTTP/1.1 413"));
  const std::string chunked =
      "GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n" +
      std::string(1 << 20, 'b');
  const auto chunked_answer = ckpt::test::raw_exchange(port, chunked);
  EXPECT_TRUE(chunked_answer.empty() || starts_with(chunked_answer, "HTTP/1.1 413"))
      << chunked_answer.substr(0, 100);

  // Half a request, then the client hangs up: nothing to answer.
  EXPECT_EQ(ckpt::test::raw_exchange(port, "GET /metr", true), "");
  expect_serving(port);
}

TEST(MetricsServer, AStalledClientHoldsOnlyItsOwnConnectionUntilTheTimeout) {
  const auto metrics = some_metrics();
  auto options = ckpt::MetricsServerOptions::defaults();
  options.read_timeout = 500ms;
  ckpt::MetricsServer server(metrics, options);
  const auto port = server.port();

  boost::asio::io_context io;
  boost::asio::ip::tcp::socket stalled(io);
  stalled.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(stalled, boost::asio::buffer(std::string("GET /metrics HTTP/1.1\r\nHost: x\r\n")));
  // Meanwhile everyone else is served.
  expect_serving(port);
  expect_serving(port);
  // The server gives up on it: the read ends (it waits on that event, not on a clock).
  char byte = 0;
  boost::system::error_code ec;
  const auto n = stalled.read_some(boost::asio::buffer(&byte, 1), ec);
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(ec) << "the stalled connection was not closed";
  expect_serving(port);
}

TEST(MetricsServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  const auto metrics = some_metrics();
  ckpt::MetricsServer server(metrics);
  const auto answer = ckpt::test::raw_exchange(server.port(),
                                               "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /checkpoints "
                                               "HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const auto second = answer.find("HTTP/1.1 200", 1);
  EXPECT_TRUE(starts_with(answer, "HTTP/1.1 200"));
  ASSERT_NE(second, std::string::npos);
  EXPECT_NE(answer.find("application/json", second), std::string::npos);
}

TEST(MetricsServer, StopsWithConnectionsOpenAndRefusesBadAddresses) {
  const auto metrics = some_metrics();
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket idle(io);
  {
    ckpt::MetricsServer server(metrics);
    EXPECT_EQ(server.address(), "127.0.0.1");
    idle.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
    // Its port is taken.
    EXPECT_THROW(ckpt::MetricsServer(metrics, ckpt::MetricsServerOptions::on_port(server.port())),
                 ckpt::IoError);
    expect_serving(server.port());
  }  // the destructor returns with `idle` still open
  char byte = 0;
  boost::system::error_code ec;
  EXPECT_EQ(idle.read_some(boost::asio::buffer(&byte, 1), ec), 0u);
  EXPECT_TRUE(ec);
  EXPECT_THROW(ckpt::MetricsServer(metrics, ckpt::MetricsServerOptions::on_port(0, "localhost")),
               ckpt::ConfigError);
}

}  // namespace
