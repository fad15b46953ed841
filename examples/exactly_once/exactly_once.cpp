// The exactly-once demo: a partitioned log on local disk, read by a
// replayable source, aggregated per key (a running count, or with --windows a
// count per key and event-time window), written by a transactional file sink,
// checkpointed every few hundred milliseconds. The pipeline runs in a child
// process that is killed with SIGKILL at random moments and restarted from the
// latest checkpoint each time; at the end the committed output is compared
// with a failure-free computation of the same input.
//
//   exactly_once_demo [--events N] [--kills K] [--interval-ms MS] [--parallelism P]
//                     [--rate EVENTS_PER_S] [--rescale] [--dir DIR] [--seed S]
//                     [--backend heap|rocksdb] [--windows | --broadcast | --join]
//
// --windows: every event has an event time (out of order by up to 50 ms
// within its partition); watermarks trail it by that bound, per partition
// (WatermarkStrategy::for_bounded_out_of_orderness), and a tumbling
// event-time window of 500 ms counts and sums per key. The check: each
// (key, window) result committed exactly once with the failure-free values;
// the end of the input's final watermark fires the last windows.
//
// --broadcast: a second partitioned log of rules, broadcast to every subtask
// of the keyed operator (Flink's broadcast-state pattern). A rule says "events
// of key class c at partition offsets [from, until) weigh m"; a class's rules
// arrive in offset order, the last one open-ended. A
// KeyedBroadcastProcessFunction keeps the rules as broadcast state and per key
// a count, a weighted sum and the events whose rule has not arrived yet
// (keyed list state, flushed through apply_to_keyed_state() when it does), so
// each event's weight is its own offset's rule whatever the interleaving of
// the two inputs. The check: each event committed exactly once with its
// failure-free weight, and per key the final count and weighted sum.
//
// --join: two keyed inputs into one KeyedCoProcessFunction: the events, and
// their audit copies (the same log read by a second source, "audit-source"),
// both keyed by the key. Per key the function counts and sums the events and
// counts the audits, in one keyed state, and emits an update line for each
// record of either input. The check: every event's and every audit's line
// committed exactly once, and per key the final count, sum and audit count.
//
// --backend rocksdb keeps the keyed state in RocksDB (ckpt::rocksdb, built
// when librocksdb-dev is there) with incremental checkpoints, as Flink's
// RocksDB state backend does; the pipeline's code is the same.
//
// The last line is "exactly-once: OK (...)" or "exactly-once: FAILED (...)"
// with a non-zero exit status.

#include <ckpt/ckpt.hpp>
#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/fs/file_util.hpp>
#include <ckpt/function/broadcast_process_function.hpp>
#include <ckpt/function/co_process_function.hpp>
#include <ckpt/function/transactional_file_sink.hpp>
#include <ckpt/function/watermark_strategy.hpp>
#include <ckpt/function/window.hpp>
#include <ckpt/runtime/job_runner.hpp>
#include <ckpt/function/partitioned_source.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>
#ifdef CKPT_DEMO_ROCKSDB
#include <ckpt/rocksdb/rocksdb_keyed_state_backend.hpp>
#endif

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

struct Options {
  std::uint64_t events = 1000000;
  int kills = 6;
  int interval_ms = 200;
  std::uint32_t parallelism = 2;
  std::uint64_t rate = 250000;  // events per second, so kills land mid-run
  bool rescale = false;
  std::string dir;
  std::uint64_t seed = std::random_device{}();
  bool worker = false;
  std::string backend = "heap";
  bool windows = false;
  bool broadcast = false;
  bool join = false;
};

constexpr std::uint32_t kPartitions = 8;
constexpr std::uint64_t kKeys = 1000;
// --windows: fewer keys, so a window holds a few dozen events of each.
constexpr std::uint64_t kWindowKeys = 100;
constexpr std::int64_t kWindowMs = 500;
constexpr std::int64_t kOutOfOrdernessMs = 50;
// --broadcast: the rules' log, and the rules in it.
constexpr std::uint32_t kRulePartitions = 2;
constexpr std::uint64_t kKeyClasses = 4;
constexpr std::uint64_t kRuleSpan = 1000;  // partition offsets per rule
constexpr std::uint64_t kOpenEnded = UINT64_MAX;

// -- the input log ---------------------------------------------------------

