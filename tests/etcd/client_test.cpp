// The etcd v3 JSON-gateway client against a real etcd on loopback: round
// trips of put/get/range/txn/delete, leases; an unreachable etcd; responses
// etcd never sends (from a canned server).
#include <ckpt/etcd/client.hpp>
#include <ckpt/etcd/detail/base64.hpp>
#include <ckpt/etcd/job_keys.hpp>

#include "canned_server.hpp"
#include "etcd_server.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ckpt::etcd {
namespace {

using test::EtcdServer;
using test::fast;

TEST(EtcdBase64, RoundTripsEveryByteAndRefusesWhatIsNotBase64) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= 5; ++n) {
    const std::string s = all.substr(0, n) + all.substr(250 - n);
    EXPECT_EQ(detail::base64_decode(detail::base64_encode(s)), s);
  }
  EXPECT_EQ(detail::base64_encode("foo"), "Zm9v");
  EXPECT_FALSE(detail::base64_decode("Zm9"));      // not a multiple of 4
  EXPECT_FALSE(detail::base64_decode("Zm9v!!!!")); // not the alphabet
  EXPECT_FALSE(detail::base64_decode(" Zm9v   ")); // blanks
}

TEST(EtcdJobKeys, KeysStayInsideTheJobAndNamesAreChecked) {
  const JobKeys keys("ckpt", "orders");
  EXPECT_EQ(keys.member("m-1"), "/ckpt/orders/members/m-1");
  EXPECT_EQ(keys.leader(), "/ckpt/orders/leader");
  EXPECT_EQ(keys.checkpoint(42), "/ckpt/orders/checkpoints/00000000000000000042");
  EXPECT_LT(keys.checkpoint(9), keys.checkpoint(10));
  EXPECT_THROW(keys.member("../leader"), ConfigError);
  EXPECT_THROW(JobKeys("ckpt", "a/b"), ConfigError);
  EXPECT_THROW(Options::at("http://user:secret@127.0.0.1:2379").validate(), ConfigError);
  try {
    Options::at("http://user:secret@127.0.0.1:2379").validate();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
  }
}

TEST(EtcdClient, PutGetRangeTxnDeleteRoundTrip) {
  EtcdServer server;
  Client client(fast(server.endpoint()));
  std::string binary("v\0\xff\x01 end", 9);
  const std::int64_t rev1 = client.put("/t/a", binary);
  EXPECT_GT(rev1, 0);
  auto a = client.get("/t/a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->value, binary);
  EXPECT_EQ(a->create_revision, rev1);
  EXPECT_EQ(a->version, 1);
  EXPECT_FALSE(client.get("/t/missing"));

  client.put("/t/c", "3");
  client.put("/t/b", "");  // an empty value is a value
  const RangeResult r = client.range_prefix("/t/");
  ASSERT_EQ(r.kvs.size(), 3u);
  EXPECT_EQ(r.kvs[0].key, "/t/a");
  EXPECT_EQ(r.kvs[1].key, "/t/b");
  EXPECT_EQ(r.kvs[1].value, "");
  EXPECT_EQ(r.kvs[2].key, "/t/c");
  EXPECT_EQ(r.count, 3);

  // A txn takes the success branch only when every compare holds.
  TxnResult t = client.txn({Compare::absent("/t/new"), Compare::value_is("/t/c", Compare::Result::equal, "3")},
                           {TxnOp::put("/t/new", "x"), TxnOp::get("/t/c")}, {TxnOp::get("/t/new")});
  EXPECT_TRUE(t.succeeded);
  ASSERT_EQ(t.responses.size(), 2u);
  ASSERT_EQ(t.responses[1].range.kvs.size(), 1u);
  EXPECT_EQ(t.responses[1].range.kvs[0].value, "3");
  t = client.txn({Compare::absent("/t/new")}, {TxnOp::put("/t/new", "y")}, {TxnOp::get("/t/new")});
  EXPECT_FALSE(t.succeeded);
  ASSERT_EQ(t.responses.size(), 1u);
  ASSERT_EQ(t.responses[0].range.kvs.size(), 1u);
  EXPECT_EQ(t.responses[0].range.kvs[0].value, "x");
  const auto newer = client.get("/t/new");
  ASSERT_TRUE(newer);
  t = client.txn({Compare::mod_revision("/t/new", Compare::Result::equal, newer->mod_revision)},
                 {TxnOp::remove("/t/new")});
  EXPECT_TRUE(t.succeeded);
  EXPECT_EQ(t.responses.at(0).deleted, 1);
  EXPECT_FALSE(client.get("/t/new"));

  EXPECT_EQ(client.delete_range("/t/", prefix_end("/t/")), 3);
  EXPECT_TRUE(client.range_prefix("/t/").kvs.empty());
}

TEST(EtcdClient, LeaseGrantKeepAliveRevokeAndItsKeys) {
  EtcdServer server;
  Client client(fast(server.endpoint()));
  const LeaseGrant g = client.lease_grant(std::chrono::seconds{30});
  EXPECT_NE(g.id, 0);
  EXPECT_EQ(g.ttl, 30);
  client.put("/l/k", "v", g.id);
  EXPECT_EQ(client.get("/l/k")->lease, g.id);
  EXPECT_EQ(client.lease_keep_alive(g.id), 30);
  EXPECT_GT(client.lease_time_to_live(g.id), 0);
  EXPECT_TRUE(client.lease_revoke(g.id));
  EXPECT_FALSE(client.get("/l/k"));  // a lease's keys go with it
  EXPECT_EQ(client.lease_keep_alive(g.id), 0);
  EXPECT_EQ(client.lease_time_to_live(g.id), -1);
  EXPECT_FALSE(client.lease_revoke(g.id));
  // A put under an unknown lease: etcd's NOT_FOUND, as IoError(not_found) naming the call.
  try {
    client.put("/l/k", "v", g.id);
    FAIL() << "a put under a revoked lease succeeded";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), errc::not_found);
    EXPECT_NE(std::string(e.what()).find("etcd put at " + server.endpoint()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("lease not found"), std::string::npos) << e.what();
  }
}

