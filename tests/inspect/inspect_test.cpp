// ckpt-inspect against a real checkpoint on local disk: the functions, and
// the program itself.
#include "inspect.hpp"

#include "hostile.hpp"

#include "file_tree.hpp"
#include "temp_dir.hpp"
#include "workload.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
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

TEST_F(Inspect, ListsTagsWithTheirSavepoints) {
  {
    auto storage = ckpt::CheckpointStorage::open(dir.uri());
    storage->create_tag("release-1", 1, 1'764'766'800'000);  // 2025-12-03T13:00:00Z
  }
  std::ofstream(dir.path() / "tags" / "forged") << "not a tag";
  std::ostringstream out;
  ckpt::inspect::list(dir.uri(), out);
  const auto text = out.str();
  EXPECT_THAT(text, HasSubstr("created (UTC)"));
  EXPECT_THAT(text, HasSubstr("release-1"));
  EXPECT_THAT(text, HasSubstr("2025-12-03T13:00:00Z  never"));
  EXPECT_THAT(text, HasSubstr("/savepoints/savepoint-1-v1"));
  EXPECT_THAT(text, HasSubstr("DAMAGED tag: "));
  EXPECT_THAT(text, HasSubstr("forged"));
}

TEST_F(Inspect, ListShowsNoTagTableWithoutTags) {
  std::ostringstream out;
  ckpt::inspect::list(dir.uri(), out);
  EXPECT_THAT(out.str(), ::testing::Not(HasSubstr("created (UTC)")));
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
  // Read-only, also on a path that is not there: nothing is created.
  for (const auto* command : {" list ", " show ", " verify "}) {
    EXPECT_THAT(run(bin + command + dir.uri() + "/missing/chk-1"), HasSubstr("[exit 1]")) << command;
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "missing")) << command;
  }
  EXPECT_THAT(run(bin + " dump " + dir.uri() + "/missing/chk-1 counter count"), HasSubstr("[exit 1]"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "missing"));
  EXPECT_THAT(run(bin), HasSubstr("[exit 2]"));
  const auto bad_limit = run(bin + " dump --limit abc " + dir.uri() + "/chk-1 counter count");
  EXPECT_THAT(bad_limit, HasSubstr("--limit needs a number of entries, not 'abc'"));
  EXPECT_THAT(bad_limit, HasSubstr("[exit 2]"));
  EXPECT_THAT(run(bin + " dump --limit 99999999999999999999999 " + dir.uri() + "/chk-1 counter count"),
              HasSubstr("[exit 2]"));
}

TEST_F(Inspect, DumpStopsAtItsLimit) {
  const auto one = ckpt::inspect::dump(*open(), "counter", "count", 1);
  std::size_t entries = 0;
  for (std::size_t at = one.find("\"key\""); at != std::string::npos; at = one.find("\"key\"", at + 1)) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST(TypeNames, HostileNamesAreRefusedNotRecursedInto) {
  std::string deep;
  for (int i = 0; i < 20000; ++i) deep += "vector<";
  deep += "i64";
  for (int i = 0; i < 20000; ++i) deep += ">";
  EXPECT_THROW(ckpt::inspect::parse_type(deep), ckpt::inspect::TypeParseError);
  EXPECT_THROW(ckpt::inspect::parse_type(std::string(5000, 'x')), ckpt::inspect::TypeParseError);
  EXPECT_NO_THROW(ckpt::inspect::parse_type("vector<vector<map<string,i64>>>"));
}

TEST(TypeNames, AContainerNeedsItsArguments) {
  using ckpt::inspect::decodable;
  using ckpt::inspect::parse_type;
  EXPECT_FALSE(decodable(parse_type("vector")));
  EXPECT_FALSE(decodable(parse_type("map<i64>")));
  EXPECT_FALSE(decodable(parse_type("pair<i64,i64,i64>")));
  EXPECT_FALSE(decodable(parse_type("array<i64,99999999>")));
  EXPECT_FALSE(decodable(parse_type("array<i64,x>")));
  EXPECT_FALSE(decodable(parse_type("i64<i64>")));
  EXPECT_FALSE(decodable(parse_type("my::Account")));
  EXPECT_TRUE(decodable(parse_type("array<i64,16>")));
  EXPECT_TRUE(decodable(parse_type("unordered_map<string,ttl<vector<f64>>>")));
}

TEST(Show, ControlCharactersInAManifestNeverReachTheTerminal) {
  ckpt::test::TempDir dir;
  {
    auto storage = ckpt::CheckpointStorage::open(dir.uri());
    auto ops = ckpt::test::make_operators("counter", 1);
    auto pending = storage->begin_checkpoint(1, 0);
    pending->write(ops[0]->snapshot(1));
    pending->complete({{"note\x07", "\x1b]0;pwned\x07\x1b[2J"}});
  }
  std::ostringstream out;
  ckpt::inspect::show(*ckpt::CheckpointStorage::open_snapshot(dir.uri() + "/chk-1"), out);
  const auto text = out.str();
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_EQ(text.find('\x07'), std::string::npos);
  EXPECT_THAT(text, HasSubstr("property note\\x07 = \\x1b]0;pwned\\x07\\x1b[2J"));
}

}  // namespace

