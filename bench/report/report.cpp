// ckpt_bench_report: measures every performance goal of ckpt beside a baseline
// measured in the same run (a bare boost::unordered_flat_map, std::unordered_map,
// zstd alone on the same serialized bytes, cereal element by element, RocksDB on
// the same keys), prints a table and writes report.json.
//
// Every figure is the median of --runs runs of a ratio whose two sides were
// measured back to back in the same run. See docs/benchmarks.md.

#include "bench_support.hpp"
#include "window_pipeline.hpp"

#include <ckpt/ckpt.hpp>
#include <ckpt/snapshot/state_file_reader.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <boost/unordered/unordered_flat_map.hpp>
#include <cereal/archives/binary.hpp>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#ifdef CKPT_BENCH_ROCKSDB_BACKEND
#include <ckpt/rocksdb/rocksdb_keyed_state_backend.hpp>
#endif

#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdarg>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using namespace ckpt::bench;
using Backend = ckpt::KeyedStateBackend<std::uint64_t>;
namespace fsys = std::filesystem;

// -- options -------------------------------------------------------------------

struct Options {
  std::uint64_t big_keys = 8'000'000;       // P1, P2 (8M side), P4, P6
  std::uint64_t small_keys = 1'000'000;     // P2 (1M side)
  std::uint64_t access_keys = 1'000'000;    // P3 ValueState keys
  std::uint64_t access_map_keys = 250'000;  // P3 MapState keys ...
  std::uint64_t access_map_entries = 8;     // ... with this many entries each
  std::uint64_t access_ops = 2'000'000;     // P3 operations per run and kind
  std::uint64_t rocksdb_ops = 200'000;      // P3 RocksDB operations per run and kind
  std::uint64_t rdb_keys = 1'000'000;       // R: ValueState keys in the RocksDB backend (and MapState keys / 4)
  std::uint64_t rdb_ops = 200'000;          // R: operations per run and kind
  std::uint64_t rdb_restore_keys = 200'000;  // R5: keys of 1 KiB values restored against a file copy
  std::uint64_t rdb_rss_budget_mb = 64;      // R2: memory budget of the larger-than-memory state ...
  std::uint64_t rdb_rss_state_mb = 512;      // ... and its values on disk
  std::uint64_t inc_keys = 4'000'000;       // P5
  std::uint32_t inc_max_parallelism = 1024;
  double inc_fraction = 0.01;
  unsigned inc_chain = 10;
  std::uint64_t e2e_keys = 8'000'000;  // P7
  std::uint64_t issue3_map_keys = 65'536;
  std::uint64_t issue3_map_entries = 64;
  std::uint64_t issue3_value_keys = 4'000'000;
  std::uint64_t window_events = 12'000'000;  // W: events per run of the windowed-count pipeline
  unsigned runs = 5;
  unsigned threads = 0;  // 0: hardware threads
  std::string dir;
  std::string json = "report.json";
  std::set<std::string> only;  // sections to run; empty: all
  std::string child;           // internal: run one section in this process and print its result
  std::vector<std::string> argv;  // as given, for the child

  bool wants(const std::string& s) const { return only.empty() || only.count(s) != 0; }
};

[[noreturn]] void usage(int code) {
  std::printf(
      "usage: ckpt_bench_report [options]\n"
      "  --runs N                 runs per figure, median taken (default 5, at least 5 for the goals)\n"
      "  --threads N              threads for compression and restore (default: hardware threads)\n"
      "  --big-keys N             keys of the large ValueState (P1, P2, P4, P6; default 8000000)\n"
      "  --small-keys N           keys of the small ValueState for P2's ratio (default 1000000)\n"
      "  --access-keys N          ValueState keys for P3 (default 1000000)\n"
      "  --access-map-keys N      MapState keys for P3 (default 250000)\n"
      "  --access-map-entries N   entries per MapState key for P3 (default 8)\n"
      "  --access-ops N           operations per run for P3 (default 2000000)\n"
      "  --rocksdb-ops N          RocksDB operations per run for P3 (default 200000)\n"
      "  --rdb-keys N             R: ValueState keys in the RocksDB backend (default 1000000)\n"
      "  --rdb-ops N              R: operations per run and kind (default 200000)\n"
      "  --rdb-restore-keys N     R5: keys of 1 KiB values, restored against a file copy (default 200000)\n"
      "  --rdb-rss-budget-mb N    R2: memory budget of the RocksDB backend in MiB (default 64)\n"
      "  --rdb-rss-state-mb N     R2: MiB of 1 KiB values on disk, at least 8x the budget (default 512)\n"
      "  --inc-keys N             keys for P5 (default 4000000)\n"
      "  --inc-max-parallelism N  key groups for P5 (default 1024)\n"
      "  --inc-chain N            incremental checkpoints in P5's chain (default 10)\n"
      "  --e2e-keys N             keys for P7 (default 8000000)\n"
      "  --issue3-map-keys N      issue 3: MapState keys (default 65536)\n"
      "  --issue3-map-entries N   issue 3: entries per key (default 64)\n"
      "  --issue3-value-keys N    issue 3: ValueState keys (default 4000000)\n"
      "  --window-events N        W: events per run of the windowed-count pipeline (default 12000000)\n"
      "  --quick                  every size divided by 8 (a smoke run; figures are not the goals')\n"
      "  --only a,b,...           sections: p1 p2 p3 p4 p5 p6 p7 issue3 serial rocksdb windows\n"
      "  --dir PATH               scratch directory (default: a new one under $TMPDIR or /tmp)\n"
      "  --json PATH              where to write report.json (default ./report.json)\n");
  std::exit(code);
}

Options parse(int argc, char** argv) {
  Options o;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    o.argv.push_back(a);
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(2);
      o.argv.push_back(argv[i + 1]);
      return argv[++i];
    };
    const auto num = [&]() { return std::stoull(next()); };
    if (a == "--runs") o.runs = static_cast<unsigned>(num());
    else if (a == "--threads") o.threads = static_cast<unsigned>(num());
    else if (a == "--big-keys") o.big_keys = num();
    else if (a == "--small-keys") o.small_keys = num();
    else if (a == "--access-keys") o.access_keys = num();
    else if (a == "--access-map-keys") o.access_map_keys = num();
    else if (a == "--access-map-entries") o.access_map_entries = num();
    else if (a == "--access-ops") o.access_ops = num();
    else if (a == "--rocksdb-ops") o.rocksdb_ops = num();
    else if (a == "--rdb-keys") o.rdb_keys = num();
    else if (a == "--rdb-ops") o.rdb_ops = num();
    else if (a == "--rdb-restore-keys") o.rdb_restore_keys = num();
    else if (a == "--rdb-rss-budget-mb") o.rdb_rss_budget_mb = num();
    else if (a == "--rdb-rss-state-mb") o.rdb_rss_state_mb = num();
    else if (a == "--inc-keys") o.inc_keys = num();
    else if (a == "--inc-max-parallelism") o.inc_max_parallelism = static_cast<std::uint32_t>(num());
    else if (a == "--inc-chain") o.inc_chain = static_cast<unsigned>(num());
    else if (a == "--e2e-keys") o.e2e_keys = num();
    else if (a == "--issue3-map-keys") o.issue3_map_keys = num();
    else if (a == "--issue3-map-entries") o.issue3_map_entries = num();
    else if (a == "--issue3-value-keys") o.issue3_value_keys = num();
    else if (a == "--window-events") o.window_events = num();
    else if (a == "--quick") quick = true;
    else if (a == "--dir") o.dir = next();
    else if (a == "--json") o.json = next();
    else if (a == "--only") {
      std::stringstream ss(next());
      for (std::string s; std::getline(ss, s, ',');) o.only.insert(s);
    } else if (a == "--child") {
      o.child = next();
      o.argv.pop_back();
      o.argv.pop_back();
    } else if (a == "-h" || a == "--help") usage(0);
    else {
      std::fprintf(stderr, "ckpt_bench_report: unknown option '%s'\n", a.c_str());
      usage(2);
    }
  }
  if (quick) {
    for (auto* n : {&o.big_keys, &o.small_keys, &o.access_keys, &o.access_map_keys, &o.access_ops, &o.rocksdb_ops, &o.rdb_keys, &o.rdb_ops,
                    &o.rdb_restore_keys,
                    &o.inc_keys, &o.e2e_keys, &o.issue3_value_keys, &o.window_events})
      *n = std::max<std::uint64_t>(*n / 8, 1000);
    o.issue3_map_keys = std::max<std::uint64_t>(o.issue3_map_keys / 8, 64);
    o.rdb_rss_budget_mb = std::max<std::uint64_t>(o.rdb_rss_budget_mb / 8, 8);
    o.rdb_rss_state_mb = std::max<std::uint64_t>(o.rdb_rss_state_mb / 8, 8 * o.rdb_rss_budget_mb);
  }
  if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
  if (o.runs == 0) o.runs = 1;
  return o;
}

// -- the report ------------------------------------------------------------------

struct Row {
  std::string id;
  std::string figure;
  std::string goal;
  double value = 0;
  std::string unit;  // "x", "ms"
  int pass = -1;     // 1 pass, 0 fail, -1 information only
};

struct Report {
  std::vector<Row> rows;
  std::vector<std::pair<std::string, double>> json;

  void add(Row r) {
    print(r);
    rows.push_back(std::move(r));
  }
  void field(const std::string& name, double v) { json.emplace_back(name, v); }

