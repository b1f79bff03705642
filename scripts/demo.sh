#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, publish a
# sample into the embedded default store and registry, and open it back.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
bin=$root/build/sealpub
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A small docker-save-like sample: a real tar of system files.
tar -C /usr/share -cf "$work/sample.tar" common-licenses doc/cmake 2>/dev/null ||
    tar -C /usr/share -cf "$work/sample.tar" common-licenses
export SEALPUB_HOME=${SEALPUB_HOME:-$work/home}
"$bin" publish "$work/sample.tar" --name sample --stage dev --version 1.0.0
"$bin" inspect "$SEALPUB_HOME"/objects/dev/sample-*-1.0.0.enc | head -8
"$bin" open "$SEALPUB_HOME"/objects/dev/sample-*-1.0.0.enc -o "$work/sample.out"
cmp "$work/sample.tar" "$work/sample.out"
echo "demo: published and opened back $(stat -c %s "$work/sample.tar") bytes, identical"
