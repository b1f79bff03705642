#!/usr/bin/env bash
# Builds and runs the test suite under sanitizers, like libdeflate's
# run_tests.sh: ASan+UBSan over every unit and fuzz-replay test, and TSan over
# the multi-threaded pipeline tests.
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
asan) run asan address,undefined -L 'unit|fuzz' ;;
tsan) run tsan thread -R 'unit.test_pipeline' ;;
all)
    run asan address,undefined -L 'unit|fuzz'
    run tsan thread -R 'unit.test_pipeline'
    ;;
*) echo "usage: $0 [asan|tsan|all]" >&2; exit 2 ;;
esac
