#pragma once
// The FileSystem conformance suite: one set of GoogleTest tests that checks
// the contract written in ckpt/fs/file_system.hpp (atomic, exclusive commit;
// reads of committed files only; listing; removal; locks; the error kinds),
// run against every backend ckpt ships and against yours (Boost.Beast's
// test_file<File> is the model). Link GoogleTest (GTest::gtest_main).
//
// Include this header in exactly ONE .cpp of a test program (it defines the
// tests) and add one line per backend, at global namespace scope:
//
//   #include <ckpt/testing/file_system_conformance.hpp>
//
//   CKPT_FS_CONFORMANCE(MyStore, [] {
//     // Called once per test: return an EMPTY file system no other test
//     // uses (a fresh directory, bucket prefix or store).
//     return std::make_shared<MyFileSystem>(... unique prefix ...);
//   });
//
// The first argument names the instantiation (letters, digits, '_'); each test
// then shows up as MyStore/FileSystemConformance.CommitIsExclusive/MyStore. The
// factory may capture state (a server fixture, a counter); if it returns a
// shared_ptr with a custom deleter, the deleter runs when the test ends (for
// cleanup). ckpt's own backends run it in tests/fs and tests/s3.
//
// Tests scale their loops down when CKPT_SANITIZED is defined.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>

#include <ckpt/testing/file_system_checks.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace ckpt::fs::conformance {

struct Backend {
  std::string name;  // the instantiation name, used as the parameter's name
  std::function<std::shared_ptr<FileSystem>()> make;
};

inline void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

class FileSystemConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    fs_ = GetParam().make();
    ASSERT_TRUE(fs_) << "the factory of backend " << GetParam().name << " returned nullptr";
  }
  void TearDown() override { fs_.reset(); }

  FileSystem& fs() { return *fs_; }

#ifdef CKPT_SANITIZED
  static constexpr int scale = 4;
#else
  static constexpr int scale = 1;
#endif

  std::shared_ptr<FileSystem> fs_;
};

using test::bytes_of;
using test::expect_error;
using test::names;
using test::pattern;
using test::read_all;
using test::string_of;
using test::write_all;

// ---- Visibility and exclusivity -------------------------------------------

TEST_P(FileSystemConformance, StartsEmpty) {
  EXPECT_TRUE(fs().list("").empty());
  EXPECT_FALSE(fs().exists("anything"));
  EXPECT_NE(fs().uri().find("://"), std::string::npos) << fs().uri();
}

TEST_P(FileSystemConformance, FileIsInvisibleUntilCommit) {
  auto file = fs().create("dir/data");
  EXPECT_EQ(file->path(), "dir/data");
  file->append(as_bytes("hello "));
  file->append(as_bytes("world"));
  EXPECT_EQ(file->size(), 11u);
  EXPECT_FALSE(fs().exists("dir/data"));
  EXPECT_TRUE(fs().list("dir").empty());
  expect_error<IoError>([&] { fs().open("dir/data"); }, errc::not_found);

  file->commit();
  EXPECT_TRUE(fs().exists("dir/data"));
  EXPECT_EQ(fs().list("dir"), (std::vector<Entry>{{"data", EntryType::file, 11}}));
  EXPECT_EQ(string_of(read_all(fs(), "dir/data")), "hello world");
}

TEST_P(FileSystemConformance, CommitIsExclusive) {
  write_all(fs(), "taken", as_bytes("first"));
  auto second = fs().create("taken");
  second->append(as_bytes("second, longer"));
  const auto e = expect_error<IoError>([&] { second->commit(); }, errc::already_exists);
  if (e) {
    EXPECT_EQ(e->path(), "taken");
  }
  EXPECT_EQ(string_of(read_all(fs(), "taken")), "first");
  EXPECT_EQ(names(fs().list("")), std::vector<std::string>{"taken"});
}

TEST_P(FileSystemConformance, OfTwoWritersOfOneNameTheFirstCommitWins) {
  auto a = fs().create("name");
  auto b = fs().create("name");
  a->append(as_bytes("aaaa"));
  b->append(as_bytes("bb"));
  b->commit();
  expect_error<IoError>([&] { a->commit(); }, errc::already_exists);
  EXPECT_EQ(string_of(read_all(fs(), "name")), "bb");
}

