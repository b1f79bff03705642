#!/usr/bin/env bash
# it_claims.sh: many publishers, one bucket, one database (issue 12), against
# the real radosgw and PostgreSQL (and SQLite on the side):
#  1. 8 publishers over 3 identities, several rounds, --on-exists fail and
#     replace, files and pipes; every row then fetched with --verify and
#     compared with one of its inputs; exit codes exactly as documented;
#  2. a publisher SIGKILLed while it holds the claim: the next one proceeds;
#  3. object keys that two identities would share: refused, the first intact;
#  4. misconfiguration refused before anything is uploaded;
#  5. the database dying between the upload and the row of a republish:
#     the key is kept in the recovery journal and 'sealpub db recover'
#     makes the new version fetchable;
#  6. every documented exit code produced by a real cause;
#  7. an existing table of another shape: each mismatch named.
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
use_s3_and_pg it-claims
MiB=1048576
export SEALPUB_REGISTRY_RETRY_SECONDS=2

# Inputs: distinct content per publisher, some several chunks long.
for i in 0 1 2 3 4 5 6 7; do
    { head -c $((MiB * (1 + i % 3))) /dev/urandom; yes "publisher $i" | head -c $((MiB / 2 + i)); } >"$WORK/in$i.bin"
done

# ---- 1. concurrency -----------------------------------------------------------------
# Publisher i publishes identity i % 3 from a file (even i) or a pipe (odd i).
publish_bg() { # i version mode
    local i=$1 v=$2 mode=$3 name=id$(($1 % 3))
    if ((i % 2)); then
        cat "$WORK/in$i.bin" | "$B" publish - --name "$name" --stage dev --arch amd64 --version "$v" \
            --chunk-size 1M --content raw --on-exists "$mode" --quiet >"$WORK/out$i" 2>"$WORK/err$i"
    else
        "$B" publish "$WORK/in$i.bin" --name "$name" --stage dev --arch amd64 --version "$v" \
            --chunk-size 1M --content raw --on-exists "$mode" --quiet >"$WORK/out$i" 2>"$WORK/err$i"
    fi
    echo $? >"$WORK/rc$i"
}

