#!/usr/bin/env bash
# it_faults.sh: faults injected between sealpub and the real radosgw by
# tests/faults/fault_proxy.py (503 bursts, 500s, resets, stalls, lost
# answers), plus process control (the gateway killed, PostgreSQL stopped,
# sealpub signalled or killed, the input dying). Every case ends in checked
# invariants: every registry row's object exists and hashes to the row's
# SHA-256, and no multipart upload is left open (case 11: until cleanup).
# Ends with a table (case | expected | observed) and "N passed, N failed".
#
# Isolation: the cases run against a gateway of their own (a second radosgw
# on the services' Ceph cluster and ceph.conf) and a PostgreSQL cluster of
# their own, so that killing and stopping them cannot break the unit tests
# ctest runs in parallel against the shared servers (test_s3_live,
# test_s3_faults, test_registry_pg). The shared gateway stays the
# independent witness (the curl helpers of lib.sh). See docs/FAULTS.md.
source "$(dirname "$0")/lib.sh"
need_env AWS_ENDPOINT_URL_S3 SEALPUB_TEST_BUCKET DATABASE_URL SEALPUB_PG_DATA SEALPUB_PG_BIN SEALPUB_RGW_PIDFILE SEALPUB_CEPH_CONF
command -v python3 >/dev/null || need_env PYTHON3_FOR_FAULT_PROXY # python3 is the proxy's only dependency
B=$SEALPUB_BIN
FP=$(cd "$(dirname "$0")/../faults" && pwd)/fault_proxy.py
bucket=$SEALPUB_TEST_BUCKET
prefix=it-faults-$$-$RANDOM
STORE=s3://$bucket/$prefix
MiB=1048576
T0=$SECONDS

# Knobs kept small so the whole file runs in about two minutes: 5 MiB
# parts (12 MiB of input is three parts), a 3 s stall timeout, 4 attempts.
STALL=3
ATTEMPTS=4
# Known library bugs, reproduced and reported rather than failed (see
# docs/FAULTS.md, "Findings"); set to 0 when fixed to make the checks strict.
KNOWN_BUG_LOST_CREATE=0 # fixed: after a retried Create the other uploads of the key are aborted
KNOWN_BUG_INPUT_PAUSE=0 # fixed: the pipeline polls the store while it waits (put_poll)
STALL_SLACK=1.5         # fixed: sealpub's own watchdog cuts a stall on time
KNOBS=(SEALPUB_S3_PART_SIZE=5M SEALPUB_S3_PARTS_IN_FLIGHT=3 "SEALPUB_S3_MAX_ATTEMPTS=$ATTEMPTS"
    "SEALPUB_S3_STALL_SECONDS=$STALL" SEALPUB_REGISTRY_RETRY_SECONDS=2)

PROXY_PID='' GW_PIDFILE=$WORK/gw/rgw.pid PG2=
cleanup_all() {
    [[ -n $PROXY_PID ]] && kill "$PROXY_PID" 2>/dev/null
    gw_stop
    [[ -n $PG2 && -f $PG2/data/postmaster.pid ]] && pg2_ctl -m immediate -w stop 2>/dev/null
    [[ -n $PG2 ]] && rm -rf "$PG2"
    rm -rf "$WORK"
}
trap cleanup_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM # a ctest timeout: still stop our gateway, PostgreSQL and proxy

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---------------------------------------------------------------- our PostgreSQL
# A cluster of our own (initdb takes about 3 s), owned like the shared one
# because pg_ctl refuses root: case 9 stops it, which must not fail the
# unit tests that ctest runs beside us on the shared one (the services lock
# in tests/CMakeLists.txt serialises integration tests only).
pg_owner=$(stat -c %U "$SEALPUB_PG_DATA")
as_owner() { if [[ $(id -un) == "$pg_owner" ]]; then "$@"; else runuser -u "$pg_owner" -- "$@"; fi; }
pg2_ctl() { as_owner "$SEALPUB_PG_BIN/pg_ctl" -D "$PG2/data" -l "$PG2/log" "$@" >/dev/null; }
PG2=$(mktemp -d /tmp/sealpub-itfaults-pg-XXXXXX)
chmod 755 "$PG2"
chown "$pg_owner": "$PG2"
pg2_port=$(free_port)
as_owner "$SEALPUB_PG_BIN/initdb" -D "$PG2/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$PG2/initdb.log" 2>&1 ||
    { echo "FAIL - initdb: $(tail -3 "$PG2/initdb.log")"; exit 1; }
printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\nfsync = off\n" "$pg2_port" "$PG2" >>"$PG2/data/postgresql.conf"
pg2_ctl -w start || { echo "FAIL - our PostgreSQL did not start: $(tail -5 "$PG2/log")"; exit 1; }
REG=postgresql://postgres@127.0.0.1:$pg2_port/postgres
unset PGOPTIONS
export SEALPUB_REGISTRY=$REG
"$B" db init >/dev/null 2>&1 || { echo "FAIL - db init"; exit 1; }

# ---------------------------------------------------------------- our gateway
# A second radosgw on the same cluster, same ceph.conf, same users and
# buckets, under its own name, port, pid file, log and admin socket. This is
# how services.sh starts the shared one (radosgw -c ceph.conf -n client.rgw),
# with the per-instance settings on the command line.
GW_PORT=$(free_port)
mkdir -p "$WORK/gw"
gw_pid() { # the live gateway's pid, if the pid file names a radosgw of ours
    local pid
    pid=$(head -n1 "$GW_PIDFILE" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "client.rgw.itfaults" && echo "$pid"
}
gw_answers() { [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$GW_PORT/") != 000 ]]; }
gw_start() {
    radosgw -c "$SEALPUB_CEPH_CONF" -n client.rgw.itfaults \
        --rgw-frontends "beast endpoint=127.0.0.1:$GW_PORT" --pid-file "$GW_PIDFILE" \
        --log-file "$WORK/gw/rgw.log" --admin-socket "$WORK/gw/rgw.asok" --rgw-gc-obj-min-wait 0 \
        </dev/null >>"$WORK/gw/out" 2>&1 || return 1
    local i
    for ((i = 0; i < 300; i++)); do
        gw_answers && return 0
        sleep 0.2
    done
    return 1
}
alive() { # pid: running (a zombie waiting for init to reap it counts as dead)
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [[ $st != Z ]]
}
gw_stop() {
    local pid i
    pid=$(gw_pid) || return 0
    kill -KILL "$pid" 2>/dev/null
    for ((i = 0; i < 200; i++)); do alive "$pid" || return 0; sleep 0.05; done
}
shared_gw_pid=$(head -n1 "$SEALPUB_RGW_PIDFILE" 2>/dev/null)
gw_start || { echo "FAIL - our radosgw did not start: $(tail -5 "$WORK/gw/out" "$WORK/gw/rgw.log" 2>/dev/null)"; exit 1; }

# ---------------------------------------------------------------- the proxy
RULES=$WORK/rules.json
PLOG=$WORK/proxy.jsonl
echo '{"tag": "setup", "rules": []}' >"$RULES"
python3 "$FP" serve --upstream "http://127.0.0.1:$GW_PORT" --rules "$RULES" --log "$PLOG" \
    --port-file "$WORK/proxy.port" --forbid-env AWS_SECRET_ACCESS_KEY >/dev/null 2>"$WORK/proxy.err" &
PROXY_PID=$!
for ((i = 0; i < 100; i++)); do [[ -s $WORK/proxy.port ]] && break; sleep 0.05; done
[[ -s $WORK/proxy.port ]] || { echo "FAIL - the proxy did not start: $(cat "$WORK/proxy.err")"; exit 1; }
PROXY=http://127.0.0.1:$(cat "$WORK/proxy.port")
GW=http://127.0.0.1:$GW_PORT

# sealpub through the proxy, or straight at our gateway. Arrays, not
# functions: a background pipeline's $! is then sealpub's own pid (env execs it).
VP=(env "${KNOBS[@]}" AWS_ENDPOINT_URL_S3="$PROXY")
DI=(env "${KNOBS[@]}" AWS_ENDPOINT_URL_S3="$GW")
PUB=("$B" publish --store "$STORE" --stage dev --arch amd64 --name obj --threads 2 --quiet)

head -c $((12 * MiB)) /dev/urandom >"$WORK/in.bin"

# ---------------------------------------------------------------- helpers
ROWS=()
begin_case() { # id expected title
    CASE=$1 EXPECT=$2 TAG=c$1 OBS=() FAIL0=$FAIL KNOWN=0
    rules '[]'
    echo "== case $1: $3"
}
obs() { OBS+=("$*"); }
end_case() {
    invariants 0
    local res=PASS joined="" o
    ((KNOWN)) && res="KNOWN BUG"
    ((FAIL > FAIL0)) && res=FAIL
    for o in "${OBS[@]}"; do joined+=${joined:+; }$o; done
    ROWS+=("$CASE|$EXPECT|$joined|$res")
}
rules() { # JSON array of rules, tagged with the case
    printf '{"tag": "%s", "rules": %s}\n' "$TAG" "$1" >"$RULES.tmp" && mv -f "$RULES.tmp" "$RULES"
}
plog() { # count|gap|check|show [filters]: the proxy's log, this case only
    python3 "$FP" "$1" "$PLOG" --tag "$TAG" "${@:2}"
}
run() { # CMD...: exit status in RC, stderr in ERR
    RC=0
    "$@" >"$WORK/stdout" 2>"$WORK/stderr" </dev/null || RC=$?
    ERR=$(cat "$WORK/stderr")
}
want_rc() { # expected what
    if [[ $RC == "$1" ]]; then ok "$2: exit $RC"; else bad "$2: exit $RC, wanted $1; stderr: $ERR"; fi
    obs "exit $RC"
}
want_err() { # text what
    if [[ $ERR == *"$1"* ]]; then ok "$2: message says '$1'"; else bad "$2: message lacks '$1': $ERR"; fi
}
row_count() { psql "$REG" -Atc "SELECT count(*) FROM resources WHERE version='$1'"; }
want_no_row() {
    local n
    n=$(row_count "$1")
    if [[ $n == 0 ]]; then ok "$1: no row"; else bad "$1: $n row(s)"; fi
    obs "rows $n"
}
want_no_object() {
    if s3_exists "$bucket/$prefix/dev/obj-amd64-$1.enc"; then bad "$1: object exists"; obs "object LEFT"; else ok "$1: no object"; obs "no object"; fi
}
want_published() { # version: one row whose sha256 is publish's and the object's
    local n
    n=$(row_count "$1")
    [[ $n == 1 ]] && ok "$1: one row" || bad "$1: $n rows"
    obs "row $n"
}
count_at_least() { # min what filters...: the proxy log has at least min such records; N is the count
    local min=$1 what=$2
    shift 2
    N=$(plog count "$@")
    if ((N >= min)); then ok "$what: $N in the proxy log"; else bad "$what: $N in the proxy log, wanted >= $min"; fi
}
wait_for() { # seconds CMD...: polls CMD until it succeeds
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS >= deadline)) && return 1
        sleep 0.1
    done
}
log_has() { (($(plog count "$@") > 0)); }
open_uploads() { s3_open_uploads "$bucket" "$prefix/"; }
has_open_upload() { (($(open_uploads) >= 1)); }

# Runs after every case: every row's object exists (HEAD) and its download
# hashes to the row's SHA-256 and size; no multipart upload is open under
# the prefix (or at most $1, for case 11 before its cleanup).
invariants() {
    local allowed=$1 key sha size n=0 badn=0 open
    while read -r key sha size; do
        [[ -z $key ]] && continue
        n=$((n + 1))
        if ! s3_exists "$bucket/$prefix/$key"; then
            bad "invariant: row $key has no object"
            badn=$((badn + 1))
            continue
        fi
        rm -f "$WORK/inv.enc"
        if s3_get "$bucket/$prefix/$key" "$WORK/inv.enc" &&
            [[ $(sha256sum "$WORK/inv.enc" | cut -d' ' -f1) == "$sha" && $(stat -c %s "$WORK/inv.enc") == "$size" ]]; then
            :
        else
            bad "invariant: object of row $key does not hash to the row's SHA-256 / size"
            badn=$((badn + 1))
        fi
    done < <(psql "$REG" -AtF ' ' -c "SELECT object_key, sha256, size_bytes FROM resources ORDER BY id")
    ((badn == 0)) && ok "invariant: all $n rows' objects exist and match their SHA-256"
    open=$(open_uploads)
    if ((open <= allowed)); then ok "invariant: $open open multipart upload(s) (allowed $allowed)"; else bad "invariant: $open open multipart uploads"; fi
    obs "inv: $n/$n rows ok, $open open"
    [[ $badn == 0 ]] || OBS[-1]="inv: $badn of $n rows BAD, $open open"
}

# The input arrives in two halves; the second only once $1 exists (a pipe
# that the test holds open while it injects a fault mid-upload). 9 MiB: the
# reader takes whole 4 MiB chunks, so two chunks reach the store, part 1
# (5 MiB) goes on the wire and the rest waits for the gate.
GATE=$((9 * MiB))
gated_feed() { # gate-file first-bytes
    head -c "$2" "$WORK/in.bin"
    while [[ ! -e $1 ]]; do sleep 0.05; done
    tail -c +$(($2 + 1)) "$WORK/in.bin"
}
wait_exit() { # pid seconds: waits for a background sealpub; RC its status (999: it hung and was killed here)
    local pid=$1 deadline=$((SECONDS + $2)) hung=0
    # (stderr off: bash reports a killed job there, mid-output)
    {
        while alive "$pid" && ((SECONDS < deadline)); do sleep 0.05; done
        if alive "$pid"; then
            kill -KILL "$pid"
            hung=1
        fi
        # wait on a pipeline's last pid waits for the whole pipeline: let
        # the feeder run into the closed pipe and end.
        touch "$WORK/gate"
        RC=0
        wait "$pid" || RC=$?
    } 2>/dev/null
    ((hung)) && RC=999
    ERR=$(cat "$WORK/stderr" 2>/dev/null)
}

# The cases whose fault sealpub should ride out: the input published
# through the proxy under these rules, then checked as check_published does.
publish_through() { # version rules
    rules "$2"
    run "${VP[@]}" "${PUB[@]}" "$WORK/in.bin" --version "$1" --content raw
    check_published "$1"
}
# The proxy forwarded exactly one such request and the server answered 200.
accepted_once() { # ok-message what filters...
    local ok_msg=$1 what=$2 a
    shift 2
    a=$(plog count "$@" --action forward --status 200)
    if [[ $a == 1 ]]; then ok "$ok_msg"; else bad "$what accepted $a times"; fi
}

check_published() { # version: exit 0, one row, the object's hash is the row's and opens to the input
    want_rc 0 "$1"
    want_published "$1"
    local sha
    sha=$(psql "$REG" -Atc "SELECT sha256 FROM resources WHERE version='$1'")
    if s3_get "$bucket/$prefix/dev/obj-amd64-$1.enc" "$WORK/got.enc" &&
        [[ $(sha256sum "$WORK/got.enc" | cut -d' ' -f1) == "$sha" ]] &&
        "$B" open "$WORK/got.enc" -o "$WORK/got.out" --quiet 2>/dev/null &&
        cmp -s "$WORK/in.bin" "$WORK/got.out"; then
        ok "$1: object = row's SHA-256 and opens to the input"
        obs "content ok"
    else
        bad "$1: object differs from the row or the input"
        obs "content BAD"
    fi
    rm -f "$WORK/got.enc" "$WORK/got.out"
}

# ================================================================ the cases

begin_case 1 "retried, published, correct" "a burst of 503 SlowDown on UploadPart"
publish_through c1 '[{"op": "UploadPart", "part": 2, "times": 3, "action": "error", "status": 503, "code": "SlowDown"}]'
count_at_least 3 "503 SlowDown served on part 2" --op UploadPart --part 2 --action error --status 503
n=$N
accepted_once "part 2 then accepted (attempt $((n + 1)) of $ATTEMPTS)" "part 2" --op UploadPart --part 2
obs "${n}x 503 on part 2, then 200"
end_case

# Cases 2a and 2b: Complete fails once (STATUS with an <Error> InternalError
# body; 200 is S3's "succeeded, then failed" answer), is resent and accepted.
complete_fails_once() { # case status what observed
    begin_case "$1" "retried, published, correct" "$3"
    publish_through "c$1" "[{\"op\": \"CompleteMultipartUpload\", \"times\": 1, \"action\": \"error\", \"status\": $2, \"code\": \"InternalError\"}]"
    count_at_least 1 "$2 served on Complete" --op CompleteMultipartUpload --action error --status "$2"
    n=$N
    accepted_once "Complete retried and accepted" "Complete" --op CompleteMultipartUpload
    obs "${n}x $4 on Complete, then 200"
    end_case
}
complete_fails_once 2a 500 "500 InternalError on CompleteMultipartUpload, once" 500
complete_fails_once 2b 200 "CompleteMultipartUpload answers 200 with an <Error> InternalError body, once" "200+<Error>"

begin_case 2c "retried, published, correct" "the answer to CompleteMultipartUpload is lost (the server completed it)"
publish_through c2c '[{"op": "CompleteMultipartUpload", "times": 1, "action": "drop_response"}]'
count_at_least 1 "Complete's answer dropped" --op CompleteMultipartUpload --action drop_response
n=$N
second=$(python3 - "$PLOG" "$TAG" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
recs = [r for r in recs if r.get("tag") == sys.argv[2] and r.get("op") == "CompleteMultipartUpload" and r.get("action") == "forward"]
print(",".join(str(r.get("status")) for r in recs) or "none")
EOF
)
obs "answer lost once; the resent Complete got HTTP $second"
end_case

begin_case 3 "retried, correct" "connection reset (RST) 1 MiB into part 2"
publish_through c3 '[{"op": "UploadPart", "part": 2, "times": 1, "action": "reset", "after_bytes": 1048576}]'
count_at_least 1 "reset injected" --op UploadPart --part 2 --action reset
n=$N
accepted_once "part 2 resent and accepted" "part 2" --op UploadPart --part 2
obs "${n}x RST on part 2, then 200"
end_case

begin_case 4a "cut within the stall timeout ($STALL s), retried, correct" "the server stops reading 1 MiB into part 1 (and never answers)"
publish_through c4a '[{"op": "UploadPart", "part": 1, "times": 1, "action": "stall", "after_bytes": 1048576, "seconds": 60}]'
count_at_least 1 "stall injected" --op UploadPart --part 1 --action stall
gap=$(plog gap --op UploadPart --part 1 --action stall)
# curl's low-speed check averages over its last 5 s of samples, so a part
# whose first bytes went out fast is cut up to ~6 s after the stall timeout
# (docs/FAULTS.md, "Findings"). Bounded, and reported, not hidden.
if [[ $gap != none ]] && python3 -c "import sys; g=float(sys.argv[1]); sys.exit(0 if $STALL - 0.5 <= g <= $STALL + $STALL_SLACK else 1)" "$gap"; then
    ok "stalled part cut and resent after ${gap}s (stall timeout ${STALL}s)"
else
    bad "stalled part resent after ${gap}s (stall timeout ${STALL}s)"
fi
if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= $STALL + 1.5 else 1)" "$gap" 2>/dev/null; then
    obs "stalled part resent after ${gap}s"
