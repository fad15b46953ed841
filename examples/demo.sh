#!/usr/bin/env bash
# Builds and runs ckpt's main example on a fresh Debian 12 machine: an
# exactly-once pipeline killed with SIGKILL several times (see
# examples/exactly_once/exactly_once.cpp; options are passed through, e.g.
# --events 1000000 --kills 10 --interval-ms 100 --parallelism 3 --rescale;
# --backend rocksdb keeps the keyed state in RocksDB; --windows replaces the
# running count by an event-time tumbling-window count per key; --broadcast
# weighs each event by a rule from a second, broadcast log of rules; --join
# joins the events with their audit copies in a KeyedCoProcessFunction).
# Installs missing Debian packages when run as root or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../cmake/deps.sh
source cmake/deps.sh
groups=(core)
prev=""
for arg in "$@"; do
  if [ "$prev" = "--backend" ] && [ "$arg" = "rocksdb" ]; then groups+=(rocksdb); fi
  prev="$arg"
done
ckpt_install_deps "${groups[@]}"
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc 2>/dev/null || echo 2)" --target exactly_once_demo
exec build/default/examples/exactly_once/exactly_once_demo "$@"
