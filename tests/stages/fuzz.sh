#!/usr/bin/env bash
# Builds ckpt's libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined)
# in build/fuzz, generates their seed corpus from real snapshots, and runs each
# for a fixed time: 45 s in CI, 10 minutes with "long". A crash, a leak, a
# sanitizer report, an error that does not name its file, or a single
# allocation over 128 MiB (the readers run with 16 MiB limits) fails the stage.
#
#   tests/stages/fuzz.sh [ci|long]     (CKPT_FUZZ_SECONDS overrides the time)
#
# Prints, per target, the executions, the time and the corpus size.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
mode=${1:-ci}
case "$mode" in
  ci|quick) seconds=30 ;;
  long) seconds=600 ;;
  *) echo "fuzz.sh: unknown mode '$mode' (ci or long)" >&2; exit 2 ;;
esac
seconds=${CKPT_FUZZ_SECONDS:-$seconds}

# shellcheck source=../../cmake/deps.sh
source cmake/deps.sh
ckpt_install_deps core fuzz

build=$root/build/fuzz
jobs=$(nproc 2>/dev/null || echo 2)
CXX=clang++ cmake -S fuzz -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$jobs" --target ckpt_fuzz_manifest ckpt_fuzz_state_file ckpt_fuzz_type_name ckpt_fuzz_directory ckpt_fuzz_seeds

seeds=$build/seeds
rm -rf "$seeds"
"$build/ckpt_fuzz_seeds" "$seeds"

# The targets run side by side.
targets=(manifest state_file type_name directory)
for target in "${targets[@]}"; do
  corpus=$build/corpus/$target  # grows across runs; the seeds are regenerated each time
  mkdir -p "$corpus"
  echo "== fuzzing $target for ${seconds}s"
  (
    set +e
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$build/ckpt_fuzz_$target" "$corpus" "$seeds/$target" \
        -max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=128 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$build/crash-$target-" >"$build/fuzz-$target.log" 2>&1
    echo $? >"$build/fuzz-$target.rc"
  ) &
done
wait

status=0
summary=()
for target in "${targets[@]}"; do
  corpus=$build/corpus/$target
  log=$build/fuzz-$target.log
  rc=$(cat "$build/fuzz-$target.rc")
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  secs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  size=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -ne 0 ]; then
    echo "fuzz.sh: $target failed (exit $rc); the log follows, the input is in $build/crash-$target-*" >&2
    tail -60 "$log" >&2
    status=1
  fi
  summary+=("$target: ${runs:-?} executions in ${secs:-?} s, peak RSS ${rss:-?} MB, corpus $size inputs, exit $rc")
done
echo
for line in "${summary[@]}"; do echo "[ fuzz ] $line"; done
exit $status
