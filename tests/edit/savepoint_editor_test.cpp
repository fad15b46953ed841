// SavepointEditor: each edit is written as a new savepoint, restored at
// another parallelism into operators that expect the edited state, and the
// source savepoint is byte for byte what it was.
#include <ckpt/edit/savepoint_editor.hpp>
#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "file_tree.hpp"
#include "temp_dir.hpp"
#include "workload.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr std::uint64_t kKeys = 1000;

using ckpt::test::files_under;

class SavepointEditorTest : public ::testing::Test {
 protected:
  SavepointEditorTest()
      : storage(std::make_shared<ckpt::fs::LocalFileSystem>(dir.str()), ckpt::StorageOptions::defaults()) {}

  /// Savepoint "v1": operator "agg" (every kind of keyed state, offsets
  /// 0..7 spread over 2 subtasks) and operator "other", round 0.
  void write_v1() {
    auto agg = ckpt::test::make_operators("agg", 2);
    for (auto& op : agg) {
      op->fill(kKeys, 0);
      for (int i = 0; i < 4; ++i) op->offsets.add(static_cast<std::int64_t>(op->subtask * 4 + i));
    }
    auto other = ckpt::test::make_operators("other", 1);
    other[0]->fill(10, 0);
    auto pending = storage.begin_savepoint(1, 1000, "v1");
    for (auto& op : agg) pending->write(op->snapshot(1));
    pending->write(other[0]->snapshot(1));
    pending->complete();
    source_files = files_under(dir.path());
  }

  void expect_source_unchanged() { EXPECT_EQ(files_under_source(), source_files); }
  std::map<std::string, std::string> files_under_source() {
    auto all = files_under(dir.path());
    std::erase_if(all, [&](const auto& f) { return !source_files.contains(f.first); });
    return all;
  }

  std::set<std::string> savepoint_names() {
    std::set<std::string> out;
    for (const auto& s : storage.savepoints()) out.insert(s.name);
    return out;
  }

  ckpt::test::TempDir dir{"ckpt-edit"};
  ckpt::CheckpointStorage storage;
  std::map<std::string, std::string> source_files;
};

TEST_F(SavepointEditorTest, RenamesAnOperatorAndWritesItAtAnotherParallelism) {
  write_v1();
  {
    auto source = storage.open_savepoint("v1");
    ckpt::edit::SavepointEditor editor(*source);
    EXPECT_THAT(editor.operators(), ElementsAre("agg", "other"));
    editor.rename_operator("agg", "agg-v2");
    const auto info = editor.write(storage, "v2", 3);
    EXPECT_EQ(info.name, "v2");
    EXPECT_EQ(info.kind, ckpt::SnapshotKind::savepoint);
  }
  expect_source_unchanged();

  auto edited = storage.open_savepoint("v2");
  EXPECT_FALSE(edited->has_operator("agg"));
  EXPECT_EQ(edited->manifest().properties.at(ckpt::edit::SavepointEditor::edited_from_property), storage.uri() + "/" + storage.open_savepoint("v1")->directory());
  auto ops = ckpt::test::restore_operators(*edited, "agg-v2", 3);
  std::map<std::uint64_t, int> owners;
  for (auto& op : ops) {
    op->expect(kKeys, 0);
    for (const auto k : op->keyed.keys("count")) ++owners[k];
  }
  EXPECT_EQ(owners.size(), kKeys);
  // 8 offsets, even split over 3 subtasks: 3, 3, 2, in the old order.
  EXPECT_THAT(ops[0]->offsets.get(), ElementsAre(0, 1, 2));
  EXPECT_THAT(ops[1]->offsets.get(), ElementsAre(3, 4, 5));
  EXPECT_THAT(ops[2]->offsets.get(), ElementsAre(6, 7));
  // The untouched operator went along, at its new parallelism too.
  auto other = ckpt::test::restore_operators(*edited, "other", 3);
  for (auto& op : other) op->expect(10, 0);
}

TEST_F(SavepointEditorTest, KeepsEachOperatorsParallelismWhenNoneIsGiven) {
  write_v1();
  auto source = storage.open_savepoint("v1");
  ckpt::edit::SavepointEditor(*source).write(storage, "same");
  auto edited = storage.open_savepoint("same");
  ASSERT_NE(edited->manifest().find("agg"), nullptr);
  EXPECT_EQ(edited->manifest().find("agg")->parallelism, 2u);
  EXPECT_EQ(edited->manifest().find("other")->parallelism, 1u);
  auto ops = ckpt::test::restore_operators(*edited, "agg", 2);
  for (auto& op : ops) op->expect(kKeys, 0);
  EXPECT_THAT(ops[1]->offsets.get(), ElementsAre(4, 5, 6, 7));
}

