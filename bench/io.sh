#!/usr/bin/env bash
# io_uring against pread as the input stage of `sealpub publish`, with a warm
# and a cold page cache (the file's pages are evicted with
# posix_fadvise(DONTNEED) before each cold run: no root-only drop_caches
# needed). Level 0 and a tmpfs store keep the other stages cheap, so the
# read path dominates. Best of REPS (default 3). Prints a markdown table.
# Usage: bench/io.sh [FILE] [REPS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SEALPUB_BIN:-$root/build/sealpub}
file=${1:-/var/tmp/sealpub-bench/scale-1/image.tar}
reps=${2:-3}
work=$(mktemp -d /dev/shm/sealpub-io-XXXXXX)
trap 'rm -rf "$work"' EXIT
export SEALPUB_HOME=$work/home
evict() { python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' "$1"; }
warm() { cat "$1" >/dev/null; }
size=$(stat -c %s "$file")
echo "input: $file ($size bytes), level 0, store on tmpfs, best of $reps; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| io mode | page cache | MB/s (best) | all runs |"
echo "|---|---|---:|---|"
for cache in warm cold; do
    for mode in uring pread; do
        runs=()
        for ((i = 0; i < reps; i++)); do
            if [[ $cache == cold ]]; then evict "$file"; else warm "$file"; fi
            mbps=$("$bin" publish "$file" --io "$mode" --level 0 --content raw --name io --stage bench --version "$mode" \
                --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["mb_per_s"])')
            runs+=("$mbps")
        done
        best=$(printf '%s\n' "${runs[@]}" | sort -g | tail -1)
        echo "| $mode | $cache | $best | ${runs[*]} |"
    done
done
