// Per-user click counts in keyed state, snapshotted, restored at a higher
// parallelism (every key lands on exactly one new subtask), and checked.
#include <ckpt/ckpt.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

int main() {
  ckpt::KeyedStateBackend<std::string> backend;
  auto clicks = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"clicks", 0});
  auto pages = backend.get_list_state(ckpt::ListStateDescriptor<std::string>{"pages"});
  const std::vector<std::pair<std::string, std::string>> events{
      {"ann", "/home"}, {"bob", "/cart"}, {"ann", "/pay"}, {"cy", "/home"}, {"bob", "/pay"}, {"ann", "/bye"}};
  for (const auto& [user, page] : events) {
    backend.set_current_key(user);
    clicks.update(clicks.value() + 1);
    pages.add(page);
  }
  const auto snapshot = backend.snapshot();
  std::printf("snapshot: %zu key groups, %zu states\n", snapshot.key_groups.size(), snapshot.states.size());

  // Restore at parallelism 2: each subtask reads only its key groups.
  std::int64_t total = 0;
  for (std::uint32_t i = 0; i < 2; ++i) {
    ckpt::KeyedStateBackend<std::string> sub(ckpt::KeyedStateBackendOptions::for_subtask(i, 2));
    sub.restore(snapshot);
    auto c = sub.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"clicks", 0});
    auto p = sub.get_list_state(ckpt::ListStateDescriptor<std::string>{"pages"});
    for (const auto& user : sub.keys("clicks")) {
      sub.set_current_key(user);
      std::printf("subtask %u (key groups %s): %s clicked %lld times, last page %s\n", i,
                  sub.key_groups().to_string().c_str(), user.c_str(), static_cast<long long>(c.value()),
                  p.get().back().c_str());
      total += c.value();
    }
  }
  const bool ok = total == static_cast<std::int64_t>(events.size());
  std::printf("%s: %lld clicks restored of %zu\n", ok ? "OK" : "FAILED", static_cast<long long>(total), events.size());
  return ok ? 0 : 1;
}
