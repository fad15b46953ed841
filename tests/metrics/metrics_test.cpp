// Checkpoint metrics fed by a real CheckpointedService, fetched with curl from
// a MetricsServer: /metrics read by prometheus_client's parser, /checkpoints
// by RapidJSON, both checked against the stats the coordinator's listener saw.
#include "http_clients.hpp"
#include "pipeline_util.hpp"

#include <ckpt/ckpt.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/function/transactional_file_sink.hpp>
#include <ckpt/metrics/checkpoint_metrics.hpp>
#include <ckpt/metrics/metrics_server.hpp>
#include <ckpt/metrics/prometheus_text.hpp>
#include <ckpt/runtime/checkpointed_service.hpp>
#include <ckpt/runtime/job_runner.hpp>

#include <rapidjson/document.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

/// Counts per key; declines a checkpoint while `refuse` is set.
class Worker final : public ckpt::CheckpointedFunction {
 public:
  Worker() { counts = backend.get_state(ckpt::ValueStateDescriptor<std::uint64_t>{"counts", 0}); }
  void initialize_state(ckpt::FunctionInitializationContext&) override {}
  void snapshot_state(const ckpt::FunctionSnapshotContext&) override {
    if (refuse) throw std::runtime_error("refused on purpose");
  }
  void apply(std::uint64_t n) {
    backend.set_current_key(n % 50);
    counts.update(counts.value() + n);
  }

  ckpt::KeyedStateBackend<std::uint64_t> backend;
  ckpt::ValueState<std::uint64_t> counts;
  std::atomic<bool> refuse{false};
};

/// A service with one worker thread that applies requests and calls sync_point().
struct RunningService {
  explicit RunningService(ckpt::CheckpointStorage& storage)
      : service(storage, ckpt::CheckpointConfig::on_demand()),
        participant(service.add_participant({"counter", 0, 1, &worker.backend, nullptr, &worker, nullptr})) {}

  void start() {
    service.start();
    thread = std::jthread([this](std::stop_token stop) {
      for (std::uint64_t n = 0; !stop.stop_requested(); ++n) {
        if (n < 5000)
          worker.apply(n);
        else
          participant.wait_for_event(20ms);  // idle: wake up for the next checkpoint
        participant.sync_point();
      }
    });
  }
  ~RunningService() {
    thread = {};  // joins before the service goes
    service.stop();
  }

  Worker worker;
  ckpt::CheckpointedService service;
  ckpt::ServiceParticipant& participant;
  std::jthread thread;
};

/// The stats the coordinator reported, as a listener saw them.
struct Seen {
  void operator()(const ckpt::CheckpointStats& s) {
    std::lock_guard lock(mutex);
    stats.push_back(s);
  }
  std::vector<ckpt::CheckpointStats> all() {
    std::lock_guard lock(mutex);
    return stats;
  }
  std::mutex mutex;
  std::vector<ckpt::CheckpointStats> stats;
};

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

