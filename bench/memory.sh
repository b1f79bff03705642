#!/usr/bin/env bash
# Peak RSS of `sealpub publish` from a pipe of GIB gibibytes (default 4), for
# incompressible and compressible streams, at default settings: the bound
# memory must not grow with the input. Prints a markdown table; records, never asserts.
# Files named after GIB are piped in too (e.g. the bench corpora: fp16 weights
# take the fast codec, whose working memory differs from libdeflate's).
# Usage: bench/memory.sh [GIB [FILE...]]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SEALPUB_BIN:-$root/build/sealpub}
gib=${1:-4}
[ $# -eq 0 ] || shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SEALPUB_HOME=$work/home
bytes=$((gib * 1024 * 1024 * 1024))
echo "| input (from a pipe) | bytes | threads | chunk | peak RSS (MiB) | seconds | MB/s |"
echo "|---|---|---|---|---|---|---|"
run() { # label generator-command
    local label=$1 gen=$2
    /usr/bin/time -v -o "$work/time" bash -c "$gen | head -c $bytes | '$bin' publish - --name mem --stage bench --version '$label' --quiet --json > '$work/json'"
    local rss secs
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
    secs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$work/json")
    python3 - "$label" "$bytes" "$rss" "$secs" "$work/json" <<'PY'
import json, sys
label, n, rss, secs, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
d = json.load(open(path))
n = d["plain_size"]  # a file shorter than GIB is published whole
print(f"| {label} | {n} | {d['threads']} | {d['chunk_size'] >> 20} MiB | {rss / 1024:.1f} | {secs:.1f} | {n / 1e6 / secs:.0f} |")
PY
    rm -rf "$SEALPUB_HOME/objects"
}
# The RSS of bash/head is not counted: time -v reports the largest single
# process of the tree it waits for, which is sealpub.
run random "openssl enc -aes-128-ctr -pass pass:sealpub -nosalt -pbkdf2 < /dev/zero 2>/dev/null"
run text "yes 'layer sha256 manifest json usr lib config the of'"
for f in "$@"; do run "$(basename "$f")" "cat '$f'"; done