std::string partition_file(const std::string& dir, std::uint32_t p) {
  return dir + "/input/partition-" + std::to_string(p) + ".log";
}

struct Input {
  std::string key;
  std::int64_t value = 0;
  std::int64_t time = 0;  // event time (ms): about the offset, out of order by < kOutOfOrdernessMs
};

/// Event i of partition p: "key value time".
Input event(std::uint32_t p, std::uint64_t i, bool windows) {
  const auto n = (p * 2654435761ULL + i * 40503ULL) ^ (i >> 3);
  return {"user-" + std::to_string(n % (windows ? kWindowKeys : kKeys)), static_cast<std::int64_t>(n % 97),
          static_cast<std::int64_t>(i + (n >> 7) % kOutOfOrdernessMs)};
}

void write_input(const std::string& dir, std::uint64_t events, bool windows) {
  stdfs::create_directories(dir + "/input");
  for (std::uint32_t p = 0; p < kPartitions; ++p) {
    std::ofstream out(partition_file(dir, p));
    for (std::uint64_t i = p; i < events; i += kPartitions) {
      const auto e = event(p, i / kPartitions, windows);
      out << e.key << ' ' << e.value << ' ' << e.time << '\n';
    }
  }
}

std::string rules_file(const std::string& dir, std::uint32_t r) {
  return dir + "/rules/partition-" + std::to_string(r) + ".log";
}

/// --broadcast: the class of a key "user-N".
std::uint64_t key_class(const std::string& key) { return std::stoull(key.substr(key.find('-') + 1)) % kKeyClasses; }

/// --broadcast: rules per key class (the offsets of a partition, kRuleSpan each; the last open-ended).
std::uint64_t rule_count(std::uint64_t events) {
  const auto offsets = (events + kPartitions - 1) / kPartitions;
  return std::max<std::uint64_t>(1, (offsets + kRuleSpan - 1) / kRuleSpan);
}
std::int64_t multiplier(std::uint64_t cls, std::uint64_t k) { return static_cast<std::int64_t>(1 + (cls * 7 + k * 3) % 5); }
/// The weight of an event of class `cls` at partition offset `offset`, without failures.
std::int64_t expected_multiplier(std::uint64_t cls, std::uint64_t offset, std::uint64_t events) {
  return multiplier(cls, std::min(offset / kRuleSpan, rule_count(events) - 1));
}

/// "class from until multiplier"; class c's rules in partition c % kRulePartitions, in offset order.
void write_rules(const std::string& dir, std::uint64_t events) {
  stdfs::create_directories(dir + "/rules");
  const auto n = rule_count(events);
  for (std::uint32_t r = 0; r < kRulePartitions; ++r) {
    std::ofstream out(rules_file(dir, r));
    for (std::uint64_t k = 0; k < n; ++k)
      for (std::uint64_t c = r; c < kKeyClasses; c += kRulePartitions)
        out << c << ' ' << k * kRuleSpan << ' ' << (k + 1 == n ? kOpenEnded : (k + 1) * kRuleSpan) << ' '
            << multiplier(c, k) << '\n';
  }
}

// -- the pipeline ----------------------------------------------------------

struct Event {
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;
  std::string key;
  std::int64_t value = 0;
  std::int64_t time = 0;
  template <class A>
  void serialize(A& ar) {  // --broadcast keeps events waiting for their rule in keyed state
    ar(partition, offset, key, value, time);
  }
};

/// --broadcast: events of `cls` at partition offsets [from, until) weigh `multiplier`.
struct Rule {
  std::uint64_t cls = 0;
  std::uint64_t from = 0;
  std::uint64_t until = 0;
  std::int64_t multiplier = 1;
  bool covers(const Event& e) const { return key_class(e.key) == cls && from <= e.offset && e.offset < until; }
  template <class A>
  void serialize(A& ar) {
    ar(cls, from, until, multiplier);
  }
};

/// A line of an event or a rule.
void parse(std::istringstream& in, Event& e) { in >> e.key >> e.value >> e.time; }
void parse(std::istringstream& in, Rule& r) { in >> r.cls >> r.from >> r.until >> r.multiplier; }

struct Update {
  std::string line;  // "partition:offset key count sum"; --windows: "key window-start count sum"
};

