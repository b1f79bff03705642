#!/usr/bin/env bash
# Seeds tests/fuzz/corpus/container with small valid containers and a few
# broken ones, and writes their keys to keys.txt. Re-runnable.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${SEALPUB_BIN:-$here/../../build/sealpub}
out=$here/corpus/container
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
export SEALPUB_HOME=$work/home
key=c2VhbHB1Yi1mdXp6LWtleS0wMTIzNDU2Nzg5YWJjZGU=
seal() { # name input
    "$bin" publish "$2" --name "$1" --stage fuzz --arch amd64 --version 1 --chunk-size 1M --quiet --content raw
    cp "$SEALPUB_HOME/objects/fuzz/$1-amd64-1.enc" "$out/$1.enc"
}
: >"$work/empty"
printf 'x' >"$work/one"
head -c 3000 /usr/share/common-licenses/GPL-3 >"$work/text"
head -c 1100000 /dev/zero >"$work/zeros"
seal empty "$work/empty"
seal one "$work/one"
seal text "$work/text"
seal zeros "$work/zeros"
head -c 40 "$out/text.enc" >"$out/cut-header.enc"
printf 'not a container' >"$out/garbage.bin"
# The seeds' keys, by artifact id, for the fuzz target (test data only).
sqlite3 "$SEALPUB_HOME/registry.db" "SELECT artifact_id || ' ' || encryption_key FROM resources ORDER BY resource_name" >"$here/keys.txt"
echo "corpus: $(ls "$out" | wc -l) files in $out"
