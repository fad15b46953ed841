// ckpt-inspect against a real checkpoint on local disk: the functions, and
// the program itself.
#include "inspect.hpp"

#include "temp_dir.hpp"
#include "workload.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>

namespace {

using ::testing::HasSubstr;

class Inspect : public ::testing::Test {
 protected:
  void SetUp() override {
    auto storage = ckpt::CheckpointStorage::open(dir.uri());
    auto ops = ckpt::test::make_operators("counter", 2);
    for (auto& op : ops) {
      op->fill(50, 0);
      op->offsets.update({static_cast<std::int64_t>(op->subtask) * 100});
    }
    ckpt::test::checkpoint(*storage, ops, 1);
    storage->promote_to_savepoint(1, "v1");
  }
  std::unique_ptr<ckpt::SnapshotReader> open() { return ckpt::CheckpointStorage::open_snapshot(dir.uri() + "/chk-1"); }
  ckpt::test::TempDir dir;
};

TEST_F(Inspect, ListsCheckpointsAndSavepoints) {
  std::ostringstream out;
  ckpt::inspect::list(dir.uri(), out);
  EXPECT_THAT(out.str(), HasSubstr("checkpoint 1"));
  EXPECT_THAT(out.str(), HasSubstr("/chk-1"));
  EXPECT_THAT(out.str(), HasSubstr("savepoint  1"));
  EXPECT_THAT(out.str(), HasSubstr("savepoints/savepoint-1-v1  (v1)"));
}

TEST_F(Inspect, ShowsTheManifest) {
  std::ostringstream out;
  ckpt::inspect::show(*open(), out);
  const auto text = out.str();
  EXPECT_THAT(text, HasSubstr("operator 'counter': parallelism 2, max parallelism 128, keys u64"));
  EXPECT_THAT(text, HasSubstr("keyed state 'count': value of i64 (version 0)"));
  EXPECT_THAT(text, HasSubstr("subtask 1: key groups [64, 128)"));
  EXPECT_THAT(text, HasSubstr("operator state 'offsets': even-split list of i64, 1 elements"));
  EXPECT_THAT(text, HasSubstr("compression"));
  const auto json = ckpt::inspect::manifest_json(open()->manifest());
  EXPECT_THAT(json, HasSubstr("\"uid\": \"counter\""));
  EXPECT_THAT(json, HasSubstr("\"value_type\": \"vector<string>\""));
}

TEST_F(Inspect, VerifiesEveryBlockWithProgress) {
  std::ostringstream out;
  std::size_t last = 0, total = 0;
  ckpt::inspect::verify(*open(), out, [&](std::size_t done, std::size_t t) {
    EXPECT_EQ(done, last + 1);
    last = done;
    total = t;
  });
  EXPECT_EQ(last, total);
  EXPECT_GT(total, 2u);
  EXPECT_THAT(out.str(), HasSubstr("OK: " + std::to_string(total) + " blocks"));
}

TEST_F(Inspect, DumpsKeyedAndOperatorStateAsJson) {
  auto snapshot = open();
  const auto counts = ckpt::inspect::dump(*snapshot, "counter", "count");
  // Key 7 holds 70 (round 0): find it among 50 keys.
  EXPECT_THAT(counts, HasSubstr("\"key\": 7, \"value\": 70}"));
  EXPECT_THAT(ckpt::inspect::dump(*snapshot, "counter", "history", 1), HasSubstr("[\n"));
  EXPECT_THAT(ckpt::inspect::dump(*snapshot, "counter", "tags"), HasSubstr("\"last\""));
  const auto offsets = ckpt::inspect::dump(*snapshot, "counter", "offsets");
  EXPECT_THAT(offsets, HasSubstr("\"kind\": \"even-split\""));
  EXPECT_THAT(offsets, HasSubstr("100"));
  EXPECT_THROW(ckpt::inspect::dump(*snapshot, "counter", "nope"), ckpt::ConfigError);
  EXPECT_THROW(ckpt::inspect::dump(*snapshot, "nope", "count"), ckpt::ConfigError);
}

TEST(TypeDecoder, ParsesTypeNames) {
  const auto t = ckpt::inspect::parse_type("unordered_map<string,vector<pair<i64,f64>>>");
  EXPECT_EQ(t.name, "unordered_map");
  ASSERT_EQ(t.args.size(), 2u);
  EXPECT_EQ(t.args[1].args[0].args[1].name, "f64");
  EXPECT_TRUE(ckpt::inspect::decodable(t));
  EXPECT_FALSE(ckpt::inspect::decodable(ckpt::inspect::parse_type("vector<my::Type>")));
  EXPECT_THROW(ckpt::inspect::parse_type("vector<i64"), ckpt::inspect::TypeParseError);
}

std::string run(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  char buf[4096];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  const int status = p ? ::pclose(p) : -1;
  return out + "\n[exit " + std::to_string(WEXITSTATUS(status)) + "]";
}

TEST_F(Inspect, TheProgram) {
  const std::string bin = CKPT_INSPECT_BIN;
  EXPECT_THAT(run(bin + " list " + dir.uri()), HasSubstr("[exit 0]"));
  EXPECT_THAT(run(bin + " show " + dir.uri() + "/chk-1"), HasSubstr("operator 'counter'"));
  EXPECT_THAT(run(bin + " verify " + dir.uri() + "/chk-1"), HasSubstr("OK: "));
  EXPECT_THAT(run(bin + " dump --limit 3 " + dir.uri() + "/chk-1 counter count"), HasSubstr("\"entries\""));
  EXPECT_THAT(run(bin + " show " + dir.uri() + "/chk-9"), HasSubstr("[exit 1]"));
  EXPECT_THAT(run(bin), HasSubstr("[exit 2]"));
}

}  // namespace
