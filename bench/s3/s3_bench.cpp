// Throughput of S3FileSystem against an S3-compatible server on loopback
// (s3rver, started by bench/s3/run.sh), beside LocalFileSystem on the local
// disk in the same run, printed as a ratio.
//
// Every workload runs on every target: a workload is a name, the bytes one
// iteration moves, an optional setup and the timed body, all against a
// fs::FileSystem. To benchmark checkpoint snapshot/restore once the snapshot
// layer exists, add a Workload whose body takes a snapshot into (or restores
// from) the file system it is given; the targets, the registration and the
// ratio table need no change.
//
//   CKPT_S3_TEST_ENDPOINT=http://127.0.0.1:4568 ckpt_s3_bench [--benchmark_* flags]
#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/s3/file_system.hpp>
#include <ckpt/state/keyed_state_backend.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

constexpr std::size_t mib = std::size_t{1} << 20;

struct Target {
  std::string name;
  std::shared_ptr<ckpt::fs::FileSystem> fs;
};

struct Workload {
  std::string name;
  std::size_t bytes;  // moved per iteration
  std::function<void(ckpt::fs::FileSystem&)> setup;  // once per target, untimed
  std::function<void(ckpt::fs::FileSystem&, benchmark::State&, int iteration)> body;
};

ckpt::Bytes pattern(std::size_t n, std::uint64_t seed) {
  ckpt::Bytes out(n);
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i + 8 <= n; i += 8) {
    const auto v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  return out;
}

const ckpt::Bytes& payload() {
  static const ckpt::Bytes data = pattern(64 * mib, 42);
  return data;
}

/// Writes `files` files of `size` bytes under `dir`, each in `piece`-byte appends.
void write_files(ckpt::fs::FileSystem& fs, const std::string& dir, int files, std::size_t size, std::size_t piece) {
  const auto& data = payload();
  for (int f = 0; f < files; ++f) {
    auto file = fs.create(dir + "/file-" + std::to_string(f));
    const std::size_t base = static_cast<std::size_t>(f) * size % data.size();
    for (std::size_t off = 0; off < size; off += piece) {
      const std::size_t n = std::min(piece, size - off);
      file->append(ckpt::ByteSpan(data).subspan((base + off) % (data.size() - n), n));
    }
    file->commit();
  }
}

/// Keyed state for the checkpoint workloads: 2M keys of barely compressible values.
ckpt::KeyedStateBackend<std::uint64_t>& state() {
  static auto backend = [] {
    auto b = std::make_unique<ckpt::KeyedStateBackend<std::uint64_t>>();
    auto v = b->get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"v"});
    std::mt19937_64 rng(7);
    for (std::uint64_t k = 0; k < 2'000'000; ++k) {
      b->set_current_key(k);
      v.update(rng());
    }
    return b;
  }();
  return *backend;
}
constexpr std::size_t state_bytes = 2'000'000 * 16;

/// One checkpoint storage per target file system, kept for the whole run.
ckpt::CheckpointStorage& storage_on(ckpt::fs::FileSystem& fs) {
  static std::map<ckpt::fs::FileSystem*, std::unique_ptr<ckpt::CheckpointStorage>> storages;
  auto& s = storages[&fs];
  if (!s) s = std::make_unique<ckpt::CheckpointStorage>(std::shared_ptr<ckpt::fs::FileSystem>(&fs, [](auto*) {}));
  return *s;
}

void take_checkpoint(ckpt::fs::FileSystem& fs) {
  auto& storage = storage_on(fs);
  auto pending = storage.begin_checkpoint(storage.next_checkpoint_id(), 0);
  pending->write({"bench", 0, 1, state().begin_snapshot(pending->id()), std::nullopt});
  pending->complete();
}

