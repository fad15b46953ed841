#!/usr/bin/env bash
# Builds and runs ckpt's main example on a fresh Debian 12 machine.
# Installs missing Debian packages when run as root or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../cmake/deps.sh
source cmake/deps.sh
ckpt_install_deps core
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc 2>/dev/null || echo 2)" --target ckpt_quickstart
exec build/default/examples/quickstart/ckpt_quickstart "$@"
