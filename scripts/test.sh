#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what is missing (build
# tools, libraries, radosgw, PostgreSQL, dockerd), build with warnings as errors,
# cross-build for arm64; start the local S3 gateway and PostgreSQL, run every
# test natively, then the arm64 suite under qemu and the sanitizer builds
# (scripts/sanitize.sh) against the same servers, stop them; then build and test in Debian 11/12/13 root filesystems.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# --docker: dockerd and mmdebstrap for it_docker.sh, which starts its own engine.
"$root/scripts/install-deps.sh" --services --docker
SEALPUB_BUILD_DIR=${SEALPUB_BUILD_DIR:-$root/build} "$root/scripts/build.sh" -DSEALPUB_WERROR=ON
export SEALPUB_REQUIRE_SERVICES=1
status=0
# arm64: built (and its .deb made) before the servers start; its tests run
# inside the same with-services call, after the native suite, so the arm64
# sealpub meets the same radosgw and PostgreSQL.
echo "== arm64 cross build"
t=$SECONDS
"$root/scripts/cross-arm64.sh" --no-tests || status=1
echo "== arm64 cross build: $((SECONDS - t)) s"
# shellcheck disable=SC2016 # expanded by the inner bash
"$root/scripts/with-services.sh" bash -c '
    s=0
    t=$SECONDS
    "$1/scripts/run-tests.sh" || s=1
    echo "== native suite: $((SECONDS - t)) s"
    echo "== arm64 suite under qemu"
    t=$SECONDS
    "$1/scripts/cross-arm64.sh" --tests-only || s=1
    echo "== arm64 suite under qemu: $((SECONDS - t)) s"
    echo "== sanitizers: ASan+UBSan (unit, fuzz replay, stress, an integration subset), TSan (pipeline stress)"
    t=$SECONDS
    "$1/scripts/sanitize.sh" all || s=1
    echo "== sanitizers: $((SECONDS - t)) s"
    exit $s' bash "$root" || status=1
# Debian 11 and 13 toolchains, for CI time: Debian 11 (the floor: OpenSSL
# 1.1.1, libcurl 7.74, libdeflate 1.7, CMake 3.18) builds with warnings as
# errors and runs the server-free tests; Debian 13 (gcc 14) builds with
# warnings as errors. Debian 12 is this machine: the main build and suite
# above. scripts/distro-matrix.sh with no argument runs all three in full.
echo "== distro matrix"
t=$SECONDS
"$root/scripts/distro-matrix.sh" bullseye trixie:build || status=1
echo "== distro matrix: $((SECONDS - t)) s"
# The amd64 and arm64 .deb (same Depends, copyright, lintian), then the
# platform wheels built against Debian 11 (the matrix left its tree) and
# tested in bare Debian 11 root filesystems, the aarch64 one under qemu.
echo "== packages"
t=$SECONDS
SEALPUB_BUILD_DIR=${SEALPUB_BUILD_DIR:-$root/build} "$root/scripts/check-packages.sh" || status=1
echo "== packages: $((SECONDS - t)) s"
echo "== wheels"
t=$SECONDS
"$root/scripts/wheels.sh" || status=1
echo "== wheels: $((SECONDS - t)) s"
exit $status