else
    echo "note - the stall was cut ${gap}s after it began, later than SEALPUB_S3_STALL_SECONDS=$STALL (see docs/FAULTS.md)"
    obs "KNOWN BUG: stalled part cut and resent only after ${gap}s"
    KNOWN=1
fi
end_case

begin_case 4b "cut within the stall timeout ($STALL s), retried, correct" "the server never answers CreateMultipartUpload"
publish_through c4b '[{"op": "CreateMultipartUpload", "times": 1, "action": "stall", "seconds": 60}]'
gap=$(plog gap --op CreateMultipartUpload --action stall)
if [[ $gap != none ]] && python3 -c "import sys; g=float(sys.argv[1]); sys.exit(0 if $STALL - 0.5 <= g <= $STALL + 1.5 else 1)" "$gap"; then
    ok "silent Create cut and resent after ${gap}s"
else
    bad "silent Create resent after ${gap}s (stall timeout ${STALL}s)"
fi
obs "silent Create cut and resent after ${gap}s"
# The unanswered Create did create an upload on the server; sealpub only
# knows the id from the resent one, so the first is never aborted. A known
# bug (docs/FAULTS.md, "Findings"): reported and cleaned up here while
# KNOWN_BUG_LOST_CREATE=1; set it to 0 once store_s3.c handles it.
left=$(open_uploads)
if ((left == 0)); then
    ok "no orphan upload"
    obs "no orphan"