TEST_P(FileSystemConformance, AbortLeavesNothing) {
  auto file = fs().create("d/aborted");
  file->append(pattern(1000));
  file->abort();
  file->abort();  // more than once is fine
  EXPECT_FALSE(fs().exists("d/aborted"));
  EXPECT_TRUE(fs().list("d").empty());
  EXPECT_THROW(file->append(as_bytes("x")), Error);
  EXPECT_THROW(file->commit(), Error);
  EXPECT_FALSE(fs().exists("d/aborted"));
  // The name is free for a new file.
  write_all(fs(), "d/aborted", as_bytes("new"));
  EXPECT_EQ(string_of(read_all(fs(), "d/aborted")), "new");
}

TEST_P(FileSystemConformance, DestroyingAnUncommittedFileAbortsIt) {
  {
    auto file = fs().create("dropped");
    file->append(pattern(5000));
  }
  EXPECT_FALSE(fs().exists("dropped"));
  EXPECT_TRUE(fs().list("").empty());
  write_all(fs(), "dropped", as_bytes("later"));
  EXPECT_EQ(string_of(read_all(fs(), "dropped")), "later");
}

TEST_P(FileSystemConformance, AbortOrDestructionAfterCommitKeepsTheFile) {
  {
    auto file = fs().create("kept");
    file->append(as_bytes("kept"));
    file->commit();
    file->abort();
    EXPECT_THROW(file->append(as_bytes("more")), Error);
    EXPECT_THROW(file->commit(), Error);
  }
  EXPECT_EQ(string_of(read_all(fs(), "kept")), "kept");
}

TEST_P(FileSystemConformance, EmptyFile) {
  auto file = fs().create("empty");
  file->commit();
  EXPECT_TRUE(fs().exists("empty"));
  auto r = fs().open("empty");
  EXPECT_EQ(r->size(), 0u);
  r->read(0, {});
  std::byte one[1];
  expect_error<CorruptionError>([&] { r->read(0, one); }, errc::truncated);
  EXPECT_EQ(fs().list(""), (std::vector<Entry>{{"empty", EntryType::file, 0}}));
}

// ---- Reading ---------------------------------------------------------------

TEST_P(FileSystemConformance, RangedReads) {
  const auto data = pattern(10000, 7);
  write_all(fs(), "r", data);
  auto file = fs().open("r");
  EXPECT_EQ(file->path(), "r");
  ASSERT_EQ(file->size(), data.size());
  for (const auto& [offset, length] : std::vector<std::pair<std::size_t, std::size_t>>{
           {0, 1}, {0, 10000}, {1, 9999}, {4096, 4096}, {9999, 1}, {10000, 0}, {123, 0}, {5000, 17}}) {
    Bytes got(length);
    file->read(offset, got);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin() + static_cast<std::ptrdiff_t>(offset)))
        << "offset " << offset << " length " << length;
  }
}

TEST_P(FileSystemConformance, ReadingPastTheEndIsTruncatedNamingTheFile) {
  write_all(fs(), "dir/short", pattern(100));
  auto file = fs().open("dir/short");
  Bytes buffer(50);
  for (const std::uint64_t offset : {std::uint64_t{51}, std::uint64_t{100}, std::uint64_t{101},
                                     std::uint64_t{1} << 40, std::numeric_limits<std::uint64_t>::max()}) {
    const auto e = expect_error<CorruptionError>([&] { file->read(offset, buffer); }, errc::truncated);
    if (e) {
      EXPECT_EQ(e->path(), "dir/short") << "offset " << offset;
    }
  }
  Bytes too_long(101);
  expect_error<CorruptionError>([&] { file->read(0, too_long); }, errc::truncated);
  // The file is still usable after a failed read.
  file->read(50, buffer);
  const auto data = pattern(100);
  EXPECT_TRUE(std::equal(buffer.begin(), buffer.end(), data.begin() + 50));
}

