// R8, secrets. The places a core error message could carry a secret are the
// storage URIs a user configures: a credential in the query
// ("?token=...", "?X-Amz-Signature=...") or in user information
// ("user:password@host"). Every API that takes a URI -- Uri::parse,
// fs::open_file_system, CheckpointStorage::open and open_snapshot, the
// ckpt-inspect tool -- is fed URIs holding one known secret, malformed in
// every way the parser checks, and every storage operation that can fail is
// made to fail on a backend that, like an object store, takes its credential
// from the query. None of the collected messages, notes, locations or printed
// values may contain the secret; a Uri prints redacted.

#include <ckpt/fs/file_util.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/fs/registry.hpp>
#include <ckpt/fs/uri.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include "forwarding_file_system.hpp"
#include "hostile.hpp"
#include "job.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

using ::testing::HasSubstr;

const std::string kSecret = "S3CR3T-t0k3n-7f9c2e";

/// A backend that, like an object store, takes its credential from the URI's
/// query; its uri() masks it, as the FileSystem contract requires.
class VaultFileSystem final : public ckpt::test::ForwardingFileSystem {
 public:
  explicit VaultFileSystem(const ckpt::fs::Uri& uri)
      : ForwardingFileSystem(std::make_shared<ckpt::fs::MemoryFileSystem>(
            ckpt::fs::MemoryStore::named("vault-" + uri.authority), prefix(uri.path))),
        uri_(uri.redacted()) {
    if (!uri.query_param("token"))
      throw ckpt::ConfigError(ckpt::errc::invalid_argument, "a vault:// URI needs a token");
  }
  std::string uri() const override { return uri_; }

 private:
  static std::string prefix(std::string path) {
    while (!path.empty() && path.front() == '/') path.erase(path.begin());
    while (!path.empty() && path.back() == '/') path.pop_back();
    return path;
  }
  std::string uri_;
};

struct Collected {
  std::vector<std::string> texts;  // every message, note, location, printed value
  std::size_t errors = 0;
  std::size_t succeeded = 0;  // a parse of a well-formed URI, say

  void add(std::string text) { texts.push_back(std::move(text)); }
  /// Runs `f`, keeping the message of what it throws (it is expected to fail).
  void fail(const std::function<void()>& f) {
    try {
      f();
      ++succeeded;
    } catch (const std::exception& e) {
      ++errors;
      texts.push_back(e.what());
    }
  }
  std::vector<std::string> leaks() const {
    std::vector<std::string> out;
    for (const auto& t : texts)
      if (t.find(kSecret) != std::string::npos) out.push_back(t);
    return out;
  }
  bool mentions(const std::string& s) const {
    for (const auto& t : texts)
      if (t.find(s) != std::string::npos) return true;
    return false;
  }
};

/// Malformed and unservable URIs, each holding the secret where a user would put it.
std::vector<std::string> secret_uris() {
  const auto& s = kSecret;
  return {"mem://store?token=" + s,
          "mem://store/prefix?token=" + s + "&region=eu",
          "file:///tmp/ckpt-rel-secret?token=" + s,
          "mem://user:" + s + "@store/prefix",
          "file://user:" + s + "@localhost/tmp/x",
          "mem://" + s + "@store",
          "s3://bucket/prefix?X-Amz-Signature=" + s,
          "s3://AKIAEXAMPLE:" + s + "@bucket/prefix",
          "nosuch://host/prefix?token=" + s,
          "mem://store/prefix?token=" + s + "#fragment",
          "mem://store/prefix?token=" + s + "&x=a b",
          "mem://store/pre%zzfix?token=" + s,
          "mem://st\x01ore?token=" + s,
          "mem://store/prefix/..?token=" + s,
          "vault://host/prefix/chk-1?token=" + s,
          "vault://host/prefix/..?token=" + s,
          "vault://host/prefix/chk-99?token=" + s,
          "vault://host/prefix/savepoints/../chk-1?token=" + s,
          "vault://ho^st/prefix?token=" + s};
}

class Secrets : public ::testing::Test {
 protected:
  void SetUp() override {
    ckpt::fs::register_file_system("vault", [](const ckpt::fs::Uri& uri) {
      return std::make_shared<VaultFileSystem>(uri);
    });
  }
  void TearDown() override { ckpt::fs::unregister_file_system("vault"); }
};