elif ((KNOWN_BUG_LOST_CREATE)); then
    ok "known bug reproduced: $left orphan upload from the unanswered Create"
    KNOWN=1
    obs "KNOWN BUG: $left orphan upload left by the first Create"
    run "${DI[@]}" "$B" cleanup --store "$STORE" --older-than 0
    [[ $RC == 0 ]] && ok "cleanup removed it" || bad "cleanup: exit $RC: $ERR"
else
    bad "$left orphan upload(s) left by the unanswered Create"
    obs "$left orphan upload(s)"
fi
end_case

begin_case 4c "published, no part resent (the server never stalled)" "the input pauses $((STALL + 2)) s with part 1 on the wire"
# Transfers move only while the pipeline calls into the store: a pause in
# the input longer than the stall timeout fails the part in flight although
# the server is fine. A known bug (docs/FAULTS.md, "Findings").
{ head -c "$GATE" "$WORK/in.bin"; sleep $((STALL + 2)); tail -c +$((GATE + 1)) "$WORK/in.bin"; } |
    "${VP[@]}" "${PUB[@]}" - --version c4c --content raw >"$WORK/stdout" 2>"$WORK/stderr"
RC=${PIPESTATUS[1]}
ERR=$(cat "$WORK/stderr")
check_published c4c
n=$(plog count --op UploadPart --part 1)
if ((n == 1)); then
    ok "part 1 sent once"
    obs "part 1 sent once"