TEST_P(FileSystemConformance, OpeningAMissingFileIsNotFoundNamingIt) {
  auto e = expect_error<IoError>([&] { fs().open("missing"); }, errc::not_found);
  if (e) {
    EXPECT_EQ(e->path(), "missing");
    EXPECT_NE(std::string(e->what()).find("missing"), std::string::npos) << e->what();
  }
  e = expect_error<IoError>([&] { fs().open("no/such/dir/file"); }, errc::not_found);
  if (e) {
    EXPECT_EQ(e->path(), "no/such/dir/file");
  }
}

// ---- Listing ---------------------------------------------------------------

TEST_P(FileSystemConformance, ListIsSortedAndHidesUncommittedFiles) {
  for (const auto* name : {"m", "b", "z", "a", "B", "a.b", "a-b", "aa"})
    write_all(fs(), name, as_bytes(name));
  auto pending = fs().create("pending");
  pending->append(as_bytes("not yet"));
  const auto listed = fs().list("");
  EXPECT_EQ(names(listed), (std::vector<std::string>{"B", "a", "a-b", "a.b", "aa", "b", "m", "z"}));
  for (const auto& e : listed) {
    EXPECT_EQ(e.type, EntryType::file);
    EXPECT_EQ(e.size, e.name.size());
  }
  pending->commit();
  EXPECT_EQ(fs().list("").size(), 9u);
}

TEST_P(FileSystemConformance, ListShowsImmediateChildrenWithTypesAndSizes) {
  write_all(fs(), "top/file", pattern(42));
  write_all(fs(), "top/sub/deeper/file", pattern(7));
  write_all(fs(), "top/sub/x", pattern(3));
  write_all(fs(), "other", pattern(1));
  EXPECT_EQ(fs().list("top"),
            (std::vector<Entry>{{"file", EntryType::file, 42}, {"sub", EntryType::directory, 0}}));
  EXPECT_EQ(fs().list("top/sub"),
            (std::vector<Entry>{{"deeper", EntryType::directory, 0}, {"x", EntryType::file, 3}}));
  EXPECT_EQ(fs().list(""),
            (std::vector<Entry>{{"other", EntryType::file, 1}, {"top", EntryType::directory, 0}}));
  EXPECT_TRUE(fs().exists("top/sub/deeper/file"));
}

TEST_P(FileSystemConformance, MissingDirectoryListsEmpty) {
  EXPECT_TRUE(fs().list("nope").empty());
  EXPECT_TRUE(fs().list("nope/deeper/still").empty());
  write_all(fs(), "dir/f", as_bytes("x"));
  EXPECT_TRUE(fs().list("dir/nope").empty());
}

TEST_P(FileSystemConformance, UnusualButValidNames) {
  const std::vector<std::string> valid = {
      ".hidden",  "with space", "utf8-\xc3\xbc\xe2\x82\xac", "a+b=c&d", "per%cent", "semi;colon", "q?mark",
      "hash#tag", "x.y.z",      "dir.with.dots/f",           "~tilde",  "_metadata"};
  for (const auto& name : valid) write_all(fs(), name, as_bytes(name));
  for (const auto& name : valid) {
    EXPECT_TRUE(fs().exists(name)) << name;
    EXPECT_EQ(string_of(read_all(fs(), name)), name);
  }
  auto listed = names(fs().list(""));
  std::vector<std::string> expected;
  for (const auto& name : valid) expected.push_back(name.substr(0, name.find('/')));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(listed, expected);
}

// ---- Removing --------------------------------------------------------------

TEST_P(FileSystemConformance, RemoveIsIdempotent) {
  fs().remove("never-existed");
  fs().remove("no/such/dir/file");
  write_all(fs(), "d/f", as_bytes("x"));
  write_all(fs(), "d/g", as_bytes("y"));
  fs().remove("d/f");
  EXPECT_FALSE(fs().exists("d/f"));
  EXPECT_TRUE(fs().exists("d/g"));
  fs().remove("d/f");
  expect_error<IoError>([&] { fs().open("d/f"); }, errc::not_found);
  // A removed name can be created again.
  write_all(fs(), "d/f", as_bytes("again"));
  EXPECT_EQ(string_of(read_all(fs(), "d/f")), "again");
}

