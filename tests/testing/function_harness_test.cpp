// The harnesses of non-keyed functions: a ProcessFunction with every kind of
// operator state, sources (a partitioned log, a ListCheckpointed counter)
// and sinks (the transactional file sink, a two-phase-commit sink) through
// checkpoints, failures, restores and rescales.
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/function/list_checkpointed.hpp>
#include <ckpt/function/transactional_file_sink.hpp>
#include <ckpt/function/partitioned_source.hpp>
#include <ckpt/state/redistribution.hpp>
#include <ckpt/testing/gtest.hpp>
#include <ckpt/testing/harness.hpp>

#include "pipeline_util.hpp"
#include "test_functions.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {
namespace function_harness {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;
using ckpt::record_is;

// -- ProcessFunction ---------------------------------------------------------------------

/// Keeps what it saw in even-split list state, its subtask in union list
/// state and a per-subtask setting in broadcast state; echoes each record.
class Remember final : public ckpt::ProcessFunction<std::string, std::string> {
 public:
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    auto& store = ctx.operator_state_store();
    seen_ = store.get_list_state(ckpt::ListStateDescriptor<std::string>{"seen"});
    members_ = store.get_union_list_state(ckpt::ListStateDescriptor<std::uint32_t>{"members"});
    config_ = store.get_broadcast_state(ckpt::MapStateDescriptor<std::string, std::string>{"config"});
    if (!ctx.is_restored()) {
      members_.add(ctx.subtask_index());
      config_.put("set-by", std::to_string(ctx.subtask_index()));
    }
  }
  void process_element(const std::string& value, ckpt::Collector<std::string>& out) override {
    seen_.add(value);
    out.collect(value + "!");
  }
  std::vector<std::string> seen() const { return seen_.get(); }
  std::vector<std::uint32_t> members() const { return members_.get(); }
  std::string set_by() const { return config_.get("set-by").value_or("-"); }

 private:
  ckpt::ListState<std::string> seen_;
  ckpt::ListState<std::uint32_t> members_;
  ckpt::BroadcastState<std::string, std::string> config_;
};

TEST(ProcessFunctionHarness, EmitsWithTheInputTimestampAndPassesWatermarksOn) {
  ckpt::ProcessFunctionTestHarness h([] { return std::make_unique<Remember>(); });  // a factory without the subtask
  h.process_element("a", 5);
  h.process_element("b");
  h.process_watermark(7);
  h.process_watermark(3);
  EXPECT_THAT(h.output(), ElementsAre(record_is("a!", 5), record_is("b!", ckpt::no_timestamp)));
  EXPECT_THAT(h.emitted_watermarks(), ElementsAre(7));
  EXPECT_THAT(h.function().seen(), ElementsAre("a", "b"));
}

TEST(ProcessFunctionHarness, RescaleRedistributesOperatorStateAsARestoreDoes) {
  using Harness = ckpt::ProcessFunctionTestHarness<Remember>;
  auto make = [](std::uint32_t) { return std::make_unique<Remember>(); };
  Harness a(make, ckpt::TestHarnessOptions::for_subtask(0, 2));
  Harness b(make, ckpt::TestHarnessOptions::for_subtask(1, 2));
  for (const auto* v : {"a1", "a2", "a3"}) a.process_element(v);
  for (const auto* v : {"b1", "b2"}) b.process_element(v);
  const std::vector<ckpt::OperatorSubtaskState> checkpoint{a.snapshot(1), b.snapshot(1)};

  auto three = a.rescale(checkpoint, 3);
  const auto expected = ckpt::redistribute_even_split<std::string>({{"a1", "a2", "a3"}, {"b1", "b2"}}, 3);
  for (std::uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(three[i].function().seen(), expected[i]) << "subtask " << i;
    EXPECT_THAT(three[i].function().members(), ElementsAre(0u, 1u));               // union: everything
    EXPECT_EQ(three[i].function().set_by(), std::to_string(i % 2)) << "subtask " << i;  // broadcast: i mod 2
    EXPECT_TRUE(three[i].is_restored());
  }
  // The same parallelism gives every subtask its own state back.
  auto again = a.rescale(checkpoint, 2);
  EXPECT_THAT(again[0].function().seen(), ElementsAre("a1", "a2", "a3"));
  EXPECT_THAT(again[1].function().seen(), ElementsAre("b1", "b2"));
}

TEST(ProcessFunctionHarness, KeyedStateCannotBeRestoredIntoANonKeyedFunction) {
  ckpt::KeyedProcessFunctionTestHarness keyed(ckpt::harness_test::make_sum, ckpt::harness_test::key_of);
  keyed.process_element({"a", 1});
  ckpt::ProcessFunctionTestHarness plain([](std::uint32_t) { return std::make_unique<Remember>(); });
  try {
    plain.restore(keyed.snapshot(1));
    FAIL() << "keyed state was dropped silently";
  } catch (const ckpt::RestoreError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::non_restored_state);
  }
}

// -- sources -------------------------------------------------------------------------------

