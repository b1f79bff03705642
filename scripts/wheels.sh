#!/usr/bin/env bash
# Builds the x86_64 and aarch64 platform wheels (scripts/build-wheel.sh) and
# tests each in a bare Debian 11 root filesystem (scripts/test-wheel.sh; the
# aarch64 one under qemu). Both binaries are built against Debian 11, the
# oldest supported system, so the wheels need glibc 2.31 and run on it and on
# anything newer (Ubuntu 20.04+, the TensorRT images):
#   x86_64   the build scripts/distro-matrix.sh made in its bullseye tree
#            (made here when missing);
#   aarch64  scripts/cross-arm64.sh against a bullseye arm64 sysroot.
#
# Usage: scripts/wheels.sh [OUTDIR]      (default: build-wheels)
# Prints each wheel with its test result and durations. Needs root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build-wheels}
matrix=${SEALPUB_MATRIX_WORK:-/tmp/sealpub-matrix}
status=0
t0=$SECONDS
results=()

# x86_64
t=$SECONDS
if [[ ! -x $matrix/bullseye/build/sealpub ]]; then
    "$root/scripts/distro-matrix.sh" bullseye || true
fi
if whl=$("$root/scripts/build-wheel.sh" x86_64 "$matrix/bullseye/build/sealpub" "$matrix/bullseye" "$out") &&
    "$root/scripts/test-wheel.sh" "$whl" bullseye; then
    results+=("$(basename "$whl"): installed and published + opened in Debian 11 amd64 ($((SECONDS - t)) s)")
else
    results+=("x86_64 wheel: FAILED ($((SECONDS - t)) s)")
    status=1
fi

# aarch64
t=$SECONDS
sysroot=$root/build-arm64-sysroot-bullseye
build=$root/build-arm64-bullseye
if SEALPUB_ARM64_SUITE=bullseye SEALPUB_ARM64_SYSROOT=$sysroot SEALPUB_ARM64_BUILD_DIR=$build \
    "$root/scripts/cross-arm64.sh" --no-tests --no-deb >"$out.arm64-build.log" 2>&1 &&
    whl=$("$root/scripts/build-wheel.sh" aarch64 "$build/sealpub" "$sysroot" "$out") &&
    "$root/scripts/test-wheel.sh" "$whl" bullseye; then
    results+=("$(basename "$whl"): installed and published + opened in Debian 11 arm64 under qemu ($((SECONDS - t)) s)")
else
    tail -20 "$out.arm64-build.log" >&2 || true
    results+=("aarch64 wheel: FAILED ($((SECONDS - t)) s)")
    status=1
fi

echo "== wheels ($((SECONDS - t0)) s)"
printf '  %s\n' "${results[@]}"
exit $status
