#!/usr/bin/env bash
# Installs and runs s3rver, an S3-compatible server (npm), on loopback for
# ckpt's S3 tests and benchmark. Sourced by tests/stages/s3.sh and bench/s3/run.sh.
#
#   ckpt_s3rver_install            npm-installs s3rver into $CKPT_S3RVER_HOME
#                                  (default build/s3rver, never committed)
#   ckpt_s3rver_start <datadir>    starts it on 127.0.0.1 at a free port with a
#                                  bucket "ckpt-test"; exports CKPT_S3_TEST_ENDPOINT,
#                                  CKPT_S3_TEST_BUCKET, CKPT_S3_TEST_ACCESS_KEY_ID,
#                                  CKPT_S3_TEST_SECRET_ACCESS_KEY and CKPT_S3RVER_PID
#   ckpt_s3rver_stop               stops the server started above (by its pid)
#
# Nothing but the npm registry (for the install) and 127.0.0.1 is contacted.

CKPT_S3RVER_VERSION=${CKPT_S3RVER_VERSION:-3.7.1}

ckpt_s3rver_install() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  CKPT_S3RVER_HOME=${CKPT_S3RVER_HOME:-$root/build/s3rver}
  export CKPT_S3RVER_HOME
  local bin=$CKPT_S3RVER_HOME/node_modules/.bin/s3rver
  if [ -x "$bin" ] && [ "$(node -p "require('$CKPT_S3RVER_HOME/node_modules/s3rver/package.json').version" 2>/dev/null)" = "$CKPT_S3RVER_VERSION" ]; then
    return 0
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "s3rver needs node and npm (cmake/deps.sh s3 installs them)" >&2
    return 1
  fi
  echo "== installing s3rver@$CKPT_S3RVER_VERSION into $CKPT_S3RVER_HOME"
  mkdir -p "$CKPT_S3RVER_HOME"
  npm install --prefix "$CKPT_S3RVER_HOME" --no-audit --no-fund --no-save --loglevel=error \
    "s3rver@$CKPT_S3RVER_VERSION" >&2
}

ckpt_s3rver_start() {
  local data=$1
  mkdir -p "$data"
  local log=$data.log
  # Port 0: the kernel picks a free port and s3rver prints the one it got.
  # Read that line as it is written (a blocking read, no polling), then keep
  # draining the server's output into the log.
  # --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation
  # tokens with DES, which OpenSSL 3 only offers in its legacy provider.
  local fd
  exec {fd}< <(exec node --openssl-legacy-provider "$CKPT_S3RVER_HOME/node_modules/.bin/s3rver" -d "$data" -a 127.0.0.1 -p 0 \
    --silent --configure-bucket ckpt-test 2>&1)
  CKPT_S3RVER_PID=$!
  export CKPT_S3RVER_PID
  local line="" got=""
  while IFS= read -r -t 60 -u "$fd" line; do
    echo "$line" >>"$log"
    case "$line" in *"S3rver listening on"*) got=$line; break ;; esac
  done
  if [ -z "$got" ]; then
    echo "s3rver did not start (or did not report its port within 60 s):" >&2
    cat "$log" >&2
    ckpt_s3rver_stop
    exec {fd}<&-
    return 1
  fi
  cat <&"$fd" >>"$log" &
  exec {fd}<&-
  line=$got
  local address=${line##*listening on }
  export CKPT_S3_TEST_ENDPOINT="http://$address"
  export CKPT_S3_TEST_BUCKET=ckpt-test
  export CKPT_S3_TEST_ACCESS_KEY_ID=S3RVER       # s3rver's fixed test account
  export CKPT_S3_TEST_SECRET_ACCESS_KEY=S3RVER
  echo "== s3rver $CKPT_S3RVER_VERSION (pid $CKPT_S3RVER_PID) on $CKPT_S3_TEST_ENDPOINT, data in $data"
}

ckpt_s3rver_stop() {
  if [ -n "${CKPT_S3RVER_PID:-}" ]; then
    kill "$CKPT_S3RVER_PID" 2>/dev/null || true
    wait "$CKPT_S3RVER_PID" 2>/dev/null || true
    unset CKPT_S3RVER_PID
  fi
}
