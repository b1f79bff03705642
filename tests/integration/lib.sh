# lib.sh: helpers for the integration tests (sourced). Each test counts its
# checks and ends with one "N passed, N failed" line.
set -u
: "${SEALPUB_BIN:?SEALPUB_BIN must point at the built sealpub}"
PASS=0
FAIL=0
WORK=$(mktemp -d /tmp/sealpub-it-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# Hermetic: the shell of whoever runs the suite must not change what a test
# does (issue 13). Every variable sealpub, libpq or libcurl would read is
# cleared, except the coordinates of the test servers that
# scripts/services.sh exports and the test harness's own; each test then
# sets what it depends on.
# Kept under another name: some tests clear every SEALPUB_* variable themselves.
SP_NOT_RUN_LOG=${SEALPUB_NOT_RUN_LOG:-}
sp_keep_env=" DATABASE_URL AWS_ENDPOINT_URL_S3 AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_CA_BUNDLE "
sp_keep_env+=" SEALPUB_TEST_S3 SEALPUB_TEST_BUCKET SEALPUB_REQUIRE_SERVICES SEALPUB_BIN SEALPUB_PG_DATA SEALPUB_PG_BIN "
sp_keep_env+=" SEALPUB_PG_PORT SEALPUB_PG_LOG SEALPUB_RGW_PORT SEALPUB_RGW_LOG SEALPUB_RGW_PIDFILE SEALPUB_CEPH_CONF "
sp_keep_env+=" SEALPUB_NOT_RUN_LOG "
for sp_var in $(compgen -e); do
    case $sp_var in
    PG* | AWS_* | SEALPUB_* | XDG_DATA_HOME | SSL_CERT_FILE | SSL_CERT_DIR | CURL_CA_BUNDLE | \
        http_proxy | https_proxy | HTTP_PROXY | HTTPS_PROXY | ALL_PROXY | all_proxy)
        [[ " ${sp_keep_env//$'\n'/ } " == *" $sp_var "* ]] || unset "$sp_var" ;;
    esac
done
unset sp_var sp_keep_env
export SEALPUB_HOME=$WORK/home

ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }

# The architecture the tested binary was built for (ELF e_machine), which is
# sealpub's default --arch. Under scripts/cross-arm64.sh it is an arm64
# binary that qemu-user runs on an x86_64 host, where this shell's uname -m
# says x86_64.
case $(od -An -tx1 -j18 -N2 "$SEALPUB_BIN" 2>/dev/null | tr -d ' \n') in
b700) SP_BIN_ARCH=arm64 ;;
3e00) SP_BIN_ARCH=amd64 ;;
*) SP_BIN_ARCH=$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/') ;;
esac
# True when the binary is not the host's architecture, so qemu-user runs it.
sp_emulated() { [[ $SP_BIN_ARCH != "$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')" ]]; }
# not_run WHAT WHY: a check this machine cannot make (qemu-user emulates no
# io_uring and ignores madvise). Neither passed nor failed: listed by name
# here and in $SEALPUB_NOT_RUN_LOG, which scripts/cross-arm64.sh prints.
not_run() {
    echo "not run - $1 ($2)"
    if [[ -n $SP_NOT_RUN_LOG ]]; then
        printf '%s: %s (%s)\n' "$(basename "$0" .sh)" "$1" "$2" >>"$SP_NOT_RUN_LOG"
    fi
}
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

# Under CI (CI=true or SEALPUB_REQUIRE_SERVICES=1) nothing may skip.
sp_strict() { [[ ${SEALPUB_REQUIRE_SERVICES:-0} == 1 || ${CI:-} == true || ${CI:-} == 1 ]]; }

# skip_part WHAT: a part of a test that cannot run here. A failure under
# CI; elsewhere counted, and finish then exits 77 so that ctest reports the
# test as skipped rather than passed.
SKIPPED=0
skip_part() {
    if sp_strict; then
        bad "$* (required under CI=true / SEALPUB_REQUIRE_SERVICES=1)"
    else
        SKIPPED=$((SKIPPED + 1))
        echo "skip - $*"
    fi
}

