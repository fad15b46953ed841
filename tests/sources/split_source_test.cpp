// Split sources through SplitSourceTestHarness: the partitioned log and the
// directory source — assignment, reading, snapshot and restore at the same
// and at another parallelism, discovery while running, final watermarks —
// and the enumerators' logic on their own.
#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/function/directory_source.hpp>
#include <ckpt/function/partition_split_source.hpp>
#include <ckpt/testing/split_source_test_harness.hpp>

#include "pipeline_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ckpt::test::Event;

constexpr std::uint32_t kPartitions = 4;
constexpr std::uint64_t kRecords = 50;

std::shared_ptr<ckpt::PartitionSplitSource<Event>> log_source(bool bounded = true, std::size_t per_poll = 8) {
  return std::make_shared<ckpt::PartitionSplitSource<Event>>(
      kPartitions, [bounded, per_poll](std::uint32_t) {
        return std::make_unique<ckpt::test::LogSource>(kPartitions, kRecords, 10, bounded, per_poll);
      }, per_poll);
}

std::vector<std::string> ids(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(std::to_string(e.partition) + ":" + std::to_string(e.offset));
  std::sort(out.begin(), out.end());
  return out;
}
std::vector<std::string> all_ids() {
  std::vector<std::string> out;
  for (std::uint32_t p = 0; p < kPartitions; ++p)
    for (std::uint64_t o = 0; o < kRecords; ++o) out.push_back(std::to_string(p) + ":" + std::to_string(o));
  std::sort(out.begin(), out.end());
  return out;
}
template <class T>
std::vector<T> concat(std::vector<T> a, const std::vector<T>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
std::vector<std::uint32_t> partitions_of(const std::vector<ckpt::PartitionSplit>& splits) {
  std::vector<std::uint32_t> out;
  for (const auto& s : splits) out.push_back(s.partition);
  std::sort(out.begin(), out.end());
  return out;
}
TEST(PartitionSplitSource, AFreshStartGivesReaderIThePartitionsCongruentToIAndReadsThemAll) {
  ckpt::SplitSourceTestHarness h(log_source(), 2);
  h.poll_next(0);
  h.poll_next(1);
  EXPECT_THAT(partitions_of(h.splits(0)), ElementsAre(0, 2));
  EXPECT_THAT(partitions_of(h.splits(1)), ElementsAre(1, 3));
  EXPECT_TRUE(h.poll_all());
  EXPECT_EQ(ids(h.all_output()), all_ids());
  EXPECT_TRUE(h.splits(0).empty());  // ended splits leave the reader's state
  EXPECT_EQ(h.current_watermark(0), std::numeric_limits<std::int64_t>::max());
}

TEST(PartitionSplitSource, RestoreAtTheSameParallelismGivesEachReaderItsOwnSplitsAtTheirOffsets) {
  ckpt::SplitSourceTestHarness h(log_source(), 2);
  for (int i = 0; i < 3; ++i) {
    h.poll_next(0);
    h.poll_next(1);
  }
  const auto before0 = h.splits(0);
  const auto before1 = h.splits(1);
  const auto read = h.all_output();
  const auto checkpoint = h.snapshot(1);
  h.poll_all();  // read past the checkpoint, then fail
  h.restore(checkpoint);
  EXPECT_EQ(h.splits(0), before0);
  EXPECT_EQ(h.splits(1), before1);
  EXPECT_TRUE(h.poll_all());
  EXPECT_EQ(ids(concat(read, h.all_output())), all_ids());
}

TEST(PartitionSplitSource, RescaleRedistributesThePartitionsWithTheirOffsetsExactlyOnce) {
  ckpt::SplitSourceTestHarness h(log_source(), 2);
  h.poll_next(0);
  h.poll_next(1);
  const auto read = h.all_output();
  const auto checkpoint = h.snapshot(7);
  h.restore(checkpoint, 3);
  ASSERT_EQ(h.parallelism(), 3u);
  std::vector<ckpt::PartitionSplit> all;
  for (std::uint32_t i = 0; i < 3; ++i) {
    const auto s = h.splits(i);
    all.insert(all.end(), s.begin(), s.end());
  }
  EXPECT_THAT(partitions_of(all), ElementsAre(0, 1, 2, 3));
  for (const auto& s : all) EXPECT_EQ(s.offset, 4u) << s.split_id();  // one poll of 8 records over two partitions
  EXPECT_TRUE(h.poll_all());
  EXPECT_EQ(ids(concat(read, h.all_output())), all_ids());
}

TEST(PartitionSplitSource, ReadersBeyondThePartitionCountFinishAtOnce) {
  ckpt::SplitSourceTestHarness h(log_source(), 6);
  EXPECT_EQ(h.poll_next(5), ckpt::SourceStatus::finished);
  EXPECT_EQ(h.current_watermark(5), std::numeric_limits<std::int64_t>::max());
  EXPECT_TRUE(h.poll_all());
  EXPECT_EQ(ids(h.all_output()), all_ids());
}

TEST(PartitionSplitSource, AnUnboundedLogIsIdleAtItsTailAndNeverFinishes) {
  ckpt::SplitSourceTestHarness h(log_source(/*bounded=*/false), 1);
  EXPECT_FALSE(h.poll_all());
  EXPECT_EQ(h.poll_next(), ckpt::SourceStatus::idle);
  EXPECT_EQ(h.all_output().size(), kPartitions * kRecords);
}

TEST(PartitionSplitSource, PerPartitionWatermarksAreTheirMinimum) {
  struct Timed final : ckpt::PartitionedSource<Event> {
    Timed() : PartitionedSource(2) {}
    Read read(std::uint32_t p, std::uint64_t o) override {
      if (o >= (p == 0 ? 3u : 10u)) return Read::later();
      return Read::of(Event{p, o, "k", 0});
    }
    std::int64_t timestamp_of(const Event& e) const override { return static_cast<std::int64_t>(e.offset * 100 + e.partition); }
  };
  auto source = std::make_shared<ckpt::PartitionSplitSource<Event>>(2, [](std::uint32_t) { return std::make_unique<Timed>(); });
  source->use_watermarks(ckpt::WatermarkStrategy<Event>::for_monotonous_timestamps());
  ckpt::SplitSourceTestHarness h(source, 1);
  h.poll_all();
  // Partition 0 stopped at offset 2 (ts 200): it holds the watermark back.
  EXPECT_EQ(h.current_watermark(), 199);
}

TEST(PartitionSplitSource, AnIdlePartitionDoesNotHoldTheWatermarkBack) {
  auto available = std::make_shared<std::uint64_t>(5);  // partition 0's records so far
  struct Gated final : ckpt::PartitionedSource<Event> {
    explicit Gated(std::shared_ptr<std::uint64_t> n) : PartitionedSource(2), n_(std::move(n)) {}
    Read read(std::uint32_t p, std::uint64_t o) override {
      if (o >= (p == 0 ? *n_ : 1u)) return Read::later();
      return Read::of(Event{p, o, "k", 0});
    }
    std::int64_t timestamp_of(const Event& e) const override { return static_cast<std::int64_t>(e.offset * 100 + e.partition); }
    std::shared_ptr<std::uint64_t> n_;
  };
  ckpt::ManualClock idleness_clock;
  auto source = std::make_shared<ckpt::PartitionSplitSource<Event>>(
      2, [available](std::uint32_t) { return std::make_unique<Gated>(available); });
  source->use_watermarks(ckpt::WatermarkStrategy<Event>::for_monotonous_timestamps().with_idleness(100ms, idleness_clock));
  ckpt::SplitSourceTestHarness h(source, 1);
  h.poll_all();
  EXPECT_EQ(h.current_watermark(), 0);  // partition 1 (ts 1) holds partition 0 (ts 400) back
  idleness_clock.advance(100ms);
  EXPECT_TRUE(h.watermark_idle());  // both silent
  *available = 10;
  h.poll_all();
  EXPECT_FALSE(h.watermark_idle());
  EXPECT_EQ(h.current_watermark(), 899);  // partition 1 is still idle: left out of the minimum
}

/// A context that records what the enumerator does.
struct RecordingContext final : ckpt::SplitEnumeratorContext<ckpt::PartitionSplit> {
  std::uint32_t par = 2;
  std::vector<std::uint32_t> registered;
  std::map<std::uint32_t, std::vector<std::uint32_t>> assigned;  // subtask -> partitions
  std::vector<std::uint32_t> no_more;
  std::uint32_t parallelism() const override { return par; }
  std::vector<std::uint32_t> registered_readers() const override { return registered; }
  void assign_split(ckpt::PartitionSplit s, std::uint32_t subtask) override { assigned[subtask].push_back(s.partition); }
  void signal_no_more_splits(std::uint32_t subtask) override { no_more.push_back(subtask); }
  void call_periodically(std::function<void()>, std::chrono::milliseconds) override {}
};

TEST(PartitionSplitEnumerator, KeepsThePartitionsOfReadersNotStartedAndTakesSplitsBack) {
  RecordingContext ctx;
  ckpt::PartitionSplitEnumerator e(ctx, 5, std::nullopt);
  ctx.registered = {1};
  e.add_reader(1);
  EXPECT_THAT(ctx.assigned[1], ElementsAre(1, 3));
  EXPECT_THAT(ctx.no_more, ElementsAre(1));
  EXPECT_THAT(partitions_of(e.snapshot_state(1)), ElementsAre(0, 2, 4));  // reader 0's, unassigned
  e.add_splits_back({{3, 17}}, 1);
  EXPECT_THAT(ctx.assigned[1], ElementsAre(1, 3, 3));  // reader 1 is registered: at once
  ckpt::PartitionSplitEnumerator restored(ctx, 5, std::vector<ckpt::PartitionSplit>{{4, 9}});
  EXPECT_EQ(restored.snapshot_state(2), (std::vector<ckpt::PartitionSplit>{{4, 9}}));
}

// -- the directory source

std::shared_ptr<ckpt::fs::MemoryFileSystem> files(std::map<std::string, std::string> contents) {
  auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
  fs->make_directories("in");
  for (const auto& [name, text] : contents) ckpt::fs::write_file(*fs, "in/" + name, ckpt::as_bytes(text));
  return fs;
}
std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(DirectorySource, ABoundedSourceReadsEveryLineOfEveryFileThenFinishes) {
  auto fs = files({{"a.txt", "a1\na2\n"}, {"b.txt", "b1\n\nb3"}, {"_pending", "no\n"}, {".hidden", "no\n"}});
  ckpt::SplitSourceTestHarness h(std::make_shared<ckpt::DirectorySource>(fs, "in"), 2);
  EXPECT_TRUE(h.poll_all());
  EXPECT_EQ(sorted(h.all_output()), sorted({"a1", "a2", "b1", "", "b3"}));
  EXPECT_EQ(h.current_watermark(1), std::numeric_limits<std::int64_t>::max());
}

TEST(DirectorySource, APositionIsTheByteOffsetOfTheNextLine) {
  auto fs = files({{"a.txt", "one\ntwo\nthree\n"}});
  ckpt::SplitSourceTestHarness h(std::make_shared<ckpt::DirectorySource>(fs, "in",
      [] { auto o = ckpt::DirectorySourceOptions::bounded(); o.lines_per_poll = 1; return o; }()));
  h.poll_next();  // asks for a split
  h.poll_next();  // gets it, reads "one"
  EXPECT_THAT(h.output(), ElementsAre("one"));
  EXPECT_EQ(h.splits(), (std::vector<ckpt::FileSplit>{{"in/a.txt", 4}}));
}

TEST(DirectorySource, AFileAddedWhileRunningIsDiscoveredAtTheNextInterval) {
  auto fs = files({{"a.txt", "a1\n"}});
  ckpt::SplitSourceTestHarness h(std::make_shared<ckpt::DirectorySource>(fs, "in", ckpt::DirectorySourceOptions::continuous(1s)), 2);
  EXPECT_FALSE(h.poll_all());  // continuous: never finishes
  EXPECT_THAT(h.all_output(), ElementsAre("a1"));
  ckpt::fs::write_file(*fs, "in/b.txt", ckpt::as_bytes(std::string("b1\nb2\n")));
  h.poll_all();
  EXPECT_EQ(h.all_output().size(), 1u);  // not listed again before the interval
  h.advance_time(1s);
  h.poll_all();
  EXPECT_EQ(sorted(h.all_output()), sorted({"a1", "b1", "b2"}));
}

TEST(DirectorySource, RestoreAtAnotherParallelismReadsTheRestOnceAndNoFileTwice) {
  std::map<std::string, std::string> contents;
  std::vector<std::string> expected;
  for (int f = 0; f < 5; ++f) {
    std::string text;
    for (int l = 0; l < 20; ++l) {
      text += "f" + std::to_string(f) + "l" + std::to_string(l) + "\n";
      expected.push_back("f" + std::to_string(f) + "l" + std::to_string(l));
    }
    contents["file" + std::to_string(f)] = text;
  }
  auto fs = files(contents);
  auto options = ckpt::DirectorySourceOptions::continuous(1s);
  options.lines_per_poll = 7;
  auto source = std::make_shared<ckpt::DirectorySource>(fs, "in", options);
  ckpt::SplitSourceTestHarness h(source, 2);
  for (int i = 0; i < 6; ++i) {
    h.poll_next(0);
    h.poll_next(1);
  }
  auto read = h.all_output();
  const auto checkpoint = h.snapshot(3);
  h.poll_all();
  h.restore(checkpoint, 3);
  h.poll_all();
  auto after = h.all_output();
  read.insert(read.end(), after.begin(), after.end());
  EXPECT_EQ(sorted(read), sorted(expected));
}

// Between the readers' cuts of one checkpoint, reader 0 (which cut the
// enumerator) takes a new file after its cut, and reader 1, not yet cut,
// must not take one: both files come back after a restore, each read once.
TEST(DirectorySource, SplitsAssignedBetweenTheReadersCutsAreInTheCheckpointOnce) {
  auto fs = files({{"a", "a0\na1\na2\n"}});
  auto options = ckpt::DirectorySourceOptions::continuous(1s);
  options.lines_per_poll = 1;
  ckpt::SplitSourceTestHarness h(std::make_shared<ckpt::DirectorySource>(fs, "in", options), 2);
  h.poll_all();  // reader 0 reads a; then both wait for a split, reader 1 first
  const auto before = h.all_output();
  EXPECT_EQ(sorted(before), sorted({"a0", "a1", "a2"}));
  const auto checkpoint = h.snapshot(5, [&](std::uint32_t cut) {
    if (cut != 0) return;
    ckpt::fs::write_file(*fs, "in/b", ckpt::as_bytes(std::string("b0\nb1\n")));
    ckpt::fs::write_file(*fs, "in/c", ckpt::as_bytes(std::string("c0\nc1\n")));
    h.advance_time(1s);  // b to reader 1, c to reader 0
    for (int i = 0; i < 3; ++i) {
      h.poll_next(0);
      h.poll_next(1);
    }
    EXPECT_EQ(h.output(0).size(), 5u);  // a's three lines and c's two: taken after its cut
    EXPECT_EQ(h.output(1).size(), 0u);  // b waits until reader 1 has cut
  });
  h.poll_all();
  EXPECT_EQ(h.output(1).size(), 2u);  // cut: now it reads b
  h.restore(checkpoint);
  h.poll_all();
  EXPECT_EQ(sorted(concat(before, h.all_output())), sorted({"a0", "a1", "a2", "b0", "b1", "c0", "c1"}));
}

TEST(DirectorySource, ALineLongerThanTheLimitIsAnErrorNamingTheFile) {
  auto fs = files({{"big", std::string(100, 'x') + "\n"}});
  auto options = ckpt::DirectorySourceOptions::bounded();
  options.max_line_bytes = 10;
  ckpt::SplitSourceTestHarness h(std::make_shared<ckpt::DirectorySource>(fs, "in", options));
  try {
    h.poll_all();
    FAIL() << "no error";
  } catch (const ckpt::IoError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::limit_exceeded);
    EXPECT_THAT(e.what(), HasSubstr("in/big"));
  }
  EXPECT_THROW(ckpt::DirectorySourceOptions::continuous(0ms), ckpt::ConfigError);
}

}  // namespace