/// Reads the partition files (events, or --broadcast's rules) by line offset, at a bounded rate.
template <class Record>
class LogFileSource final : public ckpt::PartitionedSource<Record> {
  using Read = typename ckpt::PartitionedSource<Record>::Read;

 public:
  using FileOf = std::string (*)(const std::string& dir, std::uint32_t partition);
  LogFileSource(std::string dir, std::uint32_t partitions, FileOf file, std::uint64_t rate_per_subtask)
      : ckpt::PartitionedSource<Record>(partitions, 64), dir_(std::move(dir)), file_(file), rate_(rate_per_subtask),
        start_(std::chrono::steady_clock::now()) {}

  Read read(std::uint32_t partition, std::uint64_t offset) override {
    auto& lines = load(partition);
    if (offset >= lines.size()) return Read::end_of_partition();
    const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (rate_ && static_cast<double>(emitted_) > elapsed * static_cast<double>(rate_)) return Read::later();
    ++emitted_;
    std::istringstream in(lines[offset]);
    Record r{};
    if constexpr (std::is_same_v<Record, Event>) {
      r.partition = partition;
      r.offset = offset;
    }
    parse(in, r);
    return Read::of(std::move(r));
  }
  std::int64_t timestamp_of(const Record& r) const override {
    if constexpr (std::is_same_v<Record, Event>) return r.time;
    else return ckpt::no_timestamp;
  }

 private:
  const std::vector<std::string>& load(std::uint32_t p) {
    auto& lines = lines_[p];
    if (lines.empty()) {
      std::ifstream in(file_(dir_, p));
      for (std::string line; std::getline(in, line);) lines.push_back(line);
    }
    return lines;
  }
  std::string dir_;
  FileOf file_;
  std::uint64_t rate_;
  std::chrono::steady_clock::time_point start_;
  std::uint64_t emitted_ = 0;
  std::map<std::uint32_t, std::vector<std::string>> lines_;
};

/// One event into its key's count and sum; its update line "partition:offset key count sum".
Update count_event(const Event& e, const std::string& key, ckpt::ValueState<std::int64_t>& count,
                   ckpt::ValueState<std::int64_t>& sum) {
  count.update(count.value() + 1);
  sum.update(sum.value() + e.value);
  return {std::to_string(e.partition) + ":" + std::to_string(e.offset) + " " + key + " " +
          std::to_string(count.value()) + " " + std::to_string(sum.value())};
}

/// Count and sum per key, one update line per event.
class Aggregate final : public ckpt::KeyedProcessFunction<std::string, Event, Update> {
 public:
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    auto& backend = ctx.keyed_state_backend<std::string>();
    count_ = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0});
    sum_ = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"sum", 0});
  }
  void process_element(const Event& e, Context& ctx, ckpt::Collector<Update>& out) override {
    out.collect(count_event(e, ctx.current_key(), count_, sum_));
  }

 private:
  ckpt::ValueState<std::int64_t> count_;
  ckpt::ValueState<std::int64_t> sum_;
};

/// --broadcast: the rules, broadcast state keyed by (class, first offset).
const ckpt::MapStateDescriptor<std::uint64_t, Rule> rules_descriptor{"rules"};
std::uint64_t rule_key(const Rule& r) { return r.from * kKeyClasses + r.cls; }

