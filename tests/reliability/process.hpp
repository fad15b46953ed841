#pragma once
// Real child processes for the reliability tests: spawn the child program with
// a report pipe, read its report lines as they come (blocking reads: the
// parent waits on the pipe, never on a timer), SIGKILL it, reap it.

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace ckpt::rel {

/// The fd number the child finds its report pipe on.
inline constexpr int child_report_fd = 3;

class Child {
 public:
  /// Starts `program args...` with `env` added to this process's environment
  /// and CKPT_REPORT_FD set; with `stdin_pipe` its stdin is a pipe the parent
  /// holds (close_stdin() ends it); with `capture_output` its stdout and
  /// stderr go to the report pipe too.
  Child(const std::string& program, const std::vector<std::string>& args,
        const std::map<std::string, std::string>& env, bool stdin_pipe = false, bool capture_output = false) {
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
    int input[2] = {-1, -1};
    if (stdin_pipe && ::pipe2(input, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");

    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
      const std::string s(*e);
      const auto eq = s.find('=');
      const auto name = s.substr(0, eq);
      if (env.count(name) || name == "CKPT_REPORT_FD") continue;
      env_strings.push_back(s);
    }
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    env_strings.push_back("CKPT_REPORT_FD=" + std::to_string(child_report_fd));
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_strings{program};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, report[1], child_report_fd);  // dup2 clears O_CLOEXEC
    if (stdin_pipe) posix_spawn_file_actions_adddup2(&actions, input[0], STDIN_FILENO);
    if (capture_output) {
      posix_spawn_file_actions_adddup2(&actions, report[1], STDOUT_FILENO);
      posix_spawn_file_actions_adddup2(&actions, report[1], STDERR_FILENO);
    }
    const int rc = ::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(report[1]);
    if (stdin_pipe) ::close(input[0]);
    report_ = report[0];
    stdin_ = input[1];
    if (rc != 0) {
      ::close(report_);
      if (stdin_ >= 0) ::close(stdin_);
      throw std::system_error(rc, std::generic_category(), "posix_spawn " + program);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    if (report_ >= 0) ::close(report_);
    close_stdin();
  }

  pid_t pid() const noexcept { return pid_; }

  /// The next report line; nullopt once the child's end of the pipe is closed
  /// (it exited or was killed). Blocks until one of those happens.
  std::optional<std::string> next_line() {
    for (;;) {
      if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
        auto line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        lines_.push_back(line);
        return line;
      }
      char chunk[4096];
      const auto n = ::read(report_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  /// Reads until the pipe closes; every line the child reported.
  const std::vector<std::string>& drain() {
    while (next_line()) {
    }
    return lines_;
  }
  const std::vector<std::string>& lines() const noexcept { return lines_; }

  void kill() { ::kill(pid_, SIGKILL); }
  void close_stdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }

  /// Reaps the child (blocking) and returns its wait status.
  int wait() {
    if (status_) return *status_;
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0) {
      if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
    }
    status_ = status;
    return status;
  }
  bool killed() { return WIFSIGNALED(wait()) && WTERMSIG(wait()) == SIGKILL; }
  std::optional<int> exit_code() { return WIFEXITED(wait()) ? std::optional<int>(WEXITSTATUS(wait())) : std::nullopt; }
  std::string describe_status() {
    const int s = wait();
    if (WIFEXITED(s)) return "exited with " + std::to_string(WEXITSTATUS(s));
    if (WIFSIGNALED(s)) return std::string("killed by signal ") + std::to_string(WTERMSIG(s));
    return "status " + std::to_string(s);
  }

 private:
  pid_t pid_ = -1;
  int report_ = -1;
  int stdin_ = -1;
  std::string buffer_;
  std::vector<std::string> lines_;
  std::optional<int> status_;
};

/// The first word of a report line, and the number after it (if any).
inline std::pair<std::string, std::uint64_t> parse_report(const std::string& line) {
  const auto space = line.find(' ');
  const auto word = line.substr(0, space);
  std::uint64_t n = 0;
  if (space != std::string::npos) n = std::strtoull(line.c_str() + space + 1, nullptr, 10);
  return {word, n};
}

}  // namespace ckpt::rel