elif ((KNOWN_BUG_INPUT_PAUSE)); then
    ok "known bug reproduced: part 1 sent $n times after an input pause"
    KNOWN=1
    obs "KNOWN BUG: part 1 cut as stalled and sent $n times"
else
    bad "part 1 sent $n times after an input pause"
    obs "part 1 sent $n times"
fi
end_case

begin_case 5 "gives up after 3 attempts: exit 7, upload aborted, no row" "persistent 503 SlowDown on every UploadPart"
rules '[{"op": "UploadPart", "times": -1, "action": "error", "status": 503, "code": "SlowDown"}]'
run "${VP[@]}" SEALPUB_S3_MAX_ATTEMPTS=3 "${PUB[@]}" "$WORK/in.bin" --version c5 --content raw
want_rc 12 c5
want_err "SlowDown" c5
want_err "after 3 attempts" c5
want_no_row c5
want_no_object c5
most=$(python3 - "$PLOG" "$TAG" <<'EOF'
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
c = collections.Counter(r.get("part") for r in recs if r.get("tag") == sys.argv[2] and r.get("op") == "UploadPart")
print(max(c.values()) if c else 0)
EOF
)
[[ $most == 3 ]] && ok "no part was sent more than 3 times" || bad "a part was sent $most times"
n=$(plog count --op UploadPart --action error)
count_at_least 1 "AbortMultipartUpload sent and accepted" --op AbortMultipartUpload --action forward --status 204
ab=$N
obs "$n x 503 served, at most $most tries per part; abort 204 x$ab"
end_case