TEST_P(FileSystemConformance, RenameMovesACommittedFileAndNeverOverwrites) {
  write_all(fs(), "pending/part-0", as_bytes("payload"));
  fs().rename("pending/part-0", "out/part-0");  // into a directory that did not exist
  EXPECT_FALSE(fs().exists("pending/part-0"));
  EXPECT_EQ(string_of(read_all(fs(), "out/part-0")), "payload");
  expect_error<IoError>([&] { fs().rename("pending/part-0", "out/part-1"); }, errc::not_found);
  write_all(fs(), "pending/part-1", as_bytes("other"));
  expect_error<IoError>([&] { fs().rename("pending/part-1", "out/part-0"); }, errc::already_exists);
  EXPECT_EQ(string_of(read_all(fs(), "out/part-0")), "payload");  // untouched
  EXPECT_TRUE(fs().exists("pending/part-1"));
  EXPECT_THROW(fs().rename("pending/part-1", "../escape"), ConfigError);
}

TEST_P(FileSystemConformance, RemoveAllIsRecursiveAndIdempotent) {
  fs().remove_all("never-existed");
  write_all(fs(), "tree/a", as_bytes("a"));
  write_all(fs(), "tree/sub/b", as_bytes("b"));
  write_all(fs(), "tree/sub/deep/c", as_bytes("c"));
  write_all(fs(), "tree-sibling/keep", as_bytes("k"));
  write_all(fs(), "treeX", as_bytes("k"));
  fs().remove_all("tree");
  EXPECT_FALSE(fs().exists("tree/a"));
  EXPECT_FALSE(fs().exists("tree/sub/deep/c"));
  EXPECT_TRUE(fs().list("tree").empty());
  EXPECT_EQ(names(fs().list("")), (std::vector<std::string>{"tree-sibling", "treeX"}));
  EXPECT_TRUE(fs().exists("tree-sibling/keep"));
  fs().remove_all("tree");
  write_all(fs(), "tree/a", as_bytes("again"));
  EXPECT_EQ(string_of(read_all(fs(), "tree/a")), "again");
}

// ---- Publish -----------------------------------------------------------------

TEST_P(FileSystemConformance, PublishIsAtomicAndExclusive) {
  fs().publish("meta/_metadata", as_bytes("v1"));
  EXPECT_EQ(string_of(read_all(fs(), "meta/_metadata")), "v1");
  const auto e = expect_error<IoError>([&] { fs().publish("meta/_metadata", as_bytes("v2 longer")); },
                                       errc::already_exists);
  if (e) {
    EXPECT_EQ(e->path(), "meta/_metadata");
  }
  EXPECT_EQ(string_of(read_all(fs(), "meta/_metadata")), "v1");
  EXPECT_EQ(fs().list("meta"), (std::vector<Entry>{{"_metadata", EntryType::file, 2}}));
  fs().publish("meta/empty", {});
  EXPECT_EQ(fs().open("meta/empty")->size(), 0u);
}

// ---- Paths -------------------------------------------------------------------

TEST_P(FileSystemConformance, InvalidPathsAreRejectedBeforeTouchingStorage) {
  const std::vector<std::string> bad = {
      "/absolute", "../up",  "a/../b",      "a/./b",   "./a",
      "a//b",      "a/",     "..",          ".",       std::string("nul\0byte", 8),
      "new\nline", "tab\tx", "back\\slash", "del\x7f", std::string(5000, 'x')};
  const auto invalid = [](auto&& f) { expect_error<ConfigError>(f, errc::invalid_name); };
  for (const auto& p : bad) {
    SCOPED_TRACE("path: " + p.substr(0, 40));
    invalid([&] { fs().create(p); });
    invalid([&] { fs().open(p); });
    invalid([&] { fs().publish(p, as_bytes("x")); });
    invalid([&] { fs().list(p); });
    invalid([&] { fs().exists(p); });
    invalid([&] { fs().remove(p); });
    invalid([&] { fs().remove_all(p); });
    invalid([&] { fs().make_directories(p); });
    invalid([&] { fs().remove_temporaries(p); });
    invalid([&] { fs().try_lock(p); });
  }
  // The root is not a file: only listing, making and cleaning it are allowed.
  invalid([&] { fs().create(""); });
  invalid([&] { fs().open(""); });
  invalid([&] { fs().publish("", as_bytes("x")); });
  invalid([&] { fs().remove(""); });
  invalid([&] { fs().remove_all(""); });
  invalid([&] { fs().try_lock(""); });
  EXPECT_TRUE(fs().list("").empty());
  fs().make_directories("");
  fs().remove_temporaries("");
  EXPECT_TRUE(fs().list("").empty());
}

