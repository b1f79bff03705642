#!/usr/bin/env bash
# it_rewrap.sh: KEK rotation (issue 19) against SQLite and the real
# PostgreSQL + radosgw: unwrapped keys wrapped under a first KEK, then
# rotated to a second one in two interrupted runs (--limit) and resumed;
# artifacts fetch with the new KEK and not with the old one; a dry run
# changes nothing; rows under another KEK are left alone.
source "$(dirname "$0")/lib.sh"
B=$SEALPUB_BIN
head -c 32 /dev/urandom >"$WORK/k1"
head -c 32 /dev/urandom | base64 >"$WORK/k2"   # base64 text is accepted too
head -c 32 /dev/urandom >"$WORK/k3"
head -c 300000 /dev/urandom >"$WORK/in.bin"
P=(publish "$WORK/in.bin" --stage dev --arch amd64 --content raw --quiet)
F=(fetch --stage dev --arch amd64 --quiet)

fetch_ok() { # kek-file version: fetch with that KEK, compare
    rm -f "$WORK/out"
    SEALPUB_KEK_FILE=$1 "$B" "${F[@]}" --name rot --version "$2" -o "$WORK/out" 2>"$WORK/ferr" && cmp -s "$WORK/out" "$WORK/in.bin"
}
wraps() { "$B" list --name rot --json | python3 -c 'import json,sys; print(" ".join(sorted(a["kek_id"] or "none" for a in json.load(sys.stdin)["artifacts"])))'; }

run_backend() { # label
    local label=$1 v
    for v in 1 2 3 4 5; do expect_exit 0 "$label: publish rot $v (unwrapped key)" -- "$B" "${P[@]}" --name rot --version "$v"; done
    expect_exit 0 "$label: publish other 1 under KEK 3" -- env SEALPUB_KEK_FILE="$WORK/k3" "$B" "${P[@]}" --name other --version 1

    expect_exit 0 "$label: rewrap --dry-run" -- "$B" rewrap --to-kek "$WORK/k1" --name rot --dry-run --json
    grep -q '"rewrapped":5' "$WORK/stdout" && ok "$label: dry run counts 5" || bad "$label: dry run: $(cat "$WORK/stdout")"
    [[ $(wraps) == "none none none none none" ]] && ok "$label: the dry run changed nothing" || bad "$label: dry run changed: $(wraps)"

    expect_exit 0 "$label: wrap the unwrapped keys under KEK 1" -- "$B" rewrap --to-kek "$WORK/k1" --json
    grep -q '"rewrapped":5' "$WORK/stdout" && grep -q '"other":1' "$WORK/stdout" &&
        ok "$label: 5 wrapped, the row under KEK 3 left alone" || bad "$label: $(cat "$WORK/stdout")"
    fetch_ok "$WORK/k1" 3 && ok "$label: fetch with KEK 1 after wrapping" || bad "$label: fetch with KEK 1: $(cat "$WORK/ferr")"
    fetch_ok "$WORK/k3" 1 || true
    SEALPUB_KEK_FILE=$WORK/k3 "$B" "${F[@]}" --name other --version 1 --verify 2>/dev/null &&
        ok "$label: the row under KEK 3 still opens with KEK 3" || bad "$label: other row damaged"

    # Rotation 1 -> 2, interrupted after 2 rows, then resumed.
    expect_exit 0 "$label: rotate, first batch of 2" -- "$B" rewrap --from-kek "$WORK/k1" --to-kek "$WORK/k2" --limit 2 --json
    grep -q '"rewrapped":2' "$WORK/stdout" && ok "$label: the first run stopped after 2" || bad "$label: $(cat "$WORK/stdout")"
    local n1 n2 id2
    id2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["to_kek_id"])' "$WORK/stdout")
    n2=$(wraps | tr ' ' '\n' | grep -c "^$id2$")
    [[ $n2 == 2 ]] && ok "$label: half-way: 2 rows under KEK 2" || bad "$label: half-way: $(wraps)"
    for v in 1 2 3 4 5; do
        fetch_ok "$WORK/k1" "$v" || fetch_ok "$WORK/k2" "$v" || bad "$label: half-way, version $v opens with neither KEK"
    done
    ok "$label: half-way, every version opens with exactly the KEK its row names"
    expect_exit 0 "$label: resume" -- "$B" rewrap --from-kek "$WORK/k1" --to-kek "$WORK/k2" --json
    grep -q '"rewrapped":3' "$WORK/stdout" && grep -q '"already":2' "$WORK/stdout" &&
        ok "$label: the resumed run rewrapped the other 3 and skipped the 2 done" || bad "$label: resume: $(cat "$WORK/stdout")"
    for v in 1 2 3 4 5; do
        fetch_ok "$WORK/k2" "$v" || bad "$label: version $v does not open with KEK 2: $(cat "$WORK/ferr")"
        fetch_ok "$WORK/k1" "$v" && bad "$label: version $v still opens with KEK 1"
    done
    ok "$label: after rotation every version opens with KEK 2 and none with KEK 1"
    expect_exit 0 "$label: a second run changes nothing" -- "$B" rewrap --from-kek "$WORK/k1" --to-kek "$WORK/k2" --json
    grep -q '"rewrapped":0' "$WORK/stdout" && ok "$label: idempotent" || bad "$label: $(cat "$WORK/stdout")"
    expect_exit 0 "$label: a KEK that wraps no row selects none" -- "$B" rewrap --from-kek "$WORK/k1" --to-kek "$WORK/k3" --json
    grep -q '"rewrapped":0' "$WORK/stdout" && ok "$label: nothing under KEK 1 any more" || bad "$label: $(cat "$WORK/stdout")"
    expect_exit 0 "$label: rotate the other row 3 -> 1 by name" -- "$B" rewrap --from-kek "$WORK/k3" --to-kek "$WORK/k1" --name other
    SEALPUB_KEK_FILE=$WORK/k1 "$B" "${F[@]}" --name other --version 1 --verify 2>/dev/null &&
        ok "$label: the other row now opens with KEK 1" || bad "$label: other row after its rotation"
    expect_exit 2 "$label: same KEK twice" -- "$B" rewrap --from-kek "$WORK/k2" --to-kek "$WORK/k2"
    expect_exit 2 "$label: --to-kek missing" -- "$B" rewrap --from-kek "$WORK/k2"
}

(
    export SEALPUB_REGISTRY=sqlite://$WORK/reg.db SEALPUB_STORE=file://$WORK/objects
    run_backend sqlite
    echo "$PASS $FAIL" >"$WORK/sub.counts"
)
read -r PASS FAIL <"$WORK/sub.counts"
use_s3_and_pg it-rewrap
run_backend postgresql
finish
