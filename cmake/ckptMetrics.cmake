# The optional checkpoint metrics and their HTTP endpoint (include/ckpt/metrics):
# their own target, ckpt::metrics, so the core target never names RapidJSON.
# Boost.Beast, the HTTP server, is header-only and comes with Boost::headers.
include(ckptOptionalTarget)
set(_found OFF)
if(NOT CKPT_METRICS STREQUAL "OFF")
  find_path(CKPT_RAPIDJSON_INCLUDE_DIR rapidjson/writer.h)
  if(CKPT_RAPIDJSON_INCLUDE_DIR AND EXISTS "${PROJECT_SOURCE_DIR}/include/ckpt/metrics")
    set(_found ON)
  endif()
endif()
ckpt_optional_target(metrics ${_found} "apt-get install rapidjson-dev")
if(CKPT_METRICS_ENABLED)
  # Debian's RapidJSON sits in /usr/include; another prefix is named while building.
  target_include_directories(ckpt_metrics INTERFACE $<BUILD_INTERFACE:${CKPT_RAPIDJSON_INCLUDE_DIR}>)
endif()