  static std::string fmt(double v, const std::string& unit) {
    char buf[64];
    if (unit == "ms") std::snprintf(buf, sizeof buf, v < 0.1 ? "%.5f ms" : "%.3f ms", v);
    else if (unit == "GB/s") std::snprintf(buf, sizeof buf, "%.3f GB/s", v);
    else if (v >= 100) std::snprintf(buf, sizeof buf, "%.0f%s", v, unit.c_str());
    else std::snprintf(buf, sizeof buf, "%.3f%s", v, unit.c_str());
    return buf;
  }
  static void print(const Row& r) {
    std::printf("  %-4s %-78s %-22s %-14s %s\n", r.id.c_str(), r.figure.c_str(), r.goal.c_str(),
                fmt(r.value, r.unit).c_str(), r.pass < 0 ? "" : (r.pass ? "pass" : "FAIL"));
    std::fflush(stdout);
  }
  void print_table() const {
    std::printf("\n%-4s %-78s %-22s %-14s %s\n", "id", "figure (median of runs; ratio to a same-run baseline)",
                "goal", "measured", "");
    std::printf("%s\n", std::string(128, '-').c_str());
    for (const auto& r : rows)
      std::printf("%-4s %-78s %-22s %-14s %s\n", r.id.c_str(), r.figure.c_str(), r.goal.c_str(),
                  fmt(r.value, r.unit).c_str(), r.pass < 0 ? "" : (r.pass ? "pass" : "FAIL"));
  }
  /// The fields of report.json, in this order; those of sections not run are left out.
  static constexpr const char* fields[] = {"snapshot_vs_zstd",           "sync_pause_ms_8m",
                                           "sync_pause_ratio_8m_1m",     "access_vs_flat_map",
                                           "access_during_snapshot_vs_flat_map", "access_vs_rocksdb",
                                           "restore_vs_zstd_decompress", "incremental_bytes_ratio",
                                           "incremental_restore_vs_full", "peak_rss_ratio",
                                           "end_to_end_vs_rocksdb",      "rocksdb_access_vs_raw",
                                           "rocksdb_sync_pause_ratio",   "rocksdb_incremental_upload_ratio",
                                           "rocksdb_restore_vs_copy",    "rocksdb_peak_rss_vs_budget",
                                           "window_pipeline_checkpointed_vs_none", "window_vs_hand_written"};
  void write_json(const std::string& path) const {
    std::vector<std::pair<std::string, double>> out;
    for (const char* name : fields)
      for (const auto& [n, v] : json)
        if (n == name) out.emplace_back(n, v);
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) throw std::runtime_error("cannot write " + path);
    std::fprintf(f, "{\n");
    for (std::size_t i = 0; i < out.size(); ++i)
      std::fprintf(f, "  \"%s\": %.6g%s\n", out[i].first.c_str(), out[i].second, i + 1 < out.size() ? "," : "");
    std::fprintf(f, "}\n");
    std::fclose(f);
  }
};