/// --broadcast: per key a count and a sum of value x the rule's multiplier,
/// one update line per event ("partition:offset key count sum weighted"); an
/// event whose rule has not arrived waits in keyed state for it.
class WeightedAggregate final : public ckpt::KeyedBroadcastProcessFunction<std::string, Event, Rule, Update> {
 public:
  static inline const ckpt::ListStateDescriptor<Event> pending_descriptor{"pending"};
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    auto& backend = ctx.keyed_state_backend<std::string>();
    count_ = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0});
    sum_ = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"sum", 0});
    pending_ = backend.get_list_state(pending_descriptor);
  }
  void process_element(const Event& e, ReadOnlyContext& ctx, ckpt::Collector<Update>& out) override {
    std::optional<std::int64_t> weight;
    ctx.get_broadcast_state(rules_descriptor).for_each([&](const std::uint64_t&, const Rule& r) {
      if (r.covers(e)) weight = r.multiplier;
    });
    if (weight) emit(e, *weight, out);
    else pending_.add(e);
  }
  void process_broadcast_element(const Rule& rule, Context& ctx, ckpt::Collector<Update>& out) override {
    ctx.get_broadcast_state(rules_descriptor).put(rule_key(rule), rule);
    ctx.apply_to_keyed_state(pending_descriptor, [&](const std::string&, ckpt::ListState<Event>& pending) {
      const auto waiting = pending.get();
      std::vector<Event> still;
      for (const auto& e : waiting) {
        if (rule.covers(e)) emit(e, rule.multiplier, out);
        else still.push_back(e);
      }
      if (still.empty()) pending.clear();
      else if (still.size() != waiting.size()) pending.update(std::move(still));
    });
  }

 private:
  void emit(const Event& e, std::int64_t weight, ckpt::Collector<Update>& out) {
    count_.update(count_.value() + 1);
    sum_.update(sum_.value() + e.value * weight);
    out.collect({std::to_string(e.partition) + ":" + std::to_string(e.offset) + " " + e.key + " " +
                 std::to_string(count_.value()) + " " + std::to_string(sum_.value()) + " " +
                 std::to_string(e.value * weight)});
  }
  ckpt::ValueState<std::int64_t> count_;
  ckpt::ValueState<std::int64_t> sum_;
  ckpt::ListState<Event> pending_;
};

/// --join: per key a count and sum of the events (input 1) and a count of
/// their audit copies (input 2), one update line per record of either input:
/// "partition:offset key count sum" and "a:partition:offset key audits".
class JoinedAggregate final : public ckpt::KeyedCoProcessFunction<std::string, Event, Event, Update> {
 public:
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    auto& backend = ctx.keyed_state_backend<std::string>();
    count_ = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"count", 0});
    sum_ = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"sum", 0});
    audits_ = backend.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"audits", 0});
  }
  void process_element1(const Event& e, Context& ctx, ckpt::Collector<Update>& out) override {
    out.collect(count_event(e, ctx.current_key(), count_, sum_));
  }
  void process_element2(const Event& e, Context& ctx, ckpt::Collector<Update>& out) override {
    audits_.update(audits_.value() + 1);
    out.collect({"a:" + std::to_string(e.partition) + ":" + std::to_string(e.offset) + " " + ctx.current_key() + " " +
                 std::to_string(audits_.value())});
  }

 private:
  ckpt::ValueState<std::int64_t> count_;
  ckpt::ValueState<std::int64_t> sum_;
  ckpt::ValueState<std::int64_t> audits_;
};

/// --windows: the accumulator of a window's count and sum.
struct CountSum {
  std::int64_t count = 0;
  std::int64_t sum = 0;
  template <class A>
  void serialize(A& ar) {
    ar(count, sum);
  }
};

/// Count and sum per key and tumbling event-time window, one line per window.
auto windowed_aggregate() {
  auto count_sum = ckpt::make_aggregate_function<Event, CountSum, CountSum>(
      [] { return CountSum{}; }, [](const Event& e, CountSum a) { return CountSum{a.count + 1, a.sum + e.value}; },
      [](const CountSum& a) { return a; },
      [](CountSum a, CountSum b) { return CountSum{a.count + b.count, a.sum + b.sum}; });
  return ckpt::window<std::string, Event>(ckpt::TumblingEventTimeWindows::of(std::chrono::milliseconds(kWindowMs)))
      .aggregate<Update>(count_sum, [](const std::string& key, const ckpt::TimeWindow& w, const CountSum& r,
                                       ckpt::Collector<Update>& out) {
        out.collect({key + " " + std::to_string(w.start) + " " + std::to_string(r.count) + " " + std::to_string(r.sum)});
      });
}

