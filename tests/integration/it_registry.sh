#!/usr/bin/env bash
# it_registry.sh: the registry behaviour through the CLI, against SQLite and
# the real PostgreSQL: row matches object, fresh keys, conflict modes, key
# wrapping, hostile names, and the database stopping before the row (on a
# private PostgreSQL this test starts and stops itself).
source "$(dirname "$0")/lib.sh"
need_env DATABASE_URL SEALPUB_PG_BIN
B=$SEALPUB_BIN
STORE=file://$WORK/objects
head -c 2500000 /dev/urandom >"$WORK/in.bin"
export SEALPUB_REGISTRY_RETRY_SECONDS=2

# A per-run table prefix is not possible (the table name is fixed), so each
# run uses its own schema on PostgreSQL.
schema=it_$$_$RANDOM
psql "$DATABASE_URL" -qc "CREATE SCHEMA $schema" >/dev/null
trap 'psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
export PGOPTIONS="-c search_path=$schema"

row() { # backend name version column
    if [[ $1 == pg ]]; then
        psql "$DATABASE_URL" -Atc "SELECT $4 FROM resources WHERE resource_name='$2' AND version='$3'"
    else
        sqlite3 "$WORK/reg.db" "SELECT $4 FROM resources WHERE resource_name='$2' AND version='$3'"
    fi
}

for backend in sqlite pg; do
    if [[ $backend == pg ]]; then REG=$DATABASE_URL; else REG=sqlite://$WORK/reg.db; fi
    P=("$B" publish --store "$STORE" --registry "$REG" --stage dev --arch amd64 --quiet)
    expect_exit 0 "$backend: db init" -- "$B" db init --registry "$REG"
    expect_exit 0 "$backend: db init twice" -- "$B" db init --registry "$REG"

    expect_exit 0 "$backend: publish" -- "${P[@]}" "$WORK/in.bin" --name app --version 1
    obj=$WORK/objects/dev/app-amd64-1.enc
    [[ $(row $backend app 1 sha256) == "$(sha256sum "$obj" | cut -d' ' -f1)" ]] && ok "$backend: row sha256 = object's" || bad "$backend: sha256 mismatch"
    [[ $(row $backend app 1 size_bytes) == "$(stat -c %s "$obj")" ]] && ok "$backend: row size = object's" || bad "$backend: size mismatch"
    [[ $(row $backend app 1 plain_size) == 2500000 ]] && ok "$backend: plain size" || bad "$backend: plain size"
    [[ $(row $backend app 1 object_key) == dev/app-amd64-1.enc ]] && ok "$backend: object key" || bad "$backend: object key"
    row $backend app 1 encryption_key >"$WORK/k1"
    expect_exit 0 "$backend: the row's key opens the object" -- "$B" open "$obj" --key-file "$WORK/k1" -o "$WORK/out"
    cmp -s "$WORK/in.bin" "$WORK/out" && ok "$backend: content" || bad "$backend: content differs"
    expect_exit 0 "$backend: open via registry" -- "$B" open "$obj" --registry "$REG" --expect app/dev/amd64/1

    expect_exit 0 "$backend: republish" -- "${P[@]}" "$WORK/in.bin" --name app --version 1
    row $backend app 1 encryption_key >"$WORK/k2"
    cmp -s "$WORK/k1" "$WORK/k2" && bad "$backend: same key twice" || ok "$backend: two publishes, two keys"
    expect_exit 9 "$backend: --on-exists fail" -- "${P[@]}" "$WORK/in.bin" --name app --version 1 --on-exists fail
    expect_err_contains "already exists" "$backend: exists message"
    expect_exit 0 "$backend: object intact after refused publish" -- "$B" open "$obj" --registry "$REG"

    # Key wrapping.
    kek=$(head -c 32 /dev/urandom | base64)
    expect_exit 0 "$backend: publish with KEK" -- env SEALPUB_KEK="$kek" "${P[@]}" "$WORK/in.bin" --name wrapped --version 1
    [[ $(row $backend wrapped 1 key_wrap) == aes256-kwp-bound-v1 ]] && ok "$backend: key_wrap recorded" || bad "$backend: key_wrap $(row $backend wrapped 1 key_wrap)"
    [[ -n $(row $backend wrapped 1 kek_id) ]] && ok "$backend: kek_id recorded" || bad "$backend: no kek_id"
    [[ $(row $backend wrapped 1 kek_id) != *"$kek"* ]] && ok "$backend: KEK not stored" || bad "$backend: KEK stored"
    expect_exit 0 "$backend: open with KEK" -- env SEALPUB_KEK="$kek" "$B" open "$WORK/objects/dev/wrapped-amd64-1.enc" --registry "$REG" -o "$WORK/w.out"
    cmp -s "$WORK/in.bin" "$WORK/w.out" && ok "$backend: wrapped round trip" || bad "$backend: wrapped content"
    expect_exit 6 "$backend: wrong KEK" -- env SEALPUB_KEK="$(head -c 32 /dev/urandom | base64)" "$B" open "$WORK/objects/dev/wrapped-amd64-1.enc" --registry "$REG" -o "$WORK/w2.out"
    [[ ! -e $WORK/w2.out ]] && ok "$backend: no output with a wrong KEK" || bad "$backend: output with wrong KEK"
    [[ $ERR != *"$kek"* ]] && ok "$backend: KEK not echoed" || bad "$backend: KEK echoed"

    # Hostile names never reach SQL.
    expect_exit 2 "$backend: quote in a name" -- "${P[@]}" "$WORK/in.bin" --name "a'b" --version 1
    expect_exit 2 "$backend: SQL in a version" -- "${P[@]}" "$WORK/in.bin" --name a --version "1; DROP TABLE resources"
