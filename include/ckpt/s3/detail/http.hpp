#pragma once
// The S3 backend's HTTP client is the shared libcurl client of
// <ckpt/net/http_client.hpp> (ckpt::etcd uses it too); these names keep the
// backend's spelling.

#include <ckpt/net/http_client.hpp>

namespace ckpt::s3::detail {
using net::Failure;
using net::HttpClient;
using net::HttpRequest;
using net::HttpResponse;
using net::HttpSettings;
using net::Outcome;
}  // namespace ckpt::s3::detail