void section(const char* title) {
  std::printf("\n== %s\n", title);
  std::fflush(stdout);
}
void note(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void note(const char* fmt, ...) {
  std::printf("       ");
  va_list ap;
  va_start(ap, fmt);
  std::vprintf(fmt, ap);
  va_end(ap);
  std::printf("\n");
  std::fflush(stdout);
}

double gbps(std::uint64_t bytes, double s) { return s > 0 ? static_cast<double>(bytes) / s / 1e9 : 0; }

// -- workloads -------------------------------------------------------------------

const ckpt::ValueStateDescriptor<std::uint64_t> value_desc{"v", 0};
const ckpt::MapStateDescriptor<std::uint64_t, std::uint64_t> map_desc{"m"};

void load_values(Backend& b, ckpt::ValueState<std::uint64_t>& v, std::uint64_t n) {
  for (std::uint64_t k = 0; k < n; ++k) {
    b.set_current_key(k);
    v.update(value_of(k));
  }
}

std::vector<ckpt::ByteSpan> spans_of(const ckpt::KeyedStateSnapshot& s, std::uint64_t* raw = nullptr) {
  std::vector<ckpt::ByteSpan> out;
  std::uint64_t total = 0;
  for (const auto& b : s.key_groups) {
    out.emplace_back(b.data);
    total += b.data.size();
  }
  if (raw) *raw = total;
  return out;
}

ckpt::StorageOptions storage_options(const Options& o) {
  return ckpt::StorageOptions::defaults().with_compression_threads(o.threads);
}

/// One durable checkpoint of `b` as operator "op" (native files from a RocksDB
/// backend on incremental storage); returns what was written.
template <class B>
ckpt::ParticipantStats checkpoint(ckpt::CheckpointStorage& storage, B& b, std::uint64_t id) {
  auto pending = storage.begin_checkpoint(id, static_cast<std::int64_t>(id));
  auto stats = pending->write({"op", 0, 1, b.begin_snapshot(id, storage.options().incremental ? ckpt::SnapshotMode::incremental : ckpt::SnapshotMode::full), std::nullopt});
  pending->complete();
  b.notify_snapshot_complete(id);
  return stats;
}

/// The stored (compressed) blocks of the state file(s) of the newest checkpoint.
std::vector<ckpt::Bytes> stored_blocks(const std::string& root) {
  std::vector<ckpt::Bytes> out;
  for (const auto& e : fsys::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() || e.path().extension() != ".state") continue;
    auto fs = std::make_shared<ckpt::fs::LocalFileSystem>(e.path().parent_path().string());
    ckpt::StateFileReader r(fs->open(e.path().filename().string()));
    for (const auto& b : r.index().blocks) {
      ckpt::Bytes s;
      r.read_stored(b, s);
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::uint64_t tree_bytes(const std::string& root) {
  std::uint64_t n = 0;
  for (const auto& e : fsys::recursive_directory_iterator(root))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

// -- RocksDB ---------------------------------------------------------------------

std::string be64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}
std::string be128(std::uint64_t a, std::uint64_t b) { return be64(a) + be64(b); }
std::uint64_t from_le(const std::string& s) {
  std::uint64_t v = 0;
  std::memcpy(&v, s.data(), std::min<std::size_t>(8, s.size()));
  return v;
}
std::string le64(std::uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }

rocksdb::Options rocksdb_options(const Options& o, std::size_t cache_bytes) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.IncreaseParallelism(static_cast<int>(o.threads));
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = rocksdb::NewLRUCache(cache_bytes);
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return opts;
}

void check(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) throw std::runtime_error(std::string("rocksdb ") + what + ": " + s.ToString());
}

// -- P1, P2, P4: the large ValueState ----------------------------------------------

struct Big {
  Backend backend;
  ckpt::ValueState<std::uint64_t> v;
  explicit Big(std::uint64_t n) : v(backend.get_state(value_desc)) { load_values(backend, v, n); }
};

void run_p1_p4(const Options& o, Report& rep, Big& big) {
  section("P1 full checkpoint throughput, P4 restore throughput (large ValueState<u64>)");
  const auto root = o.dir + "/p1";
  // Every checkpoint of the run is retained, so the figure is serialize,
  // compress, write and publish; deleting older checkpoints is measured apart.
  auto storage = ckpt::CheckpointStorage::open(root, storage_options(o).retain(o.runs + 1));
  std::uint64_t raw = 0;
  const auto image = big.backend.snapshot();  // the same serialized bytes, in memory
  const auto blocks = spans_of(image, &raw);
  ZstdAlone zstd(o.threads, 1);
  std::vector<double> ratio, ours_s, zstd_s;
  std::uint64_t compressed = 0;
  for (unsigned r = 0; r < o.runs; ++r) {
    const auto id = storage->next_checkpoint_id();
    ckpt::ParticipantStats stats;
    const double t_ours = time_seconds([&] { stats = checkpoint(*storage, big.backend, id); });
    const double t_zstd = zstd.compress(blocks, nullptr, &compressed);
    if (stats.raw_bytes != raw) throw std::runtime_error("checkpoint raw bytes differ from the in-memory image");
    ours_s.push_back(t_ours);
    zstd_s.push_back(t_zstd);
    ratio.push_back(t_zstd / t_ours);
  }
  note("%" PRIu64 " keys, %.1f MB serialized -> %.1f MB; ckpt %.3f GB/s (serialize+compress+write+fsync), zstd-1 alone %.3f GB/s, %u threads",
       o.big_keys, static_cast<double>(raw) / 1e6, static_cast<double>(compressed) / 1e6, gbps(raw, median(ours_s)),
       gbps(raw, median(zstd_s)), o.threads);
  const double p1 = median(ratio);
  rep.add({"P1", "full checkpoint throughput / zstd-1 alone on the same bytes (" + std::to_string(o.threads) + " threads)",
           ">= 0.8x", p1, "x", p1 >= 0.8});
  rep.field("snapshot_vs_zstd", p1);
  {
    // The same with the default retention of one checkpoint: complete() also
    // deletes the previous checkpoint's files before it returns.
    const auto root1 = o.dir + "/p1-retain1";
    auto retain1 = ckpt::CheckpointStorage::open(root1, storage_options(o));
    checkpoint(*retain1, big.backend, 1);
    std::vector<double> r1;
    for (unsigned r = 0; r < o.runs; ++r) {
      const auto id = retain1->next_checkpoint_id();
      const double t_ours = time_seconds([&] { checkpoint(*retain1, big.backend, id); });
      r1.push_back(zstd.compress(blocks) / t_ours);
    }
    rep.add({"P1", "the same, deleting the previous checkpoint in complete() (retain 1)", "(info)", median(r1), "x", -1});
    retain1.reset();
    fsys::remove_all(root1);
  }

  // P4: restore the newest of those checkpoints.
  const auto frames = stored_blocks(root + "/chk-" + std::to_string(storage->next_checkpoint_id() - 1));
  ZstdAlone unzstd(o.threads, 1);
  ZstdAlone unzstd1(1, 1);
  std::vector<double> r4, r4_single, t4;
  for (unsigned r = 0; r < o.runs; ++r) {
    auto restored = std::make_unique<Backend>();
    (void)restored->get_state(value_desc);
    const double t_ours = time_seconds([&] {
      auto reader = storage->restore_latest();
      reader->restore("op", restored.get(), nullptr);
    });
    if (restored->size("v") != o.big_keys) throw std::runtime_error("restore lost keys");
    restored.reset();
    const double t_zstd = unzstd.decompress(frames);
    const double t_zstd1 = unzstd1.decompress(frames);
    t4.push_back(t_ours);
    r4.push_back(t_zstd / t_ours);
    r4_single.push_back(t_zstd1 / t_ours);
  }
  note("restore %.3f GB/s of state (read, verify, decompress, rebuild)", gbps(raw, median(t4)));
  const double p4 = median(r4);
  rep.add({"P4", "restore throughput / zstd decompressing the same bytes (" + std::to_string(o.threads) + " threads each)",
           ">= 0.5x", p4, "x", p4 >= 0.5});
  rep.add({"P4", "restore throughput / zstd decompressing the same bytes on 1 thread", "(info)",
           median(r4_single), "x", -1});
  rep.field("restore_vs_zstd_decompress", p4);
}

void run_p2(const Options& o, Report& rep, Big& big) {
  section("P2 synchronous pause of the owner when a checkpoint starts");
  Backend small;
  auto sv = small.get_state(value_desc);
  load_values(small, sv, o.small_keys);
  std::vector<double> p_big, p_small, cow;
  const unsigned marks = std::max(51u, o.runs);
  std::uint64_t id = 1'000'000;
  for (unsigned i = 0; i < marks; ++i) {
    for (Backend* b : {&big.backend, &small}) {
      ++id;
      std::unique_ptr<ckpt::KeyedSnapshotJob> job;
      const double t = time_seconds([&] { job = b->begin_snapshot(id); });
      (b == &small ? p_small : p_big).push_back(t * 1e3);
      if (b == &big.backend && i < 9) {
        // The first write after the mark copies its key group (copy-on-write).
        const std::uint64_t k = splitmix64(i) % o.big_keys;
        cow.push_back(1e3 * time_seconds([&] {
                        big.backend.set_current_key(k);
                        big.v.update(big.v.value() + 1);
                      }));
      }
      job.reset();
      b->notify_snapshot_aborted(id);
    }
  }
  const double pb = median(p_big), ps = median(p_small);
  note("begin_snapshot(): %.2f us at %" PRIu64 " keys, %.2f us at %" PRIu64 " keys (median of %u marks each)", pb * 1e3,
       o.big_keys, ps * 1e3, o.small_keys, marks);
  rep.add({"P2", "owner pause at begin_snapshot(), " + std::to_string(o.big_keys) + " keys", "<= 1 ms", pb, "ms", pb <= 1.0});
  rep.add({"P2", "pause(" + std::to_string(o.big_keys) + " keys) / pause(" + std::to_string(o.small_keys) + " keys)",
           "<= 2", pb / ps, "x", pb / ps <= 2.0});
  rep.add({"P2", "first write after the mark: copies one key group (" + std::to_string(o.big_keys / 128) + " keys)",
           "(info)", median(cow), "ms", -1});
  rep.field("sync_pause_ms_8m", pb);
  rep.field("sync_pause_ratio_8m_1m", pb / ps);
}

// -- P3: state access --------------------------------------------------------------

struct Access {
  const Options& o;
  std::vector<std::uint64_t> vkeys, mkeys, ukeys;
  Backend backend;
  ckpt::KeyedValueState<std::uint64_t, std::uint64_t> v;  // what get_state() returns
  ckpt::ValueState<std::uint64_t> v_erased;                // the same state through the key-erased handle
  ckpt::MapState<std::uint64_t, std::uint64_t> m;
  boost::unordered_flat_map<std::uint64_t, std::uint64_t> flat_v;
  boost::unordered_flat_map<std::uint64_t, boost::unordered_flat_map<std::uint64_t, std::uint64_t>> flat_m;
  std::unordered_map<std::uint64_t, std::uint64_t> std_v;
  // Floors of the design: bare flat maps, one per key group, chosen by the stable hash.
  std::vector<boost::unordered_flat_map<std::uint64_t, std::uint64_t>> part_v;
  std::unordered_map<std::uint64_t, std::unordered_map<std::uint64_t, std::uint64_t>> std_m;
  std::uint64_t sink = 0;

  explicit Access(const Options& opt)
      : o(opt),
        vkeys(random_keys(opt.access_ops, opt.access_keys, 1)),
        mkeys(random_keys(opt.access_ops, opt.access_map_keys, 2)),
        ukeys(random_keys(opt.access_ops, opt.access_map_entries, 3)),
        v(backend.get_state(value_desc)),
        v_erased(v),
        m(backend.get_map_state(map_desc)) {
    load_values(backend, v, o.access_keys);
    part_v.resize(ckpt::default_max_parallelism);
    for (std::uint64_t k = 0; k < o.access_keys; ++k) part_v[backend.key_group_of(k)].emplace(k, value_of(k));
    flat_v.reserve(o.access_keys);
    std_v.reserve(o.access_keys);
    for (std::uint64_t k = 0; k < o.access_keys; ++k) {
      flat_v.emplace(k, value_of(k));
      std_v.emplace(k, value_of(k));
    }
    for (std::uint64_t k = 0; k < o.access_map_keys; ++k) {
      backend.set_current_key(k);
      for (std::uint64_t e = 0; e < o.access_map_entries; ++e) {
        m.put(e, value_of(k + e));
        flat_m[k][e] = value_of(k + e);
        std_m[k][e] = value_of(k + e);
      }
    }
  }

  // One operation of each kind: read the current value, write it back plus one.
  void ours_value(std::size_t i) {
    backend.set_current_key(vkeys[i]);
    v.update(v.value() + 1);
  }
  void ours_value_erased(std::size_t i) {
    backend.set_current_key(vkeys[i]);
    v_erased.update(v_erased.value() + 1);
  }
  void ours_map(std::size_t i) {
    backend.set_current_key(mkeys[i]);
    m.put(ukeys[i], m.get(ukeys[i]).value_or(0) + 1);
  }
  template <class M>
  static void bare_value(M& map, std::uint64_t k) {
    const auto it = map.find(k);
    const std::uint64_t x = it == map.end() ? 0 : it->second;
    map.insert_or_assign(k, x + 1);
  }
  template <class M>
  static void bare_map(M& map, std::uint64_t k, std::uint64_t uk) {
    std::uint64_t x = 0;
    if (const auto it = map.find(k); it != map.end())
      if (const auto e = it->second.find(uk); e != it->second.end()) x = e->second;
    map[k].insert_or_assign(uk, x + 1);
  }
  void flat_value(std::size_t i) { bare_value(flat_v, vkeys[i]); }
  void part_value(std::size_t i) {
    const auto k = vkeys[i];
    bare_value(part_v[ckpt::stable_key_hash(k) % ckpt::default_max_parallelism], k);
  }
  // ckpt's own access pattern on those maps: one lookup, then a write through it.
  void part_value_once(std::size_t i) {
    const auto k = vkeys[i];
    auto& map = part_v[ckpt::stable_key_hash(k) % ckpt::default_max_parallelism];
    if (const auto it = map.find(k); it != map.end())
      it->second += 1;
    else
      map.emplace(k, 1);
  }
  void flat_map(std::size_t i) { bare_map(flat_m, mkeys[i], ukeys[i]); }
  void std_value(std::size_t i) { bare_value(std_v, vkeys[i]); }
  void std_map(std::size_t i) { bare_map(std_m, mkeys[i], ukeys[i]); }

  template <class F>
  double per_op(std::size_t n, F&& f) {
    return time_seconds([&] {
             for (std::size_t i = 0; i < n; ++i) f(i);
           }) /
           static_cast<double>(n);
  }
  // The same after an untimed pass: each variant finds its own data in the
  // caches. Timed cold, whichever runs right after another variant pays for
  // evicting that one's data (up to 1.3x either way on this machine).
  template <class F>
  double warm_per_op(std::size_t n, F&& f) {
    for (std::size_t i = 0; i < n; ++i) f(i);
    return per_op(n, f);
  }
};

struct RocksAccess {
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::WriteOptions wo;
  rocksdb::ReadOptions ro;

  RocksAccess(const Options& o, const std::string& path) {
    auto opts = rocksdb_options(o, std::size_t{1} << 30);
    rocksdb::DB* raw = nullptr;
    check(rocksdb::DB::Open(opts, path, &raw), "open");
    db.reset(raw);
    wo.disableWAL = true;  // as Flink's RocksDB backend: checkpoints make it durable
    rocksdb::WriteBatch batch;
    const auto flush_batch = [&] {
      check(db->Write(wo, &batch), "write");
      batch.Clear();
    };
    for (std::uint64_t k = 0; k < o.access_keys; ++k) {
      batch.Put(be64(k), le64(value_of(k)));
      if (batch.Count() >= 10000) flush_batch();
    }
    for (std::uint64_t k = 0; k < o.access_map_keys; ++k)
      for (std::uint64_t e = 0; e < o.access_map_entries; ++e) {
        batch.Put(be128(k | (std::uint64_t{1} << 63), e), le64(value_of(k + e)));
        if (batch.Count() >= 10000) flush_batch();
      }
    flush_batch();
    check(db->Flush(rocksdb::FlushOptions()), "flush");
    check(db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr), "compact");
  }
  void value_op(std::uint64_t k) {
    const auto key = be64(k);
    std::string val;
    const auto s = db->Get(ro, key, &val);
    const std::uint64_t x = s.ok() ? from_le(val) : 0;
    check(db->Put(wo, key, le64(x + 1)), "put");
  }
  void map_op(std::uint64_t k, std::uint64_t uk) {
    const auto key = be128(k | (std::uint64_t{1} << 63), uk);
    std::string val;
    const auto s = db->Get(ro, key, &val);
    const std::uint64_t x = s.ok() ? from_le(val) : 0;
    check(db->Put(wo, key, le64(x + 1)), "put");
  }
};

