// Unit tests of DatabaseSink, as its author would write them: through the
// sink test harness, checkpoints pre-commit, completions commit, and across a
// failure, a restore and a rescale from 2 to 3 subtasks every row reaches the
// table exactly once.
#include "database_sink.hpp"

#include <ckpt/testing/sink_test_harness.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using example::DatabaseSink;
using example::InMemoryDatabase;
using example::Row;
using Harness = ckpt::SinkTestHarness<DatabaseSink>;

Harness sink_into(std::shared_ptr<InMemoryDatabase> db, ckpt::TestHarnessOptions options = {}) {
  return Harness([db] { return std::make_unique<DatabaseSink>(db); }, options);
}

TEST(DatabaseSink, RowsAppearOnlyWhenTheirCheckpointCompletes) {
  auto db = std::make_shared<InMemoryDatabase>();
  auto h = sink_into(db);
  h.invoke({"alice", 10});
  h.invoke({"bob", 5});
  (void)h.snapshot(1);  // prepared, not visible
  h.invoke({"alice", -3});
  EXPECT_THAT(db->table(), IsEmpty());
  h.notify_complete(1);
  EXPECT_THAT(db->table(), ElementsAre(Row{"alice", 10}, Row{"bob", 5}));
  (void)h.snapshot(2);
  h.notify_aborted(2);  // nothing committed...
  EXPECT_EQ(db->table().size(), 2u);
  (void)h.snapshot(3);
  h.notify_complete(3);  // ...until a later checkpoint completes, which commits 2 as well
  EXPECT_THAT(db->table(), ElementsAre(Row{"alice", 10}, Row{"bob", 5}, Row{"alice", -3}));
}

TEST(DatabaseSink, AFailureBeforeTheCompletionCommitsTheCheckpointsRowsOnRestore) {
  auto db = std::make_shared<InMemoryDatabase>();
  auto h = sink_into(db);
  h.invoke({"alice", 10});
  const auto checkpoint = h.snapshot(1);
  h.invoke({"bob", 99});  // in the transaction open at the failure

  h.restore(checkpoint);  // thrown away before hearing that checkpoint 1 completed
  EXPECT_THAT(db->table(), ElementsAre(Row{"alice", 10}));  // committed by the recovery
  h.invoke({"bob", 99});  // the replay after the checkpoint
  (void)h.snapshot(2);
  h.notify_complete(2);
  EXPECT_THAT(db->table(), ElementsAre(Row{"alice", 10}, Row{"bob", 99}));  // each row once
  EXPECT_EQ(db->pending_transactions(), 1u);  // only the new open one; the failed one was rolled back
}

TEST(DatabaseSink, ACommitRepeatedAfterAFailureShowsTheRowsOnce) {
  auto db = std::make_shared<InMemoryDatabase>();
  auto h = sink_into(db);
  h.invoke({"alice", 10});
  const auto checkpoint = h.snapshot(1);
  h.notify_complete(1);  // committed, then the failure
  h.restore(checkpoint);  // recovery commits the same transaction again
  h.restore(checkpoint);  // and again, after a second failure
  EXPECT_THAT(db->table(), ElementsAre(Row{"alice", 10}));
}

TEST(DatabaseSink, RescalingFromTwoToThreeSubtasksCommitsEveryPreparedTransactionOnce) {
  auto db = std::make_shared<InMemoryDatabase>();
  std::vector<Harness> two;
  for (std::uint32_t i = 0; i < 2; ++i) two.push_back(sink_into(db, ckpt::TestHarnessOptions::for_subtask(i, 2)));
  two[0].invoke({"alice", 1});
  two[1].invoke({"bob", 2});
  for (auto& h : two) (void)h.snapshot(1);
  two[0].invoke({"carol", 3});
  two[1].invoke({"dave", 4});
  const std::vector<ckpt::OperatorSubtaskState> checkpoint{two[0].snapshot(2), two[1].snapshot(2)};
  two[0].notify_complete(2);  // subtask 0 commits 1 and 2; subtask 1 fails before it hears of either
  two[1].invoke({"lost", 0});

  auto three = two[0].rescale(checkpoint, 3);
  EXPECT_THAT(db->table(), UnorderedElementsAre(Row{"alice", 1}, Row{"bob", 2}, Row{"carol", 3}, Row{"dave", 4}));
  for (std::uint32_t i = 0; i < 3; ++i) three[i].invoke({"after-" + std::to_string(i), 5});
  for (auto& h : three) (void)h.snapshot(3);
  for (auto& h : three) h.notify_complete(3);
  EXPECT_EQ(db->table().size(), 7u);
  EXPECT_EQ(db->pending_transactions(), 3u);  // the new subtasks' open ones: the old run's were rolled back
}

}  // namespace
