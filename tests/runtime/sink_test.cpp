// The two-phase-commit sink and the transactional file sink through
// snapshots, completions, crashes and repeated restores.
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/function/transactional_file_sink.hpp>
#include <ckpt/state/operator_state_store.hpp>

#include "pipeline_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace {

using ::testing::UnorderedElementsAre;
using Sink = ckpt::TransactionalFileSink<std::string>;

std::unique_ptr<Sink> make_sink(std::shared_ptr<ckpt::fs::FileSystem> fs) {
  return std::make_unique<Sink>(fs, "out", [](const std::string& s) { return s; });
}

void start(Sink& sink, ckpt::OperatorStateStore& store, bool restored) {
  ckpt::SimpleInitializationContext ctx(store, nullptr, restored ? std::optional<std::uint64_t>(1) : std::nullopt);
  sink.initialize_state(ctx);
}

TEST(TransactionalFileSink, OutputAppearsOnlyWhenItsCheckpointCompletes) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::OperatorStateStore store;
  auto sink = make_sink(fs);
  start(*sink, store, false);
  sink->invoke("a");
  sink->invoke("b");
  EXPECT_TRUE(ckpt::test::committed_lines(*fs, "out").empty());
  sink->snapshot_state(ckpt::SimpleSnapshotContext(1, 0));  // pre-committed: durable, invisible
  sink->invoke("c");
  EXPECT_TRUE(ckpt::test::committed_lines(*fs, "out").empty());
  sink->notify_checkpoint_complete(1);
  EXPECT_THAT(ckpt::test::committed_lines(*fs, "out"), UnorderedElementsAre("a", "b"));
  sink->snapshot_state(ckpt::SimpleSnapshotContext(2, 0));
  sink->notify_checkpoint_aborted(2);  // stays pending...
  sink->invoke("d");
  sink->snapshot_state(ckpt::SimpleSnapshotContext(3, 0));
  sink->notify_checkpoint_complete(3);  // ...and completing 3 commits 2 as well
  EXPECT_THAT(ckpt::test::committed_lines(*fs, "out"), UnorderedElementsAre("a", "b", "c", "d"));
  EXPECT_EQ(sink->pending_transactions(), 0u);
}

TEST(TransactionalFileSink, EachTransactionIsCommittedExactlyOnceUnderRepeatedFailures) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::OperatorStateSnapshot checkpoint;
  {
    ckpt::OperatorStateStore store;
    auto sink = make_sink(fs);
    start(*sink, store, false);
    sink->invoke("before-1");
    sink->snapshot_state(ckpt::SimpleSnapshotContext(1, 0));
    checkpoint = store.snapshot();  // checkpoint 1 holds "before-1" pre-committed
    sink->invoke("after-1");        // in the open transaction
    // The process dies before the completion reached the sink.
  }
  for (int restart = 0; restart < 3; ++restart) {
    // Every restore from checkpoint 1 commits its transaction again (idempotent)
    // and aborts what was open; a crash right after the commit repeats it.
    ckpt::OperatorStateStore store;
    store.restore(checkpoint);
    auto sink = make_sink(fs);
    start(*sink, store, true);
    sink->invoke("replayed-" + std::to_string(restart));  // replay after the checkpoint, then crash again
  }
  EXPECT_THAT(ckpt::test::committed_lines(*fs, "out"), UnorderedElementsAre("before-1"));
  EXPECT_TRUE(fs->list("out/_pending/0").empty());
}

TEST(TransactionalFileSink, CommitOfALostTransactionIsAnError) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  ckpt::OperatorStateSnapshot checkpoint;
  {
    ckpt::OperatorStateStore store;
    auto sink = make_sink(fs);
    start(*sink, store, false);
    sink->invoke("x");
    sink->snapshot_state(ckpt::SimpleSnapshotContext(1, 0));
    checkpoint = store.snapshot();
  }
  fs->remove_all("out/_pending");  // someone deleted the pending part
  ckpt::OperatorStateStore store;
  store.restore(checkpoint);
  auto sink = make_sink(fs);
  EXPECT_THROW(start(*sink, store, true), ckpt::IoError);
}

}  // namespace