TEST(CheckpointMetricsEndpoints, ReportWhatTheListenerSaw) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  {  // a first run leaves a checkpoint to restore
    ckpt::CheckpointStorage storage(fs);
    RunningService first(storage);
    first.start();
    ASSERT_EQ(first.service.checkpoint_now().get().outcome, ckpt::CheckpointOutcome::completed);
  }

  ckpt::CheckpointStorage storage(fs);
  RunningService run(storage);
  ckpt::CheckpointMetrics metrics({"sessions", 3});
  auto seen = std::make_shared<Seen>();
  run.service.coordinator().add_listener([seen](const ckpt::CheckpointStats& s) { (*seen)(s); });
  auto attached = metrics.attach(run.service.coordinator());
  const auto restored = run.service.restore_latest();
  ASSERT_TRUE(restored);
  constexpr std::int64_t restore_millis = 1'700'000'000'123;
  metrics.record_restore(*restored, restore_millis);
  run.start();

  std::vector<ckpt::CheckpointStats> results;
  results.push_back(run.service.checkpoint_now().get());
  results.push_back(run.service.checkpoint_now().get());
  run.worker.refuse = true;
  results.push_back(run.service.checkpoint_now().get());
  run.worker.refuse = false;
  results.push_back(run.service.savepoint("nightly").get());
  results.push_back(run.service.checkpoint_now().get());
  ASSERT_EQ(results[2].outcome, ckpt::CheckpointOutcome::declined);
  ASSERT_EQ(results[3].kind, ckpt::SnapshotKind::savepoint);
  ASSERT_EQ(results[4].outcome, ckpt::CheckpointOutcome::completed);

  // The listener was called before each future became ready.
  const auto stats = seen->all();
  ASSERT_EQ(stats.size(), results.size());
  for (std::size_t i = 0; i < stats.size(); ++i) EXPECT_EQ(stats[i].id, results[i].id);
  const auto& last = stats.back();
  EXPECT_GT(last.stored_bytes, 0u);

  ckpt::MetricsServer server(metrics);
  ASSERT_NE(server.port(), 0);

  // /metrics, through curl and the Prometheus parser.
  const auto text = ckpt::test::curl(server.port(), "/metrics");
  EXPECT_EQ(text.status, 200);
  EXPECT_EQ(text.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const auto samples = ckpt::test::parse_prometheus(text.body);
  const auto value = [&](const std::string& name) {
    const auto it = samples.find(name);
    if (it == samples.end()) throw std::runtime_error("no sample " + name + " in:\n" + text.body);
    EXPECT_EQ(it->second.job, "sessions") << name;
    return it->second.value;
  };
  EXPECT_EQ(samples.at("ckpt_number_of_completed_checkpoints_total").type, "counter");
  EXPECT_EQ(value("ckpt_number_of_completed_checkpoints_total"), 4.0);
  EXPECT_EQ(value("ckpt_number_of_failed_checkpoints_total"), 1.0);
  EXPECT_EQ(value("ckpt_number_of_in_progress_checkpoints"), 0.0);
  EXPECT_EQ(value("ckpt_total_number_of_checkpoints"), 5.0);
  EXPECT_EQ(value("ckpt_number_of_restored_checkpoints_total"), 1.0);
  EXPECT_EQ(value("ckpt_last_completed_checkpoint_id"), static_cast<double>(last.id));
  EXPECT_EQ(value("ckpt_last_checkpoint_duration_seconds"), seconds(last.end_to_end));
  EXPECT_EQ(value("ckpt_last_checkpoint_sync_duration_seconds"), seconds(last.sync_pause));
  EXPECT_EQ(value("ckpt_last_checkpoint_alignment_duration_seconds"), seconds(last.alignment));
  EXPECT_EQ(value("ckpt_last_checkpoint_async_duration_seconds"), seconds(last.async_duration));
  EXPECT_EQ(value("ckpt_last_checkpoint_size_bytes"), static_cast<double>(last.stored_bytes));
  EXPECT_EQ(value("ckpt_last_checkpoint_raw_size_bytes"), static_cast<double>(last.raw_bytes));
  EXPECT_EQ(value("ckpt_last_checkpoint_participants"), 1.0);
  // An incremental checkpoint's full size counts what it references; a full one's is what it stored.
  EXPECT_GE(value("ckpt_last_checkpoint_full_size_bytes"), static_cast<double>(last.stored_bytes));
  EXPECT_EQ(value("ckpt_last_checkpoint_full_size_bytes"), static_cast<double>(last.full_stored_bytes));
  ASSERT_EQ(last.per_participant.size(), 1u);
  const auto& part = last.per_participant[0];
  EXPECT_TRUE(part.acknowledged && part.written);
  EXPECT_EQ(part.stored_bytes, last.stored_bytes);  // the only participant
  EXPECT_EQ(value("ckpt_last_checkpoint_participant_sync_duration_seconds{0}"), seconds(part.sync_pause));
  EXPECT_EQ(value("ckpt_last_checkpoint_participant_alignment_duration_seconds{0}"), seconds(part.alignment));
  EXPECT_EQ(value("ckpt_last_checkpoint_participant_async_duration_seconds{0}"), seconds(part.async_duration));
  EXPECT_EQ(value("ckpt_last_checkpoint_participant_size_bytes{0}"), static_cast<double>(part.stored_bytes));
  EXPECT_EQ(samples.at("ckpt_last_checkpoint_participant_size_bytes{0}").participant_name, part.name);
  EXPECT_EQ(value("ckpt_last_checkpoint_restore_timestamp_seconds"),
            static_cast<double>(restore_millis) / 1000.0);
  EXPECT_EQ(samples.size(), 19u) << text.body;

  // /checkpoints: the last three, newest first, as RapidJSON reads them.
  const auto json = ckpt::test::curl(server.port(), "/checkpoints");
  EXPECT_EQ(json.status, 200);
  EXPECT_EQ(json.content_type, "application/json");
  rapidjson::Document doc;
  ASSERT_FALSE(doc.Parse(json.body.c_str()).HasParseError()) << json.body;
  EXPECT_STREQ(doc["job"].GetString(), "sessions");
  EXPECT_EQ(doc["counts"]["completed"].GetUint64(), 4u);
  EXPECT_EQ(doc["counts"]["failed"].GetUint64(), 1u);
  EXPECT_EQ(doc["counts"]["restored"].GetUint64(), 1u);
  EXPECT_EQ(doc["counts"]["in_progress"].GetUint64(), 0u);
  EXPECT_EQ(doc["counts"]["total"].GetUint64(), 5u);
  EXPECT_EQ(doc["latest"]["completed"]["id"].GetUint64(), last.id);
  EXPECT_EQ(doc["latest"]["savepoint"]["id"].GetUint64(), stats[3].id);
  EXPECT_EQ(doc["latest"]["failed"]["id"].GetUint64(), stats[2].id);
  EXPECT_EQ(doc["latest"]["restored"]["id"].GetUint64(), *restored);
  EXPECT_EQ(doc["latest"]["restored"]["restore_timestamp"].GetInt64(), restore_millis);
  const auto& history = doc["history"];
  ASSERT_TRUE(history.IsArray());
  ASSERT_EQ(history.Size(), 3u);
  for (rapidjson::SizeType i = 0; i < history.Size(); ++i) {
    const auto& entry = history[i];
    const auto& s = stats[stats.size() - 1 - i];
    const bool completed = s.outcome == ckpt::CheckpointOutcome::completed;
    EXPECT_EQ(entry["id"].GetUint64(), s.id);
    EXPECT_STREQ(entry["status"].GetString(), completed ? "COMPLETED" : "FAILED");
    EXPECT_STREQ(entry["outcome"].GetString(), ckpt::to_string(s.outcome));
    EXPECT_EQ(entry["is_savepoint"].GetBool(), s.kind == ckpt::SnapshotKind::savepoint);
    EXPECT_EQ(entry["trigger_timestamp"].GetInt64(), s.trigger_timestamp_millis);
    EXPECT_EQ(entry["end_to_end_duration"].GetInt64(),
              std::chrono::duration_cast<std::chrono::milliseconds>(s.end_to_end).count());
    EXPECT_EQ(entry["checkpointed_size"].GetUint64(), s.stored_bytes);
    EXPECT_EQ(entry["raw_size"].GetUint64(), s.raw_bytes);
    EXPECT_EQ(entry["num_subtasks"].GetUint64(), s.participants);
    EXPECT_EQ(entry.HasMember("state_size"), completed);
    if (completed) {
      EXPECT_EQ(entry["state_size"].GetUint64(), s.full_stored_bytes);
    }
    const auto& subtasks = entry["subtasks"];
    ASSERT_EQ(subtasks.Size(), s.per_participant.size());
    for (rapidjson::SizeType j = 0; j < subtasks.Size(); ++j) {
      const auto& p = s.per_participant[j];
      EXPECT_EQ(subtasks[j]["name"].GetString(), p.name);
      EXPECT_EQ(subtasks[j]["checkpointed_size"].GetUint64(), p.stored_bytes);
      EXPECT_EQ(subtasks[j]["sync_duration"].GetInt64(),
                std::chrono::duration_cast<std::chrono::milliseconds>(p.sync_pause).count());
      EXPECT_STREQ(subtasks[j]["status"].GetString(), completed ? "completed" : "pending_or_failed");
    }
    EXPECT_EQ(entry.HasMember("failure_message"), !completed);
    if (!completed) {
      EXPECT_EQ(entry["failure_message"].GetString(), s.failure);
    }
  }
  EXPECT_NE(std::string(history[2]["failure_message"].GetString()).find("refused on purpose"),
            std::string::npos);
}

