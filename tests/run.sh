#!/usr/bin/env bash
# Builds and runs every ckpt test on a fresh Debian 12 machine.
#
#   tests/run.sh            everything CI runs: the suite (optimised build), the
#                           suite under ASan+UBSan and under TSan, the CMake
#                           consumer tests, the S3 tests against a loopback
#                           server, and each fuzzer for a short fixed time
#   tests/run.sh --long     the same with the long crash loops and fuzz runs
#   tests/run.sh --quick    the optimised suite only
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
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "tests/run.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

# shellcheck source=../cmake/deps.sh
source cmake/deps.sh
if [ "$mode" = quick ]; then ckpt_install_deps core; else ckpt_install_deps core s3 fuzz; fi

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

run_preset default
if [ "$mode" = quick ]; then
  stage "done (quick)"; exit 0
fi

for script in tests/stages/*.sh; do
  [ -e "$script" ] || continue
  stage "$(basename "$script" .sh)"
  bash "$script" "$mode"
done

run_preset asan
run_preset tsan
stage "all tests passed"