void run_p3(const Options& o, Report& rep) {
  section("P3 state access: ValueState value()+update(), MapState get()+put()");
  Access a(o);
  const auto n = o.access_ops;
  std::vector<double> rv, rev, rm, sv, sm, pv, p1v, fv_ns, ov_ns, fm_ns, om_ns;
  for (unsigned r = 0; r < o.runs; ++r) {
    const double fv = a.warm_per_op(n, [&](std::size_t i) { a.flat_value(i); });
    const double ov = a.warm_per_op(n, [&](std::size_t i) { a.ours_value(i); });
    rev.push_back(a.warm_per_op(n, [&](std::size_t i) { a.ours_value_erased(i); }) / fv);
    const double stv = a.warm_per_op(n, [&](std::size_t i) { a.std_value(i); });
    const double ptv = a.warm_per_op(n, [&](std::size_t i) { a.part_value(i); });
    pv.push_back(ptv / fv);
    p1v.push_back(a.warm_per_op(n, [&](std::size_t i) { a.part_value_once(i); }) / fv);
    const double fm = a.warm_per_op(n, [&](std::size_t i) { a.flat_map(i); });
    const double om = a.warm_per_op(n, [&](std::size_t i) { a.ours_map(i); });
    const double stm = a.warm_per_op(n, [&](std::size_t i) { a.std_map(i); });
    rv.push_back(ov / fv);
    rm.push_back(om / fm);
    sv.push_back(stv / fv);
    sm.push_back(stm / fm);
    fv_ns.push_back(fv * 1e9);
    ov_ns.push_back(ov * 1e9);
    fm_ns.push_back(fm * 1e9);
    om_ns.push_back(om * 1e9);
  }
  note("ns/op: ValueState ckpt %.1f, flat map %.1f; MapState ckpt %.1f, flat map %.1f (%" PRIu64 " random ops over %" PRIu64
       " / %" PRIu64 " keys)",
       median(ov_ns), median(fv_ns), median(om_ns), median(fm_ns), n, o.access_keys, o.access_map_keys);
  const double p3v = median(rv), p3m = median(rm), p3 = std::max(p3v, p3m);
  rep.add({"P3", "ValueState value()+update() time / bare boost::unordered_flat_map", "<= 1.2x", p3v, "x", p3v <= 1.2});
  rep.add({"P3", "the same through a ValueState<T> (key-erased handle, a virtual call per access) / flat map", "(info)",
           median(rev), "x", -1});
  rep.add({"P3", "MapState get()+put() time / bare flat map of flat maps", "<= 1.2x", p3m, "x", p3m <= 1.2});
  rep.add({"P3", "bare flat maps, one per key group picked by XXH3, two lookups per operation / one flat map", "(info)",
           median(pv), "x", -1});
  rep.add({"P3", "the same maps found once per operation, as ckpt does (its floor) / one flat map", "(info)",
           median(p1v), "x", -1});
  rep.add({"P3", "std::unordered_map time / bare flat map (value)", "(info)", median(sv), "x", -1});
  rep.add({"P3", "std::unordered_map of unordered_maps time / bare flat map of flat maps", "(info)", median(sm), "x", -1});
  rep.field("access_vs_flat_map", p3);

  // While a checkpoint of the same backend is being written by other threads.
  {
    const auto root = o.dir + "/p3";
    auto storage = ckpt::CheckpointStorage::open(root, storage_options(o));
    constexpr std::size_t batch = 256;
    std::vector<double> run_ratio_v, run_ratio_m, p99v, p99m;
    std::size_t cursor = 0, batches_total = 0;
    const auto wrap = [&](std::size_t i) { return i % n; };
    for (unsigned r = 0; r < o.runs; ++r) {
      // Quiet baseline for this run: bare flat map, same batches.
      std::vector<double> qv, qm, dv, dm;
      for (int b = 0; b < 400; ++b) {
        const auto base = cursor;
        cursor += batch;
        qv.push_back(a.per_op(batch, [&](std::size_t i) { a.flat_value(wrap(base + i)); }));
        qm.push_back(a.per_op(batch, [&](std::size_t i) { a.flat_map(wrap(base + i)); }));
      }
      const auto id = storage->next_checkpoint_id();
      auto pending = storage->begin_checkpoint(id, 1);
      auto job = a.backend.begin_snapshot(id);
      std::atomic<bool> done{false};
      std::thread writer([&] {
        pending->write({"op", 0, 1, std::move(job), std::nullopt});
        pending->complete();
        done.store(true);
      });
      while (!done.load(std::memory_order_relaxed)) {
        const auto base = cursor;
        cursor += batch;
        dv.push_back(a.per_op(batch, [&](std::size_t i) { a.ours_value(wrap(base + i)); }));
        dm.push_back(a.per_op(batch, [&](std::size_t i) { a.ours_map(wrap(base + i)); }));
      }
      writer.join();
      a.backend.notify_snapshot_complete(id);
      batches_total += dv.size();
      run_ratio_v.push_back(median(dv) / median(qv));
      run_ratio_m.push_back(median(dm) / median(qm));
      p99v.push_back(percentile(dv, 0.99) / median(qv));
      p99m.push_back(percentile(dm, 0.99) / median(qm));
    }
    const double dv = median(run_ratio_v), dm = median(run_ratio_m), d = std::max(dv, dm);
    note("%zu batches of %zu ops of each kind timed during %u checkpoints (%u compression threads)", batches_total, batch,
         o.runs, o.threads);
    rep.add({"P3", "during a checkpoint: median ValueState batch / quiet flat map batch", "<= 2x", dv, "x", dv <= 2.0});
    rep.add({"P3", "during a checkpoint: median MapState batch / quiet flat map batch", "<= 2x", dm, "x", dm <= 2.0});
    rep.add({"P3", "during a checkpoint: 99th percentile ValueState batch / quiet flat map", "(info)", median(p99v), "x", -1});
    rep.add({"P3", "during a checkpoint: 99th percentile MapState batch / quiet flat map", "(info)", median(p99m), "x", -1});
    rep.field("access_during_snapshot_vs_flat_map", d);
  }

  // RocksDB on the same keys and operations.
  {
    const auto path = o.dir + "/p3-rocksdb";
    RocksAccess db(o, path);
    const auto rn = std::min<std::uint64_t>(o.rocksdb_ops, n);
    std::vector<double> xv, xm;
    for (unsigned r = 0; r < o.runs; ++r) {
      const double dbv = a.per_op(rn, [&](std::size_t i) { db.value_op(a.vkeys[i]); });
      const double ov = a.per_op(n, [&](std::size_t i) { a.ours_value(i); });
      const double dbm = a.per_op(rn, [&](std::size_t i) { db.map_op(a.mkeys[i], a.ukeys[i]); });
      const double om = a.per_op(n, [&](std::size_t i) { a.ours_map(i); });
      xv.push_back(dbv / ov);
      xm.push_back(dbm / om);
    }
    const double x = std::min(median(xv), median(xm));
    rep.add({"P3", "RocksDB Get+Put time / ckpt ValueState (times faster)", ">= 20x", median(xv), "x", median(xv) >= 20});
    rep.add({"P3", "RocksDB Get+Put time / ckpt MapState (times faster)", ">= 20x", median(xm), "x", median(xm) >= 20});
    rep.field("access_vs_rocksdb", x);
    db.db.reset();
    fsys::remove_all(path);
  }
}

// -- P5: incremental checkpoints ---------------------------------------------------

void run_p5(const Options& o, Report& rep) {
  section("P5 incremental checkpoints");
  ckpt::KeyedStateBackendOptions bo;
  bo.max_parallelism = o.inc_max_parallelism;
  Backend b(bo);
  auto v = b.get_state(value_desc);
  load_values(b, v, o.inc_keys);
  std::vector<std::vector<std::uint64_t>> keys_of(o.inc_max_parallelism);
  for (std::uint64_t k = 0; k < o.inc_keys; ++k) keys_of[b.key_group_of(k)].push_back(k);

  const auto root = o.dir + "/p5";
  auto storage = ckpt::CheckpointStorage::open(
      root, ckpt::StorageOptions::incremental_checkpoints(o.inc_chain + 2).with_compression_threads(o.threads));
  std::uint64_t id = 1;
  checkpoint(*storage, b, id);
  const auto changed_count =
      std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(o.inc_fraction * o.inc_max_parallelism)));
  ZstdAlone zstd(1, 1);
  std::vector<double> bytes_ratio;
  const unsigned chain = std::max(o.inc_chain, o.runs);
  for (unsigned c = 0; c < chain; ++c) {
    std::set<std::uint32_t> changed;
    for (std::uint64_t i = 0; changed.size() < changed_count; ++i)
      changed.insert(static_cast<std::uint32_t>(splitmix64(c * 7919 + i) % o.inc_max_parallelism));
    for (const auto kg : changed)
      for (const auto k : keys_of[kg]) {
        b.set_current_key(k);
        v.update(v.value() + 1);
      }
    const auto before = tree_bytes(root);
    const auto stats = checkpoint(*storage, b, ++id);
    const auto written = tree_bytes(root) - before;
    if (stats.key_groups_written != changed.size())
      throw std::runtime_error("incremental checkpoint wrote " + std::to_string(stats.key_groups_written) +
                               " key groups, " + std::to_string(changed.size()) + " changed");
    // Baseline: the changed key groups' serialized bytes, compressed by zstd-1 alone.
    std::uint64_t compressed = 0;
    for (const auto kg : changed) {
      const auto snap = b.snapshot(ckpt::KeyGroupRange{kg, kg + 1});
      std::uint64_t n = 0;
      zstd.compress(spans_of(snap), nullptr, &n);
      compressed += n;
    }
    bytes_ratio.push_back(static_cast<double>(written) / static_cast<double>(compressed));
  }
  const double p5 = median(bytes_ratio);
  note("%zu of %u key groups changed per checkpoint, %u incremental checkpoints", changed_count, o.inc_max_parallelism,
       chain);
  rep.add({"P5", "bytes written by an incremental checkpoint / zstd-1 size of the changed key groups", "<= 1.3x", p5,
           "x", p5 <= 1.3});
  rep.field("incremental_bytes_ratio", p5);

  // Restore from the chain versus from one full checkpoint of the same state.
  const auto full_root = o.dir + "/p5-full";
  auto full = ckpt::CheckpointStorage::open(full_root, storage_options(o));
  checkpoint(*full, b, 1);
  std::vector<double> ratio;
  for (unsigned r = 0; r < o.runs; ++r) {
    double t[2];
    for (int which = 0; which < 2; ++which) {
      auto restored = std::make_unique<Backend>(bo);
      (void)restored->get_state(value_desc);
      auto& s = which == 0 ? *storage : *full;
      t[which] = time_seconds([&] {
        auto reader = s.restore_latest();
        reader->restore("op", restored.get(), nullptr);
      });
      if (restored->size("v") != o.inc_keys) throw std::runtime_error("restore lost keys");
    }
    ratio.push_back(t[0] / t[1]);
  }
  const double p5r = median(ratio);
  rep.add({"P5", "restore from a chain of " + std::to_string(chain) + " incremental checkpoints / full restore",
           "<= 1.5x", p5r, "x", p5r <= 1.5});
  rep.field("incremental_restore_vs_full", p5r);
}

// -- P6: peak memory (in a child process) ------------------------------------------

