#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what is missing (build
# tools, libraries, radosgw, PostgreSQL, dockerd), build with warnings as errors,
# start the local S3 gateway and PostgreSQL, run every test, stop them;
# then cross-build for arm64 and run the server-free tests under qemu.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# --docker: dockerd and mmdebstrap for it_docker.sh, which starts its own engine.
"$root/scripts/install-deps.sh" --services --docker
SEALPUB_BUILD_DIR=${SEALPUB_BUILD_DIR:-$root/build} "$root/scripts/build.sh" -DSEALPUB_WERROR=ON
export SEALPUB_REQUIRE_SERVICES=1
status=0
"$root/scripts/with-services.sh" "$root/scripts/run-tests.sh" || status=1
# arm64: cross-built, and the tests that need no server run under qemu.
echo "== arm64 cross build and qemu tests"
"$root/scripts/cross-arm64.sh" || status=1
exit $status
