#!/usr/bin/env bash
# Builds the Release preset and runs ckpt's benchmark report: every performance
# goal (P1-P7, issue 3) beside a baseline measured in the same run, as a table
# and as report.json, whose path is the last line printed.
#
#   bench/run.sh                 the report at its default sizes (< 5 minutes on 2 cores)
#   bench/run.sh --quick         every size / 8: a smoke run, not the goals' figures
#   bench/run.sh --micro         also the Google Benchmark micro-benchmarks (briefly)
#   bench/run.sh --cluster [options]  instead of the report, issue 17's cluster figures
#                                (ckpt_bench_cluster: etcd started on loopback; --runs,
#                                --keys, --interval-ms) into cluster_report.json,
#                                whose path is the last line printed
#   bench/run.sh [report options] e.g. --runs 7 --big-keys 16000000 --only p1,p4
#                                (ckpt_bench_report --help lists them)
#
# Installs the Debian packages it misses (cmake/deps.sh core rocksdb) when run
# as root or with sudo; otherwise it prints the apt-get command and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

micro=0
cluster=0
args=()
for arg in "$@"; do
  case "$arg" in
    --micro) micro=1 ;;
    --cluster) cluster=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) args+=("$arg") ;;
  esac
done

# shellcheck source=../cmake/deps.sh
source cmake/deps.sh
if [ "$cluster" = 1 ]; then
  ckpt_install_deps core etcd
  echo "== configure + build: release (ckpt_bench_cluster)" >&2
  cmake --preset release -DCKPT_ETCD=ON >/dev/null
  cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)" --target ckpt_bench_cluster >&2
  echo "== cluster figures" >&2
  exec "$root/build/release/bench/cluster/ckpt_bench_cluster" --json "$root/build/release/bench/cluster_report.json" \
    "${args[@]+"${args[@]}"}"
fi
ckpt_install_deps core rocksdb

echo "== configure + build: release" >&2
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)" --target ckpt_bench_report ckpt_micro_bench >&2

out="$root/build/release/bench"
if [ "$micro" = 1 ]; then
  echo "== micro-benchmarks" >&2
  "$out/micro/ckpt_micro_bench" --benchmark_min_time=0.2 >&2
fi
echo "== report" >&2
# The report's own last line is the absolute path of report.json.
"$out/report/ckpt_bench_report" --json "$out/report.json" "${args[@]+"${args[@]}"}"
