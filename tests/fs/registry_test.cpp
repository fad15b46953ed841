#include <ckpt/fs/local_file_system.hpp>
#include <ckpt/fs/memory_file_system.hpp>
#include <ckpt/fs/registry.hpp>

#include "fs_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

using ckpt::ConfigError;
using ckpt::errc;
using ckpt::fs::open_file_system;
using ckpt::fs::register_file_system;
using ckpt::fs::unregister_file_system;
using ckpt::fs::Uri;
using ckpt::fs::test::bytes_of;
using ckpt::fs::test::expect_error;
using ckpt::fs::test::read_all;
using ckpt::fs::test::string_of;
using ckpt::fs::test::TempDir;

TEST(Registry, FileUrisAndPlainPathsOpenALocalFileSystem) {
  TempDir tmp;
  const auto root = tmp.str() + "/root";
  for (const auto& uri : {"file://" + root, root, "file://localhost" + root, "FILE://" + root + "/"}) {
    SCOPED_TRACE(uri);
    auto fs = open_file_system(uri);
    ASSERT_NE(dynamic_cast<ckpt::fs::LocalFileSystem*>(fs.get()), nullptr);
    EXPECT_EQ(fs->uri(), "file://" + root);
  }
  open_file_system(root)->publish("f", bytes_of("local"));
  EXPECT_EQ(string_of(read_all(*open_file_system("file://" + root), "f")), "local");
}

TEST(Registry, FileUrisNamingAHostOrQueryAreRejected) {
  auto e = expect_error<ConfigError>([] { open_file_system("file://server/share"); }, errc::invalid_argument);
  if (e) {
    EXPECT_NE(std::string(e->what()).find("file://"), std::string::npos);
  }
  expect_error<ConfigError>([] { open_file_system("file:///tmp/x?mode=0644"); }, errc::invalid_argument);
  expect_error<ConfigError>([] { open_file_system("file://"); }, errc::invalid_argument);
}

TEST(Registry, MemUrisOfOneStoreShareData) {
  auto a = open_file_system("mem://registry-test/job");
  a->publish("chk/_metadata", bytes_of("m"));
  a.reset();
  auto b = open_file_system("mem://registry-test/job/");
  EXPECT_EQ(string_of(read_all(*b, "chk/_metadata")), "m");
  EXPECT_EQ(b->uri(), "mem://registry-test/job");
  EXPECT_FALSE(open_file_system("mem://registry-test/other")->exists("chk/_metadata"));
  EXPECT_FALSE(open_file_system("mem://registry-test-2/job")->exists("chk/_metadata"));
  ckpt::fs::MemoryStore::drop("registry-test");
  expect_error<ConfigError>([] { open_file_system("mem://"); }, errc::invalid_argument);
  expect_error<ConfigError>([] { open_file_system("mem://x/../y"); }, errc::invalid_name);
}

TEST(Registry, UsersRegisterTheirOwnSchemes) {
  Uri seen;
  register_file_system("test-scheme", [&](const Uri& uri) {
    seen = uri;
    return std::make_shared<ckpt::fs::MemoryFileSystem>();
  });
  const auto schemes = ckpt::fs::registered_file_system_schemes();
  EXPECT_NE(std::find(schemes.begin(), schemes.end(), "test-scheme"), schemes.end());
  EXPECT_NE(std::find(schemes.begin(), schemes.end(), "file"), schemes.end());
  EXPECT_NE(std::find(schemes.begin(), schemes.end(), "mem"), schemes.end());

  auto fs = open_file_system("Test-Scheme://host:1234/some/prefix?opt=1");
  ASSERT_NE(fs, nullptr);
  EXPECT_EQ(seen, (Uri{"test-scheme", "host:1234", "/some/prefix", "opt=1"}));

  // A later registration replaces the earlier one.
  register_file_system("TEST-SCHEME",
                       [](const Uri&) { return std::make_shared<ckpt::fs::MemoryFileSystem>(); });
  seen = Uri{};
  open_file_system("test-scheme://x");
  EXPECT_EQ(seen, Uri{});

  EXPECT_TRUE(unregister_file_system("test-scheme"));
  EXPECT_FALSE(unregister_file_system("test-scheme"));
  expect_error<ConfigError>([] { open_file_system("test-scheme://x"); }, errc::invalid_argument);
}

TEST(Registry, UnknownSchemesAreNamedInTheError) {
  const auto e =
      expect_error<ConfigError>([] { open_file_system("nope://bucket/x"); }, errc::invalid_argument);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(std::string(e->what()).find("'nope'"), std::string::npos) << e->what();
  EXPECT_NE(std::string(e->what()).find("file"), std::string::npos)
      << "lists what is registered: " << e->what();
}

TEST(Registry, AnS3UriWithoutTheS3BackendNamesWhatToAdd) {
  // This test program does not include <ckpt/s3/register.hpp>.
  const auto e = expect_error<ConfigError>([] { open_file_system("s3://bucket/x"); }, errc::invalid_argument);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(std::string(e->what()).find("<ckpt/s3/register.hpp>"), std::string::npos) << e->what();
  EXPECT_NE(std::string(e->what()).find("ckpt::s3"), std::string::npos) << e->what();
}

TEST(Registry, BadRegistrationsAreRejected) {
  const auto factory = [](const Uri&) { return std::make_shared<ckpt::fs::MemoryFileSystem>(); };
  expect_error<ConfigError>([&] { register_file_system("", factory); }, errc::invalid_argument);
  expect_error<ConfigError>([&] { register_file_system("1bad", factory); }, errc::invalid_argument);
  expect_error<ConfigError>([&] { register_file_system("a/b", factory); }, errc::invalid_argument);
  expect_error<ConfigError>([&] { register_file_system("ok", nullptr); }, errc::invalid_argument);
  register_file_system("returns-null", [](const Uri&) { return std::shared_ptr<ckpt::fs::FileSystem>(); });
  const auto e =
      expect_error<ConfigError>([] { open_file_system("returns-null://x"); }, errc::invalid_argument);
  unregister_file_system("returns-null");
}

TEST(Registry, CredentialsInAUriAreRejectedBeforeAnyFactoryRuns) {
  bool called = false;
  register_file_system("secretive", [&](const Uri&) {
    called = true;
    return std::make_shared<ckpt::fs::MemoryFileSystem>();
  });
  const auto e = expect_error<ConfigError>(
      [] { open_file_system("secretive://admin:hunter2-very-secret@host/bucket"); }, errc::invalid_argument);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(std::string(e->what()).find("hunter2-very-secret"), std::string::npos) << e->what();
  EXPECT_EQ(std::string(e->what()).find("admin"), std::string::npos) << e->what();
  EXPECT_NE(std::string(e->what()).find("secretive"), std::string::npos) << "names the scheme: " << e->what();
  EXPECT_FALSE(called);
  unregister_file_system("secretive");
}

TEST(Registry, IsThreadSafe) {
  constexpr int threads = 6;
  std::atomic<int> opened{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const auto scheme = "thread-" + std::to_string(t);
      for (int i = 0; i < 50; ++i) {
        register_file_system(scheme,
                             [](const Uri&) { return std::make_shared<ckpt::fs::MemoryFileSystem>(); });
        if (open_file_system(scheme + "://x")) opened.fetch_add(1);
        if (open_file_system("mem://thread-store/" + std::to_string(t))) opened.fetch_add(1);
        static_cast<void>(ckpt::fs::registered_file_system_schemes());
        unregister_file_system(scheme);
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(opened.load(), threads * 100);
  ckpt::fs::MemoryStore::drop("thread-store");
}

}  // namespace