std::vector<Workload> workloads() {
  std::vector<Workload> w;
  // A full checkpoint of keyed state: serialize, compress, upload, publish the manifest.
  w.push_back({"checkpoint 2M keys", state_bytes, [](ckpt::fs::FileSystem&) { state(); },
               [](ckpt::fs::FileSystem& fs, benchmark::State&, int) { take_checkpoint(fs); }});
  // Restoring it: find the latest, verify, download, decompress, rebuild the maps.
  w.push_back({"restore 2M keys", state_bytes, [](ckpt::fs::FileSystem& fs) { take_checkpoint(fs); },
               [](ckpt::fs::FileSystem& fs, benchmark::State&, int) {
                 auto snapshot = storage_on(fs).restore_latest();
                 ckpt::KeyedStateBackend<std::uint64_t> restored;
                 snapshot->restore("bench", &restored, nullptr);
                 benchmark::DoNotOptimize(restored.max_parallelism());
               }});
  // A checkpoint's data files: 64 MiB in 8 files of 8 MiB, appended 1 MiB at a time.
  w.push_back({"write 8 x 8 MiB", 64 * mib, {}, [](ckpt::fs::FileSystem& fs, benchmark::State& state, int i) {
                 const std::string dir = "write8/iter-" + std::to_string(i);
                 write_files(fs, dir, 8, 8 * mib, mib);
                 state.PauseTiming();
                 fs.remove_all(dir);
                 state.ResumeTiming();
               }});
  // The same bytes as one file: a multipart upload with parallel parts on S3.
  w.push_back({"write 1 x 64 MiB", 64 * mib, {}, [](ckpt::fs::FileSystem& fs, benchmark::State& state, int i) {
                 const std::string dir = "write1/iter-" + std::to_string(i);
                 write_files(fs, dir, 1, 64 * mib, mib);
                 state.PauseTiming();
                 fs.remove_all(dir);
                 state.ResumeTiming();
               }});
  // A restore: every byte of the 8 files, read in 8 MiB ranges.
  w.push_back({"read 8 x 8 MiB", 64 * mib,
               [](ckpt::fs::FileSystem& fs) { write_files(fs, "read8", 8, 8 * mib, 8 * mib); },
               [](ckpt::fs::FileSystem& fs, benchmark::State&, int) {
                 ckpt::Bytes buffer(8 * mib);
                 for (int f = 0; f < 8; ++f) {
                   auto file = fs.open("read8/file-" + std::to_string(f));
                   file->read(0, buffer);
                   benchmark::DoNotOptimize(buffer.data());
                 }
               }});
  // A rescaling restore: 256 scattered 256 KiB ranges (one key group each).
  w.push_back({"read 256 x 256 KiB ranges", 64 * mib,
               [](ckpt::fs::FileSystem& fs) {
                 write_files(fs, "ranges", 1, 64 * mib, 8 * mib);
               },
               [](ckpt::fs::FileSystem& fs, benchmark::State&, int i) {
                 auto file = fs.open("ranges/file-0");
                 ckpt::Bytes buffer(256 * 1024);
                 std::mt19937_64 rng(static_cast<std::uint64_t>(i));
                 for (int r = 0; r < 256; ++r) {
                   const auto slot = rng() % 256;
                   file->read(slot * buffer.size(), buffer);
                   benchmark::DoNotOptimize(buffer.data());
                 }
               }});
  return w;
}

/// Collects each benchmark's real time per iteration, for the ratio table.
class Collector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs)
      if (!r.error_occurred && r.run_type == Run::RT_Iteration)
        seconds[r.benchmark_name()] = r.GetAdjustedRealTime() / 1000.0;  // the unit is ms
  }
  std::map<std::string, double> seconds;
};

std::string make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  auto dir = std::filesystem::path(base && *base ? base : "/tmp") / ("ckpt-s3-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const char* endpoint = std::getenv("CKPT_S3_TEST_ENDPOINT");
  if (!endpoint || !*endpoint) {
    std::fprintf(stderr,
                 "ckpt_s3_bench: CKPT_S3_TEST_ENDPOINT is not set. bench/s3/run.sh starts s3rver on loopback and "
                 "runs this benchmark.\n");
    return 2;
  }
  const auto env = [](const char* n, const char* fallback) {
    const char* v = std::getenv(n);
    return std::string(v && *v ? v : fallback);
  };
  const std::string local_dir = make_temp_dir();
  std::vector<Target> targets;
  targets.push_back({"local", std::make_shared<ckpt::fs::LocalFileSystem>(local_dir)});
  auto options = ckpt::s3::S3Options::custom_endpoint(endpoint)
                     .with_credentials(ckpt::s3::Credentials::make(env("CKPT_S3_TEST_ACCESS_KEY_ID", "S3RVER"),
                                                                   ckpt::s3::Secret(env("CKPT_S3_TEST_SECRET_ACCESS_KEY", "S3RVER"))));
  const std::string root = "s3://" + env("CKPT_S3_TEST_BUCKET", "ckpt-test") + "/bench-" + std::to_string(::getpid());
  targets.push_back({"s3", ckpt::s3::S3FileSystem::make(root, options)});

  const auto all = workloads();
  for (const auto& w : all) {
    for (const auto& t : targets) {
      if (w.setup) w.setup(*t.fs);
      benchmark::RegisterBenchmark((w.name + " | " + t.name).c_str(),
                                   [w, fs = t.fs](benchmark::State& state) {
                                     int i = 0;
                                     for (auto _ : state) w.body(*fs, state, i++);
                                     state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                                                             static_cast<std::int64_t>(w.bytes));
                                   })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime()
          ->MinTime(1.0);
    }
  }
  Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);

  std::printf("\n%-28s %14s %14s %12s\n", "workload", "local MiB/s", "s3 MiB/s", "s3 / local");
  for (const auto& w : all) {
    const auto local = collector.seconds.find(w.name + " | local/min_time:1.000/real_time");
    const auto s3 = collector.seconds.find(w.name + " | s3/min_time:1.000/real_time");
    if (local == collector.seconds.end() || s3 == collector.seconds.end()) continue;
    const double mb = static_cast<double>(w.bytes) / static_cast<double>(mib);
    std::printf("%-28s %14.1f %14.1f %12.3f\n", w.name.c_str(), mb / local->second, mb / s3->second,
                local->second / s3->second);
  }
  for (const auto& t : targets) {
    try {
      for (const auto& e : t.fs->list("")) t.fs->remove_all(e.name);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cleanup of %s: %s\n", t.fs->uri().c_str(), e.what());
    }
  }
  std::filesystem::remove_all(local_dir);
  benchmark::Shutdown();
  return 0;
}