/// A bounded pipeline: a log, a count per key, a transactional file sink.
void build_pipeline(ckpt::Pipeline& p, const std::shared_ptr<ckpt::fs::FileSystem>& out_fs) {
  auto events = p.add_source(
      "log", 2, [](std::uint32_t) { return std::make_unique<ckpt::test::LogSource>(2, 200, 20); });
  auto counts =
      events.key_by([](const ckpt::test::Event& e) { return e.key; }).process("count", 2, [](std::uint32_t) {
        return std::make_unique<ckpt::test::CountPerKey>();
      });
  counts.add_sink("out", 1, [out_fs](std::uint32_t) {
    return std::make_unique<ckpt::TransactionalFileSink<ckpt::test::Count>>(out_fs, "out",
                                                                            ckpt::test::format_count);
  });
}

TEST(CheckpointMetricsEndpoints, AJobRunnerThatRestored) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  ckpt::Pipeline p;
  build_pipeline(p, fs);
  ckpt::JobRunner(p, storage, ckpt::CheckpointConfig::on_demand()).run();  // ends with a final checkpoint

  ckpt::JobRunner job(p, storage, ckpt::CheckpointConfig::on_demand());
  ckpt::CheckpointMetrics metrics({"pipeline", 10});
  auto seen = std::make_shared<Seen>();
  job.coordinator().add_listener([seen](const ckpt::CheckpointStats& s) { (*seen)(s); });
  auto attached = metrics.attach(job.coordinator());
  std::thread runner([&] { job.run(); });
  ASSERT_TRUE(job.wait_running());
  ASSERT_TRUE(job.restored_from());
  metrics.record_restore(*job.restored_from());
  runner.join();  // its final checkpoint completed

  const auto stats = seen->all();
  ASSERT_FALSE(stats.empty());
  const auto& last = stats.back();
  ASSERT_EQ(last.outcome, ckpt::CheckpointOutcome::completed);
  ckpt::MetricsServer server(metrics);
  const auto samples = ckpt::test::parse_prometheus(ckpt::test::curl(server.port(), "/metrics").body);
  EXPECT_EQ(samples.at("ckpt_number_of_completed_checkpoints_total").value,
            static_cast<double>(stats.size()));
  EXPECT_EQ(samples.at("ckpt_last_completed_checkpoint_id").value, static_cast<double>(last.id));
  EXPECT_EQ(samples.at("ckpt_last_checkpoint_participants").value, 5.0);  // 2 sources, 2 counters, 1 sink
  // One sample per task, each with its own name; their sizes add up to the checkpoint's.
  std::set<std::string> task_names;
  double task_bytes = 0;
  for (int i = 0; i < 5; ++i) {
    const auto& s = samples.at("ckpt_last_checkpoint_participant_size_bytes{" + std::to_string(i) + "}");
    task_names.insert(s.participant_name);
    task_bytes += s.value;
  }
  EXPECT_EQ(task_names.size(), 5u);
  EXPECT_EQ(task_bytes, static_cast<double>(last.stored_bytes));
  EXPECT_EQ(samples.at("ckpt_last_checkpoint_size_bytes").value, static_cast<double>(last.stored_bytes));
  EXPECT_EQ(samples.at("ckpt_number_of_restored_checkpoints_total").value, 1.0);
  EXPECT_EQ(samples.at("ckpt_last_checkpoint_restore_timestamp_seconds").job, "pipeline");
  rapidjson::Document doc;
  ASSERT_FALSE(doc.Parse(ckpt::test::curl(server.port(), "/checkpoints").body.c_str()).HasParseError());
  EXPECT_EQ(doc["latest"]["restored"]["id"].GetUint64(), *job.restored_from());
  EXPECT_TRUE(doc["history"][0]["final"].GetBool());
}