/// Runs in a fresh process: `ckpt_bench_report --child p6 ...`.
int child_p6(const Options& o) {
  Big big(o.big_keys);
  auto storage = ckpt::CheckpointStorage::open(o.dir + "/p6", storage_options(o));
  const auto keys = random_keys(1 << 22, o.big_keys, 6);
  std::vector<double> busy, idle;
  std::size_t cursor = 0;
  for (unsigned r = 0; r < o.runs; ++r) {
    for (int owner_writes = 1; owner_writes >= 0; --owner_writes) {
      const auto before = resident_bytes();
      if (!reset_peak_resident()) throw std::runtime_error("cannot reset VmHWM");
      const auto id = storage->next_checkpoint_id();
      auto pending = storage->begin_checkpoint(id, 1);
      auto job = big.backend.begin_snapshot(id);
      std::atomic<bool> done{false};
      std::thread writer([&] {
        pending->write({"op", 0, 1, std::move(job), std::nullopt});
        pending->complete();
        done.store(true);
      });
      // The owner goes on updating random keys at full speed (or waits).
      while (owner_writes && !done.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 1024; ++i) {
          big.backend.set_current_key(keys[cursor++ % keys.size()]);
          big.v.update(big.v.value() + 1);
        }
      }
      writer.join();
      big.backend.notify_snapshot_complete(id);
      const auto peak = peak_resident_bytes();
      (owner_writes ? busy : idle).push_back(static_cast<double>(peak) / static_cast<double>(before));
    }
  }
  std::printf("RESULT %.6f %.6f %.1f\n", median(busy), median(idle), static_cast<double>(resident_bytes()) / 1e6);
  return 0;
}

void run_p6(const Options& o, Report& rep, const char* self) {
  section("P6 peak resident memory during a checkpoint (child process)");
  std::string cmd = std::string(self) + " --child p6";
  for (const auto& a : o.argv) cmd += " '" + a + "'";
  if (std::find(o.argv.begin(), o.argv.end(), "--dir") == o.argv.end()) cmd += " --dir '" + o.dir + "'";
  if (std::find(o.argv.begin(), o.argv.end(), "--threads") == o.argv.end())
    cmd += " --threads " + std::to_string(o.threads);
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("cannot start the P6 child");
  char line[512];
  double busy = 0, idle = 0, rss = 0;
  bool got = false;
  while (std::fgets(line, sizeof line, p))
    if (std::sscanf(line, "RESULT %lf %lf %lf", &busy, &idle, &rss) == 3) got = true;
  if (::pclose(p) != 0 || !got) throw std::runtime_error("the P6 child failed");
  note("%" PRIu64 " keys, steady resident size %.0f MB", o.big_keys, rss);
  rep.add({"P6", "peak RSS during a checkpoint / RSS before it (owner updating random keys)", "<= 1.2x", busy, "x",
           busy <= 1.2});
  rep.add({"P6", "peak RSS during a checkpoint / RSS before it (owner idle)", "(info)", idle, "x", -1});
  rep.field("peak_rss_ratio", busy);
}

// -- P7: end to end against RocksDB -----------------------------------------------

void run_p7(const Options& o, Report& rep) {
  section("P7 end to end: load, durable checkpoint, restore, read every key; against RocksDB");
  const auto n = o.e2e_keys;
  std::vector<double> ratio, ours_s, rocks_s;
  for (unsigned r = 0; r < o.runs; ++r) {
    const auto root = o.dir + "/p7-" + std::to_string(r);
    // ckpt
    std::unique_ptr<Backend> b, b2;
    std::uint64_t sum_ours = 0;
    const double t_ours = time_seconds([&] {
      b = std::make_unique<Backend>();
      auto v = b->get_state(value_desc);
      load_values(*b, v, n);
      auto storage = ckpt::CheckpointStorage::open(root + "/ckpt", storage_options(o));
      checkpoint(*storage, *b, 1);
      b2 = std::make_unique<Backend>();
      auto v2 = b2->get_state(value_desc);
      storage->restore_latest()->restore("op", b2.get(), nullptr);
      for (std::uint64_t k = 0; k < n; ++k) {
        b2->set_current_key(k);
        sum_ours += v2.value();
      }
    });
    b.reset();
    b2.reset();
    // RocksDB
    std::unique_ptr<rocksdb::DB> db, db2;
    std::uint64_t sum_rocks = 0, count = 0;
    const double t_rocks = time_seconds([&] {
      auto opts = rocksdb_options(o, std::size_t{1} << 30);
      rocksdb::DB* raw = nullptr;
      check(rocksdb::DB::Open(opts, root + "/rocksdb", &raw), "open");
      db.reset(raw);
      rocksdb::WriteOptions wo;
      wo.disableWAL = true;  // the checkpoint makes it durable, as in Flink
      for (std::uint64_t k = 0; k < n; ++k) check(db->Put(wo, be64(k), le64(value_of(k))), "put");
      rocksdb::Checkpoint* cp = nullptr;
      check(rocksdb::Checkpoint::Create(db.get(), &cp), "checkpoint");
      std::unique_ptr<rocksdb::Checkpoint> cpp(cp);
      check(cp->CreateCheckpoint(root + "/rocksdb-checkpoint"), "create checkpoint");
      raw = nullptr;
      check(rocksdb::DB::Open(opts, root + "/rocksdb-checkpoint", &raw), "reopen");
      db2.reset(raw);
      std::unique_ptr<rocksdb::Iterator> it(db2->NewIterator(rocksdb::ReadOptions()));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        sum_rocks += from_le(it->value().ToString());
        ++count;
      }
      check(it->status(), "scan");
    });
    db.reset();
    db2.reset();
    if (count != n || sum_rocks != sum_ours) throw std::runtime_error("P7: the two sides read different data");
    fsys::remove_all(root);
    ours_s.push_back(t_ours);
    rocks_s.push_back(t_rocks);
    ratio.push_back(t_ours / t_rocks);
  }
  note("%" PRIu64 " keys: ckpt %.2f s, RocksDB %.2f s (medians)", n, median(ours_s), median(rocks_s));
  const double p7 = median(ratio);
  rep.add({"P7", "load+checkpoint+restore+read-all time / RocksDB put-all+CreateCheckpoint+reopen+scan", "<= 0.333x",
           p7, "x", p7 <= 1.0 / 3.0});
  rep.field("end_to_end_vs_rocksdb", p7);
}

// -- issue 3: snapshot and restore of 4M entries -----------------------------------

void snapshot_and_restore(const Options& o, Report& rep, Backend& b, const std::string& what,
                          const std::function<std::unique_ptr<Backend>()>& fresh, std::uint64_t entries) {
  const auto root = o.dir + "/issue3-" + what;
  auto storage = ckpt::CheckpointStorage::open(root, storage_options(o).retain(o.runs + 1));
  std::uint64_t raw = 0;
  const auto image = b.snapshot();
  const auto blocks = spans_of(image, &raw);
  ZstdAlone zstd(o.threads, 1);
  std::vector<double> snap_ratio, restore_ratio, snap_s, restore_s;
  for (unsigned r = 0; r < o.runs; ++r) {
    const auto id = storage->next_checkpoint_id();
    const double t_snap = time_seconds([&] { checkpoint(*storage, b, id); });
    const double t_zstd = zstd.compress(blocks);
    const auto frames = stored_blocks(root + "/chk-" + std::to_string(id));
    auto restored = fresh();
    const double t_restore = time_seconds([&] { storage->restore_latest()->restore("op", restored.get(), nullptr); });
    restored.reset();
    const double t_unzstd = zstd.decompress(frames);
    snap_ratio.push_back(t_zstd / t_snap);
    restore_ratio.push_back(t_unzstd / t_restore);
    snap_s.push_back(t_snap);
    restore_s.push_back(t_restore);
  }
  note("%s: %" PRIu64 " entries, %.1f MB serialized; snapshot %.3f GB/s, restore %.3f GB/s", what.c_str(), entries,
       static_cast<double>(raw) / 1e6, gbps(raw, median(snap_s)), gbps(raw, median(restore_s)));
  const auto th = std::to_string(o.threads);
  rep.add({"I3", what + ": snapshot to disk / zstd-1 alone (" + th + " threads)", ">= 0.5x", median(snap_ratio), "x",
           median(snap_ratio) >= 0.5});
  rep.add({"I3", what + ": restore from disk / zstd decompress alone (" + th + " threads)", ">= 0.5x",
           median(restore_ratio), "x", median(restore_ratio) >= 0.5});
}

void run_issue3(const Options& o, Report& rep) {
  section("Issue 3: full snapshot and restore of 4M entries, beside zstd-1 on the same bytes");
  {
    auto b = std::make_unique<Backend>();
    auto m = b->get_map_state(map_desc);
    for (std::uint64_t k = 0; k < o.issue3_map_keys; ++k) {
      b->set_current_key(k);
      for (std::uint64_t e = 0; e < o.issue3_map_entries; ++e) m.put(k * o.issue3_map_entries + e, value_of(k + e));
    }
    snapshot_and_restore(
        o, rep, *b, "MapState<u64,u64> " + std::to_string(o.issue3_map_keys) + "x" + std::to_string(o.issue3_map_entries),
        [] {
          auto r = std::make_unique<Backend>();
          (void)r->get_map_state(map_desc);
          return r;
        },
        o.issue3_map_keys * o.issue3_map_entries);
  }
  {
    auto b = std::make_unique<Backend>();
    auto v = b->get_state(value_desc);
    load_values(*b, v, o.issue3_value_keys);
    snapshot_and_restore(
        o, rep, *b, "ValueState<u64> " + std::to_string(o.issue3_value_keys) + " keys",
        [] {
          auto r = std::make_unique<Backend>();
          (void)r->get_state(value_desc);
          return r;
        },
        o.issue3_value_keys);
  }
}

// -- serialization against cereal element by element ---------------------------------

/// A stream buffer appending to a reused byte vector (what cereal writes to).
class VectorBuf : public std::streambuf {
 public:
  explicit VectorBuf(ckpt::Bytes& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    const auto* p = reinterpret_cast<const std::byte*>(s);
    out_.insert(out_.end(), p, p + n);
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) out_.push_back(static_cast<std::byte>(c));
    return c;
  }

 private:
  ckpt::Bytes& out_;
};