/// One run of the pipeline, restoring the latest checkpoint; reports each
/// completed checkpoint on stdout for the driver.
int run_worker(const Options& o) {
  auto out_fs = std::make_shared<ckpt::fs::LocalFileSystem>(o.dir);
  ckpt::JobOptions job_options;
  auto storage_options = ckpt::StorageOptions::defaults();
#ifdef CKPT_DEMO_ROCKSDB
  if (o.backend == "rocksdb") {
    job_options.keyed_state_backend =
        ckpt::rocksdb::keyed_backend(ckpt::rocksdb::RocksDBOptions::in(o.dir + "/rocksdb"));
    storage_options.with_incremental(true);  // native RocksDB checkpoints: only new SST files are written
  }
#endif
  auto storage = ckpt::CheckpointStorage::open("file://" + o.dir + "/checkpoints", storage_options);
  ckpt::Pipeline pipeline;
  const auto p = o.parallelism;
  const auto rate = o.rate / p;
  const auto dir = o.dir;
  const bool windows = o.windows;
  auto keyed = pipeline
                   .add_source("log-source", p,
                               [dir, rate, windows](std::uint32_t) {
                                 auto source = std::make_unique<LogFileSource<Event>>(dir, kPartitions, partition_file, rate);
                                 if (windows)
                                   source->use_watermarks(ckpt::WatermarkStrategy<Event>::for_bounded_out_of_orderness(
                                       std::chrono::milliseconds(kOutOfOrdernessMs)));
                                 return source;
                               })
                   .key_by([](const Event& e) { return e.key; });
  auto updates = [&] {
    if (windows) return keyed.process("windowed-aggregate", p, windowed_aggregate());
    if (o.join) {
      auto audits = pipeline
                        .add_source("audit-source", p,
                                    [dir, rate](std::uint32_t) {
                                      return std::make_unique<LogFileSource<Event>>(dir, kPartitions, partition_file, rate);
                                    })
                        .key_by([](const Event& e) { return e.key; });
      return keyed.connect(audits).process("joined-aggregate", p,
                                           [](std::uint32_t) { return std::make_unique<JoinedAggregate>(); });
    }
    if (!o.broadcast) return keyed.process("aggregate", p, [](std::uint32_t) { return std::make_unique<Aggregate>(); });
    // The rules at half the events' pace (in offsets): the first of each class
    // comes at once and later ones lag, so some events wait for theirs and some do not.
    const auto rules = rule_count(o.events) * kKeyClasses;
    const auto rule_rate = std::max<std::uint64_t>(1, o.rate * rules / o.events / p / 2);
    auto broadcast = pipeline
                         .add_source("rule-source", p,
                                     [dir, rule_rate](std::uint32_t) {
                                       return std::make_unique<LogFileSource<Rule>>(dir, kRulePartitions, rules_file,
                                                                                    rule_rate);
                                     })
                         .broadcast(rules_descriptor);
    return keyed.connect(broadcast).process("weighted-aggregate", p,
                                            [](std::uint32_t) { return std::make_unique<WeightedAggregate>(); });
  }();
  updates.add_sink("file-sink", p, [out_fs](std::uint32_t) {
    return std::make_unique<ckpt::TransactionalFileSink<Update>>(out_fs, "output", [](const Update& u) { return u.line; });
  });
  ckpt::JobRunner job(pipeline, *storage, ckpt::CheckpointConfig::every(std::chrono::milliseconds(o.interval_ms)),
                      job_options);
  job.coordinator().add_listener([](const ckpt::CheckpointStats& s) {
    if (s.outcome == ckpt::CheckpointOutcome::completed) std::printf("checkpoint %llu\n", static_cast<unsigned long long>(s.id));
    std::fflush(stdout);
  });
  job.run();
  std::printf("finished\n");
  return 0;
}

// -- the driver ------------------------------------------------------------

struct Child {
  pid_t pid = -1;
  int out = -1;
};

Child spawn(const Options& o, std::uint32_t parallelism) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    const std::vector<std::string> args{"exactly_once_demo",  "--worker", "--dir", o.dir, "--interval-ms",
                                        std::to_string(o.interval_ms), "--parallelism", std::to_string(parallelism),
                                        "--rate", std::to_string(o.rate), "--backend", o.backend,
                                        o.windows ? "--windows" : "--no-windows", "--events", std::to_string(o.events),
                                        o.broadcast ? "--broadcast" : "--no-broadcast", o.join ? "--join" : "--no-join"};
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  return {pid, fds[0]};
}

/// Reads whatever the child printed; counts completed checkpoints.
void drain(int fd, std::string& buffer, std::uint64_t& checkpoints, bool& finished) {
  char chunk[4096];
  for (ssize_t n; (n = ::read(fd, chunk, sizeof chunk)) > 0;) buffer.append(chunk, static_cast<std::size_t>(n));
  for (std::size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
    const auto line = buffer.substr(0, nl);
    buffer.erase(0, nl + 1);
    if (line.rfind("checkpoint ", 0) == 0) ++checkpoints;
    if (line == "finished") finished = true;
  }
}