TEST_P(FileSystemConformance, CreateMakesMissingParents) {
  write_all(fs(), "a/b/c/d/file", as_bytes("deep"));
  EXPECT_EQ(string_of(read_all(fs(), "a/b/c/d/file")), "deep");
  EXPECT_EQ(fs().list("a/b"), (std::vector<Entry>{{"c", EntryType::directory, 0}}));
  fs().publish("p/q/r", as_bytes("published"));
  EXPECT_EQ(string_of(read_all(fs(), "p/q/r")), "published");
}

TEST_P(FileSystemConformance, MakeDirectoriesIsIdempotent) {
  fs().make_directories("x/y/z");
  fs().make_directories("x/y/z");
  fs().make_directories("x/y");
  write_all(fs(), "x/y/z/f", as_bytes("f"));
  EXPECT_EQ(fs().list("x/y"), (std::vector<Entry>{{"z", EntryType::directory, 0}}));
}

TEST_P(FileSystemConformance, RemoveTemporariesKeepsCommittedFiles) {
  write_all(fs(), "d/keep", as_bytes("keep"));
  {
    auto abandoned = fs().create("d/abandoned");
    abandoned->append(pattern(100));
  }
  fs().remove_temporaries("d");
  fs().remove_temporaries("");
  fs().remove_temporaries("missing/dir");
  EXPECT_EQ(fs().list("d"), (std::vector<Entry>{{"keep", EntryType::file, 4}}));
  EXPECT_EQ(string_of(read_all(fs(), "d/keep")), "keep");
}

// ---- Size and concurrency ------------------------------------------------------

TEST_P(FileSystemConformance, LargeFileOfManyAppends) {
  const std::size_t total = (6u << 20) / scale + 12345;  // several MiB, not a multiple of anything
  const auto data = pattern(total, 99);
  auto file = fs().create("big/blob");
  std::size_t offset = 0;
  std::size_t step = 1;
  while (offset < total) {  // sizes from 1 byte to 1 MiB, so both tiny and big appends are covered
    const auto n = std::min(step, total - offset);
    file->append(ByteSpan(data).subspan(offset, n));
    offset += n;
    step = step >= (1u << 20) ? 4099 : step * 3 + 1;
  }
  EXPECT_EQ(file->size(), total);
  file->commit();
  auto r = fs().open("big/blob");
  ASSERT_EQ(r->size(), total);
  Bytes chunk(1 << 20);
  for (std::size_t at = 0; at < total; at += chunk.size()) {
    const auto n = std::min(chunk.size(), total - at);
    r->read(at, std::span<std::byte>(chunk.data(), n));
    ASSERT_TRUE(std::equal(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n),
                           data.begin() + static_cast<std::ptrdiff_t>(at)))
        << "mismatch in the chunk at " << at;
  }
  EXPECT_EQ(fs().list("big"), (std::vector<Entry>{{"blob", EntryType::file, total}}));
}

TEST_P(FileSystemConformance, ConcurrentCreatesFromThreads) {
  constexpr int threads = 8;
  const int files_per_thread = 24 / scale;
  std::barrier start(threads);
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      start.arrive_and_wait();
      try {
        for (int i = 0; i < files_per_thread; ++i) {
          // Every thread writes into the same new directories at once.
          const auto path =
              "shared/dir-" + std::to_string(i % 3) + "/t" + std::to_string(t) + "-" + std::to_string(i);
          auto file = fs().create(path);
          const auto data =
              pattern(100 + static_cast<std::size_t>(i), static_cast<std::uint32_t>(t * 1000 + i));
          file->append(ByteSpan(data).first(50));
          file->append(ByteSpan(data).subspan(50));
          file->commit();
        }
      } catch (const std::exception&) {
        failures.fetch_add(1);
      }
    });
  }
  for (auto& w : workers) w.join();
  ASSERT_EQ(failures.load(), 0);
  std::size_t count = 0;
  for (const auto& dir : fs().list("shared")) {
    for (const auto& entry : fs().list("shared/" + dir.name)) {
      ++count;
      const auto t = std::stoi(entry.name.substr(1, entry.name.find('-') - 1));
      const auto i = std::stoi(entry.name.substr(entry.name.find('-') + 1));
      EXPECT_EQ(read_all(fs(), "shared/" + dir.name + "/" + entry.name),
                pattern(100 + static_cast<std::size_t>(i), static_cast<std::uint32_t>(t * 1000 + i)));
    }
  }
  EXPECT_EQ(count, static_cast<std::size_t>(threads * files_per_thread));
}