void run_serial(const Options& o, Report& rep) {
  section("Serialization in memory: ckpt's columns against cereal element by element (reused buffers)");
  const auto n = o.issue3_value_keys;
  Backend b;
  auto v = b.get_state(value_desc);
  load_values(b, v, n);
  // The same entries in bare maps, split by key group as ckpt writes them.
  std::vector<boost::unordered_flat_map<std::uint64_t, std::uint64_t>> flat(128);
  std::vector<std::unordered_map<std::uint64_t, std::uint64_t>> node(128);
  for (std::uint64_t k = 0; k < n; ++k) {
    flat[b.key_group_of(k)].emplace(k, value_of(k));
    node[b.key_group_of(k)].emplace(k, value_of(k));
  }
  ckpt::Bytes buf;
  const auto cereal_walk = [&](const auto& maps) {
    std::uint64_t bytes = 0;
    for (const auto& map : maps) {
      buf.clear();
      VectorBuf sb(buf);
      std::ostream os(&sb);
      {
        cereal::BinaryOutputArchive ar(os);
        for (const auto& [k, val] : map) ar(k, val);
      }
      bytes += buf.size();
    }
    return bytes;
  };
  std::vector<double> vs_flat, vs_node, ours_gbps;
  for (unsigned r = 0; r < o.runs; ++r) {
    std::uint64_t raw = 0;
    const double t_ours = time_seconds([&] {
      auto job = b.begin_snapshot();  // the writer's path: one key group at a time into one buffer
      for (std::uint32_t kg = 0; kg < 128; ++kg) {
        job->save(kg, buf);
        raw += buf.size();
      }
    });
    const double t_flat = time_seconds([&] { cereal_walk(flat); });
    const double t_node = time_seconds([&] { cereal_walk(node); });
    vs_flat.push_back(t_flat / t_ours);
    vs_node.push_back(t_node / t_ours);
    ours_gbps.push_back(gbps(raw, t_ours));
  }
  note("ckpt serializes %" PRIu64 " ValueState<u64> entries at %.2f GB/s", n, median(ours_gbps));
  rep.add({"S", "cereal element by element over flat maps / ckpt's key-group serialization (times faster)", "(info)",
           median(vs_flat), "x", -1});
  rep.add({"S", "cereal element by element over std::unordered_maps / ckpt's key-group serialization", "(info)",
           median(vs_node), "x", -1});
}

// -- W: event-time windows in a pipeline (issue 20) ---------------------------------

void run_windows(const Options& o, Report& rep) {
  section("W event-time windows: a keyed tumbling-window count pipeline (issue 20)");
  namespace w = ckpt::bench::windows;
  w::Config c;
  c.events = o.window_events;
  note("%" PRIu64 " events over %" PRIu64 " keys, tumbling %" PRId64 " ms event-time windows (%" PRIu64
       " events per ms of event time), parallelism 2",
       c.events, c.keys, c.window_ms, c.events_per_ms);
  // Events per second of wall time (the figures) and per second of the
  // process's CPU time (extra rows: on a shared machine other processes move
  // wall time far more than CPU time).
  struct Rate {
    double wall, cpu;
    std::uint64_t checkpoints;
  };
  const auto throughput = [&](std::optional<std::chrono::milliseconds> every, bool hand_written) {
    const auto t = w::run(c, every, hand_written, o.dir);
    return Rate{static_cast<double>(c.events) / t.wall, static_cast<double>(c.events) / t.cpu, t.checkpoints};
  };
  std::vector<double> none, checkpointed, hand, ratio_ckpt, ratio_hand, cpu_ckpt, cpu_hand;
  for (unsigned r = 0; r < o.runs; ++r) {  // alternate, so drift on a shared machine hits all three
    const auto n = throughput(std::nullopt, false);
    const auto k = throughput(std::chrono::milliseconds(1000), false);
    const auto h = throughput(std::nullopt, true);
    none.push_back(n.wall);
    checkpointed.push_back(k.wall);
    hand.push_back(h.wall);
    ratio_ckpt.push_back(k.wall / n.wall);
    ratio_hand.push_back(n.wall / h.wall);
    cpu_ckpt.push_back(k.cpu / n.cpu);
    cpu_hand.push_back(n.cpu / h.cpu);
    note("run %u: window operator %.2f M events/s without checkpoints, %.2f with 1 s checkpoints (%" PRIu64
         " completed, the final one included); by hand %.2f (per CPU second: %.2f, %.2f, %.2f)",
         r + 1, n.wall / 1e6, k.wall / 1e6, k.checkpoints, h.wall / 1e6, n.cpu / 1e6, k.cpu / 1e6, h.cpu / 1e6);
  }
  note("medians: window operator %.2f M events/s (baseline of W1), with 1 s checkpoints %.2f, by hand %.2f (baseline of W2)",
       median(none) / 1e6, median(checkpointed) / 1e6, median(hand) / 1e6);
  const double w1 = median(ratio_ckpt), w2 = median(ratio_hand);
  rep.add({"W1", "window pipeline throughput with 1 s checkpoints / without checkpoints", ">= 0.9", w1, "x", w1 >= 0.9});
  rep.add({"W1", "the same per CPU second of the process", "(info)", median(cpu_ckpt), "x", -1});
  rep.add({"W2", "window operator throughput / the same count by hand (KeyedProcessFunction, timers, MapState)",
           ">= 0.8", w2, "x", w2 >= 0.8});
  rep.add({"W2", "the same per CPU second of the process", "(info)", median(cpu_hand), "x", -1});
  rep.field("window_pipeline_checkpointed_vs_none", w1);
  rep.field("window_vs_hand_written", w2);
}

#ifdef CKPT_BENCH_ROCKSDB_BACKEND
// -- R: the RocksDB keyed state backend (issue 16) ----------------------------------

// The same database as the backend's, driven by hand: the same options (profile,
// budget, table options, merge operator: RocksDBOptions and make_options()),
// one column family per state, the same key and value bytes, keys encoded
// before timing. What the backend adds to it is what R1 measures.
struct RawRocks {
  ckpt::rocksdb::RocksDBOptions options;
  ckpt::rocksdb::SharedResources shared;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;  // default, "v", "m"
  rocksdb::WriteOptions wo;
  rocksdb::ReadOptions ro;

  explicit RawRocks(ckpt::rocksdb::RocksDBOptions o)
      : options(std::move(o)), shared(ckpt::rocksdb::SharedResources::for_budget(options)) {
    rocksdb::DBOptions dbo;
    rocksdb::ColumnFamilyOptions cfo;
    ckpt::rocksdb::make_options(options, shared, dbo, cfo);
    dbo.create_if_missing = true;
    dbo.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> d{
        {rocksdb::kDefaultColumnFamilyName, cfo}, {"v", cfo}, {"m", cfo}};
    rocksdb::DB* raw = nullptr;
    check(rocksdb::DB::Open(dbo, (options.working_directory / "db").string(), d, &cfs, &raw), "open");
    db.reset(raw);
    wo.disableWAL = true;  // as the backend: checkpoints make it durable
  }
  ~RawRocks() {
    for (auto* h : cfs) db->DestroyColumnFamilyHandle(h);
  }
  static std::string value_bytes(std::uint64_t v) {
    std::string out;
    ckpt::rocksdb::append_serialized(out, v);
    return out;
  }
  static std::uint64_t decode(const std::string& s) {
    return ckpt::serial::decode<std::uint64_t>(ckpt::ByteSpan{reinterpret_cast<const std::byte*>(s.data()), s.size()});
  }
  void op(rocksdb::ColumnFamilyHandle* cf, const std::string& key) {
    std::string val;
    const auto st = db->Get(ro, cf, key, &val);
    const std::uint64_t x = st.ok() ? decode(val) : 0;
    check(db->Put(wo, cf, key, value_bytes(x + 1)), "put");
  }
};

using RBackend = ckpt::rocksdb::RocksDBKeyedStateBackend<std::uint64_t>;
const ckpt::ValueStateDescriptor<std::string> blob_desc{"b", std::string{}};

/// 1 KiB of pseudo-random bytes for key k in round r: values that do not
/// compress, so the state's size on disk is what R2 and R5 ask for.
void fill_blob(std::string& s, std::uint64_t k, std::uint64_t r) {
  s.resize(1024);
  std::uint64_t x = splitmix64(k * 0x9E3779B97F4A7C15ULL + r);
  for (std::size_t i = 0; i < s.size(); i += 8) {
    x = splitmix64(x);
    std::memcpy(s.data() + i, &x, 8);
  }
}
void load_blobs(RBackend& backend, ckpt::ValueState<std::string>& b, std::uint64_t n) {
  std::string val;
  for (std::uint64_t k = 0; k < n; ++k) {
    backend.set_current_key(k);
    fill_blob(val, k, 0);
    b.update(val);
  }
}
std::uint64_t sst_bytes(const std::string& dir) {
  std::uint64_t n = 0;
  for (const auto& e : fsys::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".sst") n += e.file_size();
  return n;
}

/// R2 in a fresh process (`ckpt_bench_report --child r2 ...`), so no other
/// section's memory is in its VmHWM: a state of --rdb-rss-state-mb MiB of
/// 1 KiB values under a --rdb-rss-budget-mb budget, then per run random
/// read-modify-writes and a native checkpoint. Prints the peaks.
int child_r2(const Options& o) {
  constexpr std::uint32_t maxp = ckpt::default_max_parallelism;
  const std::size_t budget = static_cast<std::size_t>(o.rdb_rss_budget_mb) << 20;
  const auto floor = resident_bytes();  // the program itself, before RocksDB
  const auto dir = o.dir + "/r2", root = o.dir + "/r2-storage";
  fsys::create_directories(dir);
  fsys::create_directories(root);
  auto storage = ckpt::CheckpointStorage::open("file://" + root, ckpt::StorageOptions::incremental_checkpoints(2));
  const std::uint64_t nk = (o.rdb_rss_state_mb << 20) / 1024;
  std::vector<double> peaks;
  std::uint64_t load_peak = 0, on_disk = 0;
  {
    RBackend backend(ckpt::rocksdb::RocksDBOptions::in(dir).with_memory_budget(budget),
                     ckpt::KeyGroupRange::all(maxp), maxp);
    auto b = backend.get_state(blob_desc);
    load_blobs(backend, b, nk);
    load_peak = peak_resident_bytes();
    on_disk = sst_bytes(dir + "/db");
    std::string val;
    std::uint64_t x = 0x5eed;
    for (unsigned r = 0; r < o.runs; ++r) {
      if (!reset_peak_resident()) throw std::runtime_error("cannot reset VmHWM");
      for (std::uint64_t i = 0; i < o.rdb_ops / 2; ++i) {
        const auto k = (x = splitmix64(x)) % nk;
        backend.set_current_key(k);
        const auto cur = b.value();  // a read: fills the block cache
        fill_blob(val, k, r + 1);
        val[0] = cur.empty() ? '\0' : cur[0];
        b.update(val);
      }
      checkpoint(*storage, backend, storage->next_checkpoint_id());
      peaks.push_back(static_cast<double>(peak_resident_bytes()));
    }
    // Where the memory is, after the last run (MiB).
    auto& db = backend.instance();
    std::uint64_t readers = 0;
    db.db().GetAggregatedIntProperty(::rocksdb::DB::Properties::kEstimateTableReadersMem, &readers);
    const auto mib = [](std::uint64_t b) { return static_cast<double>(b) / 1048576; };
    std::printf("WHERE rss %.1f (anon %.1f, file %.1f); block cache %.1f (pinned %.1f), memtables %.1f, table readers "
                "%.1f\n",
                mib(resident_bytes()), mib(proc_status_bytes("RssAnon")), mib(proc_status_bytes("RssFile")),
                mib(db.shared().cache->GetUsage()), mib(db.shared().cache->GetPinnedUsage()),
                mib(db.shared().write_buffer_manager->memory_usage()), mib(readers));
  }
  std::printf("RESULT %.0f %.0f %.0f %.0f %.0f\n", median(peaks), static_cast<double>(load_peak),
              static_cast<double>(on_disk), static_cast<double>(floor), static_cast<double>(budget));
  return 0;
}