begin_case 6a "exit 7, clear error, not retried, nothing written" "wrong secret key"
run "${VP[@]}" AWS_SECRET_ACCESS_KEY=wrong-secret-for-the-test "${PUB[@]}" "$WORK/in.bin" --version c6a --content raw
want_rc 7 c6a
want_err "SignatureDoesNotMatch" c6a
[[ $ERR != *wrong-secret-for-the-test* && $ERR != *"$AWS_SECRET_ACCESS_KEY"* ]] && ok "no secret in the error" || bad "secret in: $ERR"
n=$(plog count)
[[ $n == 1 ]] && ok "one request, not retried (403)" || bad "$n requests for a 403"
want_no_row c6a
want_no_object c6a
obs "$n request, HTTP 403 x$(plog count --status 403)"
end_case

begin_case 6b "exit 7, clear error, not retried, nothing written" "unknown access key id"
run "${VP[@]}" AWS_ACCESS_KEY_ID=NOSUCHKEYFORTHETEST1 "${PUB[@]}" "$WORK/in.bin" --version c6b --content raw
want_rc 7 c6b
want_err "InvalidAccessKeyId" c6b
n=$(plog count)
[[ $n == 1 ]] && ok "one request, not retried" || bad "$n requests for a 403"
want_no_row c6b
want_no_object c6b
obs "$n request"
end_case

