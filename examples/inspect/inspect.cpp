// ckpt-inspect: look into checkpoints and savepoints without the program.
//
//   ckpt-inspect list   <storage-uri>
//   ckpt-inspect show   [--json] <snapshot-uri>
//   ckpt-inspect verify <snapshot-uri>
//   ckpt-inspect dump   [--limit N] <snapshot-uri> <operator-uid> <state>
//   ckpt-inspect rename-operator <snapshot-uri> <from> <to>      --to <storage-uri> --name <savepoint> [--parallelism N]
//   ckpt-inspect drop-operator   <snapshot-uri> <uid>            --to ... (as above)
//   ckpt-inspect drop-state      <snapshot-uri> <uid> <state>    --to ...
//   ckpt-inspect rename-state    <snapshot-uri> <uid> <from> <to> --to ...
//
// The edits write a new savepoint (verified) into --to and never change the
// snapshot they read.
//
// <storage-uri> is what the program checkpoints to (file:///var/lib/app/ckpt);
// <snapshot-uri> is one checkpoint or savepoint in it (.../chk-42,
// .../savepoints/savepoint-42-v2), as `list` prints them.
#include "inspect.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace {

/// Parses a whole decimal number into `value`; false if `text` is not one.
template <class T>
bool parse_number(const std::string& text, T& value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

int usage() {
  std::cerr << "usage:\n"
               "  ckpt-inspect list   <storage-uri>\n"
               "  ckpt-inspect show   [--json] <snapshot-uri>\n"
               "  ckpt-inspect verify <snapshot-uri>\n"
               "  ckpt-inspect dump   [--limit N] <snapshot-uri> <operator-uid> <state>\n"
               "  ckpt-inspect rename-operator <snapshot-uri> <from> <to>        EDIT-OPTIONS\n"
               "  ckpt-inspect drop-operator   <snapshot-uri> <uid>              EDIT-OPTIONS\n"
               "  ckpt-inspect drop-state      <snapshot-uri> <uid> <state>      EDIT-OPTIONS\n"
               "  ckpt-inspect rename-state    <snapshot-uri> <uid> <from> <to>  EDIT-OPTIONS\n"
               "EDIT-OPTIONS: --to <storage-uri> --name <savepoint-name> [--parallelism N]\n"
               "  (a new savepoint is written there and verified; the input is never changed)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool json = false;
  std::size_t limit = 0;
  ckpt::inspect::EditTarget target;
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--limit" && i + 1 < args.size()) {
      const auto& text = args[++i];
      if (!parse_number(text, limit)) {
        std::cerr << "ckpt-inspect: --limit needs a number of entries, not '" << ckpt::printable_name(text) << "'\n";
        return 2;
      }
    } else if (args[i] == "--parallelism" && i + 1 < args.size()) {
      const auto& text = args[++i];
      if (!parse_number(text, target.parallelism) || target.parallelism == 0) {
        std::cerr << "ckpt-inspect: --parallelism needs a number of subtasks, not '" << ckpt::printable_name(text)
                  << "'\n";
        return 2;
      }
    } else if (args[i] == "--to" && i + 1 < args.size()) {
      target.storage_uri = args[++i];
    } else if (args[i] == "--name" && i + 1 < args.size()) {
      target.name = args[++i];
    } else if (args[i] == "-h" || args[i] == "--help") {
      return usage();
    } else {
      positional.push_back(args[i]);
    }
  }
  if (positional.empty()) return usage();
  const auto& command = positional[0];
  const auto p = [&](std::size_t i) -> const std::string& { return positional[i]; };
  // An edit command: its operand count, and what it does.
  std::function<void(ckpt::edit::SavepointEditor&)> edit;
  std::size_t operands = 0;
  if (command == "rename-operator") {
    operands = 4;
    edit = [&](auto& e) { e.rename_operator(p(2), p(3)); };
  } else if (command == "drop-operator") {
    operands = 3;
    edit = [&](auto& e) { e.drop_operator(p(2)); };
  } else if (command == "drop-state") {
    operands = 4;
    edit = [&](auto& e) { e.drop_state(p(2), p(3)); };
  } else if (command == "rename-state") {
    operands = 5;
    edit = [&](auto& e) { e.rename_state(p(2), p(3), p(4)); };
  }
  if (edit && (positional.size() != operands || target.storage_uri.empty() || target.name.empty())) {
    std::cerr << "ckpt-inspect: " << command << " needs its operands, --to <storage-uri> and --name <savepoint-name>\n";
    return usage();
  }
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
    } else if (edit) {
      auto snapshot = ckpt::CheckpointStorage::open_snapshot(positional[1]);
      ckpt::inspect::edit(*snapshot, target, edit, std::cout);
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