/// A log of `partitions` partitions of `length` records "p:o", timestamped o * 10.
class Log final : public ckpt::PartitionedSource<std::string> {
 public:
  Log(std::uint32_t partitions, std::uint64_t length) : PartitionedSource(partitions, 3), length_(length) {}
  Read read(std::uint32_t partition, std::uint64_t offset) override {
    if (offset >= length_) return Read::end_of_partition();
    return Read::of(std::to_string(partition) + ":" + std::to_string(offset));
  }
  std::int64_t timestamp_of(const std::string& r) const override {
    return std::stoll(r.substr(r.find(':') + 1)) * 10;
  }

 private:
  std::uint64_t length_;
};

std::vector<std::string> every_record(std::uint32_t partitions, std::uint64_t length) {
  std::vector<std::string> out;
  for (std::uint32_t p = 0; p < partitions; ++p)
    for (std::uint64_t o = 0; o < length; ++o) out.push_back(std::to_string(p) + ":" + std::to_string(o));
  return out;
}

TEST(SourceHarness, ReadPositionsSurviveAFailureAndMoveOnARescale) {
  using Harness = ckpt::SourceTestHarness<Log>;
  auto make = [](std::uint32_t) { return std::make_unique<Log>(5, 10); };
  std::vector<Harness> two;
  for (std::uint32_t i = 0; i < 2; ++i) two.emplace_back(make, ckpt::TestHarnessOptions::for_subtask(i, 2));

  // Up to checkpoint 1: what downstream has for good.
  std::vector<std::string> delivered;
  for (auto& h : two) {
    EXPECT_EQ(h.poll_next(), ckpt::SourceStatus::more);
    EXPECT_EQ(h.poll_next(), ckpt::SourceStatus::more);
    for (auto& v : h.take_output_values()) delivered.push_back(v);
  }
  const std::vector<ckpt::OperatorSubtaskState> checkpoint{two[0].snapshot(1), two[1].snapshot(1)};
  for (auto& h : two) h.poll_next();  // read after the checkpoint, lost in the failure

  // Restart at parallelism 3: the partitions' positions are split between the new subtasks.
  auto three = two[0].rescale(checkpoint, 3);
  for (auto& h : three) {
    EXPECT_EQ(h.poll_while_more(), ckpt::SourceStatus::finished);
    EXPECT_TRUE(h.is_finished());
    EXPECT_EQ(h.poll_next(), ckpt::SourceStatus::finished);  // not polled again
    for (auto& v : h.take_output_values()) delivered.push_back(v);
  }
  EXPECT_THAT(delivered, UnorderedElementsAreArray(every_record(5, 10)));  // each record exactly once
  std::size_t positions = 0;
  for (auto& h : three) positions += h.function().positions().size();
  EXPECT_EQ(positions, 5u);
}

TEST(SourceHarness, RecordsCarryTheirTimestampsAndTheWatermarkFollows) {
  ckpt::SourceTestHarness h([](std::uint32_t) { return std::make_unique<Log>(1, 4); });
  EXPECT_EQ(h.poll_while_more(), ckpt::SourceStatus::finished);
  EXPECT_THAT(h.output(), ElementsAre(record_is("0:0", 0), record_is("0:1", 10), record_is("0:2", 20), record_is("0:3", 30)));
  EXPECT_THAT(h.emitted_watermarks(), ElementsAre(20, 30));  // after each poll (three records per poll)
  EXPECT_EQ(h.current_watermark(), 30);
}

/// Counts up from 0; its state is a ListCheckpointed list: the next number.
class Counter final : public ckpt::Source<int>, public ckpt::ListCheckpointed<int> {
 public:
  explicit Counter(int limit) : limit_(limit) {}
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    binding_.emplace(*this, ctx.operator_state_store(), "counter");
  }
  void snapshot_state(const ckpt::FunctionSnapshotContext& ctx) override {
    binding_->snapshot(ctx.checkpoint_id(), ctx.checkpoint_timestamp());
  }
  std::vector<int> snapshot_state(std::uint64_t, std::int64_t) override { return {next_}; }
  void restore_state(std::vector<int> state) override {
    for (const int n : state) next_ = std::max(next_, n);
  }
  ckpt::SourceStatus poll_next(ckpt::Collector<int>& out) override {
    if (next_ >= limit_) return ckpt::SourceStatus::idle;  // unbounded: nothing more yet
    out.collect(next_++);
    return ckpt::SourceStatus::more;
  }

 private:
  int limit_;
  int next_ = 0;
  std::optional<ckpt::ListCheckpointedBinding<int>> binding_;
};

TEST(SourceHarness, AListCheckpointedSourceResumesFromItsCheckpoint) {
  ckpt::SourceTestHarness h([](std::uint32_t) { return std::make_unique<Counter>(8); });
  for (int i = 0; i < 5; ++i) h.poll_next();
  const auto checkpoint = h.snapshot(1);
  EXPECT_EQ(h.poll_while_more(), ckpt::SourceStatus::idle);
  EXPECT_THAT(h.take_output_values(), ElementsAre(0, 1, 2, 3, 4, 5, 6, 7));
  h.restore(checkpoint);
  EXPECT_EQ(h.poll_while_more(), ckpt::SourceStatus::idle);
  EXPECT_THAT(h.extract_output_values(), ElementsAre(5, 6, 7));
}

