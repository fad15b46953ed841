cmake_policy(SET CMP0057 NEW)  # IN_LIST
# Data flows one way — user code -> state -> serialization -> codec -> file
# system — and a lower layer never includes a higher one. This script checks
# every header's #include <ckpt/...> lines against the layer order below,
# and that the core never includes an optional target's layer.
#   cmake -DINCLUDE_DIR=<repo>/include -P check_layers.cmake
set(_order
  "base"      # error, bytes, names, clock, hash, version, detail/: used by all
  "fs"        # FileSystem and its backends
  "net"       # the libcurl HTTP client shared by the optional s3 and etcd targets
  "s3"        # the optional object-store backend (a FileSystem)
  "serial"    # cereal glue, snapshot data
  "snapshot"  # the format: codec, state files, manifests
  "state"     # primitives, backends, timers
  "rocksdb"   # the optional RocksDB keyed state backend (beside state/, never included by it)
  "function"  # what users write: functions, sources, sinks
  "storage"   # checkpoint directories, restore
  "edit"      # offline savepoint editing (reads and writes through storage)
  "etcd"      # the optional etcd client and coordination primitives (leases, members, leader, ids, commits):
              # may rest on storage (global checkpoints will), never on runtime
  "runtime"   # coordinator, service mode, pipelines
  "cluster"   # the optional clustered service (ckpt::etcd target): etcd's protocol driving a CheckpointedService
  "metrics"   # the optional checkpoint metrics and their HTTP endpoint (consume CheckpointStats)
  "testing"   # the harness
  "umbrella") # ckpt.hpp
set(_base error bytes names clock hash version detail)
# Layers of the optional targets: the core (every other layer) never includes
# them, whatever their place in the order, so ckpt::ckpt never needs their
# dependencies.
set(_optional net s3 rocksdb etcd cluster metrics)

function(_layer_of rel out)
  string(REGEX REPLACE "^ckpt/" "" rel "${rel}")
  string(REGEX MATCH "^[^/.]+" first "${rel}")
  if(first STREQUAL "ckpt")
    set(first "umbrella")
  elseif(first IN_LIST _base)
    set(first "base")
  endif()
  list(FIND _order "${first}" rank)
  if(rank EQUAL -1)
    message(FATAL_ERROR "layering: '${rel}' belongs to no known layer ('${first}'); add it to the order in ${CMAKE_CURRENT_LIST_FILE}")
  endif()
  set(${out} ${rank} PARENT_SCOPE)
  set(${out}_name ${first} PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE _headers RELATIVE ${INCLUDE_DIR} ${INCLUDE_DIR}/ckpt/*.hpp)
set(_violations 0)
set(_checked 0)
foreach(h IN LISTS _headers)
  _layer_of(${h} from)
  file(STRINGS ${INCLUDE_DIR}/${h} _lines REGEX "^#include <ckpt/")
  foreach(line IN LISTS _lines)
    string(REGEX REPLACE "^#include <(ckpt/[^>]+)>.*" "\\1" target "${line}")
    _layer_of(${target} to)
    math(EXPR _checked "${_checked} + 1")
    if(to GREATER from)
      message(SEND_ERROR "layering: ${h} (${from_name}) includes ${target} (${to_name}), a higher layer")
      math(EXPR _violations "${_violations} + 1")
    elseif(to_name IN_LIST _optional AND NOT from_name IN_LIST _optional)
      message(SEND_ERROR "layering: ${h} (core: ${from_name}) includes ${target} of the optional ${to_name} target")
      math(EXPR _violations "${_violations} + 1")
    endif()
  endforeach()
endforeach()
list(LENGTH _headers _n)
if(_violations GREATER 0)
  message(FATAL_ERROR "layering: ${_violations} include(s) go up the layers or from the core into an optional target")
endif()
message(STATUS "layering: ${_checked} includes in ${_n} headers all go down the layers")