/// The committed output against the failure-free computation.
struct Verdict {
  bool ok = false;
  std::string note;    // a line for the reader
  std::string counts;  // ", lost=..., duplicated=..."
};

template <class Line>
void for_each_committed_line(const std::string& dir, Line line_fn) {
  if (!stdfs::exists(dir + "/output")) return;
  for (const auto& e : stdfs::directory_iterator(dir + "/output")) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);) line_fn(line);
  }
}

/// The running count: one update per event, exactly once, and per key the final count and sum.
/// --broadcast: the sum is of weighted values, and each event's weight is its failure-free one.
/// --join: each event's audit line too, exactly once, and per key the final audit count.
Verdict check_running_count(const Options& o) {
  std::map<std::string, int> seen, audits_seen;
  std::map<std::string, std::int64_t> final_audits;
  std::map<std::string, std::int64_t> weighted;
  std::map<std::string, std::int64_t> final_count, final_sum, expected_count, expected_sum;
  for_each_committed_line(o.dir, [&](const std::string& line) {
    std::istringstream fields(line);
    std::string id, key;
    std::int64_t count = 0, sum = 0, weight = 0;
    fields >> id >> key >> count >> sum >> weight;
    if (id.rfind("a:", 0) == 0) {  // --join: an audit's line, "a:partition:offset key audits"
      ++audits_seen[id.substr(2)];
      final_audits[key] = std::max(final_audits[key], count);
      return;
    }
    ++seen[id];
    weighted[id] = weight;
    if (count > final_count[key]) {
      final_count[key] = count;
      final_sum[key] = sum;
    }
  });
  std::uint64_t lost = 0, duplicated = 0, wrong = 0;
  for (std::uint32_t p = 0; p < kPartitions; ++p)
    for (std::uint64_t i = p, offset = 0; i < o.events; i += kPartitions, ++offset) {
      const auto e = event(p, offset, false);
      const auto value = o.broadcast ? e.value * expected_multiplier(key_class(e.key), offset, o.events) : e.value;
      ++expected_count[e.key];
      expected_sum[e.key] += value;
      const auto id = std::to_string(p) + ":" + std::to_string(offset);
      const auto it = seen.find(id);
      if (it == seen.end()) ++lost;
      else if (it->second > 1) duplicated += static_cast<std::uint64_t>(it->second - 1);
      if (o.broadcast && it != seen.end() && weighted[id] != value) ++wrong;
      if (o.join) {
        const auto a = audits_seen.find(id);
        if (a == audits_seen.end()) ++lost;
        else if (a->second > 1) duplicated += static_cast<std::uint64_t>(a->second - 1);
      }
    }
  const bool aggregates_right = final_count == expected_count && final_sum == expected_sum &&
                                (!o.join || final_audits == expected_count);
  Verdict v;
  v.ok = lost == 0 && duplicated == 0 && wrong == 0 && aggregates_right && seen.size() == o.events &&
         audits_seen.size() == (o.join ? o.events : 0);
  v.note = std::string("  per-key totals ") + (aggregates_right ? "match" : "DO NOT match") + " the failure-free computation\n";
  v.counts = ", lost=" + std::to_string(lost) + ", duplicated=" + std::to_string(duplicated) +
             (o.broadcast ? ", rules=" + std::to_string(rule_count(o.events) * kKeyClasses) +
                                ", wrong=" + std::to_string(wrong)
                          : "") +
             (o.join ? ", audits=" + std::to_string(audits_seen.size()) : "");
  return v;
}

/// --windows: (key, window start) -> (count, sum), computed from the input without failures.
using WindowResults = std::map<std::pair<std::string, std::int64_t>, std::pair<std::int64_t, std::int64_t>>;
WindowResults expected_windows(std::uint64_t events) {
  WindowResults out;
  for (std::uint32_t p = 0; p < kPartitions; ++p)
    for (std::uint64_t i = p, offset = 0; i < events; i += kPartitions, ++offset) {
      const auto e = event(p, offset, true);
      auto& r = out[{e.key, ckpt::WindowAssigner::window_start(e.time, 0, kWindowMs)}];
      ++r.first;
      r.second += e.value;
    }
  return out;
}

