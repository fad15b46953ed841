#!/usr/bin/env bash
# Builds and runs every ckpt test on a fresh Debian 12 machine.
#
#   tests/run.sh            everything CI runs: the whole suite (with the header,
#                           layering and CMake consumer checks) under
#                           ASan+UBSan (clang), the S3 tests against a loopback
#                           server, each fuzzer for a short fixed time, and the
#                           concurrent parts of the suite under TSan (GCC)
#   tests/run.sh --long     the optimised suite too, and everything with the
#                           long crash loops and fuzz runs
#   tests/run.sh --quick    the optimised suite only (the quickest check)
#
# Installs missing Debian packages when run as root or with sudo; otherwise it
# prints the apt-get command to run and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

mode=ci
for arg in "$@"; do
  case "$arg" in
    --long) mode=long ;;
    --quick) mode=quick ;;
    -h|--help) sed -n "2,15p" "$0"; exit 0 ;;
    *) echo "tests/run.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

# shellcheck source=../cmake/deps.sh
source cmake/deps.sh
if [ "$mode" = quick ]; then ckpt_install_deps core metrics; else ckpt_install_deps core clang s3 metrics rocksdb etcd; fi

export CKPT_TEST_MODE=$mode
jobs=$(nproc 2>/dev/null || echo 2)
start=$(date +%s)
stage() { echo; echo "== $* ($(( $(date +%s) - start ))s)"; }

run_preset() {
  local preset=$1
  stage "configure + build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  stage "ctest: $preset"
  ctest --preset "$preset" -j "$jobs"
}

# Quick runs the optimised build. CI does not: the ASan+UBSan build runs
# every test the optimised one does, with more checks (and, at -Og, builds
# faster than -O2), so a third build would only cost time.
if [ "$mode" = quick ]; then
  run_preset default
  stage "done (quick)"; exit 0
fi
[ "$mode" = long ] && run_preset default

run_preset asan
export CKPT_S3_PRESETS=asan  # the S3 stage reuses that build
for script in tests/stages/*.sh; do
  [ -e "$script" ] || continue
  stage "$(basename "$script" .sh)"
  bash "$script" "$mode"
done
run_preset tsan
stage "all tests passed"