void run_rocksdb_backend(const Options& o, Report& rep, const char* self) {
  section("R RocksDB keyed state backend: access against raw RocksDB, the snapshot mark against state size, "
          "what incremental checkpoints upload");
  constexpr std::uint32_t maxp = ckpt::default_max_parallelism;
  const std::size_t budget = std::size_t{256} << 20;
  const auto options_in = [&](const std::string& name) {
    const auto dir = o.dir + "/r-" + name;
    fsys::create_directories(dir);
    return ckpt::rocksdb::RocksDBOptions::in(dir).with_memory_budget(budget);
  };
  const std::uint64_t nv = o.rdb_keys, nm = std::max<std::uint64_t>(o.rdb_keys / 4, 1), entries = 8;
  const auto n = o.rdb_ops;
  const auto vkeys = random_keys(n, nv, 11), mkeys = random_keys(n, nm, 12), ukeys = random_keys(n, entries, 13);
  const auto map_key = [](std::uint64_t k) { return k | (std::uint64_t{1} << 63); };

  // R1: ValueState and MapState get+put, through ckpt and raw, same keys.
  {
    RBackend backend(options_in("backend"), ckpt::KeyGroupRange::all(maxp), maxp);
    auto v = backend.get_state(value_desc);
    auto m = backend.get_map_state(map_desc);
    RawRocks raw(options_in("raw"));
    {
      rocksdb::WriteBatch batch;
      const auto flush = [&] {
        check(raw.db->Write(raw.wo, &batch), "write");
        batch.Clear();
      };
      for (std::uint64_t k = 0; k < nv; ++k) {
        backend.set_current_key(k);
        v.update(value_of(k));
        batch.Put(raw.cfs[1], ckpt::rocksdb::state_key(ckpt::key_group_for(k, maxp), k), RawRocks::value_bytes(value_of(k)));
        if (batch.Count() >= 10000) flush();
      }
      for (std::uint64_t k = 0; k < nm; ++k) {
        backend.set_current_key(map_key(k));
        for (std::uint64_t e = 0; e < entries; ++e) {
          m.put(e, value_of(k + e));
          batch.Put(raw.cfs[2], ckpt::rocksdb::map_entry_key(ckpt::key_group_for(map_key(k), maxp), map_key(k), e),
                    RawRocks::value_bytes(value_of(k + e)));
          if (batch.Count() >= 10000) flush();
        }
      }
      flush();
    }
    std::vector<std::string> raw_vkeys, raw_mkeys;
    raw_vkeys.reserve(n);
    raw_mkeys.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      raw_vkeys.push_back(ckpt::rocksdb::state_key(ckpt::key_group_for(vkeys[i], maxp), vkeys[i]));
      const auto mk = map_key(mkeys[i]);
      raw_mkeys.push_back(ckpt::rocksdb::map_entry_key(ckpt::key_group_for(mk, maxp), mk, ukeys[i]));
    }
    const auto ours_value = [&](std::size_t i) {
      backend.set_current_key(vkeys[i]);
      v.update(v.value() + 1);
    };
    const auto ours_map = [&](std::size_t i) {
      backend.set_current_key(map_key(mkeys[i]));
      m.put(ukeys[i], m.get(ukeys[i]).value_or(0) + 1);
    };
    const auto raw_value = [&](std::size_t i) { raw.op(raw.cfs[1], raw_vkeys[i]); };
    const auto raw_map = [&](std::size_t i) { raw.op(raw.cfs[2], raw_mkeys[i]); };
    // Per batch of 256 operations, so a 99th percentile can be read as well.
    constexpr std::size_t batch = 256;
    const auto batches = [&](auto&& f) {
      std::vector<double> t;
      for (std::size_t b = 0; b + batch <= n; b += batch)
        t.push_back(time_seconds([&] {
          for (std::size_t i = b; i < b + batch; ++i) f(i);
        }));
      return t;
    };
    std::vector<double> rv, rm, pv, pm, ov_ns, rv_ns, om_ns, rm_ns;
    for (unsigned r = 0; r < o.runs; ++r) {
      // Each side warm (an untimed pass), then timed; the pairs back to back.
      batches(raw_value);
      const auto tr = batches(raw_value);
      batches(ours_value);
      const auto to = batches(ours_value);
      batches(raw_map);
      const auto trm = batches(raw_map);
      batches(ours_map);
      const auto tom = batches(ours_map);
      const auto sum = [](const std::vector<double>& t) {
        double s = 0;
        for (double x : t) s += x;
        return s;
      };
      rv.push_back(sum(to) / sum(tr));
      rm.push_back(sum(tom) / sum(trm));
      pv.push_back(percentile(to, 0.99) / percentile(tr, 0.99));
      pm.push_back(percentile(tom, 0.99) / percentile(trm, 0.99));
      const double per = 1e9 / static_cast<double>(batch * to.size());
      ov_ns.push_back(sum(to) * per);
      rv_ns.push_back(sum(tr) * per);
      om_ns.push_back(sum(tom) * per);
      rm_ns.push_back(sum(trm) * per);
    }
    note("ns/op: ValueState ckpt %.0f, raw %.0f; MapState ckpt %.0f, raw %.0f (%" PRIu64 " random ops over %" PRIu64
         " value keys and %" PRIu64 " x %" PRIu64 " map entries; %zu MiB budget: cache-resident)",
         median(ov_ns), median(rv_ns), median(om_ns), median(rm_ns), n, nv, nm, entries, budget >> 20);
    const double r1v = median(rv), r1m = median(rm), r1 = std::max(r1v, r1m);
    rep.add({"R1", "RocksDB backend ValueState value()+update() / raw Get+Put, same keys and options", "<= 1.3x", r1v,
             "x", r1v <= 1.3});
    rep.add({"R1", "RocksDB backend MapState get()+put() / raw Get+Put, same keys and options", "<= 1.3x", r1m, "x",
             r1m <= 1.3});
    rep.add({"R1", "99th percentile batch of 256, ValueState / raw", "(info)", median(pv), "x", -1});
    rep.add({"R1", "99th percentile batch of 256, MapState / raw", "(info)", median(pm), "x", -1});
    rep.field("rocksdb_access_vs_raw", r1);
  }
  fsys::remove_all(o.dir + "/r-backend");
  fsys::remove_all(o.dir + "/r-raw");

  // R4: the owner's pause at begin_snapshot() with 4x the state / with 1x.
  // The backend's snapshots are canonical (full) today: the mark is one
  // RocksDB snapshot, whatever the size. (The issue's figure is for native
  // incremental checkpoints, whose mark flushes the memtables: not built yet.)
  {
    std::vector<double> pauses[2];
    const std::uint64_t sizes[2] = {std::max<std::uint64_t>(nv / 4, 1), nv};
    for (int which = 0; which < 2; ++which) {
      RBackend backend(options_in("mark" + std::to_string(which)), ckpt::KeyGroupRange::all(maxp), maxp);
      auto v = backend.get_state(value_desc);
      for (std::uint64_t k = 0; k < sizes[which]; ++k) {
        backend.set_current_key(k);
        v.update(value_of(k));
      }
      for (unsigned r = 0; r < std::max(o.runs, 5u) * 4; ++r) {
        std::unique_ptr<ckpt::KeyedSnapshotJob> job;
        pauses[which].push_back(time_seconds([&] { job = backend.begin_snapshot(r + 1); }) * 1e3);
        job.reset();
        backend.notify_snapshot_aborted(r + 1);
      }
    }
    const double p1 = median(pauses[0]), p4 = median(pauses[1]);
    note("begin_snapshot(): %" PRIu64 " keys %.4f ms, %" PRIu64 " keys %.4f ms (medians; 99th percentiles %.4f, %.4f ms)",
         sizes[0], p1, sizes[1], p4, percentile(pauses[0], 0.99), percentile(pauses[1], 0.99));
    rep.add({"R4", "owner pause at begin_snapshot(), 4x the state / 1x (canonical snapshots)", "<= 1.5x", p4 / p1, "x",
             p4 / p1 <= 1.5});
    rep.field("rocksdb_sync_pause_ratio", p4 / p1);
  }
  fsys::remove_all(o.dir + "/r-mark0");
  fsys::remove_all(o.dir + "/r-mark1");

  // R3: what a native incremental checkpoint uploads / the bytes of the SST
  // files new since the previous checkpoint (the rest is MANIFEST, OPTIONS,
  // CURRENT): 1% of the keys updated between checkpoints.
  {
    const auto root = o.dir + "/r-incremental-storage";
    fsys::create_directories(root);
    auto storage = ckpt::CheckpointStorage::open("file://" + root, ckpt::StorageOptions::incremental_checkpoints(2));
    RBackend backend(options_in("incremental"), ckpt::KeyGroupRange::all(maxp), maxp);
    auto v = backend.get_state(value_desc);
    for (std::uint64_t k = 0; k < nv; ++k) {
      backend.set_current_key(k);
      v.update(value_of(k));
    }
    std::vector<double> ratios;
    std::map<std::string, std::uint64_t> previous;  // SST name -> size in the previous checkpoint
    std::uint64_t uploaded_total = 0, own_total = 0, new_sst_total = 0;
    const auto keys = random_keys(std::max<std::uint64_t>(nv / 100, 1), nv, 14);
    for (unsigned r = 0; r <= std::max(o.runs, 5u); ++r) {
      if (r > 0)
        for (const auto k : keys) {
          backend.set_current_key((k + r) % nv);
          v.update(value_of(k + r));
        }
      const auto id = storage->next_checkpoint_id();
      const auto stats = checkpoint(*storage, backend, id);
      const auto manifest = storage->open_checkpoint(id)->manifest();
      std::map<std::string, std::uint64_t> now;
      std::uint64_t new_sst_bytes = 0;
      std::uint64_t own_bytes = 0;
      for (const auto& f : manifest.native.at(0).files) {
        if (!f.shared) {
          own_bytes += f.stored_bytes();
          continue;
        }
        now[f.name] = f.size;
        if (!previous.count(f.name)) new_sst_bytes += f.size;
      }
      if (r > 0 && new_sst_bytes > 0) {
        ratios.push_back(static_cast<double>(stats.native_bytes_uploaded) / static_cast<double>(new_sst_bytes));
        uploaded_total += stats.native_bytes_uploaded;
        own_total += own_bytes;
        new_sst_total += new_sst_bytes;
      }
      previous = std::move(now);
    }
    if (!ratios.empty()) {
      const auto per = [&](std::uint64_t total) { return static_cast<double>(total) / 1e3 / static_cast<double>(ratios.size()); };
      note("incremental checkpoints of %" PRIu64 " updated keys: %zu after the first, per checkpoint %.1f kB uploaded: "
           "%.1f kB new SSTs, %.1f kB MANIFEST+OPTIONS+CURRENT (zstd); ratios %.4f..%.4f",
           static_cast<std::uint64_t>(keys.size()), ratios.size(), per(uploaded_total), per(new_sst_total), per(own_total),
           *std::min_element(ratios.begin(), ratios.end()), *std::max_element(ratios.begin(), ratios.end()));
      const double r3 = median(ratios);
      rep.add({"R3", "native incremental checkpoint: bytes uploaded / bytes of new SST files", "<= 1.05x", r3, "x",
               r3 <= 1.05});
      rep.field("rocksdb_incremental_upload_ratio", r3);
    }
  }
  fsys::remove_all(o.dir + "/r-incremental");
  fsys::remove_all(o.dir + "/r-incremental-storage");

  // R5: restoring a native checkpoint at the same parallelism / copying its
  // files from the same storage through the same FileSystem, on one thread
  // as the restore fetches them (read, write a local file; no checksum).
  {
    const auto root = o.dir + "/r-restore-storage";
    fsys::create_directories(root);
    auto storage = ckpt::CheckpointStorage::open("file://" + root, ckpt::StorageOptions::incremental_checkpoints(2));
    const auto nk = o.rdb_restore_keys;
    {
      RBackend backend(options_in("restore-source"), ckpt::KeyGroupRange::all(maxp), maxp);
      auto b = backend.get_state(blob_desc);
      load_blobs(backend, b, nk);
      checkpoint(*storage, backend, storage->next_checkpoint_id());
    }
    fsys::remove_all(o.dir + "/r-restore-source");
    const auto cp = storage->restore_latest();
    const auto& files = cp->manifest().native.at(0).files;
    std::uint64_t stored = 0;
    for (const auto& f : files) stored += f.stored_bytes();
    auto& fs = storage->file_system();
    const auto copy_all = [&](const std::string& to) {
      fsys::create_directories(to);
      ckpt::Bytes chunk;
      for (const auto& f : files) {
        auto in = fs.open(ckpt::detail::native_path(f, cp->directory()));
        std::ofstream out(to + "/" + f.name, std::ios::binary | std::ios::trunc);
        for (std::uint64_t at = 0; at < in->size(); at += chunk.size()) {
          chunk.resize(static_cast<std::size_t>(std::min<std::uint64_t>(in->size() - at, ckpt::detail::native_copy_chunk)));
          in->read(at, chunk);
          out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
        }
        out.close();
        if (!out) throw std::runtime_error("R5: cannot write " + to + "/" + f.name);
      }
    };
    copy_all(o.dir + "/r-copy");  // warm: both sides read the storage from the page cache
    fsys::remove_all(o.dir + "/r-copy");
    std::vector<double> ratio, ms_restore, ms_copy;
    std::string want;
    for (unsigned r = 0; r < o.runs; ++r) {
      const double tc = time_seconds([&] { copy_all(o.dir + "/r-copy"); });
      fsys::remove_all(o.dir + "/r-copy");
      double tr = 0;
      {
        RBackend backend(options_in("restored"), ckpt::KeyGroupRange::all(maxp), maxp);
        tr = time_seconds([&] { storage->restore_latest()->restore("op", &backend, nullptr); });
        auto b = backend.get_state(blob_desc);  // declared after the restore, as tasks and services do
        for (const std::uint64_t k : {std::uint64_t{0}, nk / 2, nk - 1}) {
          backend.set_current_key(k);
          fill_blob(want, k, 0);
          if (b.value() != want) throw std::runtime_error("R5: the restore lost key " + std::to_string(k));
        }
      }
      fsys::remove_all(o.dir + "/r-restored");
      ratio.push_back(tr / tc);
      ms_restore.push_back(tr * 1e3);
      ms_copy.push_back(tc * 1e3);
    }
    note("native checkpoint of %" PRIu64 " keys x 1 KiB: %zu files, %.1f MB stored; restore %.0f ms, copy %.0f ms "
         "(medians)",
         nk, files.size(), static_cast<double>(stored) / 1e6, median(ms_restore), median(ms_copy));
    const double r5 = median(ratio);
    rep.add({"R5", "restore of a native checkpoint, same parallelism / copying its files (file://, 1 thread)",
             "<= 1.5x", r5, "x", r5 <= 1.5});
    rep.field("rocksdb_restore_vs_copy", r5);
  }
  fsys::remove_all(o.dir + "/r-restore-storage");

  // R2: peak RSS / the memory budget, with a state 8x the budget on disk (child process).
  {
    std::string cmd = std::string(self) + " --child r2";
    for (const auto& a : o.argv) cmd += " '" + a + "'";
    if (std::find(o.argv.begin(), o.argv.end(), "--dir") == o.argv.end()) cmd += " --dir '" + o.dir + "'";
    std::FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) throw std::runtime_error("cannot start the R2 child");
    char line[512];
    double peak = 0, load_peak = 0, on_disk = 0, floor = 0, budget_b = 0;
    bool got = false;
    std::string where;
    while (std::fgets(line, sizeof line, p)) {
      if (std::sscanf(line, "RESULT %lf %lf %lf %lf %lf", &peak, &load_peak, &on_disk, &floor, &budget_b) == 5) got = true;
      if (std::strncmp(line, "WHERE ", 6) == 0) where.assign(line + 6, std::strcspn(line + 6, "\n"));
    }
    if (::pclose(p) != 0 || !got) throw std::runtime_error("the R2 child failed");
    fsys::remove_all(o.dir + "/r2");
    fsys::remove_all(o.dir + "/r2-storage");
    note("%.0f MiB budget, %.0f MiB of SST files (%.1fx the budget); peak RSS %.0f MiB during updates + checkpoint "
         "(median), %.0f MiB while loading; the program alone %.0f MiB",
         budget_b / 1048576, on_disk / 1048576, on_disk / budget_b, peak / 1048576, load_peak / 1048576,
         floor / 1048576);
    note("at the end, MiB: %s", where.c_str());
    const double r2 = peak / budget_b;
    rep.add({"R2", "peak RSS, random updates + native checkpoint, state >= 8x budget / the budget", "<= 1.5x", r2, "x",
             r2 <= 1.5});
    rep.add({"R2", "peak RSS while loading the state / the budget", "(info)", load_peak / budget_b, "x", -1});
    rep.field("rocksdb_peak_rss_vs_budget", r2);
  }
}
#endif

}  // namespace