/// --windows: each (key, window) result committed exactly once, with the failure-free count and sum.
Verdict check_windows(const Options& o) {
  const auto expected = expected_windows(o.events);
  std::map<std::pair<std::string, std::int64_t>, std::vector<std::pair<std::int64_t, std::int64_t>>> seen;
  for_each_committed_line(o.dir, [&](const std::string& line) {
    std::istringstream fields(line);
    std::string key;
    std::int64_t start = 0, count = 0, sum = 0;
    fields >> key >> start >> count >> sum;
    seen[{key, start}].emplace_back(count, sum);
  });
  std::uint64_t lost = 0, duplicated = 0, wrong = 0;
  for (const auto& [window, result] : expected) {
    const auto it = seen.find(window);
    if (it == seen.end()) {
      ++lost;
      continue;
    }
    duplicated += it->second.size() - 1;
    for (const auto& r : it->second) wrong += r == result ? 0 : 1;
  }
  for (const auto& [window, results] : seen) wrong += expected.count(window) ? 0 : results.size();  // no such window
  Verdict v;
  v.ok = lost == 0 && duplicated == 0 && wrong == 0;
  v.note = "  " + std::to_string(expected.size()) + " windows (" + std::to_string(kWindowKeys) + " keys, " +
           std::to_string(kWindowMs) + " ms tumbling, event time): " + (wrong == 0 ? "every result" : "NOT every result") +
           " committed matches the failure-free computation\n";
  v.counts = ", windows=" + std::to_string(expected.size()) + ", lost=" + std::to_string(lost) +
             ", duplicated=" + std::to_string(duplicated) + ", wrong=" + std::to_string(wrong);
  return v;
}

