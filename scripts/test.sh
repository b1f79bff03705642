#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what is missing (build
# tools, libraries, radosgw, PostgreSQL), build with warnings as errors,
# start the local S3 gateway and PostgreSQL, run every test, stop them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --services
SEALPUB_BUILD_DIR=${SEALPUB_BUILD_DIR:-$root/build} "$root/scripts/build.sh" -DSEALPUB_WERROR=ON
export SEALPUB_REQUIRE_SERVICES=1
exec "$root/scripts/with-services.sh" "$root/scripts/run-tests.sh"
