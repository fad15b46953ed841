#!/usr/bin/env bash
# Installs the Debian 12 packages ckpt needs, or says exactly which ones are missing.
# Usage: cmake/deps.sh [group...]   groups: core (always), rocksdb (ckpt::rocksdb and its tests, the benchmarks' RocksDB
# baselines, bench/run.sh), s3, metrics (ckpt::metrics and its tests: RapidJSON, curl and the
# Prometheus text parser), etcd (ckpt::etcd and its tests: etcd itself, which the tests start
# on loopback, libcurl, OpenSSL, RapidJSON), clang (the asan preset and the fuzzers; fuzz is the same)
# Sourced by examples/demo.sh, tests/run.sh and bench/run.sh; never downloads anything
# but Debian packages.
set -euo pipefail

ckpt_packages() {
  local pkgs=(g++ cmake ninja-build pkg-config libboost1.81-dev libcereal-dev libzstd-dev
              libxxhash-dev libgtest-dev libgmock-dev libbenchmark-dev)
  local group
  for group in "$@"; do
    case "$group" in
      core) ;;
      rocksdb) pkgs+=(librocksdb-dev) ;;
      s3) pkgs+=(libcurl4-openssl-dev libssl-dev nodejs npm) ;;
      metrics) pkgs+=(rapidjson-dev curl python3-prometheus-client) ;;
      etcd) pkgs+=(etcd-server libcurl4-openssl-dev libssl-dev rapidjson-dev) ;;
      clang|fuzz) pkgs+=(clang libclang-rt-14-dev) ;;
      *) echo "cmake/deps.sh: unknown group '$group'" >&2; return 2 ;;
    esac
  done
  printf '%s\n' "${pkgs[@]}"
}

ckpt_missing_packages() {
  local p
  for p in $(ckpt_packages "$@"); do
    # Node.js from elsewhere (nodesource bundles npm) serves as well as Debian's.
    case "$p" in nodejs|npm) command -v "$p" >/dev/null 2>&1 && continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

ckpt_install_deps() {
  local missing
  missing=$(ckpt_missing_packages "$@" | tr '\n' ' ')
  missing=${missing% }
  [ -z "$missing" ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "ckpt needs these Debian packages, which are not installed:" >&2
      echo "  apt-get install -y $missing" >&2
      echo "Run that as root (or give this user sudo), then run this command again." >&2
      return 1
    fi
  fi
  echo "== installing Debian packages: $missing"
  # shellcheck disable=SC2086
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing; then
    "${sudo[@]}" apt-get update -q
    # shellcheck disable=SC2086
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ckpt_install_deps "${@:-core}"
fi
