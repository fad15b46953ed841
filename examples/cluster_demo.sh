#!/usr/bin/env bash
# Builds and runs ckpt's cluster demo on a fresh Debian 12 machine: one keyed
# counting service as several member processes coordinated through etcd
# (examples/cluster/cluster_demo.cpp), members and the leader SIGKILLed at
# seeded random moments, rescaled 3 -> 2 -> 4, the committed output and final
# state compared with a failure-free computation. Options are passed through,
# e.g. --seed 42 --kills 8 --events-per-partition 8000 --sizes 3,2,4.
# etcd runs on 127.0.0.1 at free ports with a throw-away data directory; the
# checkpoint storage is a shared local directory (file://), removed at the end.
# --s3 puts the checkpoints on S3 instead: on the server tests/s3/s3rver.sh
# describes by CKPT_S3_TEST_* when they are set (tests/stages/s3.sh), else on
# an s3rver (npm) this script starts on loopback; the output stays local.
# Installs missing Debian packages when run as root or with sudo.
# CKPT_CLUSTER_DEMO_BIN names an already built cluster_demo (ctest does).
set -euo pipefail
cd "$(dirname "$0")/.."
s3=0
args=()
for arg in "$@"; do
  if [ "$arg" = "--s3" ]; then s3=1; else args+=("$arg"); fi
done
if [ "$s3" = 1 ] && [ -z "${CKPT_S3_TEST_ENDPOINT:-}" ] && [ "${CKPT_CLUSTER_DEMO_S3_FROM_ENV:-0}" = 1 ]; then
  echo "no S3 server (CKPT_S3_TEST_ENDPOINT is unset): skipped; tests/stages/s3.sh runs this"
  exit 77
fi
bin=${CKPT_CLUSTER_DEMO_BIN:-}
if [ -z "$bin" ]; then
  # shellcheck source=../cmake/deps.sh
  source cmake/deps.sh
  groups=(core etcd)
  [ "$s3" = 1 ] && groups+=(s3)
  ckpt_install_deps "${groups[@]}"
  cmake --preset default -DCKPT_ETCD=ON >/dev/null
  cmake --build --preset default -j "$(nproc 2>/dev/null || echo 2)" --target cluster_demo
  bin=build/default/examples/cluster/cluster_demo
fi
etcd_bin=$(command -v etcd || echo /usr/bin/etcd)

work=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-cluster-demo.XXXXXX")
etcd_pid=""
own_s3rver=0
cleanup() {
  if [ -n "$etcd_pid" ]; then kill -9 "$etcd_pid" 2>/dev/null || true; wait "$etcd_pid" 2>/dev/null || true; fi
  if [ "$own_s3rver" = 1 ]; then ckpt_s3rver_stop; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
healthy() {
  local reply
  reply=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /health HTTP/1.0\r\n\r\n' >&3 && timeout 1 cat <&3) 2>/dev/null) || return 1
  case "$reply" in *'"health":"true"'*) return 0 ;; *) return 1 ;; esac
}

# Free ports: chosen at random, checked, and etcd started on them (again with others if it could not bind).
endpoint=""
for attempt in 1 2 3 4 5; do
  client=$(( 20000 + RANDOM % 30000 )); peer=$(( client + 1 ))
  port_free "$client" && port_free "$peer" || continue
  rm -rf "$work/etcd"
  "$etcd_bin" --name=demo --data-dir="$work/etcd" \
    --listen-client-urls="http://127.0.0.1:$client" --advertise-client-urls="http://127.0.0.1:$client" \
    --listen-peer-urls="http://127.0.0.1:$peer" --initial-advertise-peer-urls="http://127.0.0.1:$peer" \
    --initial-cluster="demo=http://127.0.0.1:$peer" --initial-cluster-state=new \
    --heartbeat-interval=50 --election-timeout=500 --log-level=warn >"$work/etcd.log" 2>&1 &
  etcd_pid=$!
  for _ in $(seq 1 200); do
    if healthy "$client"; then endpoint="http://127.0.0.1:$client"; break; fi
    kill -0 "$etcd_pid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$endpoint" ] && break
  kill -9 "$etcd_pid" 2>/dev/null || true; wait "$etcd_pid" 2>/dev/null || true; etcd_pid=""
done
if [ -z "$endpoint" ]; then
  echo "could not start etcd on loopback; its log ends:" >&2
  tail -20 "$work/etcd.log" >&2 || true
  echo "exactly-once: FAILED (etcd did not start)"
  exit 1
fi
echo "== etcd (pid $etcd_pid) on $endpoint"
checkpoints=()
if [ "$s3" = 1 ]; then
  if [ -z "${CKPT_S3_TEST_ENDPOINT:-}" ]; then
    # shellcheck source=../tests/s3/s3rver.sh
    source tests/s3/s3rver.sh
    ckpt_s3rver_install
    own_s3rver=1
    ckpt_s3rver_start "$work/s3rver"
  fi
  # A prefix of its own per run; the credentials go by the environment, not the URI.
  export AWS_ACCESS_KEY_ID=$CKPT_S3_TEST_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$CKPT_S3_TEST_SECRET_ACCESS_KEY
  checkpoints=(--checkpoints "s3://$CKPT_S3_TEST_BUCKET/cluster-demo-$$-$RANDOM?endpoint=$CKPT_S3_TEST_ENDPOINT&addressing=path&region=us-east-1")
fi
"$bin" --etcd "$endpoint" --storage "$work/storage" "${checkpoints[@]}" "${args[@]}"