TEST_F(SavepointEditorTest, DropsAnOperatorAndAState) {
  write_v1();
  auto source = storage.open_savepoint("v1");
  ckpt::edit::SavepointEditor editor(*source);
  editor.drop_operator("other").drop_state("agg", "history").drop_state("agg", "offsets");
  editor.write(storage, "dropped", 1);
  expect_source_unchanged();

  auto edited = storage.open_savepoint("dropped");
  EXPECT_FALSE(edited->has_operator("other"));
  std::set<std::string> states;
  for (const auto& s : edited->manifest().find("agg")->keyed_states) states.insert(s.name);
  EXPECT_THAT(states, UnorderedElementsAre("count", "tags", "sum"));
  ckpt::test::Operator op("agg", 0, 1);
  edited->restore("agg", &op.keyed, &op.store);
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    op.keyed.set_current_key(k);
    ASSERT_EQ(op.count.value(), ckpt::test::expected_count(k, 0));
    ASSERT_TRUE(op.history.get().empty()) << "key " << k;
    ASSERT_EQ(op.tags.get("last"), 0);
  }
  EXPECT_TRUE(op.offsets.get().empty());
}

TEST_F(SavepointEditorTest, RenamesAKeyedAndAnOperatorState) {
  write_v1();
  auto source = storage.open_savepoint("v1");
  ckpt::edit::SavepointEditor editor(*source);
  editor.rename_state("agg", "count", "total").rename_state("agg", "offsets", "positions");
  editor.write(storage, "renamed", 2);

  auto edited = storage.open_savepoint("renamed");
  for (std::uint32_t i = 0; i < 2; ++i) {
    auto keyed = ckpt::KeyedStateBackend<std::uint64_t>(ckpt::KeyedStateBackendOptions::for_subtask(i, 2, 128));
    auto total = keyed.get_state(ckpt::ValueStateDescriptor<std::int64_t>{"total", -1});
    ckpt::OperatorStateStore store(i, 2);
    auto positions = store.get_list_state(ckpt::ListStateDescriptor<std::int64_t>{"positions"});
    edited->restore("agg", &keyed, &store);
    std::size_t keys = 0;
    for (const auto k : keyed.keys("total")) {
      keyed.set_current_key(k);
      ASSERT_EQ(total.value(), ckpt::test::expected_count(k, 0));
      ++keys;
    }
    EXPECT_GT(keys, 0u);
    EXPECT_EQ(positions.get().size(), 4u);
  }
}

TEST_F(SavepointEditorTest, TransformsAValueStateIntoANewType) {
  write_v1();
  auto source = storage.open_savepoint("v1");
  ckpt::edit::SavepointEditor editor(*source);
  // count becomes a string; odd keys are dropped.
  editor.transform_value_state<std::uint64_t>(
      "agg", ckpt::ValueStateDescriptor<std::int64_t>{"count", -1}, ckpt::ValueStateDescriptor<std::string>{"label"},
      [](std::uint64_t key, std::int64_t n) -> std::optional<std::string> {
        if (key % 2 == 1) return std::nullopt;
        return "n=" + std::to_string(n);
      });
  editor.write(storage, "transformed", 4);
  expect_source_unchanged();

  auto edited = storage.open_savepoint("transformed");
  std::set<std::uint64_t> seen;
  for (std::uint32_t i = 0; i < 4; ++i) {
    ckpt::KeyedStateBackend<std::uint64_t> keyed(ckpt::KeyedStateBackendOptions::for_subtask(i, 4, 128));
    auto label = keyed.get_state(ckpt::ValueStateDescriptor<std::string>{"label"});
    auto sum = keyed.get_reducing_state(ckpt::ReducingStateDescriptor<std::int64_t>{"sum", std::plus<>{}});
    ckpt::OperatorStateStore store(i, 4);
    edited->restore("agg", &keyed, &store);
    EXPECT_THAT(keyed.state_names(), ::testing::Not(::testing::Contains("count")));
    for (const auto k : keyed.keys("label")) {
      keyed.set_current_key(k);
      ASSERT_EQ(label.value(), "n=" + std::to_string(ckpt::test::expected_count(k, 0)));
      ASSERT_EQ(sum.get(), 0);  // the other states are as they were
      seen.insert(k);
    }
  }
  EXPECT_EQ(seen.size(), kKeys / 2);
  for (const auto k : seen) EXPECT_EQ(k % 2, 0u);
}