// -- sinks ----------------------------------------------------------------------------------

using FileSink = ckpt::TransactionalFileSink<std::string>;

TEST(SinkHarness, TheTransactionalFileSinkCommitsEachRecordOnceThroughAFailureAndARescale) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  auto make = [fs](std::uint32_t) { return std::make_unique<FileSink>(fs, "out", [](const std::string& s) { return s; }); };
  const auto committed = [&] { return ckpt::test::committed_lines(*fs, "out"); };
  using Harness = ckpt::SinkTestHarness<FileSink>;
  std::vector<Harness> two;
  for (std::uint32_t i = 0; i < 2; ++i) two.emplace_back(make, ckpt::TestHarnessOptions::for_subtask(i, 2));

  two[0].invoke("a");
  two[1].invoke("b");
  std::vector<ckpt::OperatorSubtaskState> first{two[0].snapshot(1), two[1].snapshot(1)};
  EXPECT_THAT(committed(), IsEmpty());  // pre-committed, not visible
  for (auto& h : two) h.notify_complete(1);
  EXPECT_THAT(committed(), UnorderedElementsAreArray({"a", "b"}));

  two[0].invoke("c");
  two[1].invoke("d");
  const std::vector<ckpt::OperatorSubtaskState> second{two[0].snapshot(2), two[1].snapshot(2)};
  two[0].notify_complete(2);  // subtask 1 fails before it hears of the completion
  two[0].invoke("lost");      // in the open transaction of checkpoint 3
  EXPECT_THAT(committed(), UnorderedElementsAreArray({"a", "b", "c"}));

  // Restart at parallelism 3: pre-committed transactions are committed (again:
  // idempotently), open ones aborted.
  auto three = two[0].rescale(second, 3);
  EXPECT_THAT(committed(), UnorderedElementsAreArray({"a", "b", "c", "d"}));
  three[2].invoke("e");
  for (auto& h : three) (void)h.snapshot(3);
  for (auto& h : three) h.notify_complete(3);
  EXPECT_THAT(committed(), UnorderedElementsAreArray({"a", "b", "c", "d", "e"}));
  for (auto& h : three) EXPECT_EQ(h.function().pending_transactions(), 0u);
}

/// A two-phase-commit sink whose transactions are numbered lists of strings
/// in a shared "database"; it records what it aborted.
struct Db {
  std::map<std::string, std::vector<std::string>> prepared, committed;
  std::set<std::string> aborted;
};
class DbSink final : public ckpt::TwoPhaseCommitSink<std::string, std::string> {
 public:
  explicit DbSink(std::shared_ptr<Db> db) : db_(std::move(db)) {}
  void initialize_state(ckpt::FunctionInitializationContext& ctx) override {
    name_ = std::to_string(ctx.subtask_index()) + "." + std::to_string(ctx.is_restored() ? 1 : 0);
    TwoPhaseCommitSink::initialize_state(ctx);
  }

 protected:
  std::string begin_transaction() override { return name_ + "-" + std::to_string(next_++); }
  void write(std::string& txn, const std::string& value) override { open_[txn].push_back(value); }
  void pre_commit(std::string& txn) override { db_->prepared[txn] = std::move(open_[txn]); }
  void commit(const std::string& txn) override {
    if (auto it = db_->prepared.find(txn); it != db_->prepared.end()) db_->committed[txn] = it->second;
  }
  void abort(std::string& txn) override { db_->aborted.insert(txn); }

 private:
  std::shared_ptr<Db> db_;
  std::string name_;
  int next_ = 0;
  std::map<std::string, std::vector<std::string>> open_;
};

TEST(SinkHarness, ATwoPhaseCommitSinkCommitsOnCompletionOnlyAndRecoversAfterAFailure) {
  auto db = std::make_shared<Db>();
  ckpt::SinkTestHarness h([db] { return std::make_unique<DbSink>(db); });
  h.invoke("x");
  (void)h.snapshot(1);
  h.notify_aborted(1);  // an aborted checkpoint commits nothing...
  EXPECT_TRUE(db->committed.empty());
  h.invoke("y");
  const auto checkpoint = h.snapshot(2);
  h.notify_complete(2);  // ...and a later completion commits it too
  EXPECT_EQ(db->committed, (std::map<std::string, std::vector<std::string>>{{"0.0-0", {"x"}}, {"0.0-1", {"y"}}}));
  h.invoke("z");
  h.restore(checkpoint);  // the failure: "z" was in the open transaction, which is aborted
  EXPECT_TRUE(db->aborted.count("0.0-2"));
  EXPECT_EQ(db->committed.size(), 2u);
  EXPECT_EQ(h.function().pending_transactions(), 0u);
}

}  // namespace function_harness
}  // namespace
