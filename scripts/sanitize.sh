#!/usr/bin/env bash
# Builds and runs the test suite under sanitizers, like libdeflate's
# run_tests.sh: ASan+UBSan over every unit, fuzz-replay and stress test, and TSan over
# the multi-threaded pipeline stress test (Criterion cannot start under TSan).
# Usage: scripts/sanitize.sh [asan|tsan|all]   (default all)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
which=${1:-all}
run() { # name sanitizers ctest-args...
    local name=$1 san=$2
    shift 2
    local build=$root/build-$name
    echo "== $name: -fsanitize=$san"
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSEALPUB_WERROR=ON -DSEALPUB_SANITIZE="$san" >/dev/null
    cmake --build "$build" -j"$(nproc)"
    ctest --test-dir "$build" --output-on-failure "$@"
}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
case $which in
asan) run asan address,undefined -L 'unit|fuzz|stress' ;;
tsan) run tsan thread -L stress ;;
all)
    run asan address,undefined -L 'unit|fuzz|stress'
    run tsan thread -L stress
    ;;
*) echo "usage: $0 [asan|tsan|all]" >&2; exit 2 ;;
esac
