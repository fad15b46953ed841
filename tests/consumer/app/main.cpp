// A program that uses an installed or vendored ckpt: keyed state, a snapshot
// through bytes, and a restore.
#include <ckpt/ckpt.hpp>
#include <ckpt/serial/archive.hpp>

#include <cstdio>
#include <string>

int main() {
  ckpt::KeyedStateBackend<std::string> backend;
  auto seen = backend.get_state(ckpt::ValueStateDescriptor<int>{"seen", 0});
  for (const char* user : {"ann", "bob", "ann"}) {
    backend.set_current_key(user);
    seen.update(seen.value() + 1);
  }
  const ckpt::Bytes bytes = ckpt::serial::encode(backend.snapshot());

  ckpt::KeyedStateBackend<std::string> restored;
  restored.restore(ckpt::serial::decode<ckpt::KeyedStateSnapshot>(bytes));
  auto again = restored.get_state(ckpt::ValueStateDescriptor<int>{"seen", 0});
  restored.set_current_key("ann");
  if (again.value() != 2) return 1;
  std::printf("consumer OK: ckpt %s\n", ckpt::version_string);
  return 0;
}