TEST_F(Secrets, NoMessageOfAFailingOperationShowsTheSecret) {
  Collected c;
  for (const auto& uri : secret_uris()) {
    c.fail([&] { (void)ckpt::fs::Uri::parse(uri); });
    c.fail([&] { (void)ckpt::fs::open_file_system(uri)->open("chk-1/_metadata"); });
    c.fail([&] { (void)ckpt::CheckpointStorage::open(uri)->open_checkpoint(1234); });
    c.fail([&] { (void)ckpt::CheckpointStorage::open_snapshot(uri); });
  }

  // A storage on the vault backend, opened with the secret, and everything
  // that can fail on it failing.
  const auto uri = "vault://host/prefix?token=" + kSecret;
  auto storage = ckpt::CheckpointStorage::open(uri, ckpt::StorageOptions::defaults().retain(2));
  c.add(storage->uri());
  ckpt::rel::Job job(40);
  for (std::uint64_t id = 1; id <= 2; ++id) {
    job.advance_to(id);
    job.checkpoint(*storage, false);
  }
  c.fail([&] { (void)ckpt::CheckpointStorage::open(uri); });
  c.fail([&] { (void)storage->open_checkpoint(99); });
  c.fail([&] { (void)storage->open_savepoint("nope"); });
  c.fail([&] { (void)storage->begin_checkpoint(2, 0); });
  c.fail([&] { (void)storage->promote_to_savepoint(99, "tag"); });
  c.fail([&] { (void)storage->begin_savepoint(5, 0, "../x"); });
  c.fail([&] {
    auto pending = storage->begin_checkpoint(3, 0);
    pending->write({"counter", 0, 2, nullptr, std::nullopt});
    pending->complete();
  });
  {
    auto snapshot = storage->restore_latest();
    c.add(snapshot->location());
    ckpt::KeyedStateBackend<std::uint64_t> backend;
    snapshot->restore("counter", &backend, nullptr);
    c.fail([&] { snapshot->check_all_restored(false); });
  }
  // Damage both checkpoints: strict restore, fallback notes, no checkpoint left.
  auto fs = storage->file_system_ptr();
  for (const std::string dir : {"chk-2", "chk-1"}) {
    const auto file = dir + "/counter-0.state";
    auto bytes = ckpt::fs::read_file(*fs, file, 1 << 30);
    bytes[bytes.size() / 2] ^= std::byte{1};
    ckpt::rel::replace_file(*fs, file, bytes);
    c.fail([&] { (void)storage->restore_latest(ckpt::RestoreOptions::strict()); });
    try {
      auto snapshot = storage->restore_latest(ckpt::RestoreOptions{true, true});
      for (const auto& note : snapshot->notes()) c.add(note);
      c.add(snapshot->location());
    } catch (const std::exception& e) {
      c.add(e.what());
    }
  }
  c.fail([&] {
    ckpt::CheckpointStorage::open_snapshot("vault://host/prefix/chk-2?token=" + kSecret)->verify_all();
  });
  if (auto e = storage->last_cleanup_error()) c.add(*e);

  // Values that hold a URI print it redacted.
  const auto parsed = ckpt::fs::Uri::parse(uri);
  std::ostringstream streamed;
  streamed << parsed;
  c.add(streamed.str());
  c.add(::testing::PrintToString(parsed));
  c.add(parsed.redacted());

  EXPECT_GE(c.errors, secret_uris().size() * 3 + 10);
  EXPECT_TRUE(c.mentions("token=***")) << "no message showed the storage at all: the test proves nothing";
  const auto leaks = c.leaks();
  EXPECT_TRUE(leaks.empty()) << leaks.size() << " messages show the secret, the first: " << leaks.front();
  std::printf("[ R8 ] %zu messages, notes and printed values (%zu from failing operations): %zu show the secret\n",
              c.texts.size(), c.errors, leaks.size());

  // The check itself bites: the configured URI does hold the secret.
  Collected canary;
  canary.add("cannot open " + parsed.str());
  EXPECT_EQ(canary.leaks().size(), 1u);
}

#ifdef CKPT_INSPECT_BIN
TEST_F(Secrets, TheInspectToolNeverPrintsTheSecret) {
  ckpt::test::TempDir dir;
  std::vector<std::vector<std::string>> commands;
  for (const auto& uri : secret_uris()) {
    commands.push_back({"list", uri});
    commands.push_back({"show", uri});
    commands.push_back({"verify", uri});
  }
  commands.push_back({"list", dir.uri() + "?token=" + kSecret});
  commands.push_back({"show", dir.uri() + "/chk-1?token=" + kSecret});
  std::size_t runs = 0;
  for (const auto& args : commands) {
    ckpt::rel::Child tool(CKPT_INSPECT_BIN, args, {}, false, true);
    for (const auto& line : tool.drain())
      EXPECT_EQ(line.find(kSecret), std::string::npos) << "ckpt-inspect " << args[0] << ": " << line;
    EXPECT_NE(tool.exit_code(), 0) << "ckpt-inspect " << args[0] << " " << args[1];
    ++runs;
  }
  std::printf("[ R8 ] ckpt-inspect run %zu times on URIs holding the secret: it never printed it\n", runs);
}
#endif

}  // namespace
