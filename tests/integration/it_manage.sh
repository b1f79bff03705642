#!/usr/bin/env bash
# it_manage.sh: operating a registry (issue 19) against SQLite and the real
# PostgreSQL + radosgw: list (filters, paging, JSON, never a key), delete (one
# version, retention by age and count, dry run, racing a publish and a
# fetch), publish --dry-run (nothing uploaded; bad settings refused), and the
# help forms.
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
MiB=1048576
head -c $((2 * MiB)) /dev/urandom >"$WORK/in.bin"
P=(publish "$WORK/in.bin" --stage dev --arch amd64 --content raw --quiet)



run_backend() { # label
    local label=$1
    for v in 1 2 3 4 5; do
        expect_exit 0 "$label: publish api $v" -- "$B" "${P[@]}" --name api --version "$v"
    done
    expect_exit 0 "$label: publish web 1" -- "$B" "${P[@]}" --name web --version 1
    expect_exit 0 "$label: publish api 1 arm64" -- "$B" "${P[@]}" --name api --version 1 --arch aarch64

    # ---- list
    expect_exit 0 "$label: list --json" -- "$B" list --json
    python3 - "$WORK/stdout" "$label" <<'PY' && ok "$label: list JSON: 7 rows, newest first, every field, no key" || bad "$label: list JSON: $(cat "$WORK/stdout")"
import json, sys
d = json.load(open(sys.argv[1]))
a = d["artifacts"]
assert d["schema"] == 1 and d["command"] == "list" and d["ok"] is True and d["count"] == 7, d
assert [x["created_at"] for x in a] == sorted((x["created_at"] for x in a), reverse=True)
need = {"name", "stage", "architecture", "version", "object_key", "sha256", "artifact_id", "stored_size",
        "plain_size", "key_wrap", "kek_id", "format", "created_at", "updated_at"}
assert all(need <= set(x) for x in a), a[0].keys()
assert not any("encryption_key" in x or "key" in x for x in a)
PY
    key=$(row_key api 3)
    grep -qF "$key" "$WORK/stdout" && bad "$label: list printed a key" || ok "$label: list JSON holds no key"
    expect_exit 0 "$label: list (table)" -- "$B" list
    grep -qF "$key" "$WORK/stdout" && bad "$label: list table printed a key" || ok "$label: list table holds no key"
    expect_exit 0 "$label: list --name web" -- "$B" list --name web --json
    grep -q '"count":1' "$WORK/stdout" && ok "$label: --name filters" || bad "$label: --name: $(cat "$WORK/stdout")"
    expect_exit 0 "$label: list --arch aarch64" -- "$B" list --arch aarch64 --json
    grep -q '"count":1' "$WORK/stdout" && grep -q '"architecture":"arm64"' "$WORK/stdout" &&
        ok "$label: --arch filters in any spelling" || bad "$label: --arch: $(cat "$WORK/stdout")"
    expect_exit 0 "$label: list page 1" -- "$B" list --name api --arch amd64 --limit 2 --json
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["count"]==2 and d["next_offset"]==2 and [a["version"] for a in d["artifacts"]]==["5","4"], d' \
        "$WORK/stdout" && ok "$label: page 1 is the newest two, next_offset 2" || bad "$label: page 1: $(cat "$WORK/stdout")"
    expect_exit 0 "$label: list page 3" -- "$B" list --name api --arch amd64 --limit 2 --offset 4 --json
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["count"]==1 and d["next_offset"] is None and d["artifacts"][0]["version"]=="1", d' \
        "$WORK/stdout" && ok "$label: the last page ends paging" || bad "$label: page 3: $(cat "$WORK/stdout")"
    expect_exit 0 "$label: list --since 1h" -- "$B" list --since 1h --json
    grep -q '"count":7' "$WORK/stdout" && ok "$label: --since 1h has all" || bad "$label: --since: $(cat "$WORK/stdout")"
    expect_exit 0 "$label: list --since tomorrow" -- "$B" list --since "$(date -u -d tomorrow +%F)" --json
    grep -q '"count":0' "$WORK/stdout" && ok "$label: --since tomorrow has none" || bad "$label: --since: $(cat "$WORK/stdout")"
    expect_exit 2 "$label: list --since garbage" -- "$B" list --since yesterday
    expect_one_line "$label: bad --since"

    # ---- delete one version: dry run first, then for real
    expect_exit 0 "$label: delete without --yes" -- "$B" delete --name api --stage dev --arch amd64 --version 2
    expect_err_contains "would delete api/dev/amd64/2" "$label: dry run says what it would delete"
    expect_exit 0 "$label: ... and it is still there" -- "$B" fetch --name api --stage dev --arch amd64 --version 2 --verify
    expect_exit 0 "$label: delete --yes" -- "$B" delete --name api --stage dev --arch amd64 --version 2 --yes
    expect_exit 11 "$label: the deleted version is gone from the registry" -- "$B" fetch --name api --stage dev --arch amd64 --version 2 --verify
    object_gone "dev/api-amd64-2.enc" && ok "$label: its object is gone" || bad "$label: object left"
    expect_exit 11 "$label: delete of a missing version" -- "$B" delete --name api --stage dev --arch amd64 --version 2 --yes

    # ---- retention: keep the newest 2 of api/dev/amd64 (5, 4; 3 and 1 go)
    expect_exit 0 "$label: retention dry run" -- "$B" delete --name api --stage dev --arch amd64 --keep-last 2 --json
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["dry_run"] and sorted(a["version"] for a in d["artifacts"])==["1","3"], d' \
        "$WORK/stdout" && ok "$label: --keep-last 2 would delete 3 and 1" || bad "$label: retention: $(cat "$WORK/stdout")"
    expect_exit 0 "$label: --older-than tomorrow --keep-last 3 (dry)" -- "$B" delete --name api --stage dev --arch amd64 \
        --keep-last 3 --older-than "$(date -u -d tomorrow +%F)" --json
    grep -q '"count":1' "$WORK/stdout" && ok "$label: both: beyond the newest 3 and older" || bad "$label: both: $(cat "$WORK/stdout")"
    expect_exit 0 "$label: --older-than 1h deletes nothing this young" -- "$B" delete --name api --stage dev --arch amd64 --older-than 1h --yes --json
    grep -q '"count":0' "$WORK/stdout" && ok "$label: nothing older than 1h" || bad "$label: older-than: $(cat "$WORK/stdout")"
    expect_exit 0 "$label: retention --yes" -- "$B" delete --name api --stage dev --arch amd64 --keep-last 2 --yes
    expect_exit 0 "$label: after retention" -- "$B" list --name api --arch amd64 --json
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [a["version"] for a in d["artifacts"]]==["5","4"], d' \
        "$WORK/stdout" && ok "$label: only 5 and 4 are left" || bad "$label: after retention: $(cat "$WORK/stdout")"
    object_gone "dev/api-amd64-3.enc" && object_gone "dev/api-amd64-1.enc" && ok "$label: their objects are gone" || bad "$label: objects left"
    expect_exit 0 "$label: the arm64 row is untouched" -- "$B" fetch --name api --stage dev --arch arm64 --version 1 --verify
    expect_exit 2 "$label: --version with --keep-last" -- "$B" delete --name api --stage dev --version 4 --keep-last 1
    expect_exit 2 "$label: delete without a selection" -- "$B" delete --name api --stage dev

    # ---- a delete never races a publish of the same version
    expect_exit 0 "$label: publish race 1" -- "$B" "${P[@]}" --name race --version 1
    rm -f "$WORK/fifo"
    mkfifo "$WORK/fifo"
    "$B" publish "$WORK/fifo" --name race --stage dev --arch amd64 --version 1 --content raw --quiet 2>"$WORK/race.err" &
    local pub=$!
    exec 7>"$WORK/fifo"
    head -c $((2 * MiB)) /dev/urandom >&7   # returns once the publisher is inside its claim
    expect_exit 14 "$label: delete waits for the publish holding the claim, up to --lock-timeout" -- \
        "$B" delete --name race --stage dev --arch amd64 --version 1 --yes --lock-timeout 1
    exec 7>&-
    wait $pub && ok "$label: the republish completed" || bad "$label: republish failed: $(cat "$WORK/race.err")"
    expect_exit 0 "$label: then the delete goes through" -- "$B" delete --name race --stage dev --arch amd64 --version 1 --yes

    # ---- publish --dry-run
    expect_exit 0 "$label: publish --dry-run" -- "$B" "${P[@]}" --name dry --version 1 --dry-run --json
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["dry_run"] and d["object_key"]=="dev/dry-amd64-1.enc" and not d["would_replace"] and d["row"]["architecture"]=="amd64", d' \
        "$WORK/stdout" && ok "$label: dry run names the key and row" || bad "$label: dry run: $(cat "$WORK/stdout")"
    expect_exit 11 "$label: the dry run wrote no row" -- "$B" fetch --name dry --stage dev --arch amd64 --version 1 --verify
    object_gone "dev/dry-amd64-1.enc" && ok "$label: the dry run uploaded nothing" || bad "$label: dry run uploaded"
    expect_exit 0 "$label: dry run of an existing version" -- "$B" "${P[@]}" --name web --version 1 --dry-run --json
    grep -q '"would_replace":true' "$WORK/stdout" && grep -q '"object_exists":true' "$WORK/stdout" &&
        ok "$label: dry run says it would replace" || bad "$label: $(cat "$WORK/stdout")"
    expect_exit 9 "$label: dry run with --on-exists fail on an existing version" -- "$B" "${P[@]}" --name web --version 1 --dry-run --on-exists fail
    expect_exit 3 "$label: dry run of a missing input" -- "$B" publish "$WORK/nope" --name dry --stage dev --version 1 --dry-run
}

