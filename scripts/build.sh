#!/usr/bin/env bash
# Configures and builds sealpub into build/ (or $SEALPUB_BUILD_DIR).
# Usage: scripts/build.sh [extra cmake -D options...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SEALPUB_BUILD_DIR:-$root/build}
# /usr: GNUInstallDirs then picks the multiarch libdir the .deb needs (scripts/check-packages.sh).
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
