# The optional etcd coordination client (include/ckpt/etcd, and the clustered
# service on top of it, include/ckpt/cluster): its own target,
# ckpt::etcd, so the core target never names libcurl, OpenSSL or RapidJSON.
# It talks to etcd's v3 JSON gateway over libcurl (the client of
# include/ckpt/net, shared with ckpt::s3), parses with RapidJSON and encodes
# keys with OpenSSL's base64.
include(ckptOptionalTarget)
set(_found OFF)
if(NOT CKPT_ETCD STREQUAL "OFF")
  find_package(CURL QUIET)
  find_package(OpenSSL QUIET)
  find_path(CKPT_RAPIDJSON_INCLUDE_DIR rapidjson/writer.h)
  if(CURL_FOUND AND OPENSSL_FOUND AND CKPT_RAPIDJSON_INCLUDE_DIR AND EXISTS "${PROJECT_SOURCE_DIR}/include/ckpt/etcd")
    set(_found ON)
  endif()
endif()
ckpt_optional_target(etcd ${_found} "apt-get install libcurl4-openssl-dev libssl-dev rapidjson-dev")
if(CKPT_ETCD_ENABLED)
  target_link_libraries(ckpt_etcd INTERFACE CURL::libcurl OpenSSL::Crypto)
  target_include_directories(ckpt_etcd INTERFACE $<BUILD_INTERFACE:${CKPT_RAPIDJSON_INCLUDE_DIR}>)
endif()