finish() {
    echo "$PASS passed, $FAIL failed${SKIPPED:+, $SKIPPED skipped}"
    [[ $FAIL == 0 ]] || return 1
    if ((SKIPPED > 0)); then
        echo "skipped: $SKIPPED part(s) did not run (see the 'skip -' lines)"
        exit 77
    fi
}

# Services are required in CI: a missing one is a failure there, a skip elsewhere.
need_env() { # VAR...
    local v
    for v in "$@"; do
        if [[ -z ${!v:-} ]]; then
            if sp_strict; then
                echo "FAIL - $v is not set but CI=true / SEALPUB_REQUIRE_SERVICES=1 require it"
                exit 1
            fi
            echo "skipped: $v is not set (run under scripts/with-services.sh)"
            exit 77
        fi
    done
}

# S3 helpers for tests against the local radosgw: an independent client
# (curl's own SigV4). libcurl 7.88 needs the payload hash header sent
# explicitly and signs query parameters in the order written, so they are
# written sorted, with "uploads=" rather than "uploads".
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
s3_curl() { # curl args...: signed request to the endpoint
    curl -sS --aws-sigv4 "aws:amz:${AWS_REGION:-us-east-1}:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$@"
}
s3_get() { # bucket/key out-file
    s3_curl -f -H "x-amz-content-sha256: $EMPTY_SHA" -o "$2" "$AWS_ENDPOINT_URL_S3/$1"
}
s3_put() { # bucket/key in-file
    s3_curl -f -X PUT -H "x-amz-content-sha256: $(sha256sum "$2" | cut -d' ' -f1)" --data-binary "@$2" "$AWS_ENDPOINT_URL_S3/$1" >/dev/null
}
s3_exists() { # bucket/key
    s3_curl -f -I -H "x-amz-content-sha256: $EMPTY_SHA" "$AWS_ENDPOINT_URL_S3/$1" >/dev/null 2>&1
}
s3_keys() { # prefix: the keys of $bucket under it, one a line; a failed listing ends the test
    local out
    out=$(s3_curl -f -H "x-amz-content-sha256: $EMPTY_SHA" "$AWS_ENDPOINT_URL_S3/$bucket?list-type=2&prefix=${1//\//%2F}") || {
        echo "FAIL - listing s3://$bucket/$1 failed"
        exit 1
    }
    grep -o '<Key>[^<]*</Key>' <<<"$out" | sed 's/<[^>]*>//g'
}
objects_under() { s3_keys "$1" | grep -c . || true; } # prefix: how many objects
s3_open_uploads() { # bucket prefix: number of multipart uploads in progress under prefix
    s3_curl -f -H "x-amz-content-sha256: $EMPTY_SHA" "$AWS_ENDPOINT_URL_S3/$1?prefix=${2//\//%2F}&uploads=" |
        grep -o '<Upload>' | wc -l
}