begin_case 7 "exit 7, clear error, nothing written" "missing bucket"
run "${VP[@]}" "$B" publish --store "s3://sealpub-no-such-bucket-$$/x" --stage dev --arch amd64 --name obj --quiet "$WORK/in.bin" --version c7 --content raw
want_rc 7 c7
want_err "NoSuchBucket" c7
n=$(plog count)
[[ $n == 1 ]] && ok "one request, not retried" || bad "$n requests for a missing bucket"
want_no_row c7
obs "$n request"
end_case

begin_case 8 "exit 7, no row; gateway back; the orphan upload (no abort can reach a dead gateway) removed by cleanup" "radosgw killed (SIGKILL) mid-upload"
pid_before=$(gw_pid)
rm -f "$WORK/gate"
gated_feed "$WORK/gate" $GATE | "${DI[@]}" "${PUB[@]}" - --version c8 --content raw >"$WORK/stdout" 2>"$WORK/stderr" &
pub=$!
wait_for 20 has_open_upload && ok "upload in progress before the kill" || bad "the upload never started"
gw_stop
gw_pid >/dev/null && bad "gateway still alive" || ok "gateway killed (pid $pid_before)"
touch "$WORK/gate"
wait_exit "$pub" 60
want_rc 12 c8
want_err "127.0.0.1:$GW_PORT" c8
want_no_row c8
t=$(date +%s.%N)
gw_start && ok "gateway restarted (pid $(gw_pid))" || bad "gateway did not restart"
obs "gateway restarted in $(python3 -c "import sys,time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$t") s"
want_no_object c8
# The abort could not reach a dead gateway: the upload is left for cleanup.
left=$(open_uploads)
obs "$left orphan upload(s) (the abort could not reach the dead gateway)"
run "${DI[@]}" "$B" cleanup --store "$STORE" --older-than 0
[[ $RC == 0 ]] && ok "cleanup after the restart (exit 0)" || bad "cleanup: exit $RC: $ERR"
obs "cleanup: ${ERR#cleanup: }"
end_case

begin_case 9 "exit 8, no row, no object left" "PostgreSQL stopped after the upload started, before the row"
rm -f "$WORK/gate"
gated_feed "$WORK/gate" $GATE | "${VP[@]}" "${PUB[@]}" - --version c9 --content raw >"$WORK/stdout" 2>"$WORK/stderr" &
pub=$!
wait_for 20 has_open_upload && ok "upload in progress" || bad "the upload never started"
pg2_ctl -m fast -w stop && ok "PostgreSQL stopped mid-upload" || bad "pg_ctl stop"
touch "$WORK/gate"
wait_exit "$pub" 60
want_rc 13 c9
want_err "registry" c9
want_err "deleted again" c9
pg2_ctl -w start || bad "our PostgreSQL did not come back"
want_no_row c9
want_no_object c9
c=$(plog count --op CompleteMultipartUpload --action forward --status 200)
d=$(plog count --op DeleteObject --action forward --status 204)
[[ $c == 1 && $d -ge 1 ]] && ok "the upload completed, then the object was deleted again" || bad "Complete x$c, DeleteObject x$d"
obs "Complete 200 x$c, then DeleteObject 204 x$d"
end_case

for sig in INT TERM; do
    begin_case "10-$sig" "exit 130, aborted, no row, no open upload" "SIG$sig while part 1 is on the wire"
    # The proxy holds part 1 after 1 MiB, so the signal finds a part mid-body.
    rules '[{"op": "UploadPart", "part": 1, "times": 1, "action": "stall", "after_bytes": 1048576, "seconds": 60}]'
    "${VP[@]}" "${PUB[@]}" "$WORK/in.bin" --version "c10$sig" --content raw >"$WORK/stdout" 2>"$WORK/stderr" &
    pub=$!
    wait_for 20 log_has --op UploadPart --part 1 --action stall && ok "part 1 held mid-body" || bad "no stall"
    sleep 0.3
    t=$(date +%s.%N)
    kill -"$sig" "$pub"
    wait_exit "$pub" 20
    took=$(python3 -c "import sys,time; print('%.2f' % (time.time() - float(sys.argv[1])))" "$t")
    want_rc 130 "c10$sig"
    want_err "interrupted" "c10$sig"
    want_no_row "c10$sig"
    want_no_object "c10$sig"
    count_at_least 1 "AbortMultipartUpload sent and accepted" --op AbortMultipartUpload --action forward --status 204
    ab=$N
    obs "exited ${took}s after the signal; abort 204 x$ab"
    end_case
