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
