#pragma once
// A real etcd for the tests: started as a child process on 127.0.0.1 with
// free ports and a fresh data directory, waited for by polling its /health
// endpoint a bounded number of times, SIGKILLed and reaped at the end. kill()
// and start() again keep the ports and the data directory: an etcd restart.

#include <ckpt/etcd/options.hpp>
#include <ckpt/net/http_client.hpp>

#include "temp_dir.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace ckpt::etcd::test {

/// Bound of every wait for something etcd does by itself (a lease expiring).
inline constexpr std::chrono::seconds event_bound{20};

/// Polls `done` (every 10 ms, at most `event_bound`) for a state etcd reaches
/// by itself, where no event can be waited on; true once it holds.
template <class F>
bool eventually(F&& done) {
  for (auto until = std::chrono::steady_clock::now() + event_bound; std::chrono::steady_clock::now() < until;) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return done();
}

#ifndef CKPT_ETCD_BINARY
#define CKPT_ETCD_BINARY "/usr/bin/etcd"
#endif

/// Client options for a loopback etcd: short timeouts, so a test of an
/// unreachable etcd ends at once.
inline Options fast(const std::string& endpoint) {
  Options o = Options::at(endpoint);
  o.connect_timeout = std::chrono::milliseconds{500};
  o.request_timeout = std::chrono::milliseconds{2000};
  return o;
}

/// A port on 127.0.0.1 that was free a moment ago (the kernel's choice).
inline int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("could not bind a loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

class EtcdServer {
 public:
  /// Health checks before start() gives up, and the pause between them.
  static constexpr int max_health_checks = 300;
  static constexpr std::chrono::milliseconds health_pause{50};

  EtcdServer() : dir_("ckpt-etcd") {
    for (int attempt = 0;; ++attempt) {  // a port taken between choosing and binding: choose again, once
      client_port_ = free_loopback_port();
      peer_port_ = free_loopback_port();
      try {
        start();
        return;
      } catch (const std::exception&) {
        if (attempt >= 1) throw;
      }
    }
  }
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;
  ~EtcdServer() { kill(); }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
  bool running() const { return pid_ > 0; }

  /// Starts etcd (on the same ports and data directory as before) and returns
  /// once it answers /health.
  void start() {
    if (pid_ > 0) return;
    const std::string client = endpoint();
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    std::vector<std::string> args{CKPT_ETCD_BINARY,
                                  "--name=" + name_,
                                  "--data-dir=" + (dir_.path() / "data").string(),
                                  "--listen-client-urls=" + client,
                                  "--advertise-client-urls=" + client,
                                  "--listen-peer-urls=" + peer,
                                  "--initial-advertise-peer-urls=" + peer,
                                  "--initial-cluster=" + name_ + "=" + peer,
                                  "--initial-cluster-state=new",
                                  // Short raft ticks: etcd's smallest lease TTL follows
                                  // them (about 1 s here instead of 2).
                                  "--heartbeat-interval=50",
                                  "--election-timeout=500",
                                  "--logger=zap",
                                  "--log-outputs=stderr",
                                  "--log-level=warn"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log = log_path();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // none of our sockets live on in etcd
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      throw std::runtime_error(std::string("could not start ") + CKPT_ETCD_BINARY + ": " + std::strerror(rc));
    }
    wait_healthy();
  }

  /// SIGKILLs etcd and reaps it.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

  void restart() {
    kill();
    start();
  }

 private:
  std::string log_path() const { return (dir_.path() / "etcd.log").string(); }

  std::string log_tail() const {
    std::ifstream in(log_path());
    std::stringstream s;
    s << in.rdbuf();
    const std::string all = s.str();
    return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
  }

  void wait_healthy() {
    net::HttpClient http(net::HttpSettings{std::chrono::milliseconds{200}, std::chrono::milliseconds{1000}, true});
    for (int check = 0; check < max_health_checks; ++check) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("etcd exited while starting; its log ends:\n" + log_tail());
      }
      net::HttpRequest request;
      request.method = "GET";
      request.url = endpoint() + "/health";
      request.max_body = 4096;
      net::HttpResponse response;
      if (http.perform(request, response).failure == net::Failure::none && response.status == 200 &&
          response.body.find("\"health\":\"true\"") != std::string::npos) {
        // Ours, not another test's etcd on a port ours failed to bind: its member list names ours.
        net::HttpRequest list;
        list.method = "POST";
        list.url = endpoint() + "/v3/cluster/member/list";
        const std::string body = "{}";
        list.body = ByteSpan(reinterpret_cast<const std::byte*>(body.data()), body.size());
        list.max_body = 64 * 1024;
        if (http.perform(list, response).failure == net::Failure::none && response.status == 200 &&
            response.body.find("\"name\":\"" + name_ + "\"") != std::string::npos)
          return;
        kill();
        throw std::runtime_error("another etcd answers at " + endpoint() + " (ours did not start there)");
      }
      std::this_thread::sleep_for(health_pause);
    }
    kill();
    throw std::runtime_error("etcd at " + endpoint() + " did not become healthy after " +
                             std::to_string(max_health_checks) + " checks; its log ends:\n" + log_tail());
  }

  ckpt::test::TempDir dir_;
  std::string name_ = "ckpt-test-" + std::to_string(::getpid()) + "-" + dir_.path().filename().string();
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace ckpt::etcd::test
