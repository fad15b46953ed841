#pragma once
// The clients the metrics tests talk to the server with: the real curl, the
// Prometheus text parser of python3-prometheus-client, and a raw socket for
// what no well-behaved client sends.

#include "temp_dir.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <rapidjson/document.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace ckpt::test {

struct ProgramResult {
  int exit_code = -1;
  std::string out;  // standard output and error
};

/// Runs `argv` (argv[0] a path) and returns its exit code and output.
inline ProgramResult run_program(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::system_error(rc, std::generic_category(), "posix_spawn " + argv[0]);
  }
  ProgramResult r;
  char buf[4096];
  for (;;) {
    const auto n = ::read(fds[0], buf, sizeof buf);
    if (n > 0)
      r.out.append(buf, static_cast<std::size_t>(n));
    else if (n == 0 || errno != EINTR)
      break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct CurlResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

/// `curl` fetching http://127.0.0.1:<port><path>, with `extra` options before the URL.
inline CurlResponse curl(std::uint16_t port, const std::string& path,
                         const std::vector<std::string>& extra = {}) {
  TempDir dir("ckpt-curl");
  const auto body = dir.path() / "body";
  std::vector<std::string> argv{CKPT_TEST_CURL, "-sS",         "--max-time", "60",
                                "-o",           body.string(), "-w",         "%{http_code}\n%{content_type}"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("http://127.0.0.1:" + std::to_string(port) + path);
  const auto r = run_program(argv);
  if (r.exit_code != 0)
    throw std::runtime_error("curl failed (" + std::to_string(r.exit_code) + "): " + r.out);
  CurlResponse out;
  const auto nl = r.out.find('\n');
  out.status = std::stoi(r.out.substr(0, nl));
  out.content_type = nl == std::string::npos ? "" : r.out.substr(nl + 1);
  out.body = read_file(body);
  return out;
}

/// One sample as prometheus_client's text parser read it.
struct ParsedSample {
  std::string type;  // of its family
  std::string job;   // its job label
  double value = 0;
  std::string participant_name;  // its name label, on a per-participant sample
};

/// Parses Prometheus text with prometheus_client.parser.text_string_to_metric_families.
/// Samples are keyed by name, and a per-participant one by "name{index}".
inline std::map<std::string, ParsedSample> parse_prometheus(const std::string& text) {
  TempDir dir("ckpt-prom");
  const auto file = dir.path() / "metrics.txt";
  std::ofstream(file, std::ios::binary) << text;
  const char* script =
      "import json, sys\n"
      "from prometheus_client.parser import text_string_to_metric_families\n"
      "for f in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
      "    for s in f.samples:\n"
      "        print(json.dumps([s.name, f.type, repr(s.value), s.labels.get('job', ''),\n"
      "                          s.labels.get('participant'), s.labels.get('name', '')]))\n";
  const auto r = run_program({CKPT_TEST_PYTHON3, "-c", script, file.string()});
  if (r.exit_code != 0) throw std::runtime_error("the Prometheus text parser refused the metrics: " + r.out);
  std::map<std::string, ParsedSample> samples;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    rapidjson::Document d;
    if (d.Parse(line.c_str()).HasParseError() || !d.IsArray() || d.Size() != 6)
      throw std::runtime_error("unexpected line from the parser: " + line);
    const std::string value = d[2].GetString();
    ParsedSample s{d[1].GetString(), d[3].GetString(), 0, d[5].GetString()};
    const std::string key = d[4].IsNull() ? std::string(d[0].GetString())
                                          : std::string(d[0].GetString()) + "{" + d[4].GetString() + "}";
    const auto res = std::from_chars(value.data(), value.data() + value.size(), s.value);
    if (res.ec != std::errc{}) throw std::runtime_error("unexpected value from the parser: " + value);
    if (!samples.emplace(key, s).second) throw std::runtime_error("sample " + line + " twice");
  }
  return samples;
}

/// Raw bytes to the server; returns what it answered until it closed the
/// connection (errors on either side end the exchange, as a reset would).
inline std::string raw_exchange(std::uint16_t port, const std::string& bytes, bool shutdown_send = false) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::system::error_code ec;
  boost::asio::write(socket, boost::asio::buffer(bytes), ec);
  if (shutdown_send) socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  std::string answer;
  char buf[4096];
  for (;;) {
    const auto n = socket.read_some(boost::asio::buffer(buf), ec);
    answer.append(buf, n);
    if (ec) break;
  }
  return answer;
}

}  // namespace ckpt::test