namespace {

// tests/storage/data/names-v1: a checkpoint whose manifest spells std::string
// as libstdc++ did (opened in place: reading it changes nothing).
std::unique_ptr<ckpt::SnapshotReader> open_names_v1() {
  return ckpt::CheckpointStorage::open_snapshot("file://" CKPT_TEST_DATA_DIR "/names-v1/chk-1");
}

TEST(LibraryStates, TheSinksAndSourcesOwnStatesDecodeFromAnOldSnapshot) {
  auto snapshot = open_names_v1();
  const auto sink = ckpt::inspect::dump(*snapshot, "named", "two-phase-commit-transactions");
  EXPECT_THAT(sink, HasSubstr("\"element_type\": \"ckpt::TwoPhaseCommitSink<string,ckpt::FileTransaction>::Entry\""));
  EXPECT_THAT(sink, HasSubstr("{\"checkpoint_id\":3,\"transaction\":{\"pending_path\":\"out/.pending-3\","
                              "\"final_path\":\"out/part-c3-0\",\"empty\":false}}"));
  const auto offsets = ckpt::inspect::dump(*snapshot, "named", "partition-offsets");
  EXPECT_THAT(offsets, HasSubstr("{\"partition\":1,\"offset\":42}"));
}

TEST(LibraryStates, AUserTypeNeedsTheProgramsTypesNeverAParserError) {
  auto snapshot = open_names_v1();
  for (const auto* state : {"wrapped", "durations"}) {
    try {
      (void)ckpt::inspect::dump(*snapshot, "named", state);
      ADD_FAILURE() << state << " decoded without its types";
    } catch (const ckpt::ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr("cannot decode without the program's types")) << state;
    }
  }
  std::ostringstream out;
  ckpt::inspect::show(*snapshot, out);
  EXPECT_THAT(out.str(), HasSubstr("ckpt::test::Wrapper<string>"));
  EXPECT_THAT(out.str(), ::testing::Not(HasSubstr("__cxx11")));
}

}  // namespace

namespace {

// Issue 15: ckpt-inspect's commands on every hostile snapshot of the
// reliability suite (tests/reliability/hostile.hpp), under the ASan build in
// CI: each command succeeds or fails with a ckpt::Error, and for each forged
// file some command refuses it naming the file.
TEST(HostileSnapshots, EveryCommandRefusesThemNamingTheFileAndNeverCrashes) {
  for (const auto& c : ckpt::rel::hostile_cases()) {
    auto fs = std::make_shared<ckpt::fs::MemoryFileSystem>();
    ckpt::rel::write_checkpoints(fs, ckpt::StorageOptions::defaults(), 1);
    c.forge(*fs);
    std::vector<std::string> refusals;
    const auto command = [&](auto&& run) {
      try {
        run();
      } catch (const ckpt::Error& e) {
        refusals.emplace_back(e.what());
      }
    };
    std::unique_ptr<ckpt::SnapshotReader> snapshot;
    command([&] { snapshot = std::make_unique<ckpt::SnapshotReader>(fs, ckpt::rel::hostile_dir, c.limits); });
    if (snapshot) {
      std::ostringstream out;
      command([&] { ckpt::inspect::show(*snapshot, out); });
      command([&] { (void)ckpt::inspect::manifest_json(snapshot->manifest()); });
      command([&] { ckpt::inspect::verify(*snapshot, out); });
      for (const auto& op : snapshot->manifest().operators) {
        for (const auto& s : op.keyed_states) command([&] { (void)ckpt::inspect::dump(*snapshot, op.uid, s.name); });
        for (const auto& sub : op.subtasks)
          for (const auto& o : sub.operator_states) command([&] { (void)ckpt::inspect::dump(*snapshot, op.uid, o.name, 3); });
      }
    }
    const bool named = std::any_of(refusals.begin(), refusals.end(),
                                   [&](const std::string& what) { return what.find(c.file) != std::string::npos; });
    EXPECT_TRUE(named) << c.name << ": no command refused it naming " << c.file;
  }
}

}  // namespace