row_key() { :; }
object_gone() { [[ ! -e $WORK/objects/$1 ]]; }

# ---- SQLite + file store
(
    export SEALPUB_REGISTRY=sqlite://$WORK/reg.db SEALPUB_STORE=file://$WORK/objects
    row_key() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select encryption_key from resources where resource_name=? and version=?", (sys.argv[2], sys.argv[3])).fetchone()[0])' "$WORK/reg.db" "$1" "$2"; }
    run_backend sqlite
    echo "$PASS $FAIL" >"$WORK/sub.counts"
)
read -r PASS FAIL <"$WORK/sub.counts"

# ---- PostgreSQL + radosgw
use_s3_and_pg it-manage
row_key() { psql "$DATABASE_URL" -tAc "SELECT encryption_key FROM resources WHERE resource_name='$1' AND version='$2'"; }
object_gone() { ! s3_exists "$bucket/$prefix/$1"; }
run_backend postgresql

# A bad secret key: the dry run resolves credentials against the real gateway.
expect_exit 7 "dry run with a wrong secret key" -- env AWS_SECRET_ACCESS_KEY=wrong "$B" "${P[@]}" --name dry --version 2 --dry-run
expect_exit 7 "dry run against a missing bucket" -- env SEALPUB_STORE=s3://sealpub-no-such-bucket-$$ "$B" "${P[@]}" --name dry --version 2 --dry-run
(($(objects_under "$prefix/dev/web") > 0)) && ok "the listing sees published objects" || bad "the listing sees nothing"
[[ $(objects_under "$prefix/dev/dry") == 0 ]] && ok "dry runs left nothing in S3" || bad "dry runs uploaded"