TEST_P(FileSystemConformance, ConcurrentCommitsOfOneNameHaveExactlyOneWinner) {
  constexpr int threads = 8;
  std::barrier start(threads);
  std::atomic<int> won{0};
  std::atomic<int> lost{0};
  std::atomic<int> other{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto file = fs().create("race/winner");
      file->append(pattern(1000, static_cast<std::uint32_t>(t)));
      start.arrive_and_wait();
      try {
        file->commit();
        won.fetch_add(1);
      } catch (const IoError& e) {
        (e.code() == make_error_code(errc::already_exists) ? lost : other).fetch_add(1);
      } catch (...) {
        other.fetch_add(1);
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(lost.load(), threads - 1);
  EXPECT_EQ(other.load(), 0);
  const auto got = read_all(fs(), "race/winner");
  bool matches_one = false;
  for (int t = 0; t < threads; ++t)
    matches_one = matches_one || got == pattern(1000, static_cast<std::uint32_t>(t));
  EXPECT_TRUE(matches_one) << "the winner's bytes must be one writer's, whole";
  EXPECT_EQ(names(fs().list("race")), std::vector<std::string>{"winner"});
}

// ---- Locks ---------------------------------------------------------------------

TEST_P(FileSystemConformance, LockIsExclusiveUntilReleased) {
  auto first = fs().try_lock("job/_lock");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(fs().try_lock("job/_lock"), nullptr);
  EXPECT_EQ(fs().try_lock("job/_lock"), nullptr);
  auto other = fs().try_lock("job/_other_lock");
  EXPECT_NE(other, nullptr);
  first.reset();
  auto again = fs().try_lock("job/_lock");
  EXPECT_NE(again, nullptr);
  EXPECT_EQ(fs().try_lock("job/_lock"), nullptr);
}

TEST_P(FileSystemConformance, LockIsExclusiveAcrossThreads) {
  constexpr int threads = 8;
  std::barrier start(threads);
  std::atomic<int> holders{0};
  std::vector<std::unique_ptr<Lock>> locks(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      start.arrive_and_wait();
      locks[static_cast<std::size_t>(t)] = fs().try_lock("contended");
      if (locks[static_cast<std::size_t>(t)]) holders.fetch_add(1);
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(holders.load(), 1);
}

TEST_P(FileSystemConformance, ACommittedFileOutlivesItsWriterAndReader) {
  std::unique_ptr<ReadableFile> reader;
  {
    auto writer = fs().create("outlive");
    writer->append(as_bytes("still here"));
    writer->commit();
  }
  reader = fs().open("outlive");
  Bytes got(10);
  reader->read(0, got);
  EXPECT_EQ(string_of(got), "still here");
}

}  // namespace ckpt::fs::conformance

/// Runs the conformance suite against a backend; see the top of this header.
/// Use it at global namespace scope. (INSTANTIATE_TEST_SUITE_P needs the
/// fixture's unqualified name, hence the namespace block; the static_assert
/// takes the caller's semicolon.)
#define CKPT_FS_CONFORMANCE(instantiation, ...)                                                      \
  namespace ckpt::fs::conformance {                                                                  \
  INSTANTIATE_TEST_SUITE_P(instantiation, FileSystemConformance,                                     \
                           ::testing::Values(Backend{#instantiation, __VA_ARGS__}),                  \
                           [](const ::testing::TestParamInfo<Backend>& p) { return p.param.name; }); \
  }                                                                                                  \
  static_assert(true)