TEST_F(SavepointEditorTest, TransformsAnOperatorListStateIntoANewType) {
  write_v1();
  auto source = storage.open_savepoint("v1");
  ckpt::edit::SavepointEditor editor(*source);
  editor.transform_operator_list_state("agg", ckpt::ListStateDescriptor<std::int64_t>{"offsets"},
                                       ckpt::ListStateDescriptor<std::string>{"names"},
                                       [](std::int64_t n) -> std::optional<std::string> {
                                         if (n == 3) return std::nullopt;
                                         return "p" + std::to_string(n);
                                       });
  editor.write(storage, "lists", 1);
  auto edited = storage.open_savepoint("lists");
  ckpt::KeyedStateBackend<std::uint64_t> keyed;
  ckpt::OperatorStateStore store;
  auto names = store.get_list_state(ckpt::ListStateDescriptor<std::string>{"names"});
  edited->restore("agg", &keyed, &store);
  EXPECT_THAT(names.get(), ElementsAre("p0", "p1", "p2", "p4", "p5", "p6", "p7"));
}

TEST_F(SavepointEditorTest, ATransformOfTheWrongTypeIsRefusedAndWritesNothing) {
  write_v1();
  auto source = storage.open_savepoint("v1");
  ckpt::edit::SavepointEditor editor(*source);
  EXPECT_THROW(editor.transform_operator_list_state("agg", ckpt::ListStateDescriptor<std::string>{"offsets"},
                                                    ckpt::ListStateDescriptor<std::string>{"offsets"},
                                                    [](std::string s) { return std::optional<std::string>(s); }),
               ckpt::StateError);
  EXPECT_THROW(editor.transform_value_state<std::uint64_t>(
                   "agg", ckpt::ValueStateDescriptor<std::string>{"count"},
                   ckpt::ValueStateDescriptor<std::string>{"count"},
                   [](std::uint64_t, const std::string& s) { return std::optional<std::string>(s); }),
               ckpt::StateError);
  // A failed transform leaves the state as it was.
  editor.write(storage, "after-failures", 1);
  auto edited = storage.open_savepoint("after-failures");
  auto ops = ckpt::test::restore_operators(*edited, "agg", 1);
  ops[0]->expect(kKeys, 0);
  EXPECT_EQ(ops[0]->offsets.get().size(), 8u);
}

TEST_F(SavepointEditorTest, BootstrapsKeyedAndOperatorStateOfNewOperators) {
  ckpt::edit::SavepointEditor editor;
  editor.bootstrap_keyed_state<std::string>("words", [](ckpt::KeyedStateBackend<std::string>& backend) {
    auto count = backend.get_state(ckpt::ValueStateDescriptor<int>{"count", 0});
    for (const auto* w : {"a", "bb", "ccc"}) {
      backend.set_current_key(w);
      count.update(static_cast<int>(std::string(w).size()));
    }
  });
  editor.bootstrap_operator_state("source", [](ckpt::OperatorStateStore& store) {
    auto offsets = store.get_list_state(ckpt::ListStateDescriptor<std::int64_t>{"offsets"});
    offsets.add_all({10, 20, 30, 40});
    auto rules = store.get_broadcast_state(ckpt::MapStateDescriptor<std::string, int>{"rules"});
    rules.put("limit", 5);
  });
  editor.write(storage, "bootstrapped", 2);

  auto edited = storage.open_savepoint("bootstrapped");
  std::map<std::string, int> counts;
  std::vector<std::int64_t> all_offsets;
  for (std::uint32_t i = 0; i < 2; ++i) {
    ckpt::KeyedStateBackend<std::string> keyed(ckpt::KeyedStateBackendOptions::for_subtask(i, 2, 128));
    auto count = keyed.get_state(ckpt::ValueStateDescriptor<int>{"count", 0});
    ckpt::OperatorStateStore none(i, 2);
    edited->restore("words", &keyed, &none);
    for (const auto& k : keyed.keys("count")) {
      keyed.set_current_key(k);
      counts[k] = count.value();
    }
    ckpt::OperatorStateStore store(i, 2);
    auto offsets = store.get_list_state(ckpt::ListStateDescriptor<std::int64_t>{"offsets"});
    auto rules = store.get_broadcast_state(ckpt::MapStateDescriptor<std::string, int>{"rules"});
    edited->restore("source", nullptr, &store);
    for (const auto o : offsets.get()) all_offsets.push_back(o);
    EXPECT_EQ(rules.get("limit"), 5) << "subtask " << i;  // broadcast: every subtask has it
  }
  EXPECT_EQ(counts, (std::map<std::string, int>{{"a", 1}, {"bb", 2}, {"ccc", 3}}));
  EXPECT_THAT(all_offsets, ElementsAre(10, 20, 30, 40));
}