# Fetches every identity's row and checks it decrypts to one of the inputs
# whose publish exited 0 (and, in fail mode, to the only one).
check_round() { # version mode
    local v=$1 mode=$2 id i rc winners got match
    for id in 0 1 2; do
        winners=()
        for i in 0 1 2 3 4 5 6 7; do
            ((i % 3 == id)) || continue
            rc=$(cat "$WORK/rc$i")
            case $mode/$rc in
            fail/0 | replace/0) winners+=("$i") ;;
            fail/9) grep -q "already exists\|is in progress" "$WORK/err$i" ||
                bad "$v id$id publisher $i: exit 9 without a clear reason: $(cat "$WORK/err$i")" ;;
            *) bad "$v id$id publisher $i ($mode): exit $rc: $(cat "$WORK/err$i")" ;;
            esac
        done
        if [[ $mode == fail ]]; then
            ((${#winners[@]} == 1)) && ok "$v id$id: exactly one fail-mode publisher won" ||
                bad "$v id$id: ${#winners[@]} fail-mode publishers exited 0"
        fi
        rm -f "$WORK/f.out"
        if ! "$B" fetch --name "id$id" --stage dev --arch amd64 --version "$v" -o "$WORK/f.out" --quiet 2>"$WORK/ferr"; then
            bad "$v id$id: the row does not fetch: $(cat "$WORK/ferr")"
            continue
        fi
        "$B" fetch --name "id$id" --stage dev --arch amd64 --version "$v" --verify --quiet 2>/dev/null ||
            bad "$v id$id: fetch --verify failed"
        match=
        for i in "${winners[@]}"; do cmp -s "$WORK/f.out" "$WORK/in$i.bin" && match=$i; done
        [[ -n $match ]] && ok "$v id$id: the row decrypts to publisher $match's input" ||
            bad "$v id$id: the row decrypts to none of the winners' inputs (${winners[*]})"
    done
}

for round in 1 2 3; do
    for mode in fail replace; do
        v=$mode-r$round
        # In replace mode the version exists already half of the time.
        [[ $mode == replace && $((round % 2)) == 1 ]] &&
            "$B" publish "$WORK/in0.bin" --name id0 --stage dev --arch amd64 --version "$v" --quiet --content raw
        pids=()
        for i in 0 1 2 3 4 5 6 7; do
            publish_bg "$i" "$v" "$mode" &
            pids+=($!)
        done
        wait "${pids[@]}"
        check_round "$v" "$mode"
    done
done

# ---- 2. a publisher killed while it holds the claim ------------------------------------
# The holder reads a FIFO that stays open, so it sits inside the claim.
claim_holder() { # version mode: starts a publisher that holds the claim; sets HOLDER and opens fd 7
    rm -f "$WORK/fifo"
    mkfifo "$WORK/fifo"
    "$B" publish "$WORK/fifo" --name held --stage dev --arch amd64 --version "$1" --on-exists "$2" \
        --content raw --quiet >/dev/null 2>"$WORK/holder.err" &
    HOLDER=$!
    exec 7>"$WORK/fifo"
    head -c $((2 * MiB)) /dev/urandom >&7
}
kill_holder() { # SIGKILL the claim holder (it never releases anything itself) and close its input
    kill -KILL "$HOLDER"
    wait "$HOLDER" 2>/dev/null
    exec 7>&-
}
held_by_other() { # version: a fail-mode publish sees the claim held
    ! "$B" publish "$WORK/in1.bin" --name held --stage dev --arch amd64 --version "$1" --on-exists fail \
        --content raw --quiet 2>"$WORK/probe.err" && grep -q "is in progress" "$WORK/probe.err"
}
claim_holder k1 fail
wait_until 30 held_by_other k1 && ok "a second publisher sees the claim held" || bad "claim not seen: $(cat "$WORK/probe.err")"
grep -q "held by sealpub host .* pid $HOLDER" "$WORK/probe.err" && ok "the message names the holder (pid $HOLDER)" ||
    bad "holder not named: $(cat "$WORK/probe.err")"
kill_holder
expect_exit 0 "after SIGKILL of the holder the next publisher proceeds" -- \
    "$B" publish "$WORK/in2.bin" --name held --stage dev --arch amd64 --version k1 --on-exists fail --content raw --quiet
"$B" fetch --name held --stage dev --arch amd64 --version k1 -o "$WORK/k1.out" --quiet && cmp -s "$WORK/k1.out" "$WORK/in2.bin" &&
    ok "and its artifact fetches" || bad "artifact after SIGKILL does not fetch"

# A replace-mode publisher waits for the holder, says so, and proceeds when it dies.
claim_holder k2 replace
wait_until 30 held_by_other k2 || bad "claim k2 not held"
"$B" publish "$WORK/in3.bin" --name held --stage dev --arch amd64 --version k2 --content raw --json \
    >"$WORK/waiter.json" 2>"$WORK/waiter.err" &
waiter=$!
wait_until 30 grep -q "waiting for another publish of held/dev/amd64/k2" "$WORK/waiter.err" &&
    ok "replace says it is waiting" || bad "no waiting notice: $(cat "$WORK/waiter.err")"
kill_holder
wait "$waiter" && ok "the waiter proceeds after the holder was killed" || bad "waiter failed: $(cat "$WORK/waiter.err")"
grep -q '"warnings":\["waiting for another publish' "$WORK/waiter.json" && ok "--json carries the wait as a warning" ||
    bad "no warning in JSON: $(cat "$WORK/waiter.json")"
"$B" fetch --name held --stage dev --arch amd64 --version k2 -o "$WORK/k2.out" --quiet && cmp -s "$WORK/k2.out" "$WORK/in3.bin" &&
    ok "the waiter's artifact fetches" || bad "waiter's artifact does not fetch"

# --lock-timeout: exit 14, retryable, nothing published by the waiter.
claim_holder k3 replace
wait_until 30 held_by_other k3 || bad "claim k3 not held"
expect_exit 14 "--lock-timeout 1 gives up (exit 14)" -- \
    "$B" publish "$WORK/in3.bin" --name held --stage dev --arch amd64 --version k3 --lock-timeout 1 --content raw --json
grep -q '"retryable":true' "$WORK/stdout" && ok "exit 14 is retryable in JSON" || bad "JSON: $(cat "$WORK/stdout")"
kill_holder
expect_exit 11 "neither the holder nor the waiter left a row" -- "$B" fetch --name held --stage dev --arch amd64 --version k3 --verify

# The same guarantee between processes on one host with SQLite.
(
    export SEALPUB_REGISTRY=sqlite://$WORK/reg.db SEALPUB_STORE=file://$WORK/objects
    claim_holder s1 fail
    wait_until 30 held_by_other s1 && ok "SQLite: a second publisher sees the claim held" ||
        bad "SQLite: claim not seen: $(cat "$WORK/probe.err")"
    kill_holder
    expect_exit 0 "SQLite: after SIGKILL the next publisher proceeds" -- \
        "$B" publish "$WORK/in2.bin" --name held --stage dev --arch amd64 --version s1 --on-exists fail --content raw --quiet
    echo "$PASS $FAIL" >"$WORK/sub.counts"
)
read -r PASS FAIL <"$WORK/sub.counts"

# ---- 3. object keys two identities would share --------------------------------------
expect_exit 2 "an architecture with a dash is refused" -- \
    "$B" publish "$WORK/in0.bin" --name col --stage dev --arch x-amd64 --version 1 --content raw
expect_err_contains "unknown architecture" "names the architecture"
collide() { # first-name first-version second-name second-version
    expect_exit 0 "publish $1/$2" -- "$B" publish "$WORK/in4.bin" --name "$1" --stage dev --arch amd64 --version "$2" --content raw --quiet
    expect_exit 9 "publish $3/$4 (same object key) refused" -- \
        "$B" publish "$WORK/in5.bin" --name "$3" --stage dev --arch amd64 --version "$4" --content raw --quiet
    expect_err_contains "already belongs to $1/dev/amd64/$2" "the refusal names the owner"
    expect_one_line "key collision"
    "$B" fetch --name "$1" --stage dev --arch amd64 --version "$2" -o "$WORK/c.out" --quiet && cmp -s "$WORK/c.out" "$WORK/in4.bin" &&
        ok "$1/$2 still fetches" || bad "$1/$2 was damaged"
    rm -f "$WORK/c.out"
}
collide a b-amd64-1 a-amd64-b 1
collide x-amd64-y 2 x y-amd64-2
n=$(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM resources WHERE object_key = 'dev/a-amd64-b-amd64-1.enc'")
[[ $n == 1 ]] && ok "one row owns the contested key" || bad "$n rows own the contested key"
psql "$DATABASE_URL" -qc "INSERT INTO resources (resource_name, dev_stage, architecture, version, object_key, sha256,
    size_bytes, plain_size, encryption_key, artifact_id, format) SELECT 'z', dev_stage, architecture, 'z', object_key,
    sha256, size_bytes, plain_size, encryption_key, artifact_id, format FROM resources LIMIT 1" >/dev/null 2>&1 &&
    bad "the database accepted a second row with the same object_key" ||
    ok "the database's unique index refuses a second row with the same object_key"

# ---- 4. misconfiguration ------------------------------------------------------------
misconf() { # description expected-message env-assignments... -- extra args
    local what=$1 msg=$2
    shift 2
    local envs=()
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    expect_exit 2 "$what" -- env "${envs[@]}" "$B" publish "$WORK/in0.bin" --name mis --stage dev --arch amd64 --version 1 --content raw "$@"
    expect_err_contains "$msg" "$what: names the problem"
    expect_one_line "$what"
}
misprefix=mis-$$-$RANDOM
misconf "S3 store without a registry" "needs an explicit registry" -u SEALPUB_REGISTRY -u DATABASE_URL \
    SEALPUB_STORE="s3://$bucket/$misprefix" --
misconf "SEALPUB_STORE set but empty" "SEALPUB_STORE is set but empty" SEALPUB_STORE= --
misconf "DATABASE_URL set but empty" "DATABASE_URL is set but empty" -u SEALPUB_REGISTRY DATABASE_URL= --
misconf "--store empty" "--store is empty" -- --store ""
misconf "--registry empty" "--registry is empty" -- --registry ""
misconf "a store path without a scheme" "did you mean file://" -- --store /srv/artifacts
(($(objects_under "$prefix/dev") > 0)) && ok "the listing sees this test's objects (so a 0 below means something)" ||
    bad "the listing sees nothing under $prefix/dev"
[[ $(objects_under "$misprefix") == 0 && $(s3_open_uploads "$bucket" "$misprefix") == 0 ]] &&
    ok "misconfiguration left nothing in S3" || bad "misconfiguration left objects or uploads in S3"
expect_exit 2 "--json: a usage failure is a JSON object too" -- env -u SEALPUB_REGISTRY -u DATABASE_URL \
    SEALPUB_STORE="s3://$bucket/$misprefix" "$B" publish "$WORK/in0.bin" --name mis --stage dev --arch amd64 --version 1 --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] is False and d["code"]==2 and d["retryable"] is False and "needs an explicit registry" in d["message"] and d["warnings"]==[]' \
    "$WORK/stdout" && ok "JSON error has ok/code/message/retryable/warnings" || bad "JSON error: $(cat "$WORK/stdout")"

# ---- 5. the database dies between the upload and the row of a republish -------------
start_private_pg
trap 'private_pg_cleanup; psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
(
    export SEALPUB_REGISTRY=$PRIV_PG_URL SEALPUB_RECOVERY_DIR=$WORK/recovery
    unset PGOPTIONS
    "$B" db init >/dev/null 2>&1 || bad "db init on the private server"
    expect_exit 0 "publish v1" -- "$B" publish "$WORK/in6.bin" --name rec --stage dev --arch amd64 --version 1 --content raw --quiet
    rm -f "$WORK/fifo"
    mkfifo "$WORK/fifo"
    "$B" publish "$WORK/fifo" --name rec --stage dev --arch amd64 --version 1 --content raw --quiet \
        >/dev/null 2>"$WORK/rep.err" &
    rep=$!
    exec 7>"$WORK/fifo"
    cat "$WORK/in7.bin" >&7
    # The claim is held, the upload is under way: the database goes away.
    wait_until 30 test -n "$(psql "$PRIV_PG_URL" -tAc "SELECT 1 FROM pg_locks WHERE locktype = 'advisory'" 2>/dev/null)" ||
        bad "the republish never took its claim"
    private_pg_stop
    exec 7>&-
    rc=0
    wait "$rep" || rc=$?
    [[ $rc == 13 ]] && ok "republish with the database gone: exit 13 (retryable)" || bad "republish: exit $rc: $(cat "$WORK/rep.err")"
    grep -q "sealpub db recover" "$WORK/rep.err" && ok "the error names 'sealpub db recover'" || bad "no recovery hint: $(cat "$WORK/rep.err")"
    n=$(ls "$WORK/recovery"/*.row 2>/dev/null | wc -l)
    [[ $n == 1 ]] && ok "one journal entry kept" || bad "$n journal entries"
    [[ $(stat -c %a "$WORK"/recovery/*.row 2>/dev/null) == 600 ]] && ok "the journal entry is 0600" || bad "journal mode"
    private_pg_start
    expect_exit 6 "before recovery the old row does not open the new object" -- \
        "$B" fetch --name rec --stage dev --arch amd64 --version 1 --verify
    expect_exit 0 "sealpub db recover" -- "$B" db recover --json
    grep -q '"replayed":1' "$WORK/stdout" && ok "one row replayed" || bad "recover: $(cat "$WORK/stdout")"
    "$B" fetch --name rec --stage dev --arch amd64 --version 1 -o "$WORK/rec.out" --quiet && cmp -s "$WORK/rec.out" "$WORK/in7.bin" &&
        ok "after recovery the new version fetches" || bad "after recovery: fetch failed or differs"
    n=$(ls "$WORK/recovery"/*.row 2>/dev/null | wc -l)
    [[ $n == 0 ]] && ok "the journal is empty after recovery" || bad "$n entries left"
    # A first publish whose row cannot be written deletes its object and keeps no entry.
    private_pg_stop
    expect_exit 13 "a publish with the database down: exit 13 before uploading" -- \
        "$B" publish "$WORK/in5.bin" --name rec2 --stage dev --arch amd64 --version 1 --content raw --quiet
    private_pg_start
    [[ $(ls "$WORK/recovery"/*.row 2>/dev/null | wc -l) == 0 ]] && ok "and it kept no journal entry" || bad "entry left"
    echo "$PASS $FAIL" >"$WORK/sub.counts"
)
read -r PASS FAIL <"$WORK/sub.counts"

# ---- 6. every documented exit code, each from a real cause ---------------------------
P=("$B" publish --stage dev --arch amd64 --content raw --quiet)
expect_exit 0 "exit 0: a publish" -- "${P[@]}" "$WORK/in0.bin" --name codes --version 1
expect_exit 2 "exit 2: unknown architecture" -- "${P[@]}" "$WORK/in0.bin" --name codes --version 1 --arch mips
expect_exit 3 "exit 3: --expect-size mismatch" -- "${P[@]}" "$WORK/in0.bin" --name codes --version 2 --expect-size 1
# A file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored) makes the output's write fail with EFBIG.
expect_exit 4 "exit 4: the output cannot be written (file size limit)" -- bash -c 'trap "" XFSZ; ulimit -f 64; exec "$@"' _ \
    "$B" fetch --name codes --stage dev --arch amd64 --version 1 -o "$WORK/limited.out"
[[ ! -e $WORK/limited.out ]] && ok "exit 4 left no output" || bad "exit 4 left output"
head -c 4096 /dev/urandom >"$WORK/junk.enc"
head -c 32 /dev/urandom >"$WORK/junk.key"
expect_exit 5 "exit 5: not a container" -- "$B" open "$WORK/junk.enc" --key-file "$WORK/junk.key"
s3_get "$bucket/$prefix/dev/codes-amd64-1.enc" "$WORK/codes.enc"
expect_exit 6 "exit 6: wrong key" -- "$B" open "$WORK/codes.enc" --key-file "$WORK/junk.key"
expect_exit 7 "exit 7: no such bucket (permanent)" -- env SEALPUB_STORE=s3://sealpub-no-such-bucket-$$ "${P[@]}" "$WORK/in0.bin" --name codes --version 3
expect_exit 8 "exit 8: missing table (permanent)" -- env SEALPUB_TABLE=no_such_table "${P[@]}" "$WORK/in0.bin" --name codes --version 3
expect_err_contains "does not exist" "exit 8 names the missing table"
expect_exit 9 "exit 9: exists under --on-exists fail" -- "${P[@]}" "$WORK/in0.bin" --name codes --version 1 --on-exists fail
expect_exit 11 "exit 11: not found" -- "$B" fetch --name codes --stage dev --arch amd64 --version nope --verify
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
expect_exit 12 "exit 12: S3 endpoint refusing connections (retryable)" -- env AWS_ENDPOINT_URL_S3=http://127.0.0.1:$closed \
    SEALPUB_S3_MAX_ATTEMPTS=2 "${P[@]}" "$WORK/in0.bin" --name codes --version 4
expect_exit 13 "exit 13: PostgreSQL refusing connections (retryable)" -- env SEALPUB_REGISTRY=postgresql://postgres@127.0.0.1:$closed/x \
    "${P[@]}" "$WORK/in0.bin" --name codes --version 4
expect_exit 130 "exit 130: SIGTERM" -- bash -c '"$@" & p=$!; sleep 0.5; kill -TERM $p; wait $p' _ \
    "${P[@]}" /dev/zero --name codes --version 5
echo "(exit 10, crypto library failure, and 70, internal error, have no real cause to produce: they mark bugs)"

# ---- 7. a table of another shape -----------------------------------------------------
psql "$DATABASE_URL" -qc "CREATE TABLE other_team (id serial, resource_name text NOT NULL, dev_stage text NOT NULL,
    architecture text NOT NULL, version varchar(16) NOT NULL, object_key text NOT NULL, sha256 char(64) NOT NULL,
    size_bytes bigint NOT NULL, encryption_key text NOT NULL, key_wrap text NOT NULL DEFAULT 'none', kek_id text,
    artifact_id char(32) NOT NULL, format text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(), owner_team text NOT NULL)" >/dev/null
expect_exit 8 "a foreign table that does not fit is refused before uploading" -- env SEALPUB_TABLE=other_team \
    "${P[@]}" "$WORK/in0.bin" --name shape --version 1
expect_err_contains "column plain_size is missing" "names the missing column"
expect_err_contains "column version is character varying(16), too short" "names the short column"
expect_err_contains "column owner_team is NOT NULL without a default" "names the column sealpub cannot fill"
expect_err_contains "no unique key on (resource_name, dev_stage, architecture, version)" "names the missing unique key"
expect_one_line "table shape"
[[ $(objects_under "$prefix/dev/shape") == 0 ]] && ok "nothing uploaded for the misfit table" || bad "an object was uploaded"
expect_exit 2 "SEALPUB_TABLE that is not an identifier" -- env 'SEALPUB_TABLE=x; drop table y' "${P[@]}" "$WORK/in0.bin" --name shape --version 1
psql "$DATABASE_URL" -qc "CREATE SCHEMA team_$PG_SCHEMA" >/dev/null
expect_exit 0 "db init with a schema-qualified SEALPUB_TABLE" -- env SEALPUB_TABLE=team_$PG_SCHEMA.artifacts "$B" db init
expect_exit 0 "publish into it" -- env SEALPUB_TABLE=team_$PG_SCHEMA.artifacts "${P[@]}" "$WORK/in0.bin" --name qual --version 1
n=$(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM team_$PG_SCHEMA.artifacts")
[[ $n == 1 ]] && ok "the row is in the configured table" || bad "$n rows in the configured table"
expect_exit 0 "fetch from it" -- env SEALPUB_TABLE=team_$PG_SCHEMA.artifacts "$B" fetch --name qual --stage dev --arch amd64 --version 1 --verify
psql "$DATABASE_URL" -qc "DROP SCHEMA team_$PG_SCHEMA CASCADE" >/dev/null

# ---- 8. conditional writes: a writer that bypasses the claim ---------------------------
# --on-exists fail commits create-only where the store honours it (a probe
# showed radosgw honours If-None-Match on PUT; on CompleteMultipartUpload it
# does not, so sealpub looks just before it). An object written meanwhile by
# something other than sealpub is then never replaced.
outside_writer() { # size label
    local size=$1 label=$2 key="$bucket/$prefix/dev/cw-amd64-$1.enc"
    rm -f "$WORK/fifo"
    mkfifo "$WORK/fifo"
    "$B" publish "$WORK/fifo" --name cw --stage dev --arch amd64 --version "$size" --on-exists fail --content raw \
        --quiet 2>"$WORK/cw.err" &
    local pub=$!
    exec 7>"$WORK/fifo"
    head -c "$size" /dev/urandom >&7
    echo "written by another tool" >"$WORK/outside.txt"
    s3_put "$key" "$WORK/outside.txt"
    exec 7>&-
    local rc=0
    wait $pub || rc=$?
    [[ $rc == 9 ]] && ok "$label: the publish is refused (exit 9)" || bad "$label: exit $rc: $(cat "$WORK/cw.err")"
    grep -q "already exists at s3://" "$WORK/cw.err" && ok "$label: the message says an object exists" || bad "$label: $(cat "$WORK/cw.err")"
    s3_get "$key" "$WORK/now.txt"
    cmp -s "$WORK/now.txt" "$WORK/outside.txt" && ok "$label: the other writer's object is intact" || bad "$label: object replaced"
    expect_exit 11 "$label: no row" -- "$B" fetch --name cw --stage dev --arch amd64 --version "$size" --verify
}
outside_writer $((2 * MiB)) "single PUT (If-None-Match)"
outside_writer $((20 * MiB)) "multipart (a look before Complete)"
[[ $(s3_open_uploads "$bucket" "$prefix/dev/cw") == 0 ]] && ok "no multipart upload left open" || bad "uploads left open"
# An object without a row (what a failed publish whose delete also failed
# leaves) does not block --on-exists fail forever: it is replaced, and said.
head -c 1000 /dev/urandom >"$WORK/orphan.bin"
s3_put "$bucket/$prefix/dev/orphan-amd64-1.enc" "$WORK/orphan.bin"
expect_exit 0 "fail mode over an orphan object" -- "$B" publish "$WORK/in0.bin" --name orphan --stage dev --arch amd64 --version 1 \
    --on-exists fail --content raw --json
grep -q "an object without a registry row is stored at dev/orphan-amd64-1.enc" "$WORK/stdout" &&
    ok "the orphan replacement is reported in --json warnings" || bad "no orphan warning: $(cat "$WORK/stdout")"
"$B" fetch --name orphan --stage dev --arch amd64 --version 1 -o "$WORK/orphan.out" --quiet && cmp -s "$WORK/orphan.out" "$WORK/in0.bin" &&
    ok "the new artifact fetches" || bad "orphan case: fetch failed"

finish
