#!/usr/bin/env bash
# Runs every test against an existing build and running services (see
# scripts/test.sh, which prepares both). Exit status: non-zero if any failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SEALPUB_BUILD_DIR:-$root/build}
export SEALPUB_BIN=$build/sealpub
status=0
ctest --test-dir "$build" --output-on-failure -j2 || status=1
for dir in python/tests; do
    if [[ -d $root/$dir ]]; then
        echo "== python unittest: $dir"
        (cd "$root" && python3 -m unittest discover -s "$dir" -v) || status=1
    fi
done
exit $status
