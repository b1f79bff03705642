# lib.sh: helpers for the integration tests (sourced). Each test counts its
# checks and ends with one "N passed, N failed" line.
set -u
: "${SEALPUB_BIN:?SEALPUB_BIN must point at the built sealpub}"
PASS=0
FAIL=0
WORK=$(mktemp -d /tmp/sealpub-it-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export SEALPUB_HOME=$WORK/home
unset SEALPUB_STORE SEALPUB_REGISTRY SEALPUB_KEK SEALPUB_KEK_FILE

ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }

# expect_exit CODE DESCRIPTION -- CMD...: runs CMD, checks its exit code, keeps stderr in $ERR.
expect_exit() {
    local want=$1 what=$2
    shift 3
    local rc=0
    "$@" >"$WORK/stdout" 2>"$WORK/stderr" || rc=$?
    ERR=$(cat "$WORK/stderr")
    if [[ $rc == "$want" ]]; then ok "$what (exit $rc)"; else bad "$what: exit $rc, wanted $want; stderr: $ERR"; fi
}

# expect_err_contains TEXT DESCRIPTION: the last command's stderr has TEXT.
expect_err_contains() {
    if [[ $ERR == *"$1"* ]]; then ok "$2"; else bad "$2: stderr lacks '$1': $ERR"; fi
}

# The error is one line.
expect_one_line() {
    local n
    n=$(printf '%s' "$ERR" | grep -c '' || true)
    if [[ $n == 1 ]]; then ok "$1: one line"; else bad "$1: $n lines: $ERR"; fi
}

finish() {
    echo "$PASS passed, $FAIL failed"
    [[ $FAIL == 0 ]]
}

# Services are required in CI: a missing one is a failure there, a skip elsewhere.
need_env() { # VAR...
    local v
    for v in "$@"; do
        if [[ -z ${!v:-} ]]; then
            if [[ ${SEALPUB_REQUIRE_SERVICES:-0} == 1 ]]; then
                echo "FAIL - $v is not set but SEALPUB_REQUIRE_SERVICES=1"
                exit 1
            fi
            echo "skipped: $v is not set (run under scripts/with-services.sh)"
            exit 77
        fi
    done
}
