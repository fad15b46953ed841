// ckpt-inspect: look into checkpoints and savepoints without the program.
//
//   ckpt-inspect list   <storage-uri>
//   ckpt-inspect show   [--json] <snapshot-uri>
//   ckpt-inspect verify <snapshot-uri>
//   ckpt-inspect dump   [--limit N] <snapshot-uri> <operator-uid> <state>
//
// <storage-uri> is what the program checkpoints to (file:///var/lib/app/ckpt);
// <snapshot-uri> is one checkpoint or savepoint in it (.../chk-42,
// .../savepoints/savepoint-42-v2), as `list` prints them.
#include "inspect.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace {

int usage() {
  std::cerr << "usage:\n"
               "  ckpt-inspect list   <storage-uri>\n"
               "  ckpt-inspect show   [--json] <snapshot-uri>\n"
               "  ckpt-inspect verify <snapshot-uri>\n"
               "  ckpt-inspect dump   [--limit N] <snapshot-uri> <operator-uid> <state>\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool json = false;
  std::size_t limit = 0;
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--limit" && i + 1 < args.size()) {
      const auto& text = args[++i];
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
      if (ec != std::errc() || end != text.data() + text.size()) {
        std::cerr << "ckpt-inspect: --limit needs a number of entries, not '" << ckpt::printable_name(text) << "'\n";
        return 2;
      }
    } else if (args[i] == "-h" || args[i] == "--help") {
      return usage();
    } else {
      positional.push_back(args[i]);
    }
  }
  if (positional.empty()) return usage();
  const auto& command = positional[0];
  try {
    if (command == "list" && positional.size() == 2) {
      ckpt::inspect::list(positional[1], std::cout);
    } else if (command == "show" && positional.size() == 2) {
      auto snapshot = ckpt::CheckpointStorage::open_snapshot(positional[1]);
      if (json) std::cout << ckpt::inspect::manifest_json(snapshot->manifest()) << "\n";
      else ckpt::inspect::show(*snapshot, std::cout);
    } else if (command == "verify" && positional.size() == 2) {
      auto snapshot = ckpt::CheckpointStorage::open_snapshot(positional[1]);
      const bool terminal = ::isatty(STDERR_FILENO) != 0;
      ckpt::inspect::verify(*snapshot, std::cout, [&](std::size_t done, std::size_t total) {
        if (terminal && (done == total || done % 16 == 0))
          std::fprintf(stderr, "\rverifying: %zu/%zu blocks (%zu%%)%s", done, total, total ? done * 100 / total : 100,
                       done == total ? "\n" : "");
      });
    } else if (command == "dump" && positional.size() == 4) {
      auto snapshot = ckpt::CheckpointStorage::open_snapshot(positional[1]);
      std::cout << ckpt::inspect::dump(*snapshot, positional[2], positional[3], limit) << "\n";
    } else {
      return usage();
    }
  } catch (const ckpt::Error& e) {
    std::cerr << "ckpt-inspect: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "ckpt-inspect: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