int main(int argc, char** argv) {
  try {
    auto o = parse(argc, argv);
    const bool own_dir = o.dir.empty();
    if (own_dir) {
      const char* tmp = std::getenv("TMPDIR");
      std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/ckpt-bench-XXXXXX";
      if (!::mkdtemp(templ.data())) throw std::runtime_error("cannot create a scratch directory");
      o.dir = templ;
    }
    fsys::create_directories(o.dir);
    if (o.child == "p6") return child_p6(o);
#ifdef CKPT_BENCH_ROCKSDB_BACKEND
    if (o.child == "r2") return child_r2(o);
#endif
    if (!o.child.empty()) throw std::runtime_error("unknown child " + o.child);

    std::printf("ckpt benchmark report: %u runs per figure, %u threads, scratch %s\n", o.runs, o.threads, o.dir.c_str());
    Report rep;
    const auto t0 = Clock::now();
    if (o.wants("p1") || o.wants("p2") || o.wants("p4")) {
      Big big(o.big_keys);
      if (o.wants("p2")) run_p2(o, rep, big);
      if (o.wants("p1") || o.wants("p4")) run_p1_p4(o, rep, big);
    }
    if (o.wants("p3")) run_p3(o, rep);
    if (o.wants("p5")) run_p5(o, rep);
    if (o.wants("p6")) run_p6(o, rep, argv[0]);
    if (o.wants("p7")) run_p7(o, rep);
    if (o.wants("issue3")) run_issue3(o, rep);
    if (o.wants("serial")) run_serial(o, rep);
    if (o.wants("windows")) run_windows(o, rep);
#ifdef CKPT_BENCH_ROCKSDB_BACKEND
    if (o.wants("rocksdb")) run_rocksdb_backend(o, rep, argv[0]);
#endif
    rep.print_table();
    std::printf("\n%.0f s in all\n", seconds_since(t0));
    rep.write_json(o.json);
    if (own_dir) fsys::remove_all(o.dir);
    std::printf("%s\n", fsys::absolute(o.json).string().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ckpt_bench_report: %s\n", e.what());
    return 1;
  }
}