int run_driver(Options o) {
  const bool terminal = ::isatty(STDOUT_FILENO) != 0;
  std::optional<stdfs::path> temporary;
  if (o.dir.empty()) {
    std::string templ = (stdfs::temp_directory_path() / "ckpt-exactly-once-XXXXXX").string();
    if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
    o.dir = templ;
    temporary = templ;
  }
  std::cout << "exactly-once demo: " << o.events << " events in " << kPartitions << " partitions, " << o.kills
            << " SIGKILLs, checkpoint every " << o.interval_ms << " ms, parallelism " << o.parallelism << (o.rescale ? " (rescaling on restart)" : "")
            << (o.windows ? ", event-time windows" : "") << (o.broadcast ? ", broadcast rules" : "")
            << (o.join ? ", a keyed two-input join with the events' audit copies" : "")
            << "\n  working in " << o.dir << "\n";
  write_input(o.dir, o.events, o.windows);
  if (o.broadcast) write_rules(o.dir, o.events);
  // What the output will hold at the end: a line per event, or per window.
  const std::uint64_t results = o.windows ? expected_windows(o.events).size() : o.join ? 2 * o.events : o.events;
  const auto committed_lines = [&] {
    std::uint64_t n = 0;
    for_each_committed_line(o.dir, [&](const std::string&) { ++n; });
    return n;
  };

  std::mt19937_64 rng(o.seed);
  std::uint64_t checkpoints = 0;
  int kills = 0;
  bool finished = false;
  for (int run = 0; !finished; ++run) {
    const bool kill = kills < o.kills;
    const auto parallelism = o.rescale && run % 2 == 1 ? o.parallelism + 1 : o.parallelism;
    // The kill moment: random, but early enough that the remaining kills all
    // land before the job could finish. What is left takes left_ms at the
    // configured rate; this run gets at most twice its even share of that.
    const auto done = static_cast<double>(std::min(results, committed_lines())) / static_cast<double>(results);
    const auto events_left = static_cast<std::uint64_t>(static_cast<double>(o.events) * (1.0 - done));
    const auto left_ms = static_cast<std::int64_t>(1000.0 * static_cast<double>(events_left) / static_cast<double>(o.rate));
    const auto share_ms = 2 * left_ms / (o.kills - kills + 1);
    std::uniform_int_distribution<std::int64_t> kill_after(1, std::max<std::int64_t>(2, share_ms));
    auto child = spawn(o, parallelism);
    std::string buffer;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kill_after(rng));
    int status = 0;
    while (true) {
      drain(child.out, buffer, checkpoints, finished);
      if (::waitpid(child.pid, &status, WNOHANG) == child.pid) break;
      if (kill && std::chrono::steady_clock::now() >= deadline) {
        ::kill(child.pid, SIGKILL);
        ::waitpid(child.pid, &status, 0);
        break;
      }
      // Wake on the child's output, its exit (the pipe closes) or the kill moment.
      pollfd pfd{child.out, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      ::poll(&pfd, 1, static_cast<int>(std::clamp<std::int64_t>(kill ? left.count() : 100, 1, 100)));
      if (terminal)
        std::cout << "\r  run " << run + 1 << (kill ? " (to be killed)" : " (to the end)") << ": checkpoints "
                  << checkpoints << ", committed " << committed_lines() << "/" << results << "        " << std::flush;
    }
    drain(child.out, buffer, checkpoints, finished);
    ::close(child.out);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
      ++kills;
      finished = false;
      continue;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::cout << (terminal ? "\n" : "") << "exactly-once: FAILED (the pipeline exited with status " << status << ")\n";
      return 1;
    }
    finished = true;
  }
  if (terminal) std::cout << "\n";

  const auto verdict = o.windows ? check_windows(o) : check_running_count(o);
  if (temporary && verdict.ok) stdfs::remove_all(*temporary);
  std::cout << verdict.note;
  if (kills < o.kills) std::cout << "  the job finished after " << kills << " of the " << o.kills << " kills asked for\n";
  std::cout << "exactly-once: " << (verdict.ok ? "OK" : "FAILED") << " (events=" << o.events << ", kills=" << kills
            << ", restarts=" << kills << ", checkpoints=" << checkpoints << verdict.counts
            << (o.backend == "heap" ? "" : ", backend=" + o.backend) << ")\n";
  return verdict.ok ? 0 : 1;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--events") o.events = std::stoull(next());
    else if (a == "--kills") o.kills = std::stoi(next());
    else if (a == "--interval-ms") o.interval_ms = std::stoi(next());
    else if (a == "--parallelism") o.parallelism = static_cast<std::uint32_t>(std::stoul(next()));
    else if (a == "--rate") o.rate = std::stoull(next());
    else if (a == "--rescale") o.rescale = true;
    else if (a == "--dir") o.dir = next();
    else if (a == "--seed") o.seed = std::stoull(next());
    else if (a == "--worker") o.worker = true;
    else if (a == "--backend") o.backend = next();
    else if (a == "--windows") o.windows = true;
    else if (a == "--no-windows") o.windows = false;
    else if (a == "--broadcast") o.broadcast = true;
    else if (a == "--no-broadcast") o.broadcast = false;
    else if (a == "--join") o.join = true;
    else if (a == "--no-join") o.join = false;
    else if (a == "-h" || a == "--help") {
      std::cout << "usage: exactly_once_demo [--events N] [--kills K] [--interval-ms MS] [--parallelism P]\n"
                   "                         [--rate EVENTS_PER_S] [--rescale] [--dir DIR] [--seed S]\n"
                   "                         [--backend heap|rocksdb] [--windows | --broadcast | --join]\n";
      std::exit(0);
    } else {
      throw std::invalid_argument("unknown option " + a);
    }
  }
  if (o.parallelism == 0 || o.rate == 0 || o.events == 0) throw std::invalid_argument("events, rate and parallelism must be positive");
  if (static_cast<int>(o.windows) + static_cast<int>(o.broadcast) + static_cast<int>(o.join) > 1)
    throw std::invalid_argument("--windows, --broadcast and --join are different jobs: pick one");
  if (o.backend != "heap" && o.backend != "rocksdb") throw std::invalid_argument("--backend is heap or rocksdb");
#ifndef CKPT_DEMO_ROCKSDB
  if (o.backend == "rocksdb")
    throw std::invalid_argument("--backend rocksdb: this build has no ckpt::rocksdb (install librocksdb-dev, reconfigure)");
#endif
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto options = parse(argc, argv);
    return options.worker ? run_worker(options) : run_driver(options);
  } catch (const std::exception& e) {
    std::cerr << "exactly_once_demo: " << e.what() << "\n";
    std::cout << "exactly-once: FAILED (" << e.what() << ")\n";
    return 1;
  }
}