# Gives this test its own S3 prefix and PostgreSQL schema on the shared local
# servers, sets SEALPUB_STORE/SEALPUB_REGISTRY to them, creates the table,
# and drops the schema at exit. Sets $bucket and $prefix.
use_s3_and_pg() { # name
    need_env AWS_ENDPOINT_URL_S3 SEALPUB_TEST_BUCKET DATABASE_URL
    bucket=$SEALPUB_TEST_BUCKET
    prefix=$1-$$-$RANDOM
    export SEALPUB_STORE=s3://$bucket/$prefix
    export SEALPUB_REGISTRY=$DATABASE_URL
    PG_SCHEMA=${1//-/_}_$$_$RANDOM
    psql "$DATABASE_URL" -qc "CREATE SCHEMA $PG_SCHEMA" >/dev/null
    trap 'psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
    export PGOPTIONS="-c search_path=$PG_SCHEMA"
    "$SEALPUB_BIN" db init >/dev/null 2>&1 || { echo "FAIL - sealpub db init"; exit 1; }
}

# A private PostgreSQL for a test that must stop its server: initdb in its
# own folder, its own port on 127.0.0.1, started and stopped by this test
# only, never the shared one (other tests may be using it). Sets
# PRIV_PG_URL, PRIV_PG_DIR, PRIV_PG_PID. Call private_pg_cleanup from the
# test's EXIT trap.
priv_pg_as_owner() { # command...: PostgreSQL's tools refuse to run as root
    if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}
start_private_pg() {
    need_env SEALPUB_PG_BIN
    PRIV_PG_DIR=$(mktemp -d /tmp/sealpub-privpg-XXXXXX)
    chmod 755 "$PRIV_PG_DIR"
    ((EUID == 0)) && chown postgres: "$PRIV_PG_DIR"
    priv_pg_as_owner "$SEALPUB_PG_BIN/initdb" -D "$PRIV_PG_DIR/data" -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$PRIV_PG_DIR/initdb.log" 2>&1 || { echo "FAIL - private initdb"; exit 1; }
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\nfsync = off\n" \
        "$port" "$PRIV_PG_DIR" >>"$PRIV_PG_DIR/data/postgresql.conf"
    private_pg_start
    PRIV_PG_URL=postgresql://postgres@127.0.0.1:$port/postgres
}
private_pg_start() {
    priv_pg_as_owner "$SEALPUB_PG_BIN/pg_ctl" -D "$PRIV_PG_DIR/data" -l "$PRIV_PG_DIR/log" -w start >/dev/null ||
        { echo "FAIL - private PostgreSQL did not start: $(tail -3 "$PRIV_PG_DIR/log")"; exit 1; }
    PRIV_PG_PID=$(head -1 "$PRIV_PG_DIR/data/postmaster.pid")
}
private_pg_stop() {
    priv_pg_as_owner "$SEALPUB_PG_BIN/pg_ctl" -D "$PRIV_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 ||
        kill -KILL "$PRIV_PG_PID" 2>/dev/null
    PRIV_PG_PID=
}
private_pg_cleanup() {
    [[ -n ${PRIV_PG_DIR:-} ]] || return 0
    [[ -n ${PRIV_PG_PID:-} ]] && private_pg_stop
    rm -rf "$PRIV_PG_DIR"
}

# start_fault_proxy RULES_JSON: tests/faults/fault_proxy.py in front of the
# local radosgw with those rules; sets PROXY_URL, PROXY_PID, PROXY_LOG and
# PROXY_RULES (rewrite that file to change the rules). Stop it with stop_fault_proxy.
start_fault_proxy() {
    PROXY_RULES=$WORK/proxy-rules.json PROXY_LOG=$WORK/proxy.log
    printf '%s' "$1" >"$PROXY_RULES"
    rm -f "$WORK/proxy.port"
    python3 "${SP_SOURCE_DIR:?}/tests/faults/fault_proxy.py" serve --upstream "$AWS_ENDPOINT_URL_S3" --rules "$PROXY_RULES" \
        --log "$PROXY_LOG" --port-file "$WORK/proxy.port" >/dev/null 2>&1 &
    PROXY_PID=$!
    wait_until 30 test -s "$WORK/proxy.port" || { echo "FAIL - the fault proxy did not start"; exit 1; }
    PROXY_URL=http://127.0.0.1:$(cat "$WORK/proxy.port")
}
stop_fault_proxy() {
    kill "$PROXY_PID" 2>/dev/null
    wait "$PROXY_PID" 2>/dev/null
    PROXY_PID=
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s; false if it never
# held. A bound against hangs, not a timing assertion.
wait_until() {
    local limit=$1 i
    shift
    for ((i = 0; i < limit * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}
