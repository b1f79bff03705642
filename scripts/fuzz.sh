#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan, coverage on the whole
# library) and fuzzes one of them, growing its corpus in place.
# Usage: scripts/fuzz.sh [TARGET=fuzz_container] [libFuzzer args, e.g. -runs=10000000 -max_total_time=600]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SEALPUB_FUZZ_BUILD_DIR:-$root/build-fuzz}
target=${1:-fuzz_container}
shift || true
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEALPUB_FUZZ=ON \
    -DSEALPUB_SANITIZE=address,undefined -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
cmake --build "$build" -j"$(nproc)" --target "$target"
corpus=$root/tests/fuzz/corpus/${target#fuzz_}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# New inputs go to a scratch folder; merge them into the committed corpus
# only when they add coverage (-merge=1), keeping the corpus small.
"$build/tests/fuzz/$target" "$work" "$corpus" -max_len=262144 "$@"
"$build/tests/fuzz/$target" -merge=1 "$corpus" "$work" >/dev/null 2>&1 || true