TEST(EtcdClient, UnreachableEtcdIsAnIoErrorNamingTheEndpointAndTheCall) {
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(test::free_loopback_port());
  Client client(fast(endpoint));
  try {
    client.range("/x");
    FAIL() << "a range against nothing succeeded";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), errc::io_error);
    EXPECT_EQ(e.path(), endpoint);
    EXPECT_NE(std::string(e.what()).find("etcd range at " + endpoint), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unreachable"), std::string::npos) << e.what();
  }
  EXPECT_THROW(client.lease_grant(std::chrono::seconds{5}), IoError);
  EXPECT_THROW(client.txn({}, {TxnOp::put("/x", "y")}), IoError);
}

TEST(EtcdClient, AServerThatNeverAnswersIsATimeoutNotAHang) {
  // A listening socket that accepts (the kernel does) but never answers.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  Options o = fast(endpoint);
  o.request_timeout = std::chrono::milliseconds{300};
  Client client(o);
  try {
    client.put("/x", "y");
    ADD_FAILURE() << "a put to a silent server succeeded";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("did not answer within 300 ms"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(endpoint), std::string::npos) << e.what();
  }
  ::close(fd);
}

TEST(EtcdClient, HostileResponsesAreErrorsNeverCrashesOrHugeAllocations) {
  struct Case {
    const char* name;
    std::string response;
  };
  const std::string deep(100000, '[');
  const std::vector<Case> cases = {
      {"not JSON", test::json_response("<html>hello</html>")},
      {"an array", test::json_response("[1,2,3]")},
      {"deeply nested", test::json_response("{\"kvs\":" + deep + "}")},
      {"no header", test::json_response("{\"kvs\":[]}")},
      {"revision not a number", test::json_response("{\"header\":{\"revision\":\"12x\"}}")},
      {"kvs not an array", test::json_response("{\"header\":{\"revision\":\"3\"},\"kvs\":{}}")},
      {"key not base64",
       test::json_response("{\"header\":{\"revision\":\"3\"},\"kvs\":[{\"key\":\"@@@\",\"create_revision\":\"1\","
                           "\"mod_revision\":\"1\"}]}")},
      {"no revisions", test::json_response("{\"header\":{\"revision\":\"3\"},\"kvs\":[{\"key\":\"Zm9v\"}]}")},
      {"announces 1 TB", "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\nConnection: close\r\n\r\n{"},
      {"endless body", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + std::string(5u << 20, ' ')},
      {"HTTP 500 with garbage", "HTTP/1.1 500 Oops\r\nContent-Length: 5\r\nConnection: close\r\n\r\n\x01\x02zz\n"},
      {"not HTTP", "SSH-2.0-OpenSSH\r\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    test::CannedServer server(c.response);
    Client client(fast(server.endpoint()));
    try {
      client.range("/foo");
      ADD_FAILURE() << "a hostile response was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(server.endpoint()), std::string::npos) << e.what();
      EXPECT_LT(std::string(e.what()).size(), 2000u);
    }
  }
  // A txn answered with fewer responses than operations.
  test::CannedServer short_txn(test::json_response("{\"header\":{\"revision\":\"3\"},\"succeeded\":true}"));
  Client client(fast(short_txn.endpoint()));
  EXPECT_THROW(client.txn({}, {TxnOp::get("/a")}), CorruptionError);
}

}  // namespace
}  // namespace ckpt::etcd