TEST_F(SavepointEditorTest, UnionStateReachesEverySubtaskAtAnotherParallelism) {
  ckpt::edit::SavepointEditor editor;
  editor.bootstrap_operator_state("src", [](ckpt::OperatorStateStore& store) {
    store.get_union_list_state(ckpt::ListStateDescriptor<int>{"all"}).add_all({1, 2, 3});
  });
  editor.write(storage, "union", 3);
  auto edited = storage.open_savepoint("union");
  for (std::uint32_t i = 0; i < 3; ++i) {
    ckpt::OperatorStateStore store(i, 3);
    auto all = store.get_union_list_state(ckpt::ListStateDescriptor<int>{"all"});
    edited->restore("src", nullptr, &store);
    EXPECT_THAT(all.get(), ElementsAre(1, 2, 3)) << "subtask " << i;
  }
}

TEST_F(SavepointEditorTest, BadEditsNameWhatIsMissing) {
  write_v1();
  auto source = storage.open_savepoint("v1");
  ckpt::edit::SavepointEditor editor(*source);
  try {
    editor.rename_operator("nope", "x");
    FAIL() << "renamed a missing operator";
  } catch (const ckpt::RestoreError& e) {
    EXPECT_EQ(e.code(), ckpt::errc::not_found);
    EXPECT_THAT(e.what(), HasSubstr("'nope'"));
    EXPECT_THAT(e.what(), HasSubstr("v1"));
  }
  EXPECT_THROW(editor.rename_operator("agg", "other"), ckpt::ConfigError);
  EXPECT_THROW(editor.rename_operator("agg", "bad/uid"), ckpt::ConfigError);
  EXPECT_THROW(editor.drop_state("agg", "nope"), ckpt::RestoreError);
  EXPECT_THROW(editor.rename_state("agg", "count", "tags"), ckpt::ConfigError);
  EXPECT_THROW(editor.bootstrap_operator_state("agg", [](ckpt::OperatorStateStore&) {}), ckpt::ConfigError);
  // 3 subtasks cannot split 2 key groups.
  ckpt::edit::SavepointEditor small;
  small.bootstrap_keyed_state<int>("k", [](ckpt::KeyedStateBackend<int>&) {}, 2);
  EXPECT_THROW(small.write(storage, "too-wide", 3), ckpt::ConfigError);
  EXPECT_EQ(savepoint_names(), std::set<std::string>{"v1"});
}

TEST_F(SavepointEditorTest, ACorruptSavepointIsACorruptionErrorAndWritesNothing) {
  write_v1();
  // Flip a byte in the middle of each state file in turn.
  const auto v1 = dir.path() / storage.open_savepoint("v1")->directory();
  std::vector<std::filesystem::path> state_files;
  for (const auto& e : std::filesystem::directory_iterator(v1))
    if (e.path().filename() != ckpt::manifest_file_name) state_files.push_back(e.path());
  ASSERT_FALSE(state_files.empty());
  for (const auto& file : state_files) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const auto middle = static_cast<std::streamoff>(f.tellg()) / 2;
    char c = 0;
    f.seekg(middle);
    f.get(c);
    f.seekp(middle);
    f.put(static_cast<char>(c ^ 0x5a));
    f.close();
    try {
      auto source = storage.open_savepoint("v1");
      ckpt::edit::SavepointEditor editor(*source);
      editor.write(storage, "from-corrupt", 1);
      ADD_FAILURE() << "edited a savepoint with a damaged " << file;
    } catch (const ckpt::CorruptionError& e) {
      EXPECT_THAT(e.what(), HasSubstr(file.filename().string()));
    }
    std::fstream undo(file, std::ios::in | std::ios::out | std::ios::binary);
    undo.seekp(middle);
    undo.put(c);
  }
  EXPECT_EQ(savepoint_names(), std::set<std::string>{"v1"});
}

}  // namespace
