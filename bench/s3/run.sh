#!/usr/bin/env bash
# Builds ckpt_s3_bench (release preset), starts s3rver on 127.0.0.1 with a
# throw-away data directory, and runs the benchmark against it and the local
# disk. Extra arguments go to the benchmark (e.g. --benchmark_filter=write).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../../tests/s3/s3rver.sh
source tests/s3/s3rver.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs" --target ckpt_s3_bench
ckpt_s3rver_install
data=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-s3rver-bench.XXXXXX")
trap 'ckpt_s3rver_stop; rm -rf "$data"' EXIT
ckpt_s3rver_start "$data/store"
build/release/bench/s3/ckpt_s3_bench "$@"