TEST(CheckpointMetricsText, NothingReportedYetAndAnEscapedJobLabel) {
  ckpt::CheckpointMetrics metrics({"a \"quoted\" \\ job\nname", 10});
  const auto text = ckpt::render_prometheus_text(metrics);
  const auto samples = ckpt::test::parse_prometheus(text);
  // Counts only: no figure of a last checkpoint nobody took, no in-progress
  // count without a coordinator.
  ASSERT_EQ(samples.size(), 4u) << text;
  for (const auto& [name, s] : samples) {
    EXPECT_EQ(s.value, 0.0) << name;
    EXPECT_EQ(s.job, "a \"quoted\" \\ job\nname") << name;
  }
  const auto json = ckpt::render_checkpoint_history_json(metrics);
  rapidjson::Document doc;
  ASSERT_FALSE(doc.Parse(json.c_str()).HasParseError()) << json;
  EXPECT_TRUE(doc["counts"]["in_progress"].IsNull());
  EXPECT_TRUE(doc["latest"]["completed"].IsNull());
  EXPECT_EQ(doc["history"].Size(), 0u);
}

TEST(CheckpointMetrics, OutliveNothing) {
  // The hook shares the metrics' data: a coordinator that outlives them stays safe.
  ckpt::CheckpointListenerHook hook;
  {
    ckpt::CheckpointMetrics metrics;
    hook = metrics.listener();
  }
  ckpt::CheckpointStats s;
  s.id = 7;
  hook(s);
  // An attachment released before its coordinator stops asking it.
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::CheckpointStorage storage(fs);
  ckpt::CheckpointMetrics metrics;
  {
    ckpt::CheckpointCoordinator coordinator(storage, ckpt::CheckpointConfig::on_demand());
    auto attached = metrics.attach(coordinator);
    EXPECT_EQ(metrics.snapshot().in_progress, 0u);
  }
  EXPECT_FALSE(metrics.snapshot().in_progress);
}

}  // namespace
