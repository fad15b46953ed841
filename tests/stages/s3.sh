#!/usr/bin/env bash
# S3 stage of tests/run.sh: the ckpt::s3 tests against a real S3-compatible
# server (s3rver, from npm) on 127.0.0.1 at a free port with a throw-away data
# directory, stopped afterwards. Nothing outside loopback is contacted.
#
#   tests/stages/s3.sh ci      unit, fault and server tests (ctest -L s3), once
#   tests/stages/s3.sh long    the same, then the server tests (kill -9 included) 10 more times
#
# CKPT_S3_PRESETS="default asan tsan" runs them in each of those builds (each
# is configured and its S3 targets built here). s3rver is installed into
# build/s3rver (or $CKPT_S3RVER_HOME) on first use.
set -euo pipefail
mode=${1:-ci}
case "$mode" in ci|long) ;; *) echo "usage: $0 ci|long" >&2; exit 2 ;; esac
cd "$(dirname "$0")/../.."
# shellcheck source=../s3/s3rver.sh
source tests/s3/s3rver.sh

jobs=$(nproc 2>/dev/null || echo 2)
presets=${CKPT_S3_PRESETS:-default}
targets=(ckpt_s3_unit_tests ckpt_s3_fault_tests ckpt_s3_conformance_tests ckpt_s3_server_tests ckpt_s3_kill_child)

for preset in $presets; do
  cmake --preset "$preset" >/dev/null
  if ! cmake --build --preset "$preset" -j "$jobs" --target "${targets[@]}"; then
    echo "s3 stage: could not build the ckpt::s3 tests in preset '$preset' (see above)." >&2
    echo "If the targets are unknown, CMake found no libcurl or OpenSSL: cmake/deps.sh s3 installs them." >&2
    exit 1
  fi
done

ckpt_s3rver_install
data=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-s3rver.XXXXXX")
trap 'ckpt_s3rver_stop; rm -rf "$data"' EXIT
ckpt_s3rver_start "$data/store"

for preset in $presets; do
  echo "== ctest -L s3 ($preset) against $CKPT_S3_TEST_ENDPOINT"
  ctest --preset "$preset" -L s3 -j "$jobs" --no-tests=error
  if [ "$mode" = long ]; then
    echo "== the tests against the server ($preset), 10 more rounds"
    ctest --preset "$preset" -L s3 -R '^(S3Server|S3Crash|S3OnServer)' -j "$jobs" --no-tests=error \
      --repeat until-fail:10
  fi
done