done

# The database stopping before the row: on a private PostgreSQL that this
# test starts and stops itself, never the shared one.
start_private_pg
trap 'private_pg_cleanup; psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
expect_exit 0 "private PostgreSQL: db init" -- env PGOPTIONS= "$B" db init --registry "$PRIV_PG_URL"
sealpub_connected() { # the publisher holds a session on the private server
    [[ $(PGOPTIONS= psql "$PRIV_PG_URL" -Atc "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" 2>/dev/null) -ge 1 ]]
}
# Starts a publish from a FIFO whose writer holds it open after 3 MB, waits
# until it is connected, stops the private server, then lets the input end.
# Sets $pub (the publisher's pid).
publish_then_stop_db() { # version retry-seconds
    [[ -n $PRIV_PG_PID ]] || private_pg_start
    mkfifo "$WORK/fifo-$1"
    ( head -c 3000000 /dev/urandom; exec sleep 600 ) >"$WORK/fifo-$1" &
    local feeder=$!
    env PGOPTIONS= SEALPUB_REGISTRY_RETRY_SECONDS="$2" "$B" publish "$WORK/fifo-$1" --store "$STORE" \
        --registry "$PRIV_PG_URL" --stage dev --arch amd64 --name dbdown --version "$1" --quiet \
        >"$WORK/stdout" 2>"$WORK/stderr" &
    pub=$!
    wait_until 60 sealpub_connected || bad "$1: the publisher never connected"
    private_pg_stop
    kill "$feeder"
    wait "$feeder" 2>/dev/null
}
db_row() { # version: the row's id on the private server, started again
    PGOPTIONS= psql "$PRIV_PG_URL" -Atc "SELECT id FROM resources WHERE resource_name='dbdown' AND version='$1'"
}

# Stopped after the upload, before the row: no row, no object.
publish_then_stop_db 1 2
rc=0
wait $pub || rc=$?
ERR=$(cat "$WORK/stderr")
[[ $rc == 13 ]] && ok "database down: exit 13 (retryable)" || bad "database down: exit $rc: $ERR"
[[ ! -e $WORK/objects/dev/dbdown-amd64-1.enc ]] && ok "database down: object deleted again" || bad "database down: object left behind"
[[ $ERR != *postgresql://* || $ERR != *@* ]] && ok "database down: no connection string in the error" || bad "connection string in: $ERR"
printf '%s' "$ERR" | grep -q "registry" && ok "database down: message names the registry" || bad "message: $ERR"

# SIGTERM while the row is being retried (a budget of an hour): the wait
# ends at once, the object is deleted, exit 130 (issue 13: it used to sleep
# the whole budget). 60 s is a bound against the hang, not a timing check.
private_pg_start
publish_then_stop_db 2 3600
wait_until 60 test -e "$WORK/objects/dev/dbdown-amd64-2.enc" || bad "retry: the object was never committed"
kill -TERM $pub
wait_until 60 eval '! kill -0 $pub 2>/dev/null' || { bad "retry: SIGTERM did not end the registry retry"; kill -KILL $pub; }
rc=0
wait $pub || rc=$?
ERR=$(cat "$WORK/stderr")
[[ $rc == 130 ]] && ok "retry + SIGTERM: exit 130" || bad "retry + SIGTERM: exit $rc: $ERR"
[[ ! -e $WORK/objects/dev/dbdown-amd64-2.enc ]] && ok "retry + SIGTERM: object deleted again" || bad "retry + SIGTERM: object left behind"

private_pg_start
[[ -z $(db_row 1) ]] && ok "database down: no row" || bad "database down: row exists"
[[ -z $(db_row 2) ]] && ok "retry + SIGTERM: no row" || bad "retry + SIGTERM: row exists"

finish