# A fetch downloading a version while it is deleted fails cleanly: no output.
head -c $((48 * MiB)) /dev/urandom >"$WORK/big.bin"
expect_exit 0 "publish a large version" -- "$B" publish "$WORK/big.bin" --name big --stage dev --arch amd64 --version 1 --content raw --quiet --level 0
"$B" fetch --name big --stage dev --arch amd64 --version 1 -o "$WORK/big.out" --parallel 1 --quiet 2>"$WORK/fetch.err" &
fetcher=$!
"$B" delete --name big --stage dev --arch amd64 --version 1 --yes 2>/dev/null
rc=0
wait $fetcher || rc=$?
if [[ $rc == 0 ]]; then
    cmp -s "$WORK/big.out" "$WORK/big.bin" && ok "fetch racing delete: finished first, output intact" ||
        bad "fetch racing delete: exit 0 with wrong output"
else
    [[ ! -e $WORK/big.out ]] && ok "fetch racing delete: failed cleanly (exit $rc), no output" ||
        bad "fetch racing delete: exit $rc and output left"
fi

# fetch for an architecture that has no row names the ones that do.
expect_exit 11 "fetch on another architecture" -- "$B" fetch --name api --stage dev --arch riscv64 --version 1 --verify
expect_err_contains "api/dev exists for architecture arm64" "the error names the architectures that exist"
expect_one_line "architecture hint"