namespace {

using ckpt::test::files_under;

TEST_F(Inspect, TheEditCommandsWriteANewSavepointAndNeverTouchTheirInput) {
  const std::string bin = CKPT_INSPECT_BIN;
  ckpt::test::TempDir target_dir("ckpt-edit-target");
  const auto before = files_under(dir.path());
  const auto to = " --to " + target_dir.uri();

  const auto renamed = run(bin + " rename-operator " + dir.uri() + "/chk-1 counter counter-v2" + to +
                           " --name renamed --parallelism 3");
  EXPECT_THAT(renamed, HasSubstr("wrote savepoint"));
  EXPECT_THAT(renamed, HasSubstr("(renamed)"));
  EXPECT_THAT(renamed, HasSubstr("[exit 0]"));
  const auto dropped_state = run(bin + " drop-state " + dir.uri() + "/savepoints/savepoint-1-v1 counter history" + to +
                                 " --name no-history");
  EXPECT_THAT(dropped_state, HasSubstr("[exit 0]"));
  EXPECT_THAT(run(bin + " rename-state " + dir.uri() + "/chk-1 counter count total" + to + " --name total"),
              HasSubstr("[exit 0]"));
  EXPECT_THAT(run(bin + " drop-operator " + dir.uri() + "/chk-1 counter" + to + " --name empty"), HasSubstr("[exit 0]"));
  EXPECT_EQ(files_under(dir.path()), before);  // the input, byte for byte

  auto target = ckpt::CheckpointStorage::open(target_dir.uri());
  {
    auto ops = ckpt::test::restore_operators(*target->open_savepoint("renamed"), "counter-v2", 3);
    std::size_t keys = 0;
    for (auto& op : ops) {
      op->expect(50, 0);
      keys += op->keyed.keys("count").size();
    }
    EXPECT_EQ(keys, 50u);
  }
  {
    auto snapshot = target->open_savepoint("no-history");
    std::vector<std::string> states;
    for (const auto& s : snapshot->manifest().find("counter")->keyed_states) states.push_back(s.name);
    EXPECT_THAT(states, ::testing::Not(::testing::Contains("history")));
    EXPECT_THAT(states, ::testing::Contains("count"));
  }
  {
    auto snapshot = target->open_savepoint("total");
    ckpt::KeyedStateBackend<std::uint64_t> keyed;
    auto total = keyed.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"total", -1});
    ckpt::OperatorStateStore store;
    snapshot->restore("counter", &keyed, &store);
    keyed.set_current_key(std::uint64_t{7});
    EXPECT_EQ(total.value(), ckpt::test::expected_count(7, 0));
  }
  EXPECT_TRUE(target->open_savepoint("empty")->manifest().operators.empty());
}

TEST_F(Inspect, AFailedEditWritesNoSavepoint) {
  const std::string bin = CKPT_INSPECT_BIN;
  ckpt::test::TempDir target_dir("ckpt-edit-target");
  const auto to = " --to " + target_dir.uri();
  const auto missing = run(bin + " drop-operator " + dir.uri() + "/chk-1 nope" + to + " --name x");
  EXPECT_THAT(missing, HasSubstr("no operator 'nope'"));
  EXPECT_THAT(missing, HasSubstr("[exit 1]"));
  EXPECT_THAT(run(bin + " drop-state " + dir.uri() + "/chk-1 counter" + to + " --name x"), HasSubstr("[exit 2]"));
  EXPECT_THAT(run(bin + " drop-operator " + dir.uri() + "/chk-1 counter --name x"), HasSubstr("[exit 2]"));
  EXPECT_THAT(run(bin + " drop-operator " + dir.uri() + "/chk-1 counter" + to + " --name x --parallelism 0"),
              HasSubstr("[exit 2]"));
  // A damaged block: a CorruptionError naming the file, and nothing written.
  const auto state_file = dir.path() / "chk-1" / ckpt::layout::state_file("counter", 0);
  ASSERT_TRUE(std::filesystem::exists(state_file));
  {
    std::fstream f(state_file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x7f');
  }
  const auto corrupt = run(bin + " rename-operator " + dir.uri() + "/chk-1 counter c2" + to + " --name x");
  EXPECT_THAT(corrupt, HasSubstr(ckpt::layout::state_file("counter", 0)));
  EXPECT_THAT(corrupt, HasSubstr("[exit 1]"));
  auto target = ckpt::CheckpointStorage::open(target_dir.uri());
  EXPECT_TRUE(target->savepoints().empty());
}

}  // namespace
