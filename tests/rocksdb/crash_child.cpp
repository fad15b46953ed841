// The child process of the RocksDB crash test: checkpoints a RocksDB backend
// natively (incremental storage, retain(2)) in a loop, as a service would,
// until it is SIGKILLed, reporting on fd CKPT_REPORT_FD.
//
//   ckpt_rocksdb_crash_child <storage directory> <working directory>
//
// It first restores the latest checkpoint and checks it: in checkpoint n
// every key's "count" is n and every tenth key's "history" ends with n.
// Report lines: "restored <id>", "complete <id>", "error <what>".
// Exit codes: 3 the restored state is not what its id implies, 4 a ckpt::Error.

#include <ckpt/rocksdb/rocksdb_keyed_state_backend.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <unistd.h>

namespace {

int report_fd = -1;

void report(const std::string& line) {
  const std::string text = line + "\n";
  std::size_t done = 0;
  while (report_fd >= 0 && done < text.size()) {
    const auto n = ::write(report_fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

constexpr std::uint32_t max_parallelism = 128;
constexpr std::uint64_t keys = 400;

}  // namespace

int main(int argc, char** argv) {
  if (const char* fd = std::getenv("CKPT_REPORT_FD")) report_fd = std::atoi(fd);
  if (argc != 3) return 2;
  try {
    auto storage = ckpt::CheckpointStorage::open(std::string("file://") + argv[1],
                                                 ckpt::StorageOptions::incremental_checkpoints(2));
    ckpt::rocksdb::RocksDBKeyedStateBackend<std::uint64_t> rocks(
        ckpt::rocksdb::RocksDBOptions::in(argv[2]).with_memory_budget(std::size_t{8} << 20),
        ckpt::KeyGroupRange::all(max_parallelism), max_parallelism);
    auto count = rocks.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0});
    auto history = rocks.get_list_state(ckpt::ListStateDescriptor<std::int64_t>{"history"});
    if (auto reader = storage->restore_latest()) {
      reader->restore("op", &rocks, nullptr);
      const auto id = static_cast<std::int64_t>(reader->checkpoint_id());
      for (std::uint64_t k = 0; k < keys; ++k) {
        rocks.set_current_key(k);
        const auto list = history.get();
        if (count.value() != id || (k % 10 == 0 && (list.empty() || list.back() != id))) {
          report("error key " + std::to_string(k) + " does not hold checkpoint " + std::to_string(id));
          return 3;
        }
      }
      report("restored " + std::to_string(id));
    }
    for (;;) {
      const auto id = storage->next_checkpoint_id();
      for (std::uint64_t k = 0; k < keys; ++k) {
        rocks.set_current_key(k);
        count.update(static_cast<std::int64_t>(id));
        if (k % 10 == 0) history.add(static_cast<std::int64_t>(id));
      }
      auto pending = storage->begin_checkpoint(id, static_cast<std::int64_t>(id));
      pending->write({"op", 0, 1, rocks.begin_snapshot(id, ckpt::SnapshotMode::incremental), std::nullopt});
      pending->complete();
      rocks.notify_snapshot_complete(id);
      report("complete " + std::to_string(id));
    }
  } catch (const ckpt::Error& e) {
    report(std::string("error ") + e.what());
    return 4;
  }
}