# Non-TTY publishes print a heartbeat line (CI logs), off with --quiet.
heartbeat_input() { head -c $((3 * MiB)) /dev/urandom; sleep 1.3; head -c $((3 * MiB)) /dev/urandom; sleep 1.3; head -c MiB /dev/urandom; }
heartbeat_input | SEALPUB_HEARTBEAT_SECONDS=1 "$B" publish - --name beat --stage dev --arch amd64 --version 1 --content raw \
    --chunk-size 1M >/dev/null 2>"$WORK/beat.err" && grep -q "^sealpub publish: .* MiB read" "$WORK/beat.err" &&
    ok "a heartbeat line on stderr without a terminal" || bad "no heartbeat: $(cat "$WORK/beat.err")"
heartbeat_input | SEALPUB_HEARTBEAT_SECONDS=1 "$B" publish - --name beat --stage dev --arch amd64 --version 2 --content raw \
    --chunk-size 1M --quiet >/dev/null 2>"$WORK/beat.err" && [[ ! -s $WORK/beat.err ]] &&
    ok "--quiet silences the heartbeat" || bad "--quiet: $(cat "$WORK/beat.err")"
# ... and fetch too. The fault proxy in front of radosgw holds two ranged
# GETs for 1.5 s each, so the fetch lasts longer than the 1 s interval
# whatever the machine's speed.
head -c $((12 * MiB)) /dev/urandom >"$WORK/hb.bin"
expect_exit 0 "publish for the fetch heartbeat" -- "$B" publish "$WORK/hb.bin" --name beatf --stage dev --arch amd64 --version 1 \
    --content raw --level 0 --quiet
start_fault_proxy '{"tag":"hb","rules":[{"op":"GetObject","times":2,"action":"delay","seconds":1.5}]}'
SEALPUB_HEARTBEAT_SECONDS=1 AWS_ENDPOINT_URL_S3=$PROXY_URL "$B" fetch --name beatf --stage dev \
    --arch amd64 --version 1 -o "$WORK/hb.out" --parallel 1 --threads 1 2>"$WORK/beat.err"
grep -q "^sealpub fetch: .* of 12.0 MiB downloaded" "$WORK/beat.err" && ok "fetch prints heartbeat lines without a terminal" ||
    bad "no fetch heartbeat: $(cat "$WORK/beat.err")"
cmp -s "$WORK/hb.out" "$WORK/hb.bin" && ok "the slowed fetch is intact" || bad "slowed fetch differs"
SEALPUB_HEARTBEAT_SECONDS=1 AWS_ENDPOINT_URL_S3=$PROXY_URL "$B" fetch --name beatf --stage dev \
    --arch amd64 --version 1 --verify --parallel 1 --quiet 2>"$WORK/beat.err"
[[ ! -s $WORK/beat.err ]] && ok "fetch --quiet silences it" || bad "fetch --quiet: $(cat "$WORK/beat.err")"
stop_fault_proxy
expect_exit 2 "SEALPUB_HEARTBEAT_SECONDS not a number" -- env SEALPUB_HEARTBEAT_SECONDS=often "$B" "${P[@]}" --name beat --version 3

# Help forms.
expect_exit 0 "sealpub help delete" -- "$B" help delete
grep -q "usage: sealpub delete" "$WORK/stdout" && ok "help delete prints delete's usage" || bad "help delete: $(cat "$WORK/stdout")"
expect_exit 0 "sealpub list -h" -- "$B" list -h
grep -q "usage: sealpub list" "$WORK/stdout" && ok "list -h prints list's usage" || bad "list -h"
expect_exit 0 "sealpub -V" -- "$B" -V
grep -q "^sealpub " "$WORK/stdout" && ok "-V prints the version" || bad "-V: $(cat "$WORK/stdout")"

finish
