// The child process of KilledLifecycle: runs one session of a lifecycle
// sequence on local disk, reporting each step on the report pipe, until it
// ends or the parent SIGKILLs it.
//
//   ckpt_lifecycle_child <dir> <seed> <plan> <hold> <names>
#include <ckpt/fs/local_file_system.hpp>

#include "lifecycle_model.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

namespace {

int report_fd = -1;

void report(const std::string& line) {
  if (report_fd < 0) return;
  const std::string text = line + "\n";
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(report_fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* fd = std::getenv("CKPT_REPORT_FD")) report_fd = std::atoi(fd);
  if (argc != 6) {
    report("error usage: ckpt_lifecycle_child <dir> <seed> <plan> <hold> <names>");
    return 2;
  }
  try {
    using namespace ckpt::lifecycle;
    const std::string dir = argv[1];
    std::mt19937_64 rng(std::strtoull(argv[2], nullptr, 10));
    World w;
    shape_world(w, rng);
    w.engine = Engine::pipeline;
    w.out = std::make_shared<ckpt::fs::LocalFileSystem>(dir);
    w.storage_fs = std::make_shared<FlakyFileSystem>(std::make_shared<ckpt::fs::LocalFileSystem>(dir + "/ckpt"));
    w.hold = std::strtoull(argv[4], nullptr, 10);
    w.names = static_cast<std::uint32_t>(std::strtoul(argv[5], nullptr, 10));
    report("begin");
    const auto result = run_session(w, SessionPlan::decode(argv[3]), report);
    if (!result.error.empty()) {
      report("error " + result.error);
      return 1;
    }
    report("ended " + std::to_string(static_cast<int>(result.ending)));
    return 0;
  } catch (const std::exception& e) {
    report(std::string("error ") + e.what());
    return 1;
  }
}