done

begin_case 11 "no row; orphan upload until 'cleanup --older-than 0' removes it" "SIGKILL to sealpub while part 1 is on the wire"
rules '[{"op": "UploadPart", "part": 1, "times": 1, "action": "stall", "after_bytes": 1048576, "seconds": 60}]'
"${VP[@]}" "${PUB[@]}" "$WORK/in.bin" --version c11 --content raw >"$WORK/stdout" 2>"$WORK/stderr" &
pub=$!
wait_for 20 log_has --op UploadPart --part 1 --action stall && ok "part 1 held mid-body" || bad "no stall"
kill -KILL "$pub"
wait_exit "$pub" 10
[[ $RC == 137 ]] && ok "killed (exit $RC)" || bad "exit $RC"
obs "exit $RC"
want_no_row c11
want_no_object c11
left=$(open_uploads)
[[ $left == 1 ]] && ok "one orphan upload left" || bad "$left uploads left"
invariants 1
run "${VP[@]}" "$B" cleanup --store "$STORE" --older-than 0
[[ $RC == 0 && $ERR == *"aborted 1 stale"* ]] && ok "cleanup aborted the orphan" || bad "cleanup: exit $RC: $ERR"
n=$(plog count --op AbortMultipartUpload --status 204)
obs "$left orphan; cleanup: ${ERR#cleanup: } (Abort 204 x$n)"
end_case

begin_case 12 "exit 3, nothing published, upload aborted" "the input dies mid-stream (a docker save pipe killed)"
mkdir -p "$WORK/layers"
for f in a b c; do head -c $((4 * MiB)) /dev/urandom >"$WORK/layers/$f.bin"; done
tar -C "$WORK/layers" -cf "$WORK/image.tar" a.bin b.bin c.bin
rm -rf "$WORK/layers"
mkfifo "$WORK/pipe"
# The producer writes 9 MiB of a 12 MiB tar, then blocks; exec makes the
# subshell the one process holding the pipe, so killing it closes the pipe.
{ head -c "$GATE" "$WORK/image.tar"; exec sleep 120; } >"$WORK/pipe" &
producer=$!
"${VP[@]}" "${PUB[@]}" - --version c12 --content tar <"$WORK/pipe" >"$WORK/stdout" 2>"$WORK/stderr" &
pub=$!
wait_for 20 has_open_upload && ok "the upload began before the input died" || bad "the upload never started"
{
    kill -KILL "$producer"
    wait "$producer"
} 2>/dev/null
wait_exit "$pub" 30
want_rc 3 c12
want_err "tar" c12
want_no_row c12
want_no_object c12
count_at_least 1 "AbortMultipartUpload sent and accepted" --op AbortMultipartUpload --action forward --status 204
ab=$N
obs "input cut at $((GATE / MiB)) of 12 MiB; abort 204 x$ab"
end_case

# ================================================================ across cases

echo "== every request through the proxy"
if plog_all=$(python3 "$FP" check "$PLOG"); then
    ok "protocol: ${plog_all##*$'\n'} (SigV4, x-amz-date, x-amz-content-sha256 = body hash, Content-Length, never chunked, no secret)"
else
    bad "protocol: $plog_all"
fi
now_shared=$(head -n1 "$SEALPUB_RGW_PIDFILE" 2>/dev/null)
[[ $now_shared == "$shared_gw_pid" ]] && kill -0 "$shared_gw_pid" 2>/dev/null &&
    ok "the shared gateway (pid $shared_gw_pid) was never touched" || bad "the shared gateway changed: $shared_gw_pid -> $now_shared"

echo
echo "summary ($((SECONDS - T0)) s; knobs: 5 MiB parts, ${STALL}s stall timeout, $ATTEMPTS attempts)"
printf '%s\n' "${ROWS[@]}" | python3 -c '
import sys
rows = [["case", "expected", "observed", "result"]] + [l.rstrip("\n").split("|") for l in sys.stdin if l.strip()]
w = [max(len(r[i]) for r in rows) for i in range(4)]
for n, r in enumerate(rows):
    print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |")
    if n == 0:
        print("|" + "|".join("-" * (x + 2) for x in w) + "|")
'
finish
