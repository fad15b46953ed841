// R7, one writer: real processes pointed at the same checkpoint directory.
//   - while one holds the storage, a second process (and this one) get
//     errc::locked with a message that says so;
//   - two writers started together never interleave: one gets the lock, the
//     other errc::locked (or, if the first is already done, it goes on from
//     the first one's last checkpoint);
//   - the lock of a SIGKILLed writer is gone with it: the next opener succeeds
//     at once (the lock is non-blocking, so nothing can wait forever).

#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "job.hpp"
#include "process.hpp"
#include "reliability.hpp"
#include "temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace {

using ::testing::HasSubstr;
using ckpt::rel::Child;
using ckpt::rel::parse_report;

/// Starts a child holding the storage at `dir`, and waits until it has it.
std::unique_ptr<Child> holder(const std::string& dir) {
  auto child = std::make_unique<Child>(CKPT_REL_CHILD, std::vector<std::string>{"hold", dir},
                                       std::map<std::string, std::string>{}, true);
  const auto line = child->next_line();
  EXPECT_EQ(line.value_or("<exited>"), "opened");
  return child;
}

void expect_locked_here(const std::string& dir) {
  try {
    ckpt::CheckpointStorage storage(std::make_shared<ckpt::fs::LocalFileSystem>(dir));
    ADD_FAILURE() << "opened a storage another process holds";
  } catch (const ckpt::Error& e) {
    EXPECT_EQ(e.code(), ckpt::errc::locked) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("locked by another process"));
    EXPECT_THAT(e.what(), HasSubstr(dir));
  }
}

TEST(OneWriter, ASecondProcessGetsLocked) {
  ckpt::test::TempDir dir;
  auto first = holder(dir.str());
  Child second(CKPT_REL_CHILD, {"run", dir.str()}, {{"CKPT_CHILD_CHECKPOINTS", "1"}});
  const auto& lines = second.drain();
  EXPECT_EQ(second.exit_code(), 10) << second.describe_status();
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.front(), HasSubstr("locked by another process"));
  expect_locked_here(dir.str());
  first->close_stdin();  // the holder lets go and exits
  first->drain();
  EXPECT_EQ(first->exit_code(), 0);
  EXPECT_NO_THROW(ckpt::CheckpointStorage(std::make_shared<ckpt::fs::LocalFileSystem>(dir.str())));
}

TEST(OneWriter, TheLockOfAKilledWriterDoesNotOutliveIt) {
  ckpt::test::TempDir dir;
  auto first = holder(dir.str());
  first->kill();
  EXPECT_TRUE(first->killed());
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "_lock")) << "the lock file stays; the lock does not";
  // A new process opens and checkpoints at once...
  Child next(CKPT_REL_CHILD, {"run", dir.str()}, {{"CKPT_CHILD_CHECKPOINTS", "2"}});
  next.drain();
  EXPECT_EQ(next.exit_code(), 0) << next.describe_status();
  // ... and so does this one.
  ckpt::CheckpointStorage storage(std::make_shared<ckpt::fs::LocalFileSystem>(dir.str()));
  auto snapshot = storage.restore_latest(ckpt::RestoreOptions::strict());
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->checkpoint_id(), 2u);
  EXPECT_EQ(ckpt::rel::restored_mismatch(*snapshot), "");
}

TEST(OneWriter, TwoWritersStartedTogetherNeverInterleave) {
  ckpt::test::TempDir dir;
  const auto rounds = ckpt::rel::iterations(20, 200, 5);
  std::uint64_t locked_out = 0, sequential = 0, last = 0;
  for (std::uint64_t round = 0; round < rounds; ++round) {
    const std::map<std::string, std::string> env = {{"CKPT_CHILD_CHECKPOINTS", "3"}};
    Child a(CKPT_REL_CHILD, {"run", dir.str()}, env);
    Child b(CKPT_REL_CHILD, {"run", dir.str()}, env);
    struct Outcome {
      bool ran = false;
      std::uint64_t restored = 0;
      std::vector<std::uint64_t> completed;
    };
    std::vector<Outcome> outcomes;
    for (Child* c : {&a, &b}) {
      Outcome o;
      for (const auto& line : c->drain()) {
        const auto [word, n] = parse_report(line);
        if (word == "restored") o.restored = n;
        if (word == "complete") o.completed.push_back(n);
        if (word == "error") ADD_FAILURE() << line;
      }
      const auto code = c->exit_code();
      ASSERT_TRUE(code == 0 || code == 10) << c->describe_status();
      o.ran = code == 0;
      outcomes.push_back(o);
    }
    ASSERT_TRUE(outcomes[0].ran || outcomes[1].ran) << "neither writer got the lock";
    if (outcomes[0].ran && outcomes[1].ran) {
      // Both ran: one after the other, the second going on from the first.
      ++sequential;
      auto first = outcomes[0], second = outcomes[1];
      if (first.restored > second.restored) std::swap(first, second);
      ASSERT_EQ(first.restored, last);
      ASSERT_EQ(second.restored, first.completed.back()) << "the second writer did not start from the first's end";
    } else {
      ++locked_out;
      const auto& winner = outcomes[0].ran ? outcomes[0] : outcomes[1];
      const auto& loser = outcomes[0].ran ? outcomes[1] : outcomes[0];
      ASSERT_EQ(winner.restored, last);
      ASSERT_TRUE(loser.completed.empty());
    }
    std::set<std::uint64_t> ids;
    for (const auto& o : outcomes)
      for (const auto id : o.completed) ASSERT_TRUE(ids.insert(id).second) << "checkpoint " << id << " written twice";
    last = *ids.rbegin();
  }
  ckpt::CheckpointStorage storage(std::make_shared<ckpt::fs::LocalFileSystem>(dir.str()));
  auto snapshot = storage.restore_latest(ckpt::RestoreOptions::strict());
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->checkpoint_id(), last);
  EXPECT_EQ(ckpt::rel::restored_mismatch(*snapshot), "");
  std::printf("[ R7 ] %llu races of two writers: %llu times one was locked out, %llu times they ran one after the "
              "other; never interleaved, last checkpoint %llu restores exactly\n",
              static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(locked_out),
              static_cast<unsigned long long>(sequential), static_cast<unsigned long long>(last));
}

}  // namespace
